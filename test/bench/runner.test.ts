import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { PointSpec } from '../../src/bench/experiment.ts'
import { runBench, runSweep, type SeriesRunner } from '../../src/bench/runner.ts'
import { experiment, ENV, fakeResult, fakeSeries } from './fixtures.ts'

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
    openSeries: fakeSeries(async (spec) => {
      calls.push(spec)
      return fakeResult(spec, shifts[calls.length - 1])
    }),
    machineBoundTps: (n) => 40_000 / n,
    boundPoints: true,
    progress: sink(),
  })
  assert.equal(runs.length, 3)
  assert.deepEqual(
    runs.map((r) => [r.role, r.run]),
    [
      ['fixed', 1],
      ['fixed', 2],
      ['fixed', 3],
    ],
  )
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
  // Run 1 read 990 of 1000 offered: every run must keep up for the point to count as kept up.
  assert.equal(p.keptUp, true)
})

test('a violation in any run is reported, never averaged away', async () => {
  const e = experiment({ validators: [4], rates: [1000], runs: 3 })
  let call = 0
  const { points } = await runSweep({
    experiment: e,
    source: 'testnet',
    validators: e.validators,
    openSeries: fakeSeries(async (spec) => ({ ...fakeResult(spec), safetyViolations: ++call === 2 ? 1 : 0 })),
    progress: sink(),
  })
  assert.equal(points[0]!.safetyViolations, 1)
})

test('a capacity sweep searches each series, keeps every run with its role, and reports mean ± stdev at the rate found', async () => {
  // fakeResult: capacity 12000/n tx/s (3000 at n=4, 1714 at n=7); p50 50·(1 + load) stays under 1 s.
  const e = experiment({ validators: [4, 7], rates: 'capacity', capacity: { startTps: 1000 } })
  const opened: number[] = []
  const closed: number[] = []
  const { capacities, runs, points } = await runSweep({
    experiment: e,
    source: 'testnet',
    validators: e.validators,
    openSeries: async (spec): Promise<SeriesRunner> => {
      opened.push(spec.validators)
      return { measure: async (s) => fakeResult(s), close: async () => void closed.push(spec.validators) }
    },
    machineBoundTps: (n) => 40_000 / n,
    boundPoints: true,
    progress: sink(),
  })
  // One series runner per (mode, count), closed after its search.
  assert.deepEqual(opened, [4, 7])
  assert.deepEqual(closed, [4, 7])
  const n4 = capacities.find((c) => c.validators === 4)!
  assert.equal(n4.status, 'found')
  assert.ok(n4.offeredTps <= 3000 / 0.95 && n4.failingTps! / n4.offeredTps <= 1.05, `n=4 found ${n4.offeredTps}, misses at ${n4.failingTps}`)
  assert.equal(n4.finalRuns, 3)
  assert.equal(n4.finalsMeetingCriteria, 3)
  assert.equal(n4.e2eTpsStdev, 0)
  assert.equal(n4.boundTps, 10_000)
  assert.ok(Math.abs(n4.tpsToBound! - n4.e2eTps / 10_000) < 1e-12)
  const roles = new Set(runs.filter((r) => r.spec.validators === 4).map((r) => r.role))
  assert.deepEqual([...roles].sort(), ['bisect', 'bracket', 'final'])
  // n=7 starts from n=4's capacity/bound × n=7's bound, not from startTps … unless startTps is set, as here.
  assert.equal(runs.find((r) => r.spec.validators === 7)!.spec.offeredTps, 1000)
  // Every rate measured is an aggregated point (the finals' rate folds its 3 runs and the search's run there).
  const atCapacity = points.find((p) => p.validators === 4 && p.offeredTps === n4.offeredTps)!
  assert.equal(atCapacity.runs, runs.filter((r) => r.spec.validators === 4 && r.spec.offeredTps === n4.offeredTps).length)
})

