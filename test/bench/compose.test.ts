import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { loadNodeConfig } from '../../src/node/config.ts'
import { composeProject, toYaml, validatorAddress, writeComposeProject } from '../../src/testnet/compose.ts'

const run = promisify(execFile)
const REPO = new URL('../../', import.meta.url).pathname

/** `docker-compose config -q` parses and validates a file without a Docker engine. */
async function composeBinary(): Promise<string | undefined> {
  try {
    await run('docker-compose', ['version'])
    return 'docker-compose'
  } catch {
    return undefined
  }
}

const binary = await composeBinary()
const skipReason = binary === undefined ? 'docker-compose not installed (apt-get install -y docker-compose; .ci/run installs it)' : false

async function assertComposeValid(file: string): Promise<void> {
  // A failing validation rejects with docker-compose's own message on stderr.
  await run(binary!, ['-f', file, 'config', '-q'])
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bftlab-compose-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('the committed docker-compose.yml and configs are exactly what `bftlab compose --validators 4` generates', async () => {
  const project = composeProject({ validators: 4, out: 'docker-compose.yml' })
  assert.equal(await readFile(join(REPO, 'docker-compose.yml'), 'utf8'), project.compose)
  for (const f of project.files) assert.equal(await readFile(join(REPO, f.path), 'utf8'), f.text, f.path)
})

test('the committed docker-compose.yml passes docker-compose config', { skip: skipReason }, async () => {
  await assertComposeValid(join(REPO, 'docker-compose.yml'))
})

test('a generated 7-validator project passes docker-compose config, in both variants', { skip: skipReason }, async () => {
  await withTempDir(async (dir) => {
    await writeComposeProject({ validators: 7, out: join(dir, 'plain', 'docker-compose.yml') })
    await assertComposeValid(join(dir, 'plain', 'docker-compose.yml'))
    await writeComposeProject({ validators: 7, swarm: true, image: 'registry.example/bftlab:1', out: join(dir, 'swarm', 'stack.yml') })
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
  })
})

test('the Swarm variant addresses validators by service name and ships configs with the stack', () => {
  const { compose, files } = composeProject({ validators: 4, swarm: true, image: 'registry.example/bftlab:1', out: 'stack.yml' })
  const genesis = JSON.parse(files.find((f) => f.path === 'configs/compose/genesis.json')!.text)
  assert.equal(genesis.validators[2].p2p, '/dns4/node2/tcp/9000')
  assert.ok(compose.includes('driver: "overlay"'))
  assert.ok(!compose.includes('build:'))
  assert.ok(!compose.includes('ipv4_address'))
  assert.ok(compose.includes('image: "registry.example/bftlab:1"'))
  assert.ok(compose.includes('node.labels.bftlab == validator'))
})

test('validator addresses stay unique and inside the subnet for large committees', () => {
  const addresses = Array.from({ length: 1024 }, (_, i) => validatorAddress(i))
  assert.equal(new Set(addresses).size, 1024)
  assert.equal(addresses[0], '172.28.0.10')
  assert.equal(addresses[246], '172.28.1.0')
  for (const a of addresses) assert.match(a, /^172\.28\.[0-4]\.[0-9]{1,3}$/)
})

test('toYaml quotes every string, so no value changes type', () => {
  assert.equal(toYaml({ a: 'true', b: '1.0', c: [1, { d: 'x: y', e: [] }], f: {} }).slice(1), 'a: "true"\nb: "1.0"\nc:\n  - 1\n  - d: "x: y"\n    e: []\nf: {}\n')
})
