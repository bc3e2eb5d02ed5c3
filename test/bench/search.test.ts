import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseExperiment, capacityOptions, type CapacityOptions } from '../../src/bench/experiment.ts'
import { NoCapacityError, searchCapacity, shortfall, type CapacityCriteria, type RunRole } from '../../src/bench/search.ts'
import type { ResultPoint } from '../../src/sim/result-point.ts'

const CRITERIA: CapacityCriteria = { achievedRatio: 0.95, latencyCapMs: 1_000, timeoutsFail: true }

function options(overrides: Partial<CapacityOptions> = {}): CapacityOptions {
  return { ...capacityOptions(parseExperiment({ validators: [4], rates: 'capacity' })), ...overrides }
}

/**
 * A system with a known capacity: below it every offered tx commits (achieved = offered) at a
 * flat 200 ms; above it the achieved rate is pinned at the capacity and latency explodes — a
 * step function the search must locate within its precision.
 */
function stepSystem(capacity: number, log: { rate: number; role: RunRole }[] = []) {
  return async (offeredTps: number, role: RunRole): Promise<ResultPoint> => {
    log.push({ rate: offeredTps, role })
    const over = offeredTps > capacity
    const e2eTps = over ? capacity : offeredTps
    const latency = over ? 5_000 : 200
    return {
      validators: 4,
      offeredTps,
      achievedSubmitTps: offeredTps,
      consensusTps: e2eTps,
      e2eTps,
      latencyMs: { p50: latency, p95: latency, p99: latency, mean: latency },
      consensusLatencyMs: { p50: 50, p95: 50, p99: 50, mean: 50 },
      submittedTxs: offeredTps * 5,
      committedTxs: e2eTps * 5,
      rejectedTxs: 0,
      uncommittedTxs: 0,
      failedTxs: 0,
      committedBlocks: 50,
      rounds: 50,
      timeouts: 0,
      windowS: 5,
    }
  }
}

test('brackets by doubling, bisects to within 5 % and repeats the passing rate: a step function at 3,170 tx/s', async () => {
  const log: { rate: number; role: RunRole }[] = []
  const outcome = await searchCapacity(stepSystem(3_170, log), 500, options(), CRITERIA, 'fake')
  assert.equal(outcome.status, 'found')
  assert.ok(outcome.offeredTps <= 3_170 && outcome.offeredTps >= 3_170 / 1.05, `found ${outcome.offeredTps}`)
  assert.ok(outcome.failingTps! > 3_170 && outcome.failingTps! / outcome.offeredTps <= 1.05, `misses at ${outcome.failingTps}`)
  assert.deepEqual(log.filter((s) => s.role === 'bracket').map((s) => s.rate), [500, 1_000, 2_000, 4_000])
  // From a factor 2 to within 5 %: four geometric halvings of the gap.
  assert.equal(log.filter((s) => s.role === 'bisect').length, 4)
  assert.deepEqual(log.filter((s) => s.role === 'final').map((s) => s.rate), [outcome.offeredTps, outcome.offeredTps, outcome.offeredTps])
  // Every step is kept, in order, with what it missed.
  assert.equal(outcome.steps.length, log.length)
  assert.ok(outcome.steps.filter((s) => s.offeredTps > 3_170).every((s) => s.shortfall !== undefined))
  assert.ok(outcome.steps.filter((s) => s.offeredTps <= 3_170).every((s) => s.shortfall === undefined))
})

test('a start above capacity halves down to bracket it (capacity far below the first guess)', async () => {
  const log: { rate: number; role: RunRole }[] = []
  const outcome = await searchCapacity(stepSystem(300, log), 2_500, options(), CRITERIA, 'fake')
  assert.deepEqual(log.filter((s) => s.role === 'bracket').map((s) => s.rate), [2_500, 1_250, 625, 313, 157])
  assert.ok(outcome.offeredTps <= 300 && outcome.offeredTps >= 300 / 1.05, `found ${outcome.offeredTps}`)
})

test('a system that never saturates up to maxTps reports "at least maxTps" after its final runs', async () => {
  const outcome = await searchCapacity(stepSystem(1e9), 1_000, options({ maxTps: 6_000 }), CRITERIA, 'fake')
  assert.equal(outcome.status, 'atLeast')
  assert.equal(outcome.offeredTps, 6_000)
  assert.equal(outcome.failingTps, undefined)
  assert.deepEqual(outcome.steps.map((s) => `${s.role}@${s.offeredTps}`), ['bracket@1000', 'bracket@2000', 'bracket@4000', 'bracket@6000', 'final@6000', 'final@6000', 'final@6000'])
})

test('a system that fails at the first rate and every rate down to minTps is refused with the flags to change', async () => {
  await assert.rejects(searchCapacity(stepSystem(10), 400, options({ minTps: 50 }), CRITERIA, 'testnet n=16 batches'), (err: Error) => {
    assert.ok(err instanceof NoCapacityError)
    assert.match(err.message, /^testnet n=16 batches: no rate meets the capacity criteria: even --min-tps 50 tx\/s misses them \(achieved 10 tx\/s < 0\.95 × offered\)/)
    assert.match(err.message, /Lower --min-tps, raise --latency-cap/)
    assert.equal(err.step.offeredTps, 50)
    return true
  })
  // Latency alone can be the reason, and the message names the cap.
  const slow = async (offeredTps: number): Promise<ResultPoint> => ({ ...(await stepSystem(1e9)(offeredTps, 'bracket')), latencyMs: { p50: 1_500, p95: 2_000, p99: 2_500, mean: 1_600 } })
  await assert.rejects(searchCapacity(slow, 100, options({ minTps: 100 }), CRITERIA, 'x'), /p50 1500 ms > --latency-cap 1000 ms/)
})

test('the criteria: throughput first, then p50 under the cap, then load-caused timeouts (off under faults)', async () => {
  const base = await stepSystem(1e9)(1_000, 'bracket')
  assert.equal(shortfall(base, CRITERIA), undefined)
  assert.equal(shortfall({ ...base, e2eTps: 949 }, CRITERIA), 'throughput')
  assert.equal(shortfall({ ...base, e2eTps: 950 }, CRITERIA), undefined)
  assert.equal(shortfall({ ...base, latencyMs: { ...base.latencyMs, p50: 1_001 } }, CRITERIA), 'latency')
  assert.equal(shortfall({ ...base, timeouts: 1 }, CRITERIA), 'timeouts')
  assert.equal(shortfall({ ...base, timeouts: 1 }, { ...CRITERIA, timeoutsFail: false }), undefined)
})