test('a series that keeps up at maxTps says so and how to find its capacity', async () => {
  const e = experiment({ validators: [4], rates: 'capacity', capacity: { startTps: 1000, maxTps: 2000 } })
  const out = sink()
  const { capacities } = await runSweep({ experiment: e, source: 'testnet', validators: [4], openSeries: fakeSeries(), progress: out })
  assert.equal(capacities[0]!.status, 'atLeast')
  assert.ok(out.lines.some((l) => l.startsWith('testnet n=4 batches: kept up at --max-tps 2000 tx/s, so its capacity is at least that; raise --max-tps')))
})

test('without startTps a series starts from the verify bound, then from the capacity/bound measured at the same count or the previous one', async () => {
  const e = experiment({ validators: [4, 7], rates: 'capacity', payloadModes: ['batches', 'full-block'] })
  const { runs, capacities } = await runSweep({ experiment: e, source: 'testnet', validators: e.validators, openSeries: fakeSeries(), machineBoundTps: (n) => 40_000 / n, boundPoints: true, progress: sink() })
  // 0.25 × 10,000 at n=4.
  assert.equal(runs[0]!.spec.offeredTps, 2500)
  const first = (n: number, mode: string) => runs.find((r) => r.spec.validators === n && r.spec.payloadMode === mode)!.spec.offeredTps
  const toBound = (n: number) => capacities.find((c) => c.validators === n && c.payloadMode === 'batches')!.tpsToBound!
  // n=7 batches: n=4 batches' capacity/bound × n=7's bound; full-block: the same count's batches.
  assert.equal(first(7, 'batches'), Math.round(toBound(4) * (40_000 / 7)))
  assert.equal(first(4, 'full-block'), Math.round(toBound(4) * 10_000))
  assert.equal(first(7, 'full-block'), Math.round(toBound(7) * (40_000 / 7)))
})

test('a series in which no rate meets the criteria is recorded, and the sweep goes on with the others', async () => {
  // p50 is 50·(1 + load) ms: at n=16 even minTps 100 misses a 55 ms cap, at n=4 low rates meet it.
  const e = experiment({ validators: [16, 4], rates: 'capacity', latencyCapMs: 55, capacity: { startTps: 400, minTps: 100 } })
  const out = sink()
  const { capacities, noCapacity, runs } = await runSweep({ experiment: e, source: 'testnet', validators: e.validators, openSeries: fakeSeries(), progress: out })
  assert.deepEqual(noCapacity.map((c) => [c.validators, c.payloadMode]), [[16, 'batches']])
  assert.match(noCapacity[0]!.message, /^testnet n=16 batches: no rate meets the capacity criteria: even --min-tps 100 tx\/s misses them \(p50 \d+ ms > --latency-cap 55 ms\)/)
  assert.ok(out.lines.some((l) => l.startsWith('testnet n=16 batches: no rate meets')))
  assert.deepEqual(runs.filter((r) => r.spec.validators === 16).map((r) => r.spec.offeredTps), [400, 200, 100])
  assert.deepEqual(capacities.map((c) => c.validators), [4])
})

test('a fixed rate list is measured in full even past saturation', async () => {
  const e = experiment({ validators: [4], rates: [1000, 4000, 8000] })
  const { points, capacities } = await runSweep({ experiment: e, source: 'testnet', validators: [4], openSeries: fakeSeries(), progress: sink() })
  assert.deepEqual(points.map((p) => p.offeredTps), [1000, 4000, 8000])
  assert.deepEqual(points.map((p) => p.keptUp), [true, false, false])
  assert.deepEqual(capacities, [])
})

