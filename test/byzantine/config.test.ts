import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, checkByzantineOptIn, loadNodeConfig, makeTestnetConfigs, parseGenesis, parseNodeConfig, testnetConfigs } from '../../src/node/config.ts'

const base = { validators: 4, accounts: 1, basePort: 19000, baseHttpPort: 18000 }

function check(byzantine: object, opts: { testing: boolean; host?: string }): void {
  const { genesis, nodes } = testnetConfigs({ ...base, params: { testing: opts.testing }, ...(opts.host ? { hostOf: () => opts.host! } : {}) })
  checkByzantineOptIn(parseNodeConfig({ ...nodes[3]!, byzantine }, 'node-3.json'), parseGenesis(genesis, 'genesis.json'), 'node-3.json')
}

function refused(fn: () => void, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ConfigError && pattern.test(err.message))
}

describe('byzantine modes need the chain to opt in', () => {
  it('refuses every mode and the broken vote rule unless genesis sets params.testing', () => {
    refused(() => check({ mode: 'equivocate' }, { testing: false }), /^node-3\.json: byzantine\.mode: "equivocate" is refused: genesis bftlab-local does not set params\.testing: true/)
    refused(() => check({ brokenVoteRule: true }, { testing: false }), /byzantine\.brokenVoteRule: true is refused/)
    check({ mode: 'equivocate' }, { testing: true })
    check({ brokenVoteRule: true }, { testing: true })
    check({ brokenVoteRule: false }, { testing: false })
  })

  it('allows spam on loopback only', () => {
    check({ mode: 'spam' }, { testing: true })
    refused(() => check({ mode: 'spam' }, { testing: true, host: 'validator-0' }), /allowed on loopback only, but validator 0 is at \/dns4\/validator-0\/tcp\/19000/)
    check({ mode: 'silent' }, { testing: true, host: 'validator-0' })
  })

  it('names unknown modes and is enforced when a config file is loaded', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bftlab-byzantine-config-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const { nodeConfigPaths } = await makeTestnetConfigs({ ...base, dir })
    const path = nodeConfigPaths[3]!
    const config = JSON.parse(await readFile(path, 'utf8'))
    await writeFile(path, JSON.stringify({ ...config, byzantine: { mode: 'chaos' } }))
    await assert.rejects(loadNodeConfig(path), /node-3\.json: byzantine\.mode: Invalid option: expected one of "silent"\|"equivocate"/)
    await writeFile(path, JSON.stringify({ ...config, byzantine: { mode: 'silent' } }))
    await assert.rejects(loadNodeConfig(path), /node-3\.json: byzantine\.mode: "silent" is refused/)
  })
})
