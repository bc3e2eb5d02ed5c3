import { cp, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  DATA_DIR_IN_IMAGE,
  DEFAULT_ACCOUNTS,
  DEFAULT_LOAD,
  HTTP_PORT,
  P2P_PORT,
  RESULTS_DIR_IN_IMAGE,
  deploymentConfigs,
  loadArgs,
  statusProbe,
  type LoadSettings,
  type Placement,
} from './deploy.ts'
import { yamlDocument, type Yaml } from './yaml.ts'

/**
 * `bftlab compose`: a docker-compose file plus every file it mounts, for N validators, one load
 * generator, Prometheus and Grafana. Three variants:
 *  - `bridge` (default, `docker compose up`): a bridge network with a static address per
 *    validator, read-only bind mounts;
 *  - `host`: every container on the host's network, validator i on its own loopback address
 *    (127.0.0.10 + i by default) — one machine, no container network, no NAT; what the docker
 *    suite runs (`npm run test:docker`);
 *  - `swarm` (`docker stack deploy`): an overlay network, DNS addresses, Swarm configs, `deploy:`.
 *
 * Layout next to the compose file: configs/compose/{genesis.json,node-<i>.json} (generated, with
 * fresh validator keys: keep them out of version control and out of images), configs/prometheus.yml
 * (generated: one scrape target per validator), configs/grafana/ (provisioning + dashboard, copied
 * from this repository when the output is elsewhere).
 */

export const COMPOSE_VARIANTS = ['bridge', 'host', 'swarm'] as const
export type ComposeVariant = (typeof COMPOSE_VARIANTS)[number]

/** Bridge subnet of the plain-Compose variant; addresses are written into genesis, never dialled from here. */
export const COMPOSE_SUBNET = '172.28.0.0/16'
/** Validator i gets host number FIRST_VALIDATOR_HOST + i in the subnet; lower numbers are left to Docker's gateway. */
const FIRST_VALIDATOR_HOST = 10
/** Host variant: validator i binds this loopback address + i (Linux routes all of 127/8 to lo). */
export const DEFAULT_FIRST_LOOPBACK = '127.0.0.10'
/** Where the image reads its configs. */
const CONFIG_DIR_IN_IMAGE = '/app/testnet'
const PROMETHEUS_IMAGE = 'prom/prometheus:v2.53.0'
const GRAFANA_IMAGE = 'grafana/grafana:11.1.0'
const PROMETHEUS_PORT = 9090
const GRAFANA_PORT = 3000
/** The compose file's name for its one network (bridge and swarm variants). */
const NETWORK = 'bftlab'
/** Named volume the load generator writes its result document and acknowledged tx hashes to. */
const RESULTS_VOLUME = 'load-results'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface ComposeOptions {
  readonly validators: number
  /** Path of the compose file to write. */
  readonly out: string
  readonly variant?: ComposeVariant
  /** Image every bftlab service runs; a Swarm cluster must be able to pull it from a registry. */
  readonly image?: string
  readonly accounts?: number
  readonly load?: LoadSettings
  /** Host variant: validator 0's loopback address; validator i takes the i-th one after it. */
  readonly firstAddress?: string
  readonly p2pPort?: number
  readonly httpPort?: number
}

export const validatorService = (i: number): string => `node${i}`

/** Static IPv4 of validator i on the bridge network (172.28.0.10, .11, … carrying into the next /24). */
export function validatorAddress(i: number): string {
  const host = FIRST_VALIDATOR_HOST + i
  return `172.28.${host >> 8}.${host & 255}`
}

