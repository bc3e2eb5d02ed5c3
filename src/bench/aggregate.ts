import type { PayloadMode } from '../node/config.ts'
import { mean, stdev, type LatencySummary } from '../testnet/stats.ts'
import type { PointSpec, SaturateOptions } from './experiment.ts'
import type { PointResult } from './point.ts'

/** Where a point was measured: real processes on this machine, or the deterministic simulator. */
export type PointSource = 'testnet' | 'sim'

/** Counters and rates reported as the mean over runs, with their sample stdev. */
export const AVERAGED_FIELDS = [
  'achievedSubmitTps',
  'consensusTps',
  'e2eTps',
  'committedTxs',
  'rejectedTxs',
  'failedTxs',
  'committedBlocks',
  'rounds',
  'timeouts',
  'msgsPerBlock',
  'bytesPerBlock',
  'boundTps',
  'tpsToBound',
] as const satisfies readonly (keyof PointResult)[]

export type AveragedField = (typeof AVERAGED_FIELDS)[number]

export const LATENCY_FIELDS = ['latencyMs', 'consensusLatencyMs'] as const satisfies readonly (keyof PointResult)[]

/**
 * Must be 0. The worst run is reported, not the mean: one violation in any repetition is a bug
 * and must never be averaged into a fraction that looks like noise.
 */
export const WORST_FIELDS = ['safetyViolations', 'stateRootMismatches'] as const satisfies readonly (keyof PointResult)[]

export type AggregatedPoint = {
  readonly source: PointSource
  readonly validators: number
  readonly payloadMode: PayloadMode
  readonly offeredTps: number
  readonly runs: number
  /** Run-to-run spread of e2e TPS, max/min − 1 (`runSpread`); present when runs ≥ 2. */
  readonly e2eTpsSpread?: number
  readonly stdev: Partial<Record<AveragedField, number>> & Partial<Record<(typeof LATENCY_FIELDS)[number], LatencySummary>>
} & Partial<Record<AveragedField, number>> &
  Record<'achievedSubmitTps' | 'consensusTps' | 'e2eTps', number> &
  Record<(typeof LATENCY_FIELDS)[number], LatencySummary> &
  Partial<Record<(typeof WORST_FIELDS)[number], number>>

function latencyStats(samples: readonly LatencySummary[], stat: (v: number[]) => number): LatencySummary {
  return {
    p50: stat(samples.map((s) => s.p50)),
    p95: stat(samples.map((s) => s.p95)),
    p99: stat(samples.map((s) => s.p99)),
    mean: stat(samples.map((s) => s.mean)),
  }
}

/**
 * Spread of repeated measurements as max/min − 1: 0.15 means the best run is 15% above the
 * worst. Unlike the stdev it needs no distribution and reads directly as "runs agree within x%".
 * Infinity when one run measured nothing and another did; 0 when all measured nothing.
 */
export function runSpread(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('runSpread: no values')
  const max = Math.max(...values)
  const min = Math.min(...values)
  if (max === 0) return 0
  return min > 0 ? max / min - 1 : Number.POSITIVE_INFINITY
}

/**
 * Folds the repetitions of one point into mean ± stdev (docs/design.md §12 `runs`, `stdev`). When the
 * runner did not report a verify bound itself, `machineBoundTps` (this machine's bound for the
 * point's validator count) fills `boundTps` and `tpsToBound`.
 */
