import type { PayloadMode } from '../node/config.ts'
import { tpsToBound, type ResultPoint } from '../sim/result-point.ts'
import { mean, stdev, type LatencySummary } from '../testnet/stats.ts'
import type { PointSpec } from './experiment.ts'
import { keptUp } from './search.ts'

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
  'validatorCpuUsPerTx',
] as const satisfies readonly (keyof ResultPoint)[]

export type AveragedField = (typeof AVERAGED_FIELDS)[number]

export const LATENCY_FIELDS = ['latencyMs', 'consensusLatencyMs'] as const satisfies readonly (keyof ResultPoint)[]

/**
 * Must be 0. The worst run is reported, not the mean: one violation in any repetition is a bug
 * and must never be averaged into a fraction that looks like noise.
 */
export const WORST_FIELDS = ['safetyViolations', 'stateRootMismatches'] as const satisfies readonly (keyof ResultPoint)[]

export type AggregatedPoint = {
  readonly source: PointSource
  readonly validators: number
  readonly payloadMode: PayloadMode
  readonly offeredTps: number
  readonly runs: number
  /**
   * Every run's achieved rate reached the criterion's share of offered (capacity.achievedRatio):
   * the chain kept up, so this rate says only that its limit is at least here ("≥" in plots).
   */
  readonly keptUp: boolean
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
export function aggregateRuns(source: PointSource, spec: PointSpec, results: readonly ResultPoint[], achievedRatio: number, machineBoundTps?: number): AggregatedPoint {
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
    const ratios = results.map((r) => tpsToBound(r.e2eTps, machineBoundTps))
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
    keptUp: results.every((r) => keptUp(r, achievedRatio)),
    ...(results.length >= 2 ? { e2eTpsSpread: runSpread(results.map((r) => r.e2eTps)) } : {}),
    stdev: spread,
  }
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

/**
 * The "throughput under a latency cap" point of Narwhal's plots: the highest achieved rate whose
 * p99 stays under the cap. `atLeast` when it kept up and no higher rate of its series was
 * measured: the chain might hold the cap further up.
 */
export function bestUnderLatencyCap(series: Series, capMs: number): { point: AggregatedPoint; atLeast: boolean } | undefined {
  let best: AggregatedPoint | undefined
  for (const p of series.points) {
    if (Number.isFinite(p.e2eTps) && p.latencyMs.p99 <= capMs && (best === undefined || p.e2eTps > best.e2eTps)) best = p
  }
  if (best === undefined) return undefined
  return { point: best, atLeast: best.keptUp && best.offeredTps === series.points.at(-1)!.offeredTps }
}
