import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import { verifyBoundTps, type RunEnvironment } from '../core/environment.ts'
import { bestUnderLatencyCap, groupSeries, type AggregatedPoint, type Series } from './aggregate.ts'
import type { BenchResults, Capacity } from './runner.ts'

/**
 * Benchmark plots as vega-lite specs rendered to SVG in Node (vega's headless 'none' renderer:
 * no canvas, no browser). Each spec builder is a pure function of aggregated points, so tests
 * can render it and inspect the SVG.
 */

export interface Plot {
  /** File name inside the output folder. */
  readonly file: string
  readonly title: string
  readonly svg: string
}

type Row = Record<string, number | string>

const WIDTH = 420
const HEIGHT = 280

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'

export const AXIS_TITLES = {
  validators: 'Validators',
  capacity: 'Capacity (tx/s, log scale)',
  achievedTps: 'Achieved end-to-end throughput (tx/s)',
  underCap: 'Achieved end-to-end throughput (tx/s)',
  latency: 'End-to-end latency (ms)',
  consensusLatency: 'Consensus latency p50 (ms)',
  toBound: 'Capacity / verify bound',
} as const

/** Drawn beside a value that is only a lower bound: the chain kept up there, its limit lies higher. */
export const AT_LEAST = '≥'

const finite = (...values: (number | undefined)[]): boolean => values.every((v) => v !== undefined && Number.isFinite(v))

function seriesOf(points: readonly AggregatedPoint[], source: AggregatedPoint['source']): Series[] {
  return groupSeries(points.filter((p) => p.source === source))
}

function validatorCounts(rows: readonly Row[]): number[] {
  return [...new Set(rows.map((r) => r.validators as number))].sort((a, b) => a - b)
}

/** x axis ticks exactly at the measured validator counts (4, 7, 10 — not 4, 5, 6 …). */
function validatorAxis(rows: readonly Row[]) {
  return { field: 'validators', type: 'quantitative' as const, title: AXIS_TITLES.validators, scale: { zero: false }, axis: { values: validatorCounts(rows), format: 'd' } }
}

/**
 * Legend entries for a strokeDash channel drawn as dashed strokes: vega-lite's default symbol
 * for a line-with-points mark is a filled circle, which cannot show a dash pattern.
 */
const dashLegend = { symbolType: 'stroke', encode: { symbols: { update: { stroke: { value: '#444' }, strokeWidth: { value: 2 } } } } }

const payloadColor = { field: 'payloadMode', type: 'nominal' as const, title: 'Payload' }

/** A value's "≥" label beside its point; an empty label draws nothing. */
function atLeastLayer(x: object, y: object, color: object) {
  return { mark: { type: 'text' as const, dx: 10, dy: -8, fontSize: 13, fontWeight: 'bold' as const }, encoding: { x, y, color, text: { field: 'label', type: 'nominal' as const } } }
}

const capacityColor = { field: 'series', type: 'nominal' as const, title: 'Series' }

/**
 * (a) Capacity vs validator count: one line per payload mode with ± stdev error bars over the
 * final runs, the machine's verify bound, and (with --sim) the simulator's capacity at the
 * same counts, each a series of its own. A capacity the search could only bound from below
 * (kept up at maxTps) carries "≥".
 */
