import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { formatCheckReport, runCheck } from '../../src/testnet/check.ts'
import { runLoad } from '../../src/testnet/load.ts'
import { LocalTestnet } from '../../src/testnet/local-testnet.ts'
import { parseCompactSchedule } from '../../src/testnet/perturbation-schedule.ts'
import { runPerturbations, survivedSteps, type PerturbationEvent } from '../../src/testnet/perturbations.ts'
import { presignTransfers } from '../../src/testnet/presign.ts'
import { freshAccounts, processesMentioning, status, waitForHeight } from '../testnet/helpers.ts'

/**
 * Chaos under load (CometBFT e2e perturbations): 4 validator processes, every one SIGKILLed and
 * restarted in turn, then a 2|2 partition and a heal. With f = 1 neither half holds a quorum of
 * 3, so the chain must halt while split and resume once healed. Afterwards the stopped data dirs
 * must pass every `bftlab check` assertion: one chain, every acknowledged tx committed once or
 * failed with a reason, supply and nonces, no double signing across all incarnations.
 */

const VALIDATORS = 4
/** Light load: the 2-core machine also runs four validators, their restarts and the checks. */
const RATE = 50
/** Longer than the schedule takes on a loaded machine, so every perturbation happens under load. */
const LOAD_S = 80
/**
 * Resubmission after 4 s (a few commit latencies): a killed validator loses the txs it had
 * acknowledged but not yet gossiped, and the client brings them back (LoadOptions).
 */
const REBROADCAST_S = 4
const DRAIN_S = 90
const KILLED_S = 2
const PARTITION_S = 9
/** When the split's height is read: late enough for commits already under way to finish. */
const SPLIT_SETTLE_MS = 3_000
const SPLIT_OBSERVE_MS = 4_000
const CATCH_UP_TIMEOUT_MS = 90_000

const maxHeight = async (urls: readonly string[]): Promise<number> => Math.max(...(await Promise.all(urls.map(status))).map((s) => s.height))

describe('chaos: each validator killed in turn, a 2|2 partition healed, all under load', { timeout: 300_000 }, () => {
  let testnet: LocalTestnet

  before(async () => {
    testnet = await LocalTestnet.create({ validators: VALIDATORS, accounts: 40, logLevel: 'debug', params: { testing: true } })
    testnet.start()
    await testnet.waitReady({ timeoutMs: 90_000 })
  })
  after(async () => {
    if (testnet === undefined) return
    await testnet.processes.killAll()
    assert.deepEqual(processesMentioning(testnet.dir), [], 'no node process survives the chaos test')
    await testnet.remove()
  })

  it('the chain survives every kill, halts while split, resumes after the heal, and passes every check', async (t) => {
    const accounts = await freshAccounts(testnet)
    const txs = await presignTransfers(accounts, RATE * LOAD_S)
    const stopLoad = new AbortController()
    const load = runLoad({ targets: testnet.urls, offeredTps: RATE, durationS: LOAD_S, warmupS: 0, drainS: DRAIN_S, rebroadcastAfterS: REBROADCAST_S, txs, signal: stopLoad.signal })
    const events: PerturbationEvent[] = []
    let survived = 0
    /** Runs a one-step schedule to completion. */
    const perturb = async (spec: string): Promise<void> => {
      const run = await runPerturbations(testnet, parseCompactSchedule(spec, VALIDATORS), (line) => t.diagnostic(line))
      survived += survivedSteps(run)
      events.push(...run)
    }

    try {
      for (let victim = 0; victim < VALIDATORS; victim++) {
        await perturb(`kill:${victim}@0+${KILLED_S}`)
        const others = testnet.urls.filter((_, i) => i !== victim)
        // Back, caught up past where the others were, and committing new blocks with them.
        await waitForHeight([testnet.urls[victim]!], (await maxHeight(others)) + 2, CATCH_UP_TIMEOUT_MS)
      }

      const split = perturb(`partition:0,1|2,3@0+${PARTITION_S}`)
      await sleep(SPLIT_SETTLE_MS)
      const atSplit = await maxHeight(testnet.urls)
      await sleep(SPLIT_OBSERVE_MS)
      assert.equal(await maxHeight(testnet.urls), atSplit, 'no block commits while the validators are split 2|2 (no side has a quorum of 3)')
      await split
      await waitForHeight(testnet.urls, atSplit + 3, CATCH_UP_TIMEOUT_MS)
    } catch (err) {
      // Fail now, not after the load's full length; `after` then kills the nodes.
      stopLoad.abort()
      await load.catch(() => undefined)
      throw err
    }
    const result = await load

    const steps = VALIDATORS + 1
    assert.equal(survived, steps, `every step applied and undone without error:\n${events.map((e) => `${e.spec} ${e.phase} ${e.detail} ${e.errors.join('; ')}`).join('\n')}`)
    assert.deepEqual(
      events.filter((e) => e.action === 'kill' && e.phase === 'start').map((e) => e.nodes),
      [[0], [1], [2], [3]],
      'every validator was killed once',
    )
    assert.ok(result.acknowledged.length > 0, 'the load generator got acknowledgements')
    assert.equal(result.uncommittedTxs, 0, `every acknowledged tx committed by the end of the drain (${result.resubmittedTxs} resubmissions)`)

    await testnet.stop()
    const report = await runCheck({ dir: testnet.dir, acks: result.acknowledged })
    t.diagnostic(formatCheckReport(report))
    assert.deepEqual(report.checks.map((c) => `${c.name}: ${c.status}`), ['chain-agreement: pass', 'acknowledged-txs: pass', 'state: pass', 'double-signing: pass'], formatCheckReport(report))
  })
})
