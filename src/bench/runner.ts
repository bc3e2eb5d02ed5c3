import { verifyBoundTps, type RunEnvironment } from '../core/environment.ts'
import { checkResultPoint, tpsToBound, type ResultPoint } from '../sim/result-point.ts'
import { mean, stdev, type LatencySummary } from '../testnet/stats.ts'
import { aggregateRuns, type AggregatedPoint, type PointSource } from './aggregate.ts'
import { capacityOptions, ExperimentError, pointSpec, runsPerRate, type Experiment, type PointSpec } from './experiment.ts'
import { SweepProgress, type ProgressSink } from './progress.ts'
import { NoCapacityError, searchCapacity, shortfall, type CapacityCriteria, type RunRole, type Shortfall } from './search.ts'

/**
 * Runs an experiment's sweep: per (payload mode, validator count) series either a fixed list of
 * offered rates or a capacity search (src/bench/search.ts), every run kept with its role. The
 * series runner is injected — the testnet's real processes (one set per series), the
 * simulator, or a fake in tests — so this file only decides what to measure and in which order.
 */

/** Measures the points of one series; a testnet keeps its validators running between them. */
export interface SeriesRunner {
  /** The result is validated against docs/design.md §12 before use. */
  measure(spec: PointSpec): Promise<unknown>
  close(): Promise<void>
}

/** Opens a series; `spec` carries its conditions (its offered rate is the first to be measured). */
export type OpenSeries = (spec: PointSpec) => Promise<SeriesRunner>

/** A series runner with nothing to keep between points (the simulator, fakes). */
export function statelessSeries(measure: (spec: PointSpec) => Promise<unknown>): OpenSeries {
  return async () => ({ measure, close: async () => {} })
}

/** One run, kept verbatim in results.json with its part in the sweep. */
export interface RunRecord {
  readonly source: PointSource
  readonly role: RunRole
  /** 1-based among the runs of this role at this rate. */
  readonly run: number
  readonly spec: PointSpec
  readonly wallS: number
  readonly result: ResultPoint
  /** The capacity criterion this run missed first (capacity searches only). */
  readonly shortfall?: Shortfall
}

/** A series' capacity: the rate its search settled on, and the final runs there. */
export interface Capacity {
  readonly source: PointSource
  readonly validators: number
  readonly payloadMode: PointSpec['payloadMode']
  /** 'found': bracketed within the precision; 'atLeast': kept up at maxTps (drawn "≥"). */
  readonly status: 'found' | 'atLeast'
  /** Offered rate of the final runs: the highest that met the criteria. */
  readonly offeredTps: number
  /** Lowest offered rate that missed them. */
  readonly failingTps?: number
  /** Mean achieved (sustained e2e) rate over the final runs, and its sample stdev: the capacity. */
  readonly e2eTps: number
  readonly e2eTpsStdev: number
  /** Mean of the final runs' latency summaries. */
  readonly latencyMs: LatencySummary
  readonly boundTps?: number
  /** Capacity / verify bound. */
  readonly tpsToBound?: number
  /** Mean over the final runs of per-validator CPU µs per committed tx. */
  readonly validatorCpuUsPerTx?: number
  readonly timeouts: number
  readonly finalRuns: number
  /** Final runs that met the criteria themselves (all of them, unless the rate sits on the edge). */
  readonly finalsMeetingCriteria: number
  /** Runs of the whole search, finals included. */
  readonly searchRuns: number
  /** Wall time of the series: validators' start-up, every step, shutdown. */
  readonly wallS: number
}

/** A series in which no rate down to minTps met the criteria (NoCapacityError's message). */
export interface NoCapacity {
  readonly source: PointSource
  readonly validators: number
  readonly payloadMode: PointSpec['payloadMode']
  readonly message: string
}

export interface SweepResult {
  readonly points: AggregatedPoint[]
  readonly capacities: Capacity[]
  readonly noCapacity: NoCapacity[]
  readonly runs: RunRecord[]
  /** Stopped by the signal: the runs recorded are complete, the rest were never run. */
  readonly interrupted: boolean
}