export function aggregateRuns(source: PointSource, spec: PointSpec, results: readonly PointResult[], machineBoundTps?: number): AggregatedPoint {
  if (results.length === 0) throw new RangeError(`no runs to aggregate for n=${spec.validators} ${spec.payloadMode} ${spec.offeredTps} tx/s`)
  const means: Partial<Record<AveragedField, number>> = {}
  const spread: AggregatedPoint['stdev'] = {}
  for (const field of AVERAGED_FIELDS) {
    const values = results.map((r) => r[field])
    // An optional field is aggregated only when every run reported it: a mean over a subset would mislead.
    if (values.some((v) => v === undefined)) continue
    means[field] = mean(values as number[])
    spread[field] = stdev(values as number[])
  }
  if (means.boundTps === undefined && machineBoundTps !== undefined) {
    means.boundTps = machineBoundTps
    const ratios = results.map((r) => r.e2eTps / machineBoundTps)
    means.tpsToBound = mean(ratios)
    spread.tpsToBound = stdev(ratios)
  }
  const latency = {} as Record<(typeof LATENCY_FIELDS)[number], LatencySummary>
  for (const field of LATENCY_FIELDS) {
    const samples = results.map((r) => r[field])
    latency[field] = latencyStats(samples, mean)
    spread[field] = latencyStats(samples, stdev)
  }
  const worst: Partial<Record<(typeof WORST_FIELDS)[number], number>> = {}
  for (const field of WORST_FIELDS) {
    const reported = results.map((r) => r[field]).filter((v) => v !== undefined)
    if (reported.length > 0) worst[field] = Math.max(...reported)
  }
  return {
    ...means,
    achievedSubmitTps: means.achievedSubmitTps!,
    consensusTps: means.consensusTps!,
    e2eTps: means.e2eTps!,
    ...latency,
    ...worst,
    source,
    validators: spec.validators,
    payloadMode: spec.payloadMode,
    offeredTps: spec.offeredTps,
    runs: results.length,
    ...(results.length >= 2 ? { e2eTpsSpread: runSpread(results.map((r) => r.e2eTps)) } : {}),
    stdev: spread,
  }
}

/** Why a point counts as past the knee of its curve, or undefined while the system keeps up. */
export type SaturationReason = 'throughput' | 'latency'

/**
 * "Achieved" is the commit rate (`consensusTps`), not `e2eTps`: e2e TPS divides a window's
 * commits by the window plus the last tx's latency, so over a short run (6 s at 0.5 s latency)
 * it reads ~8% low even when every offered tx commits, enough to fake a knee at 0.9.
 */
export function saturationReason(point: AggregatedPoint, criteria: Pick<SaturateOptions, 'achievedRatio' | 'p99CapMs'>): SaturationReason | undefined {
  if (!(point.consensusTps >= criteria.achievedRatio * point.offeredTps)) return 'throughput'
  if (!(point.latencyMs.p99 <= criteria.p99CapMs)) return 'latency'
  return undefined
}

/** One curve: the points of one source, validator count and payload mode, by offered rate. */
export interface Series {
  readonly source: PointSource
  readonly validators: number
  readonly payloadMode: PayloadMode
  readonly points: readonly AggregatedPoint[]
}

export function groupSeries(points: readonly AggregatedPoint[]): Series[] {
  const byKey = new Map<string, AggregatedPoint[]>()
  for (const p of points) {
    const key = `${p.source}/${p.validators}/${p.payloadMode}`
    const list = byKey.get(key)
    if (list === undefined) byKey.set(key, [p])
    else list.push(p)
  }
  return [...byKey.values()]
    .map((list) => {
      const first = list[0]!
      return { source: first.source, validators: first.validators, payloadMode: first.payloadMode, points: list.toSorted((a, b) => a.offeredTps - b.offeredTps) }
    })
    .sort((a, b) => a.source.localeCompare(b.source) || a.payloadMode.localeCompare(b.payloadMode) || a.validators - b.validators)
}

/** The point of a series with the highest end-to-end TPS among those `admit` accepts. */
export function peakPoint(series: Series, admit: (p: AggregatedPoint) => boolean = () => true): AggregatedPoint | undefined {
  let best: AggregatedPoint | undefined
  for (const p of series.points) {
    if (Number.isFinite(p.e2eTps) && admit(p) && (best === undefined || p.e2eTps > best.e2eTps)) best = p
  }
  return best
}

/** The "tps under a latency cap" point of Narwhal's plots: best throughput whose p99 stays under the cap. */
export function peakUnderLatencyCap(series: Series, capMs: number): AggregatedPoint | undefined {
  return peakPoint(series, (p) => p.latencyMs.p99 <= capMs)
}
