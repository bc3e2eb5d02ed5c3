import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { PointSpec } from '../../src/bench/experiment.ts'
import { runBench, runSweep, saturationRates } from '../../src/bench/runner.ts'
import { experiment, ENV, fakeResult } from './fixtures.ts'

/** Collects progress output instead of writing to stderr. */
function sink() {
  const lines: string[] = []
  return { lines, write: (text: string) => lines.push(text) }
}

test('every run is kept and folded into mean ± sample stdev', async () => {
  const e = experiment({ validators: [4], rates: [1000], runs: 3 })
  const calls: PointSpec[] = []
  // Runs 1..3 shift e2e TPS by -10, 0, +40: mean +10, sample stdev sqrt((400+100+900)/2) = sqrt(700).
  const shifts = [-10, 0, 40]
  const { points, runs } = await runSweep({
    experiment: e,
    source: 'testnet',
    validators: e.validators,
    runPoint: async (spec) => {
      calls.push(spec)
      return fakeResult(spec, shifts[calls.length - 1])
    },
    machineBoundTps: (n) => 40_000 / n,
    progress: sink(),
  })
  assert.equal(runs.length, 3)
  assert.deepEqual(calls.map((c) => c.seed), [e.seed, e.seed + 1, e.seed + 2])
  assert.equal(points.length, 1)
  const p = points[0]!
  assert.equal(p.runs, 3)
  assert.equal(p.e2eTps, 1010)
  assert.ok(Math.abs(p.stdev.e2eTps! - Math.sqrt(700)) < 1e-9)
  assert.equal(p.stdev.latencyMs!.p99, 0)
  assert.equal(p.boundTps, 10_000)
  assert.ok(Math.abs(p.tpsToBound! - 0.101) < 1e-12)
  assert.equal(p.safetyViolations, 0)
})

test('a violation in any run is reported, never averaged away', async () => {
  const e = experiment({ validators: [4], rates: [1000], runs: 3 })
  let call = 0
  const { points } = await runSweep({
    experiment: e,
    source: 'testnet',
    validators: e.validators,
    runPoint: async (spec) => ({ ...fakeResult(spec), safetyViolations: ++call === 2 ? 1 : 0 }),
    progress: sink(),
  })
  assert.equal(points[0]!.safetyViolations, 1)
})

test('saturate steps the rate up geometrically and stops once commits fall below 0.9 × offered', async () => {
  const e = experiment({ validators: [4, 7], rates: 'saturate', saturate: { startTps: 500, stepFactor: 2, maxTps: 64_000, p99CapMs: 1e9 } })
  assert.deepEqual(saturationRates(e.saturate).slice(0, 4), [500, 1000, 2000, 4000])
  const offered: string[] = []
  const { points, outcomes } = await runSweep({
    experiment: e,
    source: 'testnet',
    validators: e.validators,
    runPoint: async (spec) => {
      offered.push(`${spec.validators}@${spec.offeredTps}`)
      return fakeResult(spec)
    },
    progress: sink(),
  })
  // Capacity 3000 tx/s at n=4: 4000 offered gives 3000 < 3600, the first saturated point.
  // Capacity 1714 tx/s at n=7: 2000 offered gives 1714 < 1800.
  assert.deepEqual(offered, ['4@500', '4@1000', '4@2000', '4@4000', '7@500', '7@1000', '7@2000'])
  assert.equal(points.length, 7)
  assert.deepEqual(
    outcomes.map((o) => [o.validators, o.reason, o.saturatedAtTps]),
    [
      [4, 'throughput', 4000],
      [7, 'throughput', 2000],
    ],
  )
})

test('saturate also stops when p99 passes the cap, and at maxTps', async () => {
  // fakeResult's p99 at load x is 150·(1 + x²): at n=4, 2000 tx/s is x = 2/3 → 217 ms > 200 ms.
  const capped = experiment({ validators: [4], rates: 'saturate', saturate: { startTps: 500, p99CapMs: 200 } })
  const byLatency = await runSweep({ experiment: capped, source: 'testnet', validators: [4], runPoint: async (s) => fakeResult(s), progress: sink() })
  assert.deepEqual(byLatency.outcomes[0], { source: 'testnet', validators: 4, payloadMode: 'batches', reason: 'latency', saturatedAtTps: 2000 })
  const low = experiment({ validators: [4], rates: 'saturate', saturate: { startTps: 100, maxTps: 800, p99CapMs: 1e9 } })
  const byMax = await runSweep({ experiment: low, source: 'testnet', validators: [4], runPoint: async (s) => fakeResult(s), progress: sink() })
  assert.deepEqual(byMax.points.map((p) => p.offeredTps), [100, 200, 400, 800])
  assert.equal(byMax.outcomes[0]!.reason, 'maxTps')
})

