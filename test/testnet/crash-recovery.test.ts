import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { runLoad } from '../../src/testnet/load.ts'
import { presignTransfers } from '../../src/testnet/presign.ts'
import { accountStates, commonChain, status, useTestnet, waitForHeight } from './helpers.ts'

const VALIDATORS = 4
const VICTIM = 3
const RATE = 100
const LOAD_S = 24

describe('one validator crashes under load and comes back', { timeout: 120_000 }, () => {
  const net = useTestnet({ validators: VALIDATORS, accounts: 30 })

  it('the other three keep committing; the restarted one catches up to the same chain and state', async () => {
    const testnet = net.testnet()
    const accounts = net.accounts()
    const survivors = testnet.urls.filter((_, i) => i !== VICTIM)
    const txs = await presignTransfers(accounts, RATE * LOAD_S)
    // Load only the survivors, so no client tx is lost with the victim's mempool.
    const load = runLoad({ targets: survivors, offeredTps: RATE, durationS: LOAD_S, warmupS: 0, drainS: 30, txs })

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