export interface SweepOptions {
  readonly experiment: Experiment
  readonly source: PointSource
  /** Validator counts of this sweep (the simulator's go beyond the experiment's). */
  readonly validators: readonly number[]
  readonly openSeries: OpenSeries
  /** Default: the experiment's payload modes. */
  readonly payloadModes?: readonly PointSpec['payloadMode'][]
  /** This machine's verify bound for n validators: the search's first guess, and the points' bound when `boundPoints`. */
  readonly machineBoundTps?: (validators: number) => number
  /** Fill boundTps/tpsToBound of points that do not carry one (testnet points; the simulator's model is no machine). */
  readonly boundPoints?: boolean
  readonly progress?: ProgressSink
  readonly now?: () => number
  /** Ends the sweep after the run in progress; that run is discarded. */
  readonly signal?: AbortSignal
}

/**
 * Runs a search is expected to take before its finals: about one bracketing step beyond the
 * first (the start rate comes from the bound, or the previous count's capacity/bound) and four
 * bisections (from a factor 2 to within 5 %: 2^(1/16) ≈ 1.044). Only the ETA uses it.
 */
const EXPECTED_SEARCH_RUNS = 6

function describeSpec(spec: PointSpec): string {
  return `n=${spec.validators} ${spec.payloadMode} ${spec.offeredTps} tx/s`
}

/** Thrown inside a series when the signal fired: the run in progress is not a sample. */
class Interrupted extends Error {}

export function criteriaOf(e: Experiment): CapacityCriteria {
  const faulty = e.faults.crashed !== 0 || e.faults.restarts.length > 0
  return { achievedRatio: capacityOptions(e).achievedRatio, latencyCapMs: e.latencyCapMs, timeoutsFail: !faulty }
}