export function capacitySpec(capacities: readonly Capacity[], env: RunEnvironment): TopLevelSpec {
  const rows: Row[] = []
  const testnetCounts = new Set(capacities.filter((c) => c.source === 'testnet').map((c) => c.validators))
  for (const c of capacities) {
    if (c.source === 'sim' && !testnetCounts.has(c.validators)) continue
    rows.push({ validators: c.validators, series: `${c.source} ${c.payloadMode}`, tps: c.e2eTps, low: Math.max(1, c.e2eTps - c.e2eTpsStdev), high: c.e2eTps + c.e2eTpsStdev, label: c.status === 'atLeast' ? AT_LEAST : '' })
  }
  for (const n of [...testnetCounts].sort((a, b) => a - b)) {
    rows.push({ validators: n, series: 'verify bound', tps: verifyBoundTps(env.verifiesPerSec, env.cores, n), low: 0, high: 0, label: '' })
  }
  const x = validatorAxis(rows)
  const y = { field: 'tps', type: 'quantitative' as const, title: AXIS_TITLES.capacity, scale: { type: 'log' as const } }
  return {
    $schema: SCHEMA,
    title: 'Capacity vs validator count',
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { x, y, color: capacityColor } },
      {
        transform: [{ filter: "datum.series != 'verify bound' && datum.high > datum.low" }],
        mark: { type: 'rule' },
        encoding: { x, y: { field: 'low', type: 'quantitative', scale: { type: 'log' } }, y2: { field: 'high' }, color: capacityColor },
      },
      atLeastLayer(x, y, capacityColor),
    ],
  }
}

/**
 * (b) Latency p50 and p99 vs achieved throughput, one curve per validator count (per payload mode
 * panel): every rate measured, up to and past saturation.
 */
export function latencySpec(points: readonly AggregatedPoint[]): TopLevelSpec {
  const rows: Row[] = []
  for (const s of seriesOf(points, 'testnet')) {
    for (const p of s.points) {
      for (const percentile of ['p50', 'p99'] as const) {
        const latencyMs = p.latencyMs[percentile]
        // A log axis cannot place 0, and NaN means nothing committed: neither is a latency.
        if (finite(p.e2eTps, latencyMs) && latencyMs > 0) rows.push({ validators: s.validators, payloadMode: s.payloadMode, e2eTps: p.e2eTps, percentile, latencyMs })
      }
    }
  }
  const modes = new Set(rows.map((r) => r.payloadMode))
  return {
    $schema: SCHEMA,
    title: 'Latency vs throughput',
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'e2eTps', type: 'quantitative', title: AXIS_TITLES.achievedTps },
      y: { field: 'latencyMs', type: 'quantitative', title: AXIS_TITLES.latency, scale: { type: 'log' } },
      color: { field: 'validators', type: 'ordinal', title: AXIS_TITLES.validators, scale: { scheme: 'category10' } },
      strokeDash: { field: 'percentile', type: 'nominal', title: 'Percentile', legend: dashLegend },
      order: { field: 'e2eTps', type: 'quantitative' },
      ...(modes.size > 1 ? { column: { field: 'payloadMode', type: 'nominal', title: 'Payload' } } : {}),
    },
  }
}

/**
 * (c) Narwhal's "tps" plot: per series, the highest achieved rate among every measured rate
 * whose p99 stays under the cap; "≥" when that rate kept up and was the highest measured.
 */
export function latencyCapSpec(points: readonly AggregatedPoint[], capMs: number): TopLevelSpec {
  const rows: Row[] = []
  for (const s of seriesOf(points, 'testnet')) {
    const best = bestUnderLatencyCap(s, capMs)
    if (best !== undefined) rows.push({ validators: s.validators, payloadMode: s.payloadMode, e2eTps: best.point.e2eTps, label: best.atLeast ? AT_LEAST : '' })
  }
  const x = validatorAxis(rows)
  const y = { field: 'e2eTps', type: 'quantitative' as const, title: AXIS_TITLES.underCap }
  return {
    $schema: SCHEMA,
    title: `Throughput with p99 latency ≤ ${capMs} ms`,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [{ mark: { type: 'line', point: true }, encoding: { x, y, color: payloadColor } }, atLeastLayer(x, y, payloadColor)],
  }
}

