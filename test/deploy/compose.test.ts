import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { test } from 'node:test'
import { deriveSeed } from '../../src/core/keys.ts'
import { toHex } from '../../src/core/hash.ts'
import { loadNodeConfig, validatorSeedLabel } from '../../src/node/config.ts'
import { composeProject, loopbackAddress, validatorAddress, writeComposeProject } from '../../src/testnet/compose.ts'
import { toYaml } from '../../src/testnet/yaml.ts'
import { run, toolSkip, withTempDir as withTempDirIn } from './helpers.ts'
const REPO = new URL('../../', import.meta.url).pathname

/** `docker-compose config -q` parses and validates a file without a Docker engine. */
const skipReason = await toolSkip('docker-compose', ['version'], 'docker-compose')

async function assertComposeValid(file: string): Promise<void> {
  // A failing validation rejects with docker-compose's own message on stderr.
  await run('docker-compose', ['-f', file, 'config', '-q'])
}

const withTempDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDirIn('bftlab-compose-', fn)

test('the committed docker-compose.yml and prometheus.yml are exactly what `bftlab compose --validators 4` generates', async () => {
  const project = composeProject({ validators: 4, out: join(REPO, 'docker-compose.yml') })
  assert.equal(await readFile(join(REPO, 'docker-compose.yml'), 'utf8'), project.compose)
  const committed = project.files.filter((f) => !f.secret && f.path !== 'configs/compose/genesis.json')
  assert.deepEqual(committed.map((f) => f.path), ['configs/prometheus.yml'])
  for (const f of committed) assert.equal(await readFile(join(REPO, f.path), 'utf8'), f.text, f.path)
})

test('validator keys are fresh for every generation, derivable from nothing public, and never committed', async () => {
  const keysOf = (files: readonly { path: string; text: string; secret: boolean }[]): string[] =>
    files.filter((f) => f.secret).map((f) => (JSON.parse(f.text) as { seed: string }).seed)
  const a = keysOf(composeProject({ validators: 4, out: 'docker-compose.yml' }).files)
  const b = keysOf(composeProject({ validators: 4, out: 'docker-compose.yml' }).files)
  assert.equal(a.length, 4)
  for (let i = 0; i < 4; i++) {
    assert.notEqual(a[i], b[i], `validator ${i} got the same key twice`)
    assert.notEqual(a[i], toHex(deriveSeed(validatorSeedLabel('bftlab-compose'), i)), 'a key derived from the chain id')
  }
  const ignored = await run('git', ['check-ignore', 'configs/compose/node-0.json', 'configs/compose/genesis.json'], { cwd: REPO })
  assert.equal(ignored.stdout.trim().split('\n').length, 2)
  const dockerignore = await readFile(join(REPO, '.dockerignore'), 'utf8')
  assert.match(dockerignore, /^\*$/m, '.dockerignore is an allowlist')
  assert.doesNotMatch(dockerignore, /^!configs\/?(\*\*)?$|^!configs\/compose/m, 'configs/compose never reaches the build context')
})

test('the committed docker-compose.yml passes docker-compose config', { skip: skipReason }, async () => {
  await assertComposeValid(join(REPO, 'docker-compose.yml'))
})

test('a generated 7-validator project passes docker-compose config, in all three variants', { skip: skipReason }, async () => {
  await withTempDir(async (dir) => {
    await writeComposeProject({ validators: 7, out: join(dir, 'plain', 'docker-compose.yml') })
    await assertComposeValid(join(dir, 'plain', 'docker-compose.yml'))
    await writeComposeProject({ validators: 7, variant: 'host', out: join(dir, 'host', 'docker-compose.yml') })
    await assertComposeValid(join(dir, 'host', 'docker-compose.yml'))
    await writeComposeProject({ validators: 7, variant: 'swarm', image: 'registry.example/bftlab:1', out: join(dir, 'swarm', 'stack.yml') })
    await assertComposeValid(join(dir, 'swarm', 'stack.yml'))
  })
})

test('docker-compose config rejects a broken file (the validation can fail)', { skip: skipReason }, async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'docker-compose.yml')
    await writeComposeProject({ validators: 4, out: file })
    const broken = join(dir, 'broken.yml')
    await writeFile(broken, (await readFile(file, 'utf8')).replace('ipv4_address:', 'ipv4_adress:'))
    await assert.rejects(assertComposeValid(broken), /ipv4_adress/)
  })
})

