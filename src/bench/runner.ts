import { verifyBoundTps, type RunEnvironment } from '../core/environment.ts'
import { aggregateRuns, saturationReason, type AggregatedPoint, type PointSource, type SaturationReason } from './aggregate.ts'
import { pointSpec, type Experiment, type PointSpec, type SaturateOptions } from './experiment.ts'
import { checkPointResult, type PointResult } from './point.ts'
import { SweepProgress, type ProgressSink } from './progress.ts'

/**
 * Runs an experiment's sweep: every (payload mode, validator count, offered rate) point, each
 * repeated `runs` times and folded into mean ± stdev. The point runner is injected — the
 * testnet's real processes, the simulator, or a fake in tests — so this file only decides
 * which points to measure and in which order.
 */

/** Measures one point; the result is validated against docs/design.md §12 before use. */
export type RunPoint = (spec: PointSpec) => Promise<unknown>

/** One repetition of one point, kept verbatim in results.json. */
export interface RunRecord {
  readonly source: PointSource
  /** 1-based repetition number. */
  readonly run: number
  readonly spec: PointSpec
  readonly wallS: number
  readonly result: PointResult
}

/** How a curve ended: at the first saturated point, at the rate cap, or at the end of a fixed rate list. */
export interface SeriesOutcome {
  readonly source: PointSource
  readonly validators: number
  readonly payloadMode: PointSpec['payloadMode']
  readonly saturatedAtTps?: number
  readonly reason: SaturationReason | 'maxTps' | 'rateListEnd'
}

export interface SweepResult {
  readonly points: AggregatedPoint[]
  readonly runs: RunRecord[]
  readonly outcomes: SeriesOutcome[]
  /** Stopped by the signal: the points measured so far are complete, the rest were never run. */
  readonly interrupted: boolean
}

export interface SweepOptions {
  readonly experiment: Experiment
  readonly source: PointSource
  /** Validator counts of this sweep (the simulator's go beyond the experiment's). */
  readonly validators: readonly number[]
  readonly runPoint: RunPoint
  /** Default: the experiment's payload modes. */
  readonly payloadModes?: readonly PointSpec['payloadMode'][]
  /** This machine's verify bound for n validators (testnet points; absent for the simulator). */
  readonly machineBoundTps?: (validators: number) => number
  readonly progress?: ProgressSink
  readonly now?: () => number
  /** Ends the sweep after the point in progress; that point's partial runs are discarded. */
  readonly signal?: AbortSignal
}

/** The rates a saturating series may try: start, start·k, start·k², … up to maxTps (rounded to whole tx/s). */
export function saturationRates(s: SaturateOptions): number[] {
  const rates: number[] = []
  for (let rate = s.startTps; Math.round(rate) <= s.maxTps; rate *= s.stepFactor) rates.push(Math.round(rate))
  return rates
}

function describeSpec(spec: PointSpec): string {
  return `n=${spec.validators} ${spec.payloadMode} ${spec.offeredTps} tx/s`
}

