import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import { groupSeries, peakPoint, peakUnderLatencyCap, type AggregatedPoint, type Series } from './aggregate.ts'

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
  peakTps: 'Peak end-to-end throughput (tx/s)',
  e2eTps: 'End-to-end throughput (tx/s)',
  latency: 'End-to-end latency (ms)',
  consensusLatency: 'Consensus latency p50 (ms)',
  toBound: 'Peak e2e TPS / verify bound',
} as const

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

/** (1) Peak throughput vs validator count, one line per payload mode, ± stdev error bars. */
export function throughputSpec(points: readonly AggregatedPoint[]): TopLevelSpec {
  const rows: Row[] = []
  for (const s of seriesOf(points, 'testnet')) {
    const p = peakPoint(s)
    if (p !== undefined) rows.push({ validators: s.validators, payloadMode: s.payloadMode, e2eTps: p.e2eTps, e2eTpsStdev: p.stdev.e2eTps ?? 0 })
  }
  const x = validatorAxis(rows)
  return {
    $schema: SCHEMA,
    title: 'Throughput vs validator count',
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'e2eTps', type: 'quantitative', title: AXIS_TITLES.peakTps }, color: payloadColor } },
      { mark: { type: 'errorbar', ticks: true }, encoding: { x, y: { field: 'e2eTps', type: 'quantitative', title: AXIS_TITLES.peakTps }, yError: { field: 'e2eTpsStdev' }, color: payloadColor } },
    ],
  }
}

/** (2) Latency p50 and p99 vs achieved throughput, one curve per validator count (per payload mode panel). */
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
      x: { field: 'e2eTps', type: 'quantitative', title: AXIS_TITLES.e2eTps },
      y: { field: 'latencyMs', type: 'quantitative', title: AXIS_TITLES.latency, scale: { type: 'log' } },
      color: { field: 'validators', type: 'ordinal', title: AXIS_TITLES.validators, scale: { scheme: 'category10' } },
      strokeDash: { field: 'percentile', type: 'nominal', title: 'Percentile', legend: dashLegend },
      order: { field: 'e2eTps', type: 'quantitative' },
      ...(modes.size > 1 ? { column: { field: 'payloadMode', type: 'nominal', title: 'Payload' } } : {}),
    },
  }
}

/** (3) Narwhal's "tps" plot: the best throughput whose p99 latency stays under the cap. */
export function latencyCapSpec(points: readonly AggregatedPoint[], capMs: number): TopLevelSpec {
  const rows: Row[] = []
  for (const s of seriesOf(points, 'testnet')) {
    const p = peakUnderLatencyCap(s, capMs)
    if (p !== undefined) rows.push({ validators: s.validators, payloadMode: s.payloadMode, e2eTps: p.e2eTps })
  }
  return {
    $schema: SCHEMA,
    title: `Best throughput with p99 latency ≤ ${capMs} ms`,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: { x: validatorAxis(rows), y: { field: 'e2eTps', type: 'quantitative', title: AXIS_TITLES.e2eTps }, color: payloadColor },
  }
}

/** (4) Peak throughput as a fraction of the machine's verify bound, comparable across machines. */
export function boundSpec(points: readonly AggregatedPoint[]): TopLevelSpec {
  const rows: Row[] = []
  for (const s of seriesOf(points, 'testnet')) {
    const p = peakPoint(s)
    if (p !== undefined && finite(p.tpsToBound)) rows.push({ validators: s.validators, payloadMode: s.payloadMode, tpsToBound: p.tpsToBound! })
  }
  return {
    $schema: SCHEMA,
    title: 'Throughput relative to the signature-verification bound',
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: validatorAxis(rows),
      y: { field: 'tpsToBound', type: 'quantitative', title: AXIS_TITLES.toBound, axis: { format: '.0%' } },
      color: payloadColor,
    },
  }
}

/**
 * (5) Simulator vs testnet: peak throughput and consensus latency p50 (at each curve's lowest
 * load, where queueing does not dominate) over validator counts on a log axis up to 256.
 */
export function simOverlaySpec(points: readonly AggregatedPoint[]): TopLevelSpec {
  const rows: Row[] = []
  for (const s of groupSeries(points)) {
    const peak = peakPoint(s)
    const lightest = s.points[0]
    if (peak === undefined || lightest === undefined) continue
    rows.push({ validators: s.validators, source: s.source, payloadMode: s.payloadMode, e2eTps: peak.e2eTps, consensusP50: lightest.consensusLatencyMs.p50 })
  }
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
        transform: [{ filter: 'isFinite(datum.e2eTps)' }],
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'e2eTps', type: 'quantitative', title: AXIS_TITLES.peakTps }, color, strokeDash },
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

export async function renderPlots(points: readonly AggregatedPoint[], latencyCapMs: number): Promise<Plot[]> {
  const specs: { file: string; spec: TopLevelSpec }[] = [
    { file: 'throughput-vs-validators.svg', spec: throughputSpec(points) },
    { file: 'latency-vs-throughput.svg', spec: latencySpec(points) },
    { file: 'throughput-under-latency-cap.svg', spec: latencyCapSpec(points, latencyCapMs) },
    { file: 'tps-to-bound.svg', spec: boundSpec(points) },
  ]
  if (points.some((p) => p.source === 'sim')) specs.push({ file: 'sim-vs-testnet.svg', spec: simOverlaySpec(points) })
  const plots: Plot[] = []
  for (const { file, spec } of specs) plots.push({ file, title: typeof spec.title === 'string' ? spec.title : file, svg: await renderSvg(spec) })
  return plots
}
