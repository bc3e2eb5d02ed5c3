import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { toHex } from '../../src/core/hash.ts'
import { keyPairFromSeed } from '../../src/core/keys.ts'
import { peerIdFromSeed } from '../../src/network/identity.ts'
import {
  ConfigError,
  genesisAccountKeyPair,
  loadNodeConfig,
  makeTestnetConfigs,
  nodeFaultSeed,
  parseGenesis,
  parseNodeConfig,
  testnetConfigs,
} from '../../src/node/config.ts'

const base = { validators: 4, accounts: 3, basePort: 19000, baseHttpPort: 18000 }

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`)
    assert.match(err.message, pattern)
    return true
  })
}

describe('node config validation', () => {
  const { genesis, nodes } = testnetConfigs(base)
  const node0 = nodes[0]!

  it('names the file and field of a wrong type', () => {
    rejects(() => parseNodeConfig({ ...node0, httpPort: 'abc' }, 'node-0.json'), /^node-0\.json: httpPort: expected number, got "abc"$/)
  })

  it('names nested fields with their path', () => {
    const bad = structuredClone(genesis)
    bad.validators[2]!.publicKey = 'zz'
    rejects(() => parseGenesis(bad, 'genesis.json'), /^genesis\.json: validators\[2\]\.publicKey: not a hex string/)
    const shortKey = structuredClone(genesis)
    shortKey.accounts[1]!.address = 'ab'
    rejects(() => parseGenesis(shortKey, 'genesis.json'), /accounts\[1\]\.address: expected 32 bytes of hex, got 1/)
  })

  it('rejects unknown fields, missing fields and out-of-range values', () => {
    rejects(() => parseNodeConfig({ ...node0, htpPort: 1 }, 'n.json'), /\(root\): unknown field\(s\) "htpPort"/)
    const { httpPort: _omitted, ...missing } = node0
    rejects(() => parseNodeConfig(missing, 'n.json'), /httpPort: expected number, got nothing/)
    rejects(() => parseNodeConfig({ ...node0, httpPort: 70000 }, 'n.json'), /httpPort: .*65535/)
    rejects(() => parseNodeConfig({ ...node0, logLevel: 'loud' }, 'n.json'), /logLevel: /)
    rejects(() => parseNodeConfig({ ...node0, listen: '127.0.0.1:9000' }, 'n.json'), /listen: expected a TCP multiaddr/)
  })

  it('checks balances are u64 decimal strings', () => {
    const neg = structuredClone(genesis)
    neg.accounts[0]!.balance = '-1'
    rejects(() => parseGenesis(neg, 'g.json'), /accounts\[0\]\.balance: expected a non-negative decimal integer string, got "-1"/)
    const big = structuredClone(genesis)
    big.accounts[0]!.balance = (1n << 64n).toString()
    rejects(() => parseGenesis(big, 'g.json'), /accounts\[0\]\.balance: 18446744073709551616 exceeds the u64 maximum/)
  })

  it('requires validators in index order and distinct accounts', () => {
    const swapped = structuredClone(genesis)
    swapped.validators[1]!.index = 3
    rejects(() => parseGenesis(swapped, 'g.json'), /validators\[1\]\.index: expected 1 .* got 3/)
    const dup = structuredClone(genesis)
    dup.accounts[2] = dup.accounts[0]!
    rejects(() => parseGenesis(dup, 'g.json'), /accounts\[2\]\.address: duplicate of accounts\[0\]/)
  })

  it('refuses inconsistent chain params', () => {
    const bad = structuredClone(genesis)
    bad.params = { ...bad.params, baseTimeoutMs: 5000, maxTimeoutMs: 100 }
    rejects(() => parseGenesis(bad, 'g.json'), /params\.maxTimeoutMs: maxTimeoutMs must be ≥ baseTimeoutMs/)
  })
})

describe('testnet config generation', () => {
  it('is deterministic and derives keys, peer ids and account seeds', () => {
    const a = testnetConfigs(base)
    const b = testnetConfigs(base)
    assert.deepEqual(a, b)
    const g = parseGenesis(a.genesis)
    assert.equal(g.validators.length, 4)
    for (const [i, n] of a.nodes.entries()) {
      const seed = parseNodeConfig(n).seed
      assert.equal(toHex(keyPairFromSeed(seed).publicKey), toHex(g.validators[i]!.publicKey))
      assert.equal(peerIdFromSeed(seed), g.validators[i]!.peerId)
      assert.equal(g.validators[i]!.p2p, `/ip4/127.0.0.1/tcp/${19000 + i}`)
      assert.equal(g.validators[i]!.http, `http://127.0.0.1:${18000 + i}`)
    }
    assert.equal(g.accounts.length, 3)
    for (const [i, acc] of g.accounts.entries()) assert.equal(toHex(genesisAccountKeyPair(g, i).publicKey), toHex(acc.address))
    assert.notDeepEqual(testnetConfigs({ ...base, chainId: 'other' }).genesis.validators, a.genesis.validators)
  })

  it("gives each validator its own fault seed from the run's seed, the same on every generation", () => {
    assert.ok(testnetConfigs(base).nodes.every((n) => n.faultSeed === undefined), 'no run seed: the node default (its index)')
    const seeds = testnetConfigs({ ...base, faultSeed: 7 }).nodes.map((n) => parseNodeConfig(n).faultSeed)
    assert.deepEqual(seeds, [0, 1, 2, 3].map((i) => nodeFaultSeed(7, i)))
    assert.equal(new Set(seeds).size, 4)
    assert.deepEqual(testnetConfigs({ ...base, faultSeed: 7 }).nodes.map((n) => n.faultSeed), seeds)
    assert.notDeepEqual(testnetConfigs({ ...base, faultSeed: 8 }).nodes.map((n) => n.faultSeed), seeds)
    const node0 = testnetConfigs(base).nodes[0]!
    for (const bad of [-1, 1.5, 2 ** 32]) assert.throws(() => parseNodeConfig({ ...node0, faultSeed: bad }, 'n.json'), /n\.json: faultSeed: /)
  })

  it('uses dns names and listens on all interfaces for non-local hosts', () => {
    const { genesis, nodes } = testnetConfigs({ ...base, hostOf: (i) => `node-${i}` })
    assert.equal(genesis.validators[1]!.p2p, '/dns4/node-1/tcp/19001')
    assert.equal(nodes[1]!.listen, '/ip4/0.0.0.0/tcp/19001')
  })

  it('writes files that load back, with paths resolved against the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bftlab-config-'))
    try {
      const made = await makeTestnetConfigs({ ...base, dir, params: { batchSize: 7 } })
      assert.equal(made.nodeConfigPaths.length, 4)
      const loaded = await loadNodeConfig(made.nodeConfigPaths[2]!)
      assert.equal(loaded.node.index, 2)
      assert.equal(loaded.node.dataDir, join(dir, 'data/node-2'))
      assert.equal(loaded.genesis.params.batchSize, 7)

      // TOML works too and goes through the same validation.
      const toml = join(dir, 'node-2.toml')
      const n2 = JSON.parse(await readFile(made.nodeConfigPaths[2]!, 'utf8'))
      await writeFile(toml, Object.entries(n2).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join('\n'))
      assert.equal((await loadNodeConfig(toml)).node.httpPort, 18002)
      await writeFile(toml, `index = 2\nhttpPort = "abc"\n`)
      await assert.rejects(loadNodeConfig(toml), /^ConfigError: node-2\.toml: .*httpPort: expected number, got "abc"/)

      // A seed that belongs to another validator is refused with both keys named.
      await writeFile(made.nodeConfigPaths[2]!, JSON.stringify({ ...n2, seed: made.nodes[1]!.seed }))
      await assert.rejects(loadNodeConfig(made.nodeConfigPaths[2]!), /node-2\.json: seed: derives public key [0-9a-f]{64}, but genesis validator 2 has/)

      await writeFile(made.nodeConfigPaths[3]!, '{ "index": ')
      await assert.rejects(loadNodeConfig(made.nodeConfigPaths[3]!), /node-3\.json: syntax error/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