test('progress shows run i of N, elapsed and ETA', async () => {
  const e = experiment({ validators: [4], rates: [1000, 2000], runs: 2 })
  let clock = 0
  const out = sink()
  await runSweep({
    experiment: e,
    source: 'testnet',
    validators: [4],
    openSeries: fakeSeries(async (s) => {
      clock += 10_000
      return fakeResult(s)
    }),
    progress: out,
    now: () => clock,
  })
  assert.match(out.lines[0]!, /run 1\/4 · n=4 batches 1000 tx\/s \(fixed 1\) · elapsed 0s · ETA \?/)
  assert.match(out.lines[1]!, /run 2\/4 .* elapsed 10s · ETA 30s/)
  assert.match(out.lines[3]!, /run 4\/4 .* elapsed 30s · ETA 10s/)
  assert.match(out.lines[4]!, /4 runs in 40s/)
})

test('a capacity sweep’s total is an estimate, corrected by each finished series', async () => {
  const e = experiment({ validators: [4, 7], rates: 'capacity', capacity: { startTps: 1000 } })
  const out = sink()
  const { runs } = await runSweep({ experiment: e, source: 'testnet', validators: e.validators, openSeries: fakeSeries(), progress: out })
  // Estimate: (6 search + 3 final) × 2 series.
  assert.match(out.lines[0]!, /run 1\/~18 /)
  const n4Runs = runs.filter((r) => r.spec.validators === 4).length
  assert.match(out.lines[n4Runs]!, /^testnet n=4 batches: capacity \d+ ± \d+ tx\/s \(offered \d+, misses at \d+; 3 of 3 finals met the criteria\)/)
  assert.match(out.lines[n4Runs + 1]!, new RegExp(`run ${n4Runs + 1}/~${n4Runs + 9} `))
})

test('a result that does not match docs/design.md §12 fails with the point and the field', async () => {
  const e = experiment({ validators: [4], rates: [1000] })
  await assert.rejects(
    runSweep({ experiment: e, source: 'testnet', validators: [4], openSeries: fakeSeries(async (s) => ({ ...fakeResult(s), e2eTps: 'fast' })), progress: sink() }),
    (err: Error) => err.message.includes('testnet n=4 batches 1000 tx/s fixed run 1') && err.message.includes('e2eTps'),
  )
  await assert.rejects(
    runSweep({ experiment: e, source: 'testnet', validators: [4], openSeries: fakeSeries(async () => Promise.reject(new Error('node 2 exited'))), progress: sink() }),
    /testnet n=4 batches 1000 tx\/s fixed run 1 failed: node 2 exited/,
  )
})

test('an interrupt ends the sweep, discards the run it cut short and still closes the series', async () => {
  const e = experiment({ validators: [4, 7], rates: [1000, 2000, 3000] })
  const controller = new AbortController()
  let calls = 0
  let closed = 0
  const result = await runSweep({
    experiment: e,
    source: 'testnet',
    validators: e.validators,
    openSeries: async () => ({
      measure: async (s) => {
        if (++calls === 2) controller.abort()
        return fakeResult(s)
      },
      close: async () => void closed++,
    }),
    progress: sink(),
    signal: controller.signal,
  })
  assert.equal(result.interrupted, true)
  assert.deepEqual(result.points.map((p) => p.offeredTps), [1000])
  assert.equal(calls, 2)
  assert.equal(closed, 1)
})

test('runBench adds a simulator sweep over the experiment counts plus sim.validators', async () => {
  const e = experiment({ validators: [4, 7], rates: [1000], payloadModes: ['batches', 'full-block'], sim: { validators: [64] } })
  const simCounts: string[] = []
  const results = await runBench({
    experiment: e,
    env: ENV,
    openTestnetSeries: fakeSeries(),
    sim: {
      openSeries: fakeSeries(async (s) => {
        simCounts.push(`${s.validators}/${s.payloadMode}`)
        return fakeResult(s)
      }),
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
    runBench({ experiment: experiment({ payloadModes: ['full-block'] }), env: ENV, openTestnetSeries: fakeSeries(), sim: { openSeries: fakeSeries(), payloadModes: ['batches'] }, progress: sink() }),
    /--sim: the simulator models payload modes batches only/,
  )
})
