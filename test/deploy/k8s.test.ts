import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import { Job } from 'kubernetes-models/batch/v1/Job'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Namespace } from 'kubernetes-models/v1/Namespace'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { checkNodeMatchesGenesis, parseGenesis, parseNodeConfig } from '../../src/node/config.ts'
import { findFreePortRange } from '../../src/testnet/ports.ts'
import { NodeProcesses } from '../../src/testnet/processes.ts'
import { k8sManifests, validatorHost, writeK8sManifests } from '../../src/testnet/k8s.ts'
import { commonChain, processesMentioning, waitForHeight } from '../testnet/helpers.ts'
import { run, toolSkip, withTempDir as withTempDirIn } from './helpers.ts'
import { startKubeApi, type KubeApi } from './kube-api.ts'

const REPO = new URL('../../', import.meta.url).pathname

const kubectlSkip = await toolSkip('kubectl', ['version', '--client'], 'kubernetes-client')

/** A parsed manifest object, as kubectl hands it back. */
interface KubeObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string }
  readonly [field: string]: unknown
}

/** kubernetes-models' schema check per kind (types, required fields, enums, formats); throws naming the field. */
const MODELS: Record<string, (o: KubeObject) => { validate(): void }> = {
  Namespace: (o) => new Namespace(o as never),
  ConfigMap: (o) => new ConfigMap(o as never),
  Secret: (o) => new Secret(o as never),
  Service: (o) => new Service(o as never),
  StatefulSet: (o) => new StatefulSet(o as never),
  Job: (o) => new Job(o as never),
}

