import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { keyPairFromSeed } from '../../src/core/keys.ts'
import { toHex } from '../../src/core/hash.ts'
import { genesisAccountKeyPair, loadGenesis, loadNodeConfig } from '../../src/node/config.ts'
import { runCli } from './helpers.ts'

const USAGE = 2

describe('bftlab CLI usage errors exit 2 with a precise message', () => {
  const cases: { args: string[]; message: RegExp }[] = [
    { args: ['init', '--validators', 'abc', '--dir', '/tmp/never'], message: /--validators <n>' argument 'abc' is invalid\. expected an integer, got "abc"/ },
    { args: ['init', '--validators', '0', '--dir', '/tmp/never'], message: /expected an integer in 1\.\.1024, got 0/ },
    { args: ['init', '--dir', '/tmp/never'], message: /required option '--validators <n>' not specified/ },
    { args: ['init', '--validators', '4', '--dir', '/tmp/never', '--payload', 'jumbo'], message: /expected one of batches, full-block, got "jumbo"/ },
    { args: ['init', '--validators', '4', '--dir', '/tmp/never', '--base-port', '65530'], message: /--base-port 65530 leaves no room for 8 ports/ },
    { args: ['testnet', '--frobnicate'], message: /unknown option '--frobnicate'/ },
    { args: ['testnet', '--rate', '-5'], message: /--rate <tx\/s>' argument '-5' is invalid\. expected a number > 0, got -5/ },
    { args: ['testnet', '--duration', '10', '--warmup', '10'], message: /--warmup 10 must be shorter than --duration 10/ },
    { args: ['load', '--rate', '100', '--duration', '5', '--targets', 'ftp://x'], message: /"ftp:\/\/x" is not an http\(s\) URL/ },
    { args: ['load', '--duration', '5'], message: /required option '--rate <tx\/s>' not specified/ },
    { args: ['node'], message: /required option '--config <file>' not specified/ },
    { args: ['launch-rockets'], message: /unknown command 'launch-rockets'/ },
  ]
  for (const c of cases) {
    it(`bftlab ${c.args.join(' ')}`, async () => {
      const run = await runCli(c.args)
      assert.equal(run.code, USAGE, `stderr: ${run.stderr}`)
      assert.match(run.stderr, c.message)
    })
  }

  it('--help exits 0 and lists every command', async () => {
    const run = await runCli(['--help'])
    assert.equal(run.code, 0)
    for (const cmd of ['init', 'node', 'testnet', 'load']) assert.match(run.stdout, new RegExp(`^  ${cmd} `, 'm'))
  })

  it('a failing command (not a usage error) exits 1 naming the problem', async () => {
    const run = await runCli(['node', '--config', '/nonexistent/node-0.json'])
    assert.equal(run.code, 1, `stderr: ${run.stderr}`)
    assert.match(run.stderr, /node-0\.json: cannot read \/nonexistent\/node-0\.json/)
  })
})

describe('bftlab init', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bftlab-init-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('writes a genesis and one loadable config per validator', async () => {
    const run = await runCli(['init', '--validators', '5', '--dir', dir, '--accounts', '7', '--base-port', '12000', '--payload', 'full-block'])
    assert.equal(run.code, 0, run.stderr)
    const genesis = await loadGenesis(join(dir, 'genesis.json'))
    assert.equal(genesis.validators.length, 5)
    assert.equal(genesis.params.payloadMode, 'full-block')
    assert.equal(genesis.accounts.length, 7)
    genesis.accounts.forEach((a, i) => assert.equal(toHex(genesisAccountKeyPair(genesis, i).publicKey), toHex(a.address)))
    const ports = new Set<number>()
    for (let i = 0; i < 5; i++) {
      // loadNodeConfig checks the seed against genesis (public key and peer id).
      const { node } = await loadNodeConfig(join(dir, `node-${i}.json`))
      assert.equal(node.index, i)
      assert.equal(toHex(keyPairFromSeed(node.seed).publicKey), toHex(genesis.validators[i]!.publicKey))
      assert.equal(node.listen, `/ip4/127.0.0.1/tcp/${12000 + i}`)
      assert.equal(node.httpPort, 12005 + i)
      ports.add(node.httpPort)
      ports.add(12000 + i)
      assert.equal(genesis.validators[i]!.http, `http://127.0.0.1:${12005 + i}`)
    }
    assert.equal(ports.size, 10, 'p2p and HTTP ports are all distinct')
    const raw = JSON.parse(await readFile(join(dir, 'node-0.json'), 'utf8')) as { dataDir: string }
    assert.equal(raw.dataDir, 'data/node-0')
  })
})