export async function runSweep(opts: SweepOptions): Promise<SweepResult> {
  const { experiment } = opts
  const now = opts.now ?? Date.now
  const searching = experiment.rates === 'capacity'
  const capacity = capacityOptions(experiment)
  const criteria = criteriaOf(experiment)
  const payloadModes = opts.payloadModes ?? experiment.payloadModes
  const perSeries = experiment.rates === 'capacity' ? EXPECTED_SEARCH_RUNS + capacity.finalRuns : experiment.rates.length * runsPerRate(experiment)
  const progress = new SweepProgress({
    label: `bench ${opts.source}`,
    totalRuns: opts.validators.length * payloadModes.length * perSeries,
    totalIsEstimate: searching,
    sink: opts.progress,
    now,
  })
  const points: AggregatedPoint[] = []
  const capacities: Capacity[] = []
  const noCapacity: NoCapacity[] = []
  const runs: RunRecord[] = []
  const aborted = (): boolean => opts.signal?.aborted === true
  /**
   * Capacity / bound measured so far, for the next series' first guess: at the same count in
   * another payload mode if measured (modes differ less than counts do), else the last count of
   * the same mode (capacity/bound falls with n, so that guess errs high by one halving at most).
   */
  const toBoundByCount = new Map<number, number>()
  const lastToBound = new Map<string, number>()
  let interrupted = false

  sweep: for (const payloadMode of payloadModes) {
    for (const validators of opts.validators) {
      if (aborted()) {
        interrupted = true
        break sweep
      }
      const bound = opts.machineBoundTps?.(validators)
      const startTps = capacity.startTps ?? (bound !== undefined ? (toBoundByCount.get(validators) ?? lastToBound.get(payloadMode) ?? capacity.startFraction) * bound : capacity.minTps)
      const firstRate = experiment.rates === 'capacity' ? startTps : experiment.rates[0]!
      const seriesRuns: RunRecord[] = []
      const seriesStart = now()
      const where = `${opts.source} n=${validators} ${payloadMode}`
      const measure = async (runner: SeriesRunner, offeredTps: number, role: RunRole, run: number): Promise<ResultPoint> => {
        if (aborted()) throw new Interrupted()
        const spec = pointSpec(experiment, validators, payloadMode, offeredTps, seriesRuns.length)
        progress.begin(`${describeSpec(spec)} (${role}${role === 'final' || role === 'fixed' ? ` ${run}` : ''})`)
        const startedAt = now()
        let raw: unknown
        try {
          raw = await runner.measure(spec)
        } catch (err) {
          if (aborted()) throw new Interrupted()
          throw new Error(`${opts.source} ${describeSpec(spec)} ${role} run ${run} failed: ${(err as Error).message}`, { cause: err })
        }
        // A run cut short (or failing because it was) measured less than asked: not a sample of this point.
        if (aborted()) throw new Interrupted()
        const result = checkResultPoint(raw, `${opts.source} ${describeSpec(spec)} ${role} run ${run}`)
        progress.end()
        const missed = searching ? shortfall(result, criteria) : undefined
        const record: RunRecord = { source: opts.source, role, run, spec, wallS: (now() - startedAt) / 1_000, result, ...(missed !== undefined ? { shortfall: missed } : {}) }
        seriesRuns.push(record)
        return result
      }
      const runner = await opts.openSeries(pointSpec(experiment, validators, payloadMode, Math.round(firstRate), 0))
      try {
        if (experiment.rates === 'capacity') {
          const outcome = await searchCapacity((rate, role, run) => measure(runner, rate, role, run), startTps, capacity, criteria, where)
          const finals = outcome.steps.filter((s) => s.role === 'final').map((s) => s.result)
          const found = capacityOf(opts.source, validators, payloadMode, outcome, finals, bound, opts.boundPoints === true, (now() - seriesStart) / 1_000)
          capacities.push(found)
          progress.note(
            found.status === 'atLeast'
              ? `${where}: kept up at --max-tps ${capacity.maxTps} tx/s, so its capacity is at least that; raise --max-tps to find it`
              : `${where}: capacity ${Math.round(found.e2eTps)} ± ${Math.round(found.e2eTpsStdev)} tx/s (offered ${found.offeredTps}, misses at ${found.failingTps}; ${found.finalsMeetingCriteria} of ${found.finalRuns} finals met the criteria)`,
          )
          if (found.boundTps !== undefined && found.tpsToBound !== undefined && found.status === 'found') {
            lastToBound.set(payloadMode, found.tpsToBound)
            toBoundByCount.set(validators, found.tpsToBound)
          }
        } else {
          for (const offeredTps of experiment.rates) {
            for (let run = 1; run <= runsPerRate(experiment); run++) await measure(runner, offeredTps, 'fixed', run)
          }
        }
      } catch (err) {
        if (err instanceof NoCapacityError) {
          // One series without a capacity does not void the others: the sweep goes on, and the
          // command refuses the whole result at the end (src/cli/commands/bench.ts).
          noCapacity.push({ source: opts.source, validators, payloadMode, message: err.message })
          progress.note(err.message)
        } else if (err instanceof Interrupted) interrupted = true
        else throw err
      } finally {
        await runner.close()
        runs.push(...seriesRuns)
        points.push(...aggregateSeries(opts.source, experiment, seriesRuns, criteria.achievedRatio, opts.boundPoints === true ? bound : undefined))
        progress.adjust(seriesRuns.length - perSeries)
      }
      if (interrupted) break sweep
    }
  }
  progress.finish()
  return { points, capacities, noCapacity, runs, interrupted }
}

/** Every rate a series measured, its runs (whatever their role) folded into mean ± stdev. */
function aggregateSeries(source: PointSource, experiment: Experiment, runs: readonly RunRecord[], achievedRatio: number, bound: number | undefined): AggregatedPoint[] {
  const byRate = new Map<number, RunRecord[]>()
  for (const r of runs) byRate.set(r.spec.offeredTps, [...(byRate.get(r.spec.offeredTps) ?? []), r])
  return [...byRate.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, list]) => aggregateRuns(source, list[0]!.spec, list.map((r) => r.result), achievedRatio, bound))
}