function schemaCheck(objects: readonly KubeObject[]): void {
  for (const o of objects) {
    const model = MODELS[o.kind]
    if (model === undefined) throw new Error(`no schema for kind ${o.kind}`)
    try {
      model(o).validate()
    } catch (err) {
      throw new Error(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`, { cause: err })
    }
  }
}

let api: KubeApi | undefined
let cacheDir = ''
before(async () => {
  api = await startKubeApi()
  cacheDir = await mkdtemp(join(tmpdir(), 'bftlab-kubectl-cache-'))
})
after(async () => {
  await api?.close()
  await rm(cacheDir, { recursive: true, force: true })
})

/** `kubectl apply --dry-run=client --validate=false -f PATH`: the objects kubectl parsed, or its refusal. */
async function dryRunApply(path: string): Promise<KubeObject[]> {
  const { stdout } = await run('kubectl', ['--server', api!.url, '--cache-dir', cacheDir, 'apply', '--dry-run=client', '--validate=false', '-o', 'json', '-f', path], { maxBuffer: 64 << 20 })
  const out = JSON.parse(stdout) as { kind: string; items?: KubeObject[] }
  return out.items ?? [out as KubeObject]
}

const withTempDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDirIn('bftlab-k8s-', fn)

for (const n of [4, 64]) {
  test(`\`bftlab k8s --validators ${n}\`: kubectl's dry run and the Kubernetes schemas accept every manifest`, { skip: kubectlSkip }, async () => {
    await withTempDir(async (dir) => {
      await writeK8sManifests({ validators: n, out: dir, image: 'registry.example/bftlab:1', cpu: '2', memory: '2Gi' })
      const objects = await dryRunApply(dir)
      assert.deepEqual(objects.map((o) => o.kind), ['Namespace', 'ConfigMap', 'Secret', 'Service', 'StatefulSet', 'Job'])
      schemaCheck(objects)
      assert.deepEqual(api!.writes, [], 'a client-side dry run writes nothing')
      for (const o of objects) if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'bftlab', `${o.kind} in the namespace`)
      const sts = objects.find((o) => o.kind === 'StatefulSet') as unknown as StatefulSet
      assert.equal(sts.spec!.replicas, n)
      assert.equal(sts.spec!.serviceName, 'bftlab-validators')
      const container = sts.spec!.template.spec!.containers[0]!
      assert.deepEqual(container.resources!.requests, { cpu: '2', memory: '2Gi' })
      assert.deepEqual(container.resources!.limits, container.resources!.requests, 'equal requests and limits per validator')
      assert.equal(sts.spec!.template.metadata!.annotations!['prometheus.io/scrape'], 'true')
      assert.equal(sts.spec!.template.metadata!.annotations!['prometheus.io/port'], '8000')
      const svc = objects.find((o) => o.kind === 'Service') as unknown as Service
      assert.equal(svc.spec!.clusterIP, 'None', 'headless')
      assert.deepEqual(svc.spec!.selector, sts.spec!.template.metadata!.labels)
      // Genesis (ConfigMap) and keys (Secret): pod i's key matches validator i, whose address is pod i's DNS name.
      const genesis = parseGenesis(JSON.parse((objects.find((o) => o.kind === 'ConfigMap') as unknown as ConfigMap).data!['genesis.json']!))
      const keys = (objects.find((o) => o.kind === 'Secret') as unknown as Secret).data!
      assert.equal(Object.keys(keys).length, n)
      for (let i = 0; i < n; i++) {
        assert.equal(genesis.validators[i]!.p2p, `/dns4/${validatorHost(i, 'bftlab', 'cluster.local')}/tcp/9000`)
        assert.equal(validatorHost(i, 'bftlab', 'cluster.local'), `${sts.metadata!.name}-${i}.${svc.metadata!.name}.bftlab.svc.cluster.local`)
        const node = parseNodeConfig(JSON.parse(Buffer.from(keys[`node-${i}.json`]!, 'base64').toString('utf8')), `node-${i}.json`)
        assert.equal(node.index, i)
        checkNodeMatchesGenesis(node, genesis, `node-${i}.json`)
      }
      assert.match(container.command!.join(' '), /--config \/etc\/bftlab\/keys\/node-\$\{HOSTNAME##\*-\}\.json/, 'each pod picks its key by its ordinal')
      // Keys live in the Secret file only, which is owner-readable and git-ignored.
      for (const file of await readdir(dir)) {
        const text = await readFile(join(dir, file), 'utf8')
        if (file !== '20-validator-keys-secret.yaml') assert.doesNotMatch(text, /seed/, `${file} carries no key`)
      }
      assert.equal((await stat(join(dir, '20-validator-keys-secret.yaml'))).mode & 0o077, 0, 'the Secret file is private to its owner')
      assert.match(await readFile(join(dir, '.gitignore'), 'utf8'), /^20-validator-keys-secret\.yaml$/m)
    })
  })
}

test('a broken manifest is refused: by kubectl (unknown kind, missing name) and by the schema check (wrong types, missing fields)', { skip: kubectlSkip }, async () => {
  await withTempDir(async (dir) => {
    await writeK8sManifests({ validators: 4, out: dir, image: 'registry.example/bftlab:1' })
    const [sts] = await dryRunApply(join(dir, '40-validators-statefulset.yaml'))
    schemaCheck([sts!])
    const original = await readFile(join(dir, '40-validators-statefulset.yaml'), 'utf8')
    const broken = join(dir, 'broken.yaml')
    await writeFile(broken, original.replace('kind: "StatefulSet"', 'kind: "StatefulSett"'))
    await assert.rejects(dryRunApply(broken), /no matches for kind "StatefulSett"/)
    await writeFile(broken, original.replace('  name: "bftlab"\n', ''))
    await assert.rejects(dryRunApply(broken), /name/)
    // kubectl with --validate=false passes a wrong type through; the schema check does not.
    await writeFile(broken, original.replace('replicas: 4', 'replicas: "4"'))
    const wrongType = await dryRunApply(broken)
    assert.throws(() => schemaCheck(wrongType), /StatefulSet\/bftlab: .*replicas must be integer/)
    const spec = (sts as unknown as StatefulSet).spec!
    // Fields kubectl hands back unchanged, broken one at a time.
    assert.throws(() => schemaCheck([{ ...sts, spec: { ...spec, selector: undefined } } as unknown as KubeObject]), /selector/)
    assert.throws(() => schemaCheck([{ ...sts, spec: { ...spec, podManagementPolicy: 'AllAtOnce' } } as unknown as KubeObject]), /podManagementPolicy/)
  })
})

test('a genesis too large for a ConfigMap is refused with the size and the way out', () => {
  assert.throws(() => k8sManifests({ validators: 4, out: 'k8s', image: 'bftlab:latest', accounts: 10_000 }), /genesis\.json would be [0-9]+ bytes, over the 1048576 bytes a ConfigMap holds: use fewer accounts/)
})

describe('the node configs of a k8s Secret and genesis ConfigMap, as pods mount them', () => {
  /**
   * Kubernetes peers dial each other by DNS name (/dns4/…), which no other test exercises. Here
   * the generated configs run as real validator processes with only the names and ports moved
   * to this machine (/dns4/localhost/tcp/P+i; pods all use 9000/8000 on their own addresses),
   * and the load Job's own script — wait for the validators, load, `bftlab check` — runs against
   * them.
   */
  const n = 4
  let dir = ''
  let nodes: NodeProcesses | undefined
  after(async () => {
    await nodes?.stopAll()
    assert.deepEqual(processesMentioning(dir), [], 'no node process survives')
    await rm(dir, { recursive: true, force: true })
  })

  test('reach consensus over /dns4 addresses, and the load Job script loads and checks them', { timeout: 240_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'bftlab-k8s-run-'))
    const load = { rate: 100, durationS: 8, warmupS: 2 }
    const manifests = k8sManifests({ validators: n, out: dir, image: 'bftlab:latest', load })
    const objectOf = <T>(kind: string): T => manifests.flatMap((m) => m.objects).find((o) => o.kind === kind) as unknown as T
    const p2pBase = await findFreePortRange(2 * n)
    const httpBase = p2pBase + n
    const local = (text: string): string =>
      Array.from({ length: n }, (_, i) => i).reduce(
        (t, i) => t.replaceAll(`/dns4/${validatorHost(i, 'bftlab', 'cluster.local')}/tcp/9000`, `/dns4/localhost/tcp/${p2pBase + i}`).replaceAll(`http://${validatorHost(i, 'bftlab', 'cluster.local')}:8000`, `http://localhost:${httpBase + i}`),
        text,
      )
    const genesisDir = join(dir, 'genesis')
    const resultsDir = join(dir, 'results')
    await mkdir(genesisDir)
    await mkdir(resultsDir)
    const genesisPath = join(genesisDir, 'genesis.json')
    await writeFile(genesisPath, local(objectOf<ConfigMap>('ConfigMap').data!['genesis.json']!))
    const keys = objectOf<Secret>('Secret').data!
    const specs = []
    for (let i = 0; i < n; i++) {
      const node = JSON.parse(Buffer.from(keys[`node-${i}.json`]!, 'base64').toString('utf8')) as Record<string, unknown>
      assert.equal(node['genesis'], '/etc/bftlab/genesis/genesis.json', 'the path the ConfigMap is mounted at')
      const configPath = join(dir, `node-${i}.json`)
      await writeFile(configPath, JSON.stringify({ ...node, genesis: genesisPath, dataDir: join(dir, `data-${i}`), listen: `/ip4/127.0.0.1/tcp/${p2pBase + i}`, httpHost: '127.0.0.1', httpPort: httpBase + i }))
      specs.push({ index: i, configPath, logPath: join(dir, `node-${i}.log`) })
    }
    nodes = new NodeProcesses({ specs })
    nodes.startAll()
    const urls = specs.map((_, i) => `http://localhost:${httpBase + i}`)

    const job = objectOf<Job>('Job').spec!.template.spec!
    const [waitScript, ...waitUrls] = job.initContainers![0]!.command!.slice(2)
    const waited = await run(process.execPath, ['-e', waitScript!, ...waitUrls.map(local)], { timeout: 90_000 })
    assert.match(waited.stdout, /all 4 validators answer/)
    await waitForHeight(urls, 3, 90_000)
    assert.equal((await commonChain(urls, 3)).length, 3)

    // The load container's shell command, with the pod's paths and the image's working directory moved here.
    const script = job.containers[0]!.command![2]!.replaceAll('/etc/bftlab/genesis', genesisDir).replaceAll('/app/results', resultsDir)
    const { stdout } = await run('sh', ['-c', local(script)], { cwd: REPO, timeout: 180_000, maxBuffer: 64 << 20, env: { ...process.env, PATH: `${join(process.execPath, '..')}:${process.env.PATH}` } })
    assert.match(stdout, /all checks passed/)
    assert.match(stdout, /PASS +\(b\) acknowledged txs +[1-9][0-9]* acknowledged txs all in the chain once/)
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { config: { command: string }; points: unknown[] }
    assert.equal(result.config.command, 'load', "the log's last line is the load's result document")
    assert.equal(result.points.length, 1)
  })
})