export async function runSweep(opts: SweepOptions): Promise<SweepResult> {
  const { experiment } = opts
  const now = opts.now ?? Date.now
  const saturating = experiment.rates === 'saturate'
  const rates = experiment.rates === 'saturate' ? saturationRates(experiment.saturate) : experiment.rates
  const payloadModes = opts.payloadModes ?? experiment.payloadModes
  const seriesCount = opts.validators.length * payloadModes.length
  const progress = new SweepProgress({
    label: `bench ${opts.source}`,
    totalRuns: seriesCount * rates.length * experiment.runs,
    totalIsUpperBound: saturating,
    sink: opts.progress,
    now,
  })
  const points: AggregatedPoint[] = []
  const runs: RunRecord[] = []
  const outcomes: SeriesOutcome[] = []
  let interrupted = false
  // A function, not a property read: TypeScript would narrow `aborted` across the awaits below.
  const aborted = (): boolean => opts.signal?.aborted === true
  sweep: for (const payloadMode of payloadModes) {
    for (const validators of opts.validators) {
      let outcome: SeriesOutcome = { source: opts.source, validators, payloadMode, reason: saturating ? 'maxTps' : 'rateListEnd' }
      for (const [step, offeredTps] of rates.entries()) {
        const results: PointResult[] = []
        for (let run = 1; run <= experiment.runs; run++) {
          if (aborted()) {
            interrupted = true
            break sweep
          }
          const spec = pointSpec(experiment, validators, payloadMode, offeredTps, run - 1)
          const context = `${opts.source} ${describeSpec(spec)} run ${run}/${experiment.runs}`
          progress.begin(`${describeSpec(spec)} (run ${run}/${experiment.runs})`)
          const startedAt = now()
          let raw: unknown
          try {
            raw = await opts.runPoint(spec)
          } catch (err) {
            if (!aborted()) throw new Error(`${context} failed: ${(err as Error).message}`, { cause: err })
          }
          // A run cut short (or failing because it was) measured less than asked: not a sample of this point.
          if (aborted()) {
            interrupted = true
            break sweep
          }
          const result = checkPointResult(raw, context)
          progress.end()
          runs.push({ source: opts.source, run, spec, wallS: (now() - startedAt) / 1_000, result })
          results.push(result)
        }
        const point = aggregateRuns(opts.source, pointSpec(experiment, validators, payloadMode, offeredTps, 0), results, opts.machineBoundTps?.(validators))
        points.push(point)
        const reason = saturationReason(point, experiment.saturate)
        if (reason !== undefined && outcome.saturatedAtTps === undefined) {
          outcome = { ...outcome, saturatedAtTps: offeredTps, reason }
          // Past the knee more load only measures queueing; a fixed rate list is still measured in full.
          if (saturating) {
            progress.skip((rates.length - step - 1) * experiment.runs)
            break
          }
        }
      }
      outcomes.push(outcome)
    }
  }
  progress.finish()
  return { points, runs, outcomes, interrupted }
}

/** Everything a bench writes to results.json (docs/design.md §12: config, env, points). */
export interface BenchResults {
  readonly config: Experiment
  readonly env: RunEnvironment
  readonly points: AggregatedPoint[]
  readonly outcomes: SeriesOutcome[]
  readonly runs: RunRecord[]
  readonly interrupted: boolean
}

export interface BenchOptions {
  readonly experiment: Experiment
  readonly env: RunEnvironment
  readonly runTestnetPoint: RunPoint
  /** Present: the same sweep also runs through the simulator (experiment counts + `sim.validators`), for the modes it models. */
  readonly sim?: { readonly runPoint: RunPoint; readonly payloadModes: readonly PointSpec['payloadMode'][] }
  readonly progress?: ProgressSink
  readonly now?: () => number
  readonly signal?: AbortSignal
}

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const { experiment, env } = opts
  const testnet = await runSweep({
    experiment,
    source: 'testnet',
    validators: experiment.validators,
    runPoint: opts.runTestnetPoint,
    machineBoundTps: (n) => verifyBoundTps(env.verifiesPerSec, env.cores, n),
    progress: opts.progress,
    now: opts.now,
    signal: opts.signal,
  })
  const sweeps = [testnet]
  if (opts.sim !== undefined && !testnet.interrupted) {
    // The experiment's own counts overlap the testnet (calibration); the larger ones extrapolate.
    const simValidators = [...new Set([...experiment.validators, ...experiment.sim.validators])].sort((a, b) => a - b)
    const payloadModes = experiment.payloadModes.filter((m) => opts.sim!.payloadModes.includes(m))
    if (payloadModes.length === 0) {
      throw new Error(`--sim: the simulator models payload modes ${opts.sim.payloadModes.join(', ')} only, the experiment asks for ${experiment.payloadModes.join(', ')}`)
    }
    sweeps.push(await runSweep({ experiment, source: 'sim', validators: simValidators, payloadModes, runPoint: opts.sim.runPoint, progress: opts.progress, now: opts.now, signal: opts.signal }))
  }
  return {
    config: experiment,
    env,
    points: sweeps.flatMap((s) => s.points),
    outcomes: sweeps.flatMap((s) => s.outcomes),
    runs: sweeps.flatMap((s) => s.runs),
    interrupted: sweeps.some((s) => s.interrupted),
  }
}