test('a fixed rate list is measured in full even past saturation', async () => {
  const e = experiment({ validators: [4], rates: [1000, 4000, 8000] })
  const { points, outcomes } = await runSweep({ experiment: e, source: 'testnet', validators: [4], runPoint: async (s) => fakeResult(s), progress: sink() })
  assert.deepEqual(points.map((p) => p.offeredTps), [1000, 4000, 8000])
  assert.equal(outcomes[0]!.saturatedAtTps, 4000)
})

test('progress shows run i of N, elapsed and ETA', async () => {
  const e = experiment({ validators: [4], rates: [1000, 2000], runs: 2 })
  let clock = 0
  const out = sink()
  await runSweep({
    experiment: e,
    source: 'testnet',
    validators: [4],
    runPoint: async (s) => {
      clock += 10_000
      return fakeResult(s)
    },
    progress: out,
    now: () => clock,
  })
  assert.match(out.lines[0]!, /run 1\/4 · n=4 batches 1000 tx\/s \(run 1\/2\) · elapsed 0s · ETA \?/)
  assert.match(out.lines[1]!, /run 2\/4 .* elapsed 10s · ETA 30s/)
  assert.match(out.lines[3]!, /run 4\/4 .* elapsed 30s · ETA 10s/)
  assert.match(out.lines[4]!, /4 runs in 40s/)
})

test('a result that does not match docs/design.md §12 fails with the point and the field', async () => {
  const e = experiment({ validators: [4], rates: [1000] })
  await assert.rejects(
    runSweep({ experiment: e, source: 'testnet', validators: [4], runPoint: async (s) => ({ ...fakeResult(s), e2eTps: 'fast' }), progress: sink() }),
    (err: Error) => err.message.includes('testnet n=4 batches 1000 tx/s run 1/1') && err.message.includes('e2eTps'),
  )
  await assert.rejects(
    runSweep({ experiment: e, source: 'testnet', validators: [4], runPoint: async () => Promise.reject(new Error('node 2 exited')), progress: sink() }),
    /testnet n=4 batches 1000 tx\/s run 1\/1 failed: node 2 exited/,
  )
})

test('an interrupt ends the sweep and discards the run it cut short', async () => {
  const e = experiment({ validators: [4], rates: [1000, 2000, 3000] })
  const controller = new AbortController()
  let calls = 0
  const result = await runSweep({
    experiment: e,
    source: 'testnet',
    validators: [4],
    runPoint: async (s) => {
      if (++calls === 2) controller.abort()
      return fakeResult(s)
    },
    progress: sink(),
    signal: controller.signal,
  })
  assert.equal(result.interrupted, true)
  assert.deepEqual(result.points.map((p) => p.offeredTps), [1000])
  assert.equal(calls, 2)
})

test('runBench adds a simulator sweep over the experiment counts plus sim.validators', async () => {
  const e = experiment({ validators: [4, 7], rates: [1000], payloadModes: ['batches', 'full-block'], sim: { validators: [64] } })
  const simCounts: string[] = []
  const results = await runBench({
    experiment: e,
    env: ENV,
    runTestnetPoint: async (s) => fakeResult(s),
    sim: {
      runPoint: async (s) => {
        simCounts.push(`${s.validators}/${s.payloadMode}`)
        return fakeResult(s)
      },
      payloadModes: ['batches'],
    },
    progress: sink(),
  })
  assert.deepEqual(simCounts, ['4/batches', '7/batches', '64/batches'])
  assert.equal(results.points.filter((p) => p.source === 'testnet').length, 4)
  // Testnet points get this machine's bound: 20k verifies/s × 2 cores / n.
  assert.equal(results.points.find((p) => p.source === 'testnet' && p.validators === 4)!.boundTps, 10_000)
  assert.equal(results.points.find((p) => p.source === 'sim')!.boundTps, undefined)
  assert.equal(results.interrupted, false)
  await assert.rejects(
    runBench({ experiment: experiment({ payloadModes: ['full-block'] }), env: ENV, runTestnetPoint: async (s) => fakeResult(s), sim: { runPoint: async (s) => fakeResult(s), payloadModes: ['batches'] }, progress: sink() }),
    /--sim: the simulator models payload modes batches only/,
  )
})