function capacityOf(
  source: PointSource,
  validators: number,
  payloadMode: PointSpec['payloadMode'],
  outcome: Awaited<ReturnType<typeof searchCapacity>>,
  finals: readonly ResultPoint[],
  bound: number | undefined,
  boundPoints: boolean,
  wallS: number,
): Capacity {
  const e2e = finals.map((r) => r.e2eTps)
  const capacity = mean(e2e)
  const cpu = finals.map((r) => r.validatorCpuUsPerTx)
  const latency = (key: keyof LatencySummary): number => mean(finals.map((r) => r.latencyMs[key]))
  const pointBound = finals.every((r) => r.boundTps !== undefined) ? mean(finals.map((r) => r.boundTps!)) : boundPoints ? bound : undefined
  return {
    source,
    validators,
    payloadMode,
    status: outcome.status,
    offeredTps: outcome.offeredTps,
    ...(outcome.failingTps !== undefined ? { failingTps: outcome.failingTps } : {}),
    e2eTps: capacity,
    e2eTpsStdev: stdev(e2e),
    latencyMs: { p50: latency('p50'), p95: latency('p95'), p99: latency('p99'), mean: latency('mean') },
    ...(pointBound !== undefined ? { boundTps: pointBound, tpsToBound: tpsToBound(capacity, pointBound) } : {}),
    ...(cpu.every((v) => v !== undefined) ? { validatorCpuUsPerTx: mean(cpu as number[]) } : {}),
    timeouts: mean(finals.map((r) => r.timeouts)),
    finalRuns: finals.length,
    finalsMeetingCriteria: outcome.steps.filter((s) => s.role === 'final' && s.shortfall === undefined).length,
    searchRuns: outcome.steps.length,
    wallS,
  }
}

/** Everything a bench writes to results.json (docs/design.md §12: config, env, points). */
export interface BenchResults {
  readonly config: Experiment
  readonly env: RunEnvironment
  /** One per series of a capacity search (empty for a fixed rate list). */
  readonly capacities: Capacity[]
  /** Series whose search found no rate meeting the criteria: the command refuses such a result. */
  readonly noCapacity: NoCapacity[]
  readonly points: AggregatedPoint[]
  readonly runs: RunRecord[]
  readonly interrupted: boolean
}

export interface BenchOptions {
  readonly experiment: Experiment
  readonly env: RunEnvironment
  readonly openTestnetSeries: OpenSeries
  /** Present: the same sweep also runs through the simulator (experiment counts + `sim.validators`), for the modes it models. */
  readonly sim?: { readonly openSeries: OpenSeries; readonly payloadModes: readonly PointSpec['payloadMode'][] }
  readonly progress?: ProgressSink
  readonly now?: () => number
  readonly signal?: AbortSignal
}

/** The simulator's payload modes among the experiment's; none is an error naming both lists. */
export function simPayloadModes(experiment: Experiment, modelled: readonly PointSpec['payloadMode'][]): PointSpec['payloadMode'][] {
  const modes = experiment.payloadModes.filter((m) => modelled.includes(m))
  if (modes.length === 0) throw new ExperimentError('flags', `--sim: the simulator models payload modes ${modelled.join(', ')} only, the experiment asks for ${experiment.payloadModes.join(', ')}`)
  return modes
}

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const { experiment, env } = opts
  const machineBoundTps = (n: number): number => verifyBoundTps(env.verifiesPerSec, env.cores, n)
  const simModes = opts.sim !== undefined ? simPayloadModes(experiment, opts.sim.payloadModes) : []
  const testnet = await runSweep({
    experiment,
    source: 'testnet',
    validators: experiment.validators,
    openSeries: opts.openTestnetSeries,
    machineBoundTps,
    boundPoints: true,
    progress: opts.progress,
    now: opts.now,
    signal: opts.signal,
  })
  const sweeps = [testnet]
  if (opts.sim !== undefined && !testnet.interrupted) {
    // The experiment's own counts overlap the testnet (calibration); the larger ones extrapolate.
    const simValidators = [...new Set([...experiment.validators, ...experiment.sim.validators])].sort((a, b) => a - b)
    sweeps.push(
      await runSweep({
        experiment,
        source: 'sim',
        validators: simValidators,
        payloadModes: simModes,
        openSeries: opts.sim.openSeries,
        // The model's verify cost is this machine's, so its bound is the natural first guess too.
        machineBoundTps,
        progress: opts.progress,
        now: opts.now,
        signal: opts.signal,
      }),
    )
  }
  return {
    config: experiment,
    env,
    capacities: sweeps.flatMap((s) => s.capacities),
    noCapacity: sweeps.flatMap((s) => s.noCapacity),
    points: sweeps.flatMap((s) => s.points),
    runs: sweeps.flatMap((s) => s.runs),
    interrupted: sweeps.some((s) => s.interrupted),
  }
}
