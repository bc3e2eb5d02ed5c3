import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { IJob } from 'kubernetes-models/batch/v1/Job'
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { INamespace } from 'kubernetes-models/v1/Namespace'
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext'
import type { ISecret } from 'kubernetes-models/v1/Secret'
import type { IService } from 'kubernetes-models/v1/Service'
import type { IVolume } from 'kubernetes-models/v1/Volume'
import { DATA_DIR_IN_IMAGE, DEFAULT_ACCOUNTS, DEFAULT_LOAD, HTTP_PORT, P2P_PORT, RESULTS_DIR_IN_IMAGE, deploymentConfigs, loadArgs, type LoadSettings } from './deploy.ts'
import { yamlDocument, type Yaml } from './yaml.ts'

/**
 * `bftlab k8s`: Kubernetes manifests for a multi-host experiment (as Aptos Forge runs its
 * testnets on Kubernetes). One StatefulSet of N validators — its stable pod identities
 * `bftlab-<i>` are the validator indexes, each pod picking its own key by its ordinal — behind a
 * headless Service that gives every pod the DNS name its peers dial (/dns4/…), a Secret with the
 * validators' keys, a ConfigMap with genesis, equal resource requests and limits per validator
 * (the knob for "validators on equal machines"), a load-generator Job that checks the run when
 * its load ends, and Prometheus scrape annotations on the pods (no ServiceMonitor, no operator).
 *
 * Only the types of kubernetes-models are imported (erased at run time): the compiler checks
 * every field name of the manifests below, and `npm test` checks their values against the
 * package's schemas and `kubectl apply --dry-run=client`.
 */

export interface K8sOptions {
  readonly validators: number
  /** Directory the manifests are written to (`kubectl apply -f DIR`). */
  readonly out: string
  /** A registry reference every cluster node can pull. */
  readonly image: string
  readonly namespace?: string
  readonly clusterDomain?: string
  /** CPU and memory each validator (and the load generator) requests and is limited to. */
  readonly cpu?: string
  readonly memory?: string
  /** Persistent volume per validator for its LevelDB. */
  readonly storage?: string
  readonly storageClass?: string
  readonly accounts?: number
  readonly load?: LoadSettings
}

export const K8S_DEFAULTS = { namespace: 'bftlab', clusterDomain: 'cluster.local', cpu: '2', memory: '2Gi', storage: '5Gi' } as const

/** StatefulSet name: pod i is `bftlab-<i>`, the validator with index i. */
const STATEFULSET = 'bftlab'
const SERVICE = 'bftlab-validators'
const GENESIS_CONFIGMAP = 'bftlab-genesis'
const KEYS_SECRET = 'bftlab-validator-keys'
const LOAD_JOB = 'bftlab-load'
const GENESIS_DIR = '/etc/bftlab/genesis'
const KEYS_DIR = '/etc/bftlab/keys'
/** The image's unprivileged user and group (node:22-slim's `node`). */
const IMAGE_UID = 1000
/** Secret files readable by the pod's group (fsGroup) only. */
const KEY_FILE_MODE = 0o440
/** Kubernetes refuses a ConfigMap or Secret whose data exceeds 1 MiB (etcd's object size bound). */
const OBJECT_DATA_MAX_BYTES = 1 << 20
/** How long the load Job's init container waits for every validator to answer before the Job fails. */
const VALIDATORS_WAIT_S = 600

const labels = (component: 'validator' | 'load'): Record<string, string> => ({ 'app.kubernetes.io/name': 'bftlab', 'app.kubernetes.io/component': component })

/** DNS name of validator i's pod through the headless Service. */
export function validatorHost(i: number, namespace: string, clusterDomain: string): string {
  return `${STATEFULSET}-${i}.${SERVICE}.${namespace}.svc.${clusterDomain}`
}

export interface K8sManifest {
  /** File name inside the output directory; applied in name order (namespace first). */
  readonly file: string
  readonly objects: readonly (INamespace | IConfigMap | ISecret | IService | IStatefulSet | IJob)[]
  /** Holds validator keys: written owner-only, never committed. */
  readonly secret: boolean
}

