import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { LocalTestnet } from '../../src/testnet/local-testnet.ts'
import { runLoad } from '../../src/testnet/load.ts'
import { presignTransfers, type LoadAccount } from '../../src/testnet/presign.ts'
import { accountStates, commonChain, freshAccounts, processesMentioning, status, waitForHeight } from './helpers.ts'

const VALIDATORS = 4
const VICTIM = 3
const RATE = 100
const LOAD_S = 24

describe('one validator crashes under load and comes back', { timeout: 120_000 }, () => {
  let testnet: LocalTestnet
  let accounts: LoadAccount[]

  before(async () => {
    testnet = await LocalTestnet.create({ validators: VALIDATORS, accounts: 30 })
    testnet.start()
    await testnet.waitReady({ timeoutMs: 60_000 })
    accounts = await freshAccounts(testnet)
  })
  after(async () => {
    await testnet.stop()
    assert.deepEqual(processesMentioning(testnet.dir), [], 'no node process survives the testnet')
    await testnet.remove()
  })

  it('the other three keep committing; the restarted one catches up to the same chain and state', async () => {
    const survivors = testnet.urls.filter((_, i) => i !== VICTIM)
    const txs = await presignTransfers(accounts, RATE * LOAD_S)
    // Load only the survivors, so no client tx is lost with the victim's mempool.
    const load = runLoad({ targets: survivors, rate: RATE, durationS: LOAD_S, warmupS: 0, drainS: 30, txs })

    await sleep(4_000)
    const exit = await testnet.processes.kill(VICTIM)
    assert.equal(exit?.signal, 'SIGKILL')
    const atKill = Math.max(...(await Promise.all(survivors.map(status))).map((s) => s.height))
    await waitForHeight(survivors, atKill + 5, 30_000)

    testnet.processes.start(VICTIM)
    const result = await load
    assert.equal(result.rejectedTxs, 0, `rejections: ${JSON.stringify(result.rejectReasons)}`)
    assert.equal(result.uncommittedTxs, 0, 'every accepted tx committed')
    assert.equal(result.committedTxs, result.submittedTxs)

    const target = Math.max(...(await Promise.all(survivors.map(status))).map((s) => s.height))
    await waitForHeight(testnet.urls, target, 60_000)
    await commonChain(testnet.urls, target)
    const states = await Promise.all(testnet.urls.map((u) => accountStates(u, accounts)))
    for (let i = 1; i < VALIDATORS; i++) assert.deepEqual(states[i], states[0], `node ${i} state equals node 0's`)
  })
})