/** The i-th IPv4 address after `first`, which must stay inside the loopback range 127.0.0.0/8. */
export function loopbackAddress(first: string, i: number): string {
  const octets = first.split('.').map(Number)
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255) || octets[0] !== 127) {
    throw new RangeError(`${JSON.stringify(first)} is not a loopback IPv4 address (127.x.y.z): the host variant binds loopback addresses only`)
  }
  const n = ((octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) + i
  if (n > 0xff_fffe) throw new RangeError(`${first} + ${i} leaves the loopback range 127.0.0.0/8`)
  return `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
}

function placementOf(variant: ComposeVariant, firstAddress: string): (i: number) => Placement {
  if (variant === 'host') return (i) => ({ advertise: loopbackAddress(firstAddress, i), listen: loopbackAddress(firstAddress, i) })
  // Swarm ignores static addresses on overlay networks; service names resolve there instead.
  if (variant === 'swarm') return (i) => ({ advertise: validatorService(i), listen: '0.0.0.0' })
  return (i) => ({ advertise: validatorAddress(i), listen: '0.0.0.0' })
}

// ---------------------------------------------------------------- generation

interface GeneratedFile {
  readonly path: string
  readonly text: string
  /**
   * Holds validator keys. The image's unprivileged user (uid 1000) reads it through a bind mount,
   * so it cannot be private to whoever generated it; it stays out of git (.gitignore) and out of
   * images (.dockerignore), and Swarm ships it as a config.
   */
  readonly secret: boolean
}

const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n'

function prometheusConfig(targets: readonly string[]): string {
  return (
    '# Generated by `bftlab compose`: one scrape target per validator.\n' +
    yamlDocument({
      global: { scrape_interval: '2s', evaluation_interval: '2s' },
      scrape_configs: [{ job_name: 'bftlab', metrics_path: '/metrics', static_configs: [{ targets }] }],
    })
  )
}

/** A file a container reads: its path beside the compose file and inside the container. */
interface MountedFile {
  readonly file: string
  readonly target: string
}

export interface ComposeProject {
  readonly compose: string
  readonly files: readonly GeneratedFile[]
}

/** Builds the compose file and its generated configs in memory (paths relative to the compose file). */
export function composeProject(opts: ComposeOptions): ComposeProject {
  const n = opts.validators
  const variant = opts.variant ?? 'bridge'
  const swarm = variant === 'swarm'
  const host = variant === 'host'
  const image = opts.image ?? 'bftlab:latest'
  const load = opts.load ?? DEFAULT_LOAD
  const p2pPort = opts.p2pPort ?? P2P_PORT
  const httpPort = opts.httpPort ?? HTTP_PORT
  const placement = placementOf(variant, opts.firstAddress ?? DEFAULT_FIRST_LOOPBACK)
  const { genesis, nodes } = deploymentConfigs({ validators: n, accounts: opts.accounts ?? DEFAULT_ACCOUNTS, chainId: 'bftlab-compose', placement, p2pPort, httpPort, genesisPath: 'genesis.json' })

  // Swarm builds nothing (every host pulls the image); elsewhere the build context is this repository.
  const build = swarm ? undefined : { context: relative(dirname(resolve(opts.out)), REPO_ROOT) || '.' }
  const files: Record<string, MountedFile> = {
    genesis: { file: './configs/compose/genesis.json', target: `${CONFIG_DIR_IN_IMAGE}/genesis.json` },
    prometheus: { file: './configs/prometheus.yml', target: '/etc/prometheus/prometheus.yml' },
    grafana_datasource: { file: './configs/grafana/provisioning/datasources/prometheus.yml', target: '/etc/grafana/provisioning/datasources/prometheus.yml' },
    grafana_dashboards: { file: './configs/grafana/provisioning/dashboards/bftlab.yml', target: '/etc/grafana/provisioning/dashboards/bftlab.yml' },
    grafana_dashboard_bftlab: { file: './configs/grafana/dashboards/bftlab.json', target: '/var/lib/grafana/dashboards/bftlab.json' },
  }
  /**
   * Compose bind-mounts the files read-only; Swarm cannot (the host path would have to exist on
   * every node), so there they become Swarm configs, shipped with the stack.
   */
  const mounts = (names: readonly string[], extraVolumes: readonly string[] = []): Record<string, Yaml | undefined> => {
    const used = names.map((name) => ({ name, ...files[name]! }))
    if (swarm) return { configs: used.map((f) => ({ source: f.name, target: f.target })), volumes: extraVolumes.length > 0 ? extraVolumes : undefined }
    return { volumes: [...used.map((f) => `${f.file}:${f.target}:ro`), ...extraVolumes] }
  }
  /** Host variant: `network_mode: host` instead of a network; published ports mean nothing there. */
  const networking = (bridge: Yaml): Record<string, Yaml> => (host ? { network_mode: 'host' } : { networks: bridge })
  const services: Record<string, Yaml> = {}
  const volumes: Record<string, Yaml> = {}
  const placementOn = (label: string) => ({ placement: { constraints: [`node.labels.bftlab == ${label}`] } })
  for (let i = 0; i < n; i++) {
    const name = validatorService(i)
    const listen = placement(i).listen
    files[name] = { file: `./configs/compose/node-${i}.json`, target: `${CONFIG_DIR_IN_IMAGE}/node-${i}.json` }
    volumes[`${name}-data`] = {}
    services[name] = {
      image,
      build,
      command: ['node', '--config', `${CONFIG_DIR_IN_IMAGE}/node-${i}.json`],
      ...mounts(['genesis', name], [`${name}-data:${DATA_DIR_IN_IMAGE}`]),
      ...networking(swarm ? [NETWORK] : { [NETWORK]: { ipv4_address: validatorAddress(i) } }),
      healthcheck: {
        test: ['CMD', 'node', '-e', statusProbe(`http://${listen === '0.0.0.0' ? '127.0.0.1' : listen}:${httpPort}`)],
        interval: '5s',
        timeout: '3s',
        retries: 5,
        start_period: '20s',
      },
      restart: swarm ? undefined : 'unless-stopped',
      deploy: swarm ? { replicas: 1, restart_policy: { condition: 'any' }, ...placementOn('validator') } : undefined,
    }
  }
  volumes[RESULTS_VOLUME] = {}
  services.load = {
    image,
    build,
    command: loadArgs(`${CONFIG_DIR_IN_IMAGE}/genesis.json`, load),
    ...mounts(['genesis'], [`${RESULTS_VOLUME}:${RESULTS_DIR_IN_IMAGE}`]),
    ...networking([NETWORK]),
    // Swarm ignores depends_on: there the load generator retries until the validators answer.
    depends_on: swarm ? undefined : Object.fromEntries(Array.from({ length: n }, (_, i) => [validatorService(i), { condition: 'service_healthy' }])),
    restart: swarm ? undefined : 'no',
    deploy: swarm ? { replicas: 1, restart_policy: { condition: 'on-failure', delay: '10s' }, ...placementOn('monitor') } : undefined,
  }
  // On the host network the monitoring stack listens on loopback only, like the validators.
  services.prometheus = {
    image: PROMETHEUS_IMAGE,
    command: host ? ['--config.file=/etc/prometheus/prometheus.yml', `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`] : undefined,
    ...mounts(['prometheus']),
    ports: host ? undefined : [`${PROMETHEUS_PORT}:${PROMETHEUS_PORT}`],
    ...networking([NETWORK]),
    deploy: swarm ? { replicas: 1, ...placementOn('monitor') } : undefined,
  }
  services.grafana = {
    image: GRAFANA_IMAGE,
    environment: {
      GF_AUTH_ANONYMOUS_ENABLED: 'true',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
      // Read by configs/grafana/provisioning/datasources/prometheus.yml.
      BFTLAB_PROMETHEUS_URL: host ? `http://127.0.0.1:${PROMETHEUS_PORT}` : `http://prometheus:${PROMETHEUS_PORT}`,
      GF_SERVER_HTTP_ADDR: host ? '127.0.0.1' : undefined,
    },
    ...mounts(['grafana_datasource', 'grafana_dashboards', 'grafana_dashboard_bftlab']),
    ports: host ? undefined : [`${GRAFANA_PORT}:${GRAFANA_PORT}`],
    ...networking([NETWORK]),
    depends_on: swarm ? undefined : ['prometheus'],
    deploy: swarm ? { replicas: 1, ...placementOn('monitor') } : undefined,
  }
  const compose: Yaml = {
    // Stack deploy still requires a 3.x version key; Compose v2 merely warns that it is obsolete.
    version: '3.8',
    services,
    networks: host ? undefined : { [NETWORK]: swarm ? { driver: 'overlay', attachable: true } : { driver: 'bridge', ipam: { config: [{ subnet: COMPOSE_SUBNET }] } } },
    volumes,
    configs: swarm ? Object.fromEntries(Object.entries(files).map(([name, f]) => [name, { file: f.file }])) : undefined,
  }
  const flags = [`--validators ${n}`, variant === 'bridge' ? '' : variant === 'swarm' ? '--swarm' : '--network host'].filter((f) => f !== '').join(' ')
  const header =
    `# Generated by \`bftlab compose ${flags}\`; regenerate instead of editing (that also writes the\n` +
    '# validator keys in configs/compose/, which are never committed).\n' +
    (swarm
      ? '# Deploy: docker stack deploy -c <this file> bftlab (label hosts: docker node update --label-add bftlab=validator|monitor <host>)\n'
      : host
        ? `# Run: docker compose up -d (validators on ${loopbackAddress(opts.firstAddress ?? DEFAULT_FIRST_LOOPBACK, 0)}… port ${httpPort}, Prometheus 127.0.0.1:${PROMETHEUS_PORT}, Grafana 127.0.0.1:${GRAFANA_PORT})\n`
        : `# Run: docker build -t bftlab . && docker compose up (Grafana on :${GRAFANA_PORT}, Prometheus on :${PROMETHEUS_PORT})\n`)
  const scrapeTargets = Array.from({ length: n }, (_, i) => `${host ? placement(i).advertise : validatorService(i)}:${httpPort}`)
  return {
    compose: header + yamlDocument(compose),
    files: [
      { path: 'configs/compose/genesis.json', text: json(genesis), secret: false },
      ...nodes.map((node, i) => ({ path: `configs/compose/node-${i}.json`, text: json(node), secret: true })),
      { path: 'configs/prometheus.yml', text: prometheusConfig(scrapeTargets), secret: false },
    ],
  }
}

/** Writes the compose file, its generated configs, and (outside this repo) a copy of the Grafana files. */
export async function writeComposeProject(opts: ComposeOptions): Promise<string[]> {
  const outFile = resolve(opts.out)
  const dir = dirname(outFile)
  const project = composeProject(opts)
  await mkdir(dir, { recursive: true })
  await writeFile(outFile, project.compose)
  const written = [outFile]
  for (const f of project.files) {
    const path = join(dir, f.path)
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, f.text)
    written.push(path)
  }
  const grafanaSource = join(REPO_ROOT, 'configs', 'grafana')
  const grafanaTarget = join(dir, 'configs', 'grafana')
  if (relative(grafanaSource, grafanaTarget) !== '') {
    await cp(grafanaSource, grafanaTarget, { recursive: true })
    written.push(grafanaTarget)
  }
  return written
}
