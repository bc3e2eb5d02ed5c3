import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readSignedLog, type SignedStatement } from '../../src/testnet/check-sources.ts'
import { checkDoubleSigning } from '../../src/testnet/check.ts'
import type { LocalTestnet } from '../../src/testnet/local-testnet.ts'
import { presignTransfers } from '../../src/testnet/presign.ts'
import { commonChain, status, submitAtSenderNodes, useTestnet, waitCommitted, waitForHeight } from './helpers.ts'

const VALIDATORS = 4
const ACCOUNTS = 8

/** Votes each node logged as signed (`signed` debug lines, read as `bftlab check` reads them). */
async function signedVotes(testnet: LocalTestnet): Promise<SignedStatement[][]> {
  return Promise.all(testnet.urls.map(async (_, i) => (await readSignedLog(testnet.logPath(i), i)).filter((s) => s.kind === 'vote')))
}

describe('all validators crash and restart', { timeout: 120_000 }, () => {
  const net = useTestnet({ validators: VALIDATORS, accounts: ACCOUNTS, logLevel: 'debug' })

  it('resumes from disk without losing committed txs or signing two votes for one round', async () => {
    const testnet = net.testnet()
    const accounts = net.accounts()
    const txs = await presignTransfers(accounts, ACCOUNTS * 6)
    const half = ACCOUNTS * 3
    const before = await submitAtSenderNodes(testnet, txs, 0, half)
    const heights = await waitCommitted(testnet.urls, before, 60_000)
    const committedBefore = Math.min(...(await Promise.all(testnet.urls.map(status))).map((s) => s.height))
    const chainBefore = await commonChain(testnet.urls, committedBefore)

    const votesBefore = await signedVotes(testnet)
    const exits = await testnet.processes.killAll()
    assert.equal(exits.length, VALIDATORS)
    assert.ok(exits.every((e) => e.signal === 'SIGKILL'))
    testnet.start()
    await testnet.waitReady({ timeoutMs: 60_000 })

    // Committed data survived: same blocks at the old heights, and every old tx still committed there.
    for (const url of testnet.urls) {
      const s = await status(url)
      assert.ok(s.height >= committedBefore, `${url} restarted at height ${s.height}, had committed ${committedBefore}`)
    }
    assert.deepEqual((await commonChain(testnet.urls, committedBefore)), chainBefore)
    const again = await waitCommitted(testnet.urls, before, 10_000)
    assert.deepEqual(again, heights)

    // The chain moves on: the next nonces of every account commit after the restart.
    const afterRestart = await submitAtSenderNodes(testnet, txs, half, txs.encoded.length)
    await waitCommitted(testnet.urls, afterRestart, 60_000)
    const top = Math.max(...(await Promise.all(testnet.urls.map(status))).map((s) => s.height))
    await waitForHeight(testnet.urls, top, 30_000)
    await commonChain(testnet.urls, top)

    const votesAfter = await signedVotes(testnet)
    for (let i = 0; i < VALIDATORS; i++) {
      assert.ok(votesBefore[i]!.length > 0, `node ${i} logged signed votes before the crash (logLevel debug)`)
      assert.ok(votesAfter[i]!.length > votesBefore[i]!.length, `node ${i} signed votes again after the restart`)
    }
    // Slots (round, validator) span both incarnations: a vote re-signed differently after recovery shows here.
    const doubleSigning = checkDoubleSigning(votesAfter.flat())
    assert.equal(doubleSigning.status, 'pass', doubleSigning.violations.join('\n'))
  })
})
