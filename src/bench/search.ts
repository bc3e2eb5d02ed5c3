import type { ResultPoint } from '../sim/result-point.ts'
import type { CapacityOptions } from './experiment.ts'

/**
 * The capacity search of one series (validator count × payload mode × conditions): the highest
 * offered rate the chain keeps up with, found by doubling or halving to bracket it, bisection
 * to the asked precision, then repeated runs at the rate found.
 */

/** Why a run is kept in results.json: its part in the search, or a rate of a fixed list. */
export type RunRole = 'fixed' | 'bracket' | 'bisect' | 'final'

/** Which capacity criterion a run misses first. */
export type Shortfall = 'throughput' | 'latency' | 'timeouts'

export interface CapacityCriteria {
  /** Sustained e2e rate (ResultPoint.e2eTps) must reach this fraction of the offered rate. */
  readonly achievedRatio: number
  /** p50 end-to-end latency must stay at or under this. */
  readonly latencyCapMs: number
  /**
   * Whether round timeouts in the window fail a run. A timeout is "caused by load" when the
   * step began on a drained, live chain (TestnetSession.settle) with no fault configured: then
   * nothing but the offered load (and what it costs the shared cores) made a leader miss its
   * round. With crashed validators or restarts, their rounds time out whatever the load, so
   * the criterion is off and timeouts are only reported.
   */
  readonly timeoutsFail: boolean
}

/** The run's sustained rate reached `achievedRatio` of what was offered: the chain kept up. */
export function keptUp(p: Pick<ResultPoint, 'e2eTps' | 'offeredTps'>, achievedRatio: number): boolean {
  return p.e2eTps >= achievedRatio * p.offeredTps
}

export function shortfall(p: ResultPoint, c: CapacityCriteria): Shortfall | undefined {
  if (!keptUp(p, c.achievedRatio)) return 'throughput'
  if (!(p.latencyMs.p50 <= c.latencyCapMs)) return 'latency'
  if (c.timeoutsFail && p.timeouts > 0) return 'timeouts'
  return undefined
}

/** Measures one run at `offeredTps`; `run` is 1-based among the runs of that role at that rate. */
export type MeasureRate = (offeredTps: number, role: RunRole, run: number) => Promise<ResultPoint>

export interface SearchStep {
  readonly role: RunRole
  readonly offeredTps: number
  readonly result: ResultPoint
  readonly shortfall?: Shortfall
}

export interface SearchOutcome {
  /** 'found': bracketed within the precision; 'atLeast': kept up at maxTps, capacity is at least that. */
  readonly status: 'found' | 'atLeast'
  /** The rate the final runs measured: the highest that met the criteria. */
  readonly offeredTps: number
  /** The lowest rate that missed them (absent for 'atLeast'). */
  readonly failingTps?: number
  readonly steps: readonly SearchStep[]
}

/** Even the lowest rate allowed missed the criteria: nothing to report as a capacity. */
export class NoCapacityError extends Error {
  /** The run at minTps that missed. */
  readonly step: SearchStep

  constructor(where: string, minTps: number, step: SearchStep, criteria: CapacityCriteria) {
    const p = step.result
    const why =
      step.shortfall === 'throughput'
        ? `achieved ${Math.round(p.e2eTps)} tx/s < ${criteria.achievedRatio} × offered`
        : step.shortfall === 'latency'
          ? `p50 ${Math.round(p.latencyMs.p50)} ms > --latency-cap ${criteria.latencyCapMs} ms`
          : `${p.timeouts} round timeouts in the window`
    super(
      `${where}: no rate meets the capacity criteria: even --min-tps ${minTps} tx/s misses them (${why}). ` +
        `Lower --min-tps, raise --latency-cap, or measure fewer validators on this machine.`,
    )
    this.name = 'NoCapacityError'
    this.step = step
  }
}

const round = (v: number): number => Math.max(1, Math.round(v))

/**
 * Brackets the capacity by doubling from `startTps` (or halving, when the start already misses),
 * bisects geometrically until failing/passing ≤ 1 + precision, then runs `finalRuns` times at the
 * passing rate. Rates are whole tx/s within [minTps, maxTps].
 */
export async function searchCapacity(measure: MeasureRate, startTps: number, opts: CapacityOptions, criteria: CapacityCriteria, where: string): Promise<SearchOutcome> {
  const steps: SearchStep[] = []
  const runsAt = new Map<string, number>()
  const probe = async (offeredTps: number, role: RunRole): Promise<SearchStep> => {
    const key = `${role}/${offeredTps}`
    const run = (runsAt.get(key) ?? 0) + 1
    runsAt.set(key, run)
    const result = await measure(offeredTps, role, run)
    const missed = shortfall(result, criteria)
    const step: SearchStep = { role, offeredTps, result, ...(missed !== undefined ? { shortfall: missed } : {}) }
    steps.push(step)
    return step
  }
  const minTps = round(opts.minTps)
  const maxTps = Math.max(minTps, Math.floor(opts.maxTps))
  let passing: number | undefined
  let failing: number | undefined
  let rate = Math.min(maxTps, Math.max(minTps, round(startTps)))
  for (;;) {
    const step = await probe(rate, 'bracket')
    if (step.shortfall === undefined) {
      passing = rate
      if (failing !== undefined) break
      if (rate >= maxTps) break
      rate = Math.min(maxTps, rate * 2)
    } else {
      failing = rate
      if (passing !== undefined) break
      if (rate <= minTps) throw new NoCapacityError(where, minTps, step, criteria)
      rate = Math.max(minTps, round(rate / 2))
    }
  }
  // Every way out of the loop above leaves a passing rate (the halving branch throws instead).
  let lo = passing!
  if (failing === undefined) {
    await finals(probe, lo, opts.finalRuns)
    return { status: 'atLeast', offeredTps: lo, steps }
  }
  while (failing / lo > 1 + opts.precision) {
    const mid = round(Math.sqrt(lo * failing))
    // Whole tx/s: below ~20 tx/s the two ends can be adjacent integers with no rate between.
    if (mid <= lo || mid >= failing) break
    const step = await probe(mid, 'bisect')
    if (step.shortfall === undefined) lo = mid
    else failing = mid
  }
  await finals(probe, lo, opts.finalRuns)
  return { status: 'found', offeredTps: lo, failingTps: failing, steps }
}

async function finals(probe: (rate: number, role: RunRole) => Promise<SearchStep>, rate: number, runs: number): Promise<void> {
  for (let i = 0; i < runs; i++) await probe(rate, 'final')
}