/** Waits (bounded) until every validator's /status answers, so the load starts on a formed network. */
function waitForValidatorsScript(): string {
  return [
    'const urls = process.argv.slice(1)',
    `const deadline = Date.now() + ${VALIDATORS_WAIT_S * 1000}`,
    "const up = (u) => fetch(u + '/status', { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)",
    ';(async () => {',
    '  for (;;) {',
    '    const answers = await Promise.all(urls.map(up))',
    '    const missing = urls.filter((u, i) => !answers[i])',
    '    if (missing.length === 0) return console.log(`all ${urls.length} validators answer`)',
    `    if (Date.now() > deadline) { console.error(\`after ${VALIDATORS_WAIT_S} s, \${missing.length} validators still do not answer, e.g. \${missing[0]}\`); process.exit(1) }`,
    '    console.log(`waiting for ${missing.length} of ${urls.length} validators`)',
    '    await new Promise((r) => setTimeout(r, 2000))',
    '  }',
    '})()',
  ].join('\n')
}

const shellQuote = (arg: string): string => (/^[A-Za-z0-9_/.:=,-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)

export function k8sManifests(opts: K8sOptions): K8sManifest[] {
  const n = opts.validators
  const namespace = opts.namespace ?? K8S_DEFAULTS.namespace
  const clusterDomain = opts.clusterDomain ?? K8S_DEFAULTS.clusterDomain
  const resources = { cpu: opts.cpu ?? K8S_DEFAULTS.cpu, memory: opts.memory ?? K8S_DEFAULTS.memory }
  const genesisPath = `${GENESIS_DIR}/genesis.json`
  const { genesis, nodes } = deploymentConfigs({
    validators: n,
    accounts: opts.accounts ?? DEFAULT_ACCOUNTS,
    chainId: `bftlab-${namespace}`,
    placement: (i) => ({ advertise: validatorHost(i, namespace, clusterDomain), listen: '0.0.0.0' }),
    p2pPort: P2P_PORT,
    httpPort: HTTP_PORT,
    genesisPath,
  })
  const genesisJson = JSON.stringify(genesis, null, 2) + '\n'
  const genesisBytes = Buffer.byteLength(genesisJson)
  if (genesisBytes > OBJECT_DATA_MAX_BYTES) {
    const perAccount = Math.ceil(genesisBytes / Math.max(1, genesis.accounts.length))
    throw new RangeError(`genesis.json would be ${genesisBytes} bytes, over the ${OBJECT_DATA_MAX_BYTES} bytes a ConfigMap holds: use fewer accounts (each adds about ${perAccount} bytes)`)
  }
  const meta = (name: string, component: 'validator' | 'load' = 'validator') => ({ name, namespace, labels: labels(component) })
  // Equal requests and limits: the Guaranteed QoS class, so no validator borrows CPU another lacks.
  const containerResources = { requests: resources, limits: resources }
  const securityContext: IPodSecurityContext = { runAsNonRoot: true, runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID, fsGroup: IMAGE_UID }
  const genesisVolume: IVolume = { name: 'genesis', configMap: { name: GENESIS_CONFIGMAP } }

  const validator: IContainer = {
    name: 'validator',
    image: opts.image,
    imagePullPolicy: 'IfNotPresent',
    // The pod's host name is `bftlab-<ordinal>`: the ordinal is the validator index, and picks its key.
    command: ['/bin/sh', '-c', `exec node src/cli/bftlab.ts node --config ${KEYS_DIR}/node-\${HOSTNAME##*-}.json`],
    ports: [
      { name: 'p2p', containerPort: P2P_PORT, protocol: 'TCP' },
      { name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' },
    ],
    resources: containerResources,
    readinessProbe: { httpGet: { path: '/status', port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
    volumeMounts: [
      { name: 'data', mountPath: DATA_DIR_IN_IMAGE },
      { name: 'genesis', mountPath: GENESIS_DIR, readOnly: true },
      { name: 'keys', mountPath: KEYS_DIR, readOnly: true },
    ],
  }
  const statefulSet: IStatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(STATEFULSET),
    spec: {
      serviceName: SERVICE,
      replicas: n,
      // All validators start together: consensus needs 2f+1 of them before any is useful.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: labels('validator') },
      template: {
        metadata: {
          labels: labels('validator'),
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(HTTP_PORT), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          securityContext,
          terminationGracePeriodSeconds: 30,
          // One validator per machine where the cluster has enough of them.
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels('validator') } } },
              ],
            },
          },
          containers: [validator],
          volumes: [genesisVolume, { name: 'keys', secret: { secretName: KEYS_SECRET, defaultMode: KEY_FILE_MODE } }],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data', labels: labels('validator') },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: opts.storage ?? K8S_DEFAULTS.storage } },
            ...(opts.storageClass !== undefined ? { storageClassName: opts.storageClass } : {}),
          },
        },
      ],
    },
  }
  const service: IService = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(SERVICE),
    spec: {
      // Headless: a DNS record per pod, no virtual IP in the validators' paths.
      clusterIP: 'None',
      // Peers must resolve a validator before it is ready: readiness needs its peers.
      publishNotReadyAddresses: true,
      selector: labels('validator'),
      ports: [
        { name: 'p2p', port: P2P_PORT, targetPort: 'p2p' },
        { name: 'http', port: HTTP_PORT, targetPort: 'http' },
      ],
    },
  }
  const urls = genesis.validators.map((v) => v.http)
  const cli = (args: readonly string[]): string => ['node', 'src/cli/bftlab.ts', ...args].map(shellQuote).join(' ')
  const load = opts.load ?? DEFAULT_LOAD
  const loadJob: IJob = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(LOAD_JOB, 'load'),
    spec: {
      // A failed load is a result to read, not something to retry behind the reader's back.
      backoffLimit: 0,
      template: {
        metadata: { labels: labels('load') },
        spec: {
          restartPolicy: 'Never',
          securityContext,
          initContainers: [{ name: 'wait-for-validators', image: opts.image, imagePullPolicy: 'IfNotPresent', command: ['node', '-e', waitForValidatorsScript(), ...urls] }],
          containers: [
            {
              name: 'load',
              image: opts.image,
              imagePullPolicy: 'IfNotPresent',
              // The load, then `bftlab check` of every acknowledged tx against the live validators;
              // the result document goes to the log's last line (`kubectl logs job/bftlab-load | tail -1`).
              command: [
                '/bin/sh',
                '-c',
                [
                  cli(loadArgs(genesisPath, load)),
                  cli(['check', '--live', '--dir', GENESIS_DIR, '--acks', `${RESULTS_DIR_IN_IMAGE}/acks.json`]),
                  `node -p ${shellQuote(`JSON.stringify(require(${JSON.stringify(`${RESULTS_DIR_IN_IMAGE}/load.json`)}))`)}`,
                ].join(' && '),
              ],
              resources: containerResources,
              volumeMounts: [
                { name: 'genesis', mountPath: GENESIS_DIR, readOnly: true },
                { name: 'results', mountPath: RESULTS_DIR_IN_IMAGE },
              ],
            },
          ],
          volumes: [genesisVolume, { name: 'results', emptyDir: {} }],
        },
      },
    },
  }
  return [
    { file: '00-namespace.yaml', objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/name': 'bftlab' } } }], secret: false },
    { file: '10-genesis-configmap.yaml', objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(GENESIS_CONFIGMAP), data: { 'genesis.json': genesisJson } }], secret: false },
    {
      file: '20-validator-keys-secret.yaml',
      objects: [
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: meta(KEYS_SECRET),
          type: 'Opaque',
          data: Object.fromEntries(nodes.map((node, i) => [`node-${i}.json`, Buffer.from(JSON.stringify(node, null, 2) + '\n').toString('base64')])),
        },
      ],
      secret: true,
    },
    { file: '30-validators-service.yaml', objects: [service], secret: false },
    { file: '40-validators-statefulset.yaml', objects: [statefulSet], secret: false },
    { file: '50-load-job.yaml', objects: [loadJob], secret: false },
  ]
}

/** The manifests' plain data (the typed objects hold nothing else) as YAML documents. */
export const manifestYaml = (m: K8sManifest): string => m.objects.map((o) => yamlDocument(o as unknown as Yaml)).join('---\n')

/** Writes the manifests (the Secret readable by its owner only) and a .gitignore that keeps the Secret out of version control. */
export async function writeK8sManifests(opts: K8sOptions): Promise<string[]> {
  const dir = resolve(opts.out)
  await mkdir(dir, { recursive: true })
  const manifests = k8sManifests(opts)
  const written: string[] = []
  const header = `# Generated by \`bftlab k8s --validators ${opts.validators}\`; apply the directory with \`kubectl apply -f ${opts.out}\`.\n`
  for (const m of manifests) {
    const path = join(dir, m.file)
    await writeFile(path, header + manifestYaml(m))
    if (m.secret) await chmod(path, 0o600)
    written.push(path)
  }
  const gitignore = join(dir, '.gitignore')
  await writeFile(gitignore, `# Validator keys: never committed.\n${manifests.filter((m) => m.secret).map((m) => m.file).join('\n')}\n`)
  written.push(gitignore)
  return written
}
