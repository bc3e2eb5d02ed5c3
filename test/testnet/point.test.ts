import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runTestnetPoint } from '../../src/testnet/point.ts'
import type { TestnetEvent } from '../../src/testnet/testnet.ts'
import { processesMentioning } from './helpers.ts'

describe('runTestnetPoint', { timeout: 120_000 }, () => {
  it('measures one 4-validator point on real processes and reports a sane docs/design.md §12 point', async () => {
    const events: TestnetEvent[] = []
    const point = await runTestnetPoint({
      validators: 4,
      rate: 200,
      durationS: 6,
      warmupS: 2,
      accounts: 200,
      batchSize: 100,
      maxBatchDelayMs: 10,
      executorWorkers: 0,
      tx: { kind: 'compute', computeUnits: 50 },
      onProgress: (e) => events.push(e),
    })
    assert.equal(point.validators, 4)
    assert.equal(point.crashed, 0)
    assert.equal(point.restartsApplied, 0)
    assert.equal(point.offeredTps, 200)
    assert.ok(point.committedTxs > 0, 'txs committed in the window')
    assert.ok(point.e2eTps > 0 && point.consensusTps > 0)
    assert.ok(point.latencyMs.p50 > 0 && point.latencyMs.p50 <= point.latencyMs.p99, `latency p50 ${point.latencyMs.p50} ≤ p99 ${point.latencyMs.p99}`)
    assert.equal(point.safetyViolations, 0)
    assert.equal(point.stateRootMismatches, 0)
    // Compute txs signed by the generator must execute, not fail (bad kind/weight would show here).
    assert.equal(point.failedTxs, 0)
    assert.equal(point.rejectedTxs, 0)
    // Quiet: the per-second lines reach the callback, never stdout.
    assert.ok(events.some((e) => e.kind === 'second'))
    const starting = events.find((e) => e.kind === 'starting')
    assert.ok(starting !== undefined && starting.kind === 'starting')
    assert.deepEqual(processesMentioning(starting.dir), [], 'no node process outlives the point')
  })

  it('runs with the last f validators never started', async () => {
    const events: TestnetEvent[] = []
    const point = await runTestnetPoint({ validators: 4, rate: 100, durationS: 4, warmupS: 1, accounts: 100, crashed: 1, onProgress: (e) => events.push(e) })
    assert.equal(point.crashed, 1)
    assert.ok(point.committedTxs > 0, 'n − f validators still commit')
    // Load went to the running validators only: nothing was refused as unreachable.
    assert.equal(point.rejectedTxs, 0)
    assert.equal(point.safetyViolations, 0)
  })

  it('kills and restarts a validator mid-load, and the point says the restart happened', async () => {
    const point = await runTestnetPoint({ validators: 4, rate: 100, durationS: 6, warmupS: 1, accounts: 100, restarts: [{ validator: 1, atS: 2, downS: 2 }] })
    assert.equal(point.restartsApplied, 1)
    assert.ok(point.committedTxs > 0)
    assert.equal(point.safetyViolations, 0)
    assert.equal(point.stateRootMismatches, 0)
  })

  it('refuses more crashed validators than the committee tolerates before starting anything', async () => {
    await assert.rejects(runTestnetPoint({ validators: 4, rate: 100, durationS: 1, warmupS: 0, accounts: 10, crashed: 2 }), /crashed validators must be an integer in 0\.\.1/)
  })
})