test("generated node configs load with the node's own loader and match genesis", async () => {
  await withTempDir(async (dir) => {
    await writeComposeProject({ validators: 7, out: join(dir, 'docker-compose.yml') })
    for (let i = 0; i < 7; i++) {
      const { node, genesis } = await loadNodeConfig(join(dir, 'configs', 'compose', `node-${i}.json`))
      assert.equal(node.index, i)
      assert.equal(node.dataDir, '/data')
      assert.equal(node.listen, '/ip4/0.0.0.0/tcp/9000')
      assert.equal(genesis.validators[i]!.p2p, `/ip4/${validatorAddress(i)}/tcp/9000`)
      assert.equal(genesis.validators[i]!.http, `http://${validatorAddress(i)}:8000`)
    }
    const prometheus = await readFile(join(dir, 'configs', 'prometheus.yml'), 'utf8')
    for (let i = 0; i < 7; i++) assert.ok(prometheus.includes(`"node${i}:8000"`), `node${i} scrape target`)
    // The Grafana files are copied next to a project generated outside the repository.
    JSON.parse(await readFile(join(dir, 'configs', 'grafana', 'dashboards', 'bftlab.json'), 'utf8'))
    // …and the image is built from this repository, wherever the project is.
    assert.ok((await readFile(join(dir, 'docker-compose.yml'), 'utf8')).includes(`context: "${relative(dir, REPO)}"`))
  })
})

test('the host variant puts validator i on its own loopback address, with no container network', async () => {
  await withTempDir(async (dir) => {
    await writeComposeProject({ validators: 4, variant: 'host', firstAddress: '127.0.0.20', p2pPort: 19_000, httpPort: 18_000, out: join(dir, 'docker-compose.yml') })
    const compose = await readFile(join(dir, 'docker-compose.yml'), 'utf8')
    for (let i = 0; i < 4; i++) {
      const { node, genesis } = await loadNodeConfig(join(dir, 'configs', 'compose', `node-${i}.json`))
      assert.equal(node.listen, `/ip4/127.0.0.${20 + i}/tcp/19000`)
      assert.equal(node.httpHost, `127.0.0.${20 + i}`)
      assert.equal(genesis.validators[i]!.http, `http://127.0.0.${20 + i}:18000`)
      assert.ok(compose.includes(`fetch('http://127.0.0.${20 + i}:18000/status')`), `node${i} healthcheck on its own address`)
    }
    assert.equal(compose.match(/network_mode: "host"/g)?.length, 7, 'every service on the host network')
    assert.doesNotMatch(compose, /^networks:|ipv4_address|ports:/m)
    assert.match(compose, /--web\.listen-address=127\.0\.0\.1:9090/)
    const prometheus = await readFile(join(dir, 'configs', 'prometheus.yml'), 'utf8')
    assert.ok(prometheus.includes('"127.0.0.23:18000"'))
  })
})

test('the Swarm variant addresses validators by service name and ships configs with the stack', () => {
  const { compose, files } = composeProject({ validators: 4, variant: 'swarm', image: 'registry.example/bftlab:1', out: 'stack.yml' })
  const genesis = JSON.parse(files.find((f) => f.path === 'configs/compose/genesis.json')!.text)
  assert.equal(genesis.validators[2].p2p, '/dns4/node2/tcp/9000')
  assert.ok(compose.includes('driver: "overlay"'))
  assert.ok(!compose.includes('build:'))
  assert.ok(!compose.includes('ipv4_address'))
  assert.ok(compose.includes('image: "registry.example/bftlab:1"'))
  assert.ok(compose.includes('node.labels.bftlab == validator'))
})

test('validator addresses stay unique and inside their range for large committees', () => {
  const addresses = Array.from({ length: 1024 }, (_, i) => validatorAddress(i))
  assert.equal(new Set(addresses).size, 1024)
  assert.equal(addresses[0], '172.28.0.10')
  assert.equal(addresses[246], '172.28.1.0')
  for (const a of addresses) assert.match(a, /^172\.28\.[0-4]\.[0-9]{1,3}$/)
  assert.equal(loopbackAddress('127.0.0.10', 246), '127.0.1.0')
  assert.throws(() => loopbackAddress('10.0.0.1', 0), /not a loopback IPv4 address/)
  assert.throws(() => loopbackAddress('127.255.255.250', 10), /leaves the loopback range/)
})

test('toYaml quotes every string, so no value changes type', () => {
  assert.equal(toYaml({ a: 'true', b: '1.0', c: [1, { d: 'x: y', e: [] }], f: {} }).slice(1), 'a: "true"\nb: "1.0"\nc:\n  - 1\n  - d: "x: y"\n    e: []\nf: {}\n')
})
