import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AT_LEAST, AXIS_TITLES, boundSpec, capacitySpec, latencyCapSpec, latencySpec, renderPlots, renderSvg, simOverlaySpec } from '../../src/bench/plots.ts'
import { runBench } from '../../src/bench/runner.ts'
import { assertWellFormedXml, ENV, experiment, fakeCapacityBench, fakeResult, fakeSeries } from './fixtures.ts'

/** Data elements vega drew for a mark type: one <path>/<line> per line series, symbol or rule. */
function markPaths(svg: string, markClass: string): number {
  let count = 0
  // An empty mark container is self-closing; a full one holds only leaf elements.
  for (const group of svg.matchAll(new RegExp(`<g class="mark-${markClass} role-mark[^"]*"[^>]*?(?:/>|>([\\s\\S]*?)</g>)`, 'g'))) {
    count += (group[1]?.match(/<(path|line|text) /g) ?? []).length
  }
  return count
}

/** Text marks vega drew with exactly this content. */
const texts = (svg: string, text: string): number => (svg.match(new RegExp(`>${text}</text>`, 'g')) ?? []).length

test('capacity plot: a line per payload mode and for the verify bound, error bars, and "≥" on the capacity that is only a lower bound', async () => {
  const r = await fakeCapacityBench()
  const svg = await renderSvg(capacitySpec(r.capacities, r.env))
  assertWellFormedXml(svg)
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  for (const title of [AXIS_TITLES.validators, AXIS_TITLES.capacity, 'testnet batches', 'testnet full-block', 'verify bound']) assert.ok(svg.includes(`>${title}</text>`), `missing "${title}"`)
  assert.doesNotMatch(svg, /[Pp]eak/)
  assert.equal(markPaths(svg, 'line'), 3)
  // 3 counts × (2 modes + bound).
  assert.equal(markPaths(svg, 'symbol'), 9)
  // n=4 batches kept up at maxTps: the one capacity drawn "≥".
  assert.equal(r.capacities.filter((c) => c.status === 'atLeast').length, 1)
  assert.equal(texts(svg, AT_LEAST), 1)
  // Final runs alternate +0/+5 tx/s: each found capacity has a stdev, drawn as a rule.
  assert.ok(markPaths(svg, 'rule') >= 5, `${markPaths(svg, 'rule')} error bars`)
})

test('with --sim the capacity plot adds the simulator as its own series at the testnet counts', async () => {
  const r = await fakeCapacityBench({ sim: true })
  const svg = await renderSvg(capacitySpec(r.capacities, r.env))
  assert.ok(svg.includes('>sim batches</text>'))
  // 64 validators is the simulator's alone: it belongs to the overlay, not to this axis.
  assert.ok(!svg.includes('>64</text>'))
  assert.equal(markPaths(svg, 'line'), 4)
})

test('latency plot: p50 and p99 against achieved throughput for every measured rate', async () => {
  const r = await fakeCapacityBench()
  const svg = await renderSvg(latencySpec(r.points))
  assertWellFormedXml(svg)
  for (const title of [AXIS_TITLES.achievedTps, AXIS_TITLES.latency, 'p50', 'p99']) assert.ok(svg.includes(`>${title}</text>`), `missing "${title}"`)
  // 3 counts × 2 percentiles × 2 payload panels; one symbol per measured rate and percentile.
  assert.equal(markPaths(svg, 'line'), 12)
  assert.equal(markPaths(svg, 'symbol'), 2 * r.points.filter((p) => p.source === 'testnet').length)
})

test('latency-cap and bound plots show one point per count and mode, "≥" where the value is a lower bound', async () => {
  const r = await fakeCapacityBench()
  const cap = await renderSvg(latencyCapSpec(r.points, 1000))
  assertWellFormedXml(cap)
  assert.ok(cap.includes('Throughput with p99 latency ≤ 1000 ms'))
  assert.equal(markPaths(cap, 'symbol'), 6)
  // n=4 batches: its best rate under the cap is maxTps, kept up, the highest measured.
  assert.equal(texts(cap, AT_LEAST), 1)
  const bound = await renderSvg(boundSpec(r.capacities))
  assertWellFormedXml(bound)
  assert.ok(bound.includes(`>${AXIS_TITLES.toBound}</text>`))
  assert.equal(markPaths(bound, 'symbol'), 6)
  assert.equal(texts(bound, AT_LEAST), 1)
  // A tight cap excludes every point: the plot renders, with no data marks.
  assert.equal(markPaths(await renderSvg(latencyCapSpec(r.points, 1)), 'symbol'), 0)
})

test('plots follow the results: capacity plots need a search, the overlay needs the simulator', async () => {
  const search = await renderPlots(await fakeCapacityBench())
  assert.deepEqual(search.map((p) => p.file), ['capacity-vs-validators.svg', 'latency-vs-throughput.svg', 'throughput-under-latency-cap.svg', 'capacity-to-bound.svg'])
  const withSim = await fakeCapacityBench({ sim: true })
  assert.equal((await renderPlots(withSim)).at(-1)!.file, 'sim-vs-testnet.svg')
  const svg = await renderSvg(simOverlaySpec(withSim.capacities, withSim.points))
  assertWellFormedXml(svg)
  for (const title of ['sim', 'testnet', AXIS_TITLES.consensusLatency, '64']) assert.ok(svg.includes(`>${title}</text>`), `missing "${title}"`)
  const fixed = await runBench({ experiment: experiment({ validators: [4], rates: [1000] }), env: ENV, openTestnetSeries: fakeSeries(async (s) => fakeResult(s)), progress: { write: () => true } })
  assert.deepEqual((await renderPlots(fixed)).map((p) => p.file), ['latency-vs-throughput.svg', 'throughput-under-latency-cap.svg'])
})