/** (d) Capacity as a fraction of the machine's verify bound, comparable across machines. */
export function boundSpec(capacities: readonly Capacity[]): TopLevelSpec {
  const rows: Row[] = []
  for (const c of capacities) {
    if (c.source === 'testnet' && c.tpsToBound !== undefined) rows.push({ validators: c.validators, payloadMode: c.payloadMode, tpsToBound: c.tpsToBound, label: c.status === 'atLeast' ? AT_LEAST : '' })
  }
  const x = validatorAxis(rows)
  const y = { field: 'tpsToBound', type: 'quantitative' as const, title: AXIS_TITLES.toBound, axis: { format: '.0%' } }
  return {
    $schema: SCHEMA,
    title: 'Capacity relative to the signature-verification bound',
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [{ mark: { type: 'line', point: true }, encoding: { x, y, color: payloadColor } }, atLeastLayer(x, y, payloadColor)],
  }
}

/**
 * Simulator vs testnet over every count either measured (the simulator's reach up to 256 on a
 * log axis): capacity, and consensus latency p50 at each series' lowest rate, where queueing
 * does not dominate.
 */
export function simOverlaySpec(capacities: readonly Capacity[], points: readonly AggregatedPoint[]): TopLevelSpec {
  const lightest = new Map(groupSeries(points).map((s) => [`${s.source}/${s.validators}/${s.payloadMode}`, s.points[0]]))
  const rows: Row[] = capacities.map((c) => ({
    validators: c.validators,
    source: c.source,
    payloadMode: c.payloadMode,
    tps: c.e2eTps,
    consensusP50: lightest.get(`${c.source}/${c.validators}/${c.payloadMode}`)?.consensusLatencyMs.p50 ?? Number.NaN,
  }))
  const x = { field: 'validators', type: 'quantitative' as const, title: AXIS_TITLES.validators, scale: { type: 'log' as const }, axis: { values: validatorCounts(rows), format: 'd' } }
  const color = { field: 'source', type: 'nominal' as const, title: 'Source' }
  const strokeDash = { field: 'payloadMode', type: 'nominal' as const, title: 'Payload', legend: dashLegend }
  return {
    $schema: SCHEMA,
    title: 'Simulator vs testnet',
    data: { values: rows },
    hconcat: [
      {
        width: WIDTH * 0.75,
        height: HEIGHT,
        transform: [{ filter: 'isFinite(datum.tps) && datum.tps > 0' }],
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'tps', type: 'quantitative', title: AXIS_TITLES.capacity, scale: { type: 'log' } }, color, strokeDash },
      },
      {
        width: WIDTH * 0.75,
        height: HEIGHT,
        transform: [{ filter: 'isFinite(datum.consensusP50) && datum.consensusP50 > 0' }],
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'consensusP50', type: 'quantitative', title: AXIS_TITLES.consensusLatency, scale: { type: 'log' } }, color, strokeDash },
      },
    ],
  }
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/**
 * Every plot the results support: the capacity plots need a capacity search (a fixed rate list
 * measures no capacity), the overlay needs simulator series.
 */
export async function renderPlots(r: Pick<BenchResults, 'capacities' | 'points' | 'env'> & { config: Pick<BenchResults['config'], 'latencyCapMs'> }): Promise<Plot[]> {
  const specs: { file: string; spec: TopLevelSpec }[] = []
  if (r.capacities.some((c) => c.source === 'testnet')) specs.push({ file: 'capacity-vs-validators.svg', spec: capacitySpec(r.capacities, r.env) })
  specs.push({ file: 'latency-vs-throughput.svg', spec: latencySpec(r.points) }, { file: 'throughput-under-latency-cap.svg', spec: latencyCapSpec(r.points, r.config.latencyCapMs) })
  if (r.capacities.some((c) => c.source === 'testnet' && c.tpsToBound !== undefined)) specs.push({ file: 'capacity-to-bound.svg', spec: boundSpec(r.capacities) })
  if (r.capacities.some((c) => c.source === 'sim')) specs.push({ file: 'sim-vs-testnet.svg', spec: simOverlaySpec(r.capacities, r.points) })
  const plots: Plot[] = []
  for (const { file, spec } of specs) plots.push({ file, title: typeof spec.title === 'string' ? spec.title : file, svg: await renderSvg(spec) })
  return plots
}
