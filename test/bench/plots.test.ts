import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AggregatedPoint } from '../../src/bench/aggregate.ts'
import { AXIS_TITLES, boundSpec, latencyCapSpec, latencySpec, renderPlots, renderSvg, simOverlaySpec, throughputSpec } from '../../src/bench/plots.ts'
import { runBench } from '../../src/bench/runner.ts'
import { assertWellFormedXml, ENV, experiment, fakeResult } from './fixtures.ts'

async function sweepPoints(sim: boolean): Promise<AggregatedPoint[]> {
  const e = experiment({ validators: [4, 7, 10], rates: [1000, 2000, 4000], payloadModes: ['batches', 'full-block'], runs: 2, sim: { validators: [64] } })
  let k = 0
  const run = async (s: Parameters<typeof fakeResult>[0]) => fakeResult(s, (k++ % 2) * 20)
  const results = await runBench({ experiment: e, env: ENV, runTestnetPoint: run, ...(sim ? { sim: { runPoint: run, payloadModes: ['batches'] } } : {}), progress: { write: () => true } })
  return results.points
}

/** Data elements vega drew for a mark type: one <path>/<line> per line series, symbol or rule. */
function markPaths(svg: string, markClass: string): number {
  let count = 0
  // An empty mark container is self-closing; a full one holds only leaf elements.
  for (const group of svg.matchAll(new RegExp(`<g class="mark-${markClass} role-mark[^"]*"[^>]*?(?:/>|>([\\s\\S]*?)</g>)`, 'g'))) {
    count += (group[1]?.match(/<(path|line) /g) ?? []).length
  }
  return count
}

test('throughput plot: valid SVG, axis titles, one line per payload mode, a point and an error bar per count', async () => {
  const svg = await renderSvg(throughputSpec(await sweepPoints(false)))
  assertWellFormedXml(svg)
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  for (const title of [AXIS_TITLES.validators, AXIS_TITLES.peakTps, 'batches', 'full-block']) assert.ok(svg.includes(`>${title}</text>`), `missing "${title}"`)
  assert.equal(markPaths(svg, 'line'), 2)
  assert.equal(markPaths(svg, 'symbol'), 6)
  // Error bars: a rule per point, from mean − stdev to mean + stdev.
  assert.equal(markPaths(svg, 'rule'), 6)
  assert.equal((svg.match(/aria-roledescription="errorbar"/g) ?? []).length, 6)
})

test('latency plot: p50 and p99 curves per validator count and payload mode', async () => {
  const svg = await renderSvg(latencySpec(await sweepPoints(false)))
  assertWellFormedXml(svg)
  for (const title of [AXIS_TITLES.e2eTps, AXIS_TITLES.latency, 'p50', 'p99']) assert.ok(svg.includes(`>${title}</text>`), `missing "${title}"`)
  // 3 counts × 2 percentiles × 2 payload panels; 3 rates per curve.
  assert.equal(markPaths(svg, 'line'), 12)
  assert.equal(markPaths(svg, 'symbol'), 36)
})

test('latency-cap and bound plots show one point per count and mode', async () => {
  const points = await sweepPoints(false)
  const cap = await renderSvg(latencyCapSpec(points, 1000))
  assertWellFormedXml(cap)
  assert.ok(cap.includes('Best throughput with p99 latency ≤ 1000 ms'))
  assert.equal(markPaths(cap, 'symbol'), 6)
  const bound = await renderSvg(boundSpec(points))
  assertWellFormedXml(bound)
  assert.ok(bound.includes(`>${AXIS_TITLES.toBound}</text>`))
  assert.equal(markPaths(bound, 'symbol'), 6)
  // A tight cap excludes every point: the plot renders, with no data marks.
  assert.equal(markPaths(await renderSvg(latencyCapSpec(points, 1)), 'symbol'), 0)
})

test('the sim overlay appears only when simulator points exist', async () => {
  const real = await renderPlots(await sweepPoints(false), 1000)
  assert.deepEqual(real.map((p) => p.file), ['throughput-vs-validators.svg', 'latency-vs-throughput.svg', 'throughput-under-latency-cap.svg', 'tps-to-bound.svg'])
  const points = await sweepPoints(true)
  const withSim = await renderPlots(points, 1000)
  assert.equal(withSim.at(-1)!.file, 'sim-vs-testnet.svg')
  const svg = await renderSvg(simOverlaySpec(points))
  assertWellFormedXml(svg)
  for (const title of ['sim', 'testnet', AXIS_TITLES.consensusLatency, '64']) assert.ok(svg.includes(`>${title}</text>`), `missing "${title}"`)
  // Two panels × (testnet: 2 modes, sim: batches) lines; sim spans 4, 7, 10, 64.
  assert.equal(markPaths(svg, 'line'), 6)
  assert.equal(markPaths(svg, 'symbol'), 2 * (6 + 4))
})
