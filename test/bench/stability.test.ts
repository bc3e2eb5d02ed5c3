import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runSpread } from '../../src/bench/aggregate.ts'
import { benchReport, STABILITY_TOLERANCE } from '../../src/bench/report.ts'
import { resultsCsv } from '../../src/bench/results.ts'
import { runBench } from '../../src/bench/runner.ts'
import { ENV, experiment, fakeResult, fakeSeries } from './fixtures.ts'

test('run spread is max/min − 1, infinite when only some runs committed', () => {
  assert.equal(runSpread([100]), 0)
  assert.ok(Math.abs(runSpread([100, 110, 105]) - 0.1) < 1e-12)
  assert.equal(runSpread([0, 0]), 0)
  assert.equal(runSpread([0, 50]), Number.POSITIVE_INFINITY)
  assert.throws(() => runSpread([]), RangeError)
})

/** Two runs per point; at n = 7 the second run is 30% faster than the first, at n = 4 only 10%. */
async function twoRunBench() {
  const e = experiment({ validators: [4, 7], rates: [500], runs: 2 })
  const calls = new Map<number, number>()
  return runBench({
    experiment: e,
    env: ENV,
    openTestnetSeries: fakeSeries(async (spec) => {
      const run = (calls.get(spec.validators) ?? 0) + 1
      calls.set(spec.validators, run)
      const base = fakeResult(spec)
      const factor = run === 1 ? 1 : spec.validators === 7 ? 1.3 : 1.1
      return { ...base, e2eTps: base.e2eTps * factor }
    }),
    progress: { write: () => true },
  })
}

test('with runs ≥ 2 the report states each point’s spread and flags those above ±15%', async () => {
  const results = await twoRunBench()
  const [n4, n7] = results.points
  assert.ok(Math.abs(n4!.e2eTpsSpread! - 0.1) < 1e-9)
  assert.ok(Math.abs(n7!.e2eTpsSpread! - 0.3) < 1e-9)
  assert.ok(n7!.e2eTpsSpread! > STABILITY_TOLERANCE && n4!.e2eTpsSpread! <= STABILITY_TOLERANCE)
  const report = benchReport(results, [])
  assert.match(report, /## Run-to-run stability/)
  assert.match(report, /1 of 2 point\(s\) are not \(flagged\)/)
  const section = report.slice(report.indexOf('## Run-to-run stability')).split('\n')
  const row = (n: number) => section.find((l) => l.startsWith(`| testnet | ${n} | batches |`))
  assert.match(row(4)!, /\| 500 \| 500, 550 \| 10\.0% \|$/)
  assert.match(row(7)!, /30\.0% \*\*> ±15%\*\* \|$/)
  assert.match(resultsCsv(results.points), /e2eTpsSpread/)
})

test('a single-run sweep has no stability section and no spread', async () => {
  const results = await runBench({
    experiment: experiment({ validators: [4], rates: [500], runs: 1 }),
    env: ENV,
    openTestnetSeries: fakeSeries(),
    progress: { write: () => true },
  })
  assert.equal(results.points[0]!.e2eTpsSpread, undefined)
  assert.doesNotMatch(benchReport(results, []), /stability/i)
})
