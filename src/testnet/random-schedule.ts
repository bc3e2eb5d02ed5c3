import { Prng } from '../core/prng.ts'
import { parseSchedule, type PerturbationStep } from './perturbation-schedule.ts'

/**
 * A seeded random perturbation schedule for soak runs: one fault at a time, each followed by a
 * quiet gap, so every step's effect (a halt, a catch-up) can be attributed to it and the chain
 * is given the chance to recover before the next one. The same seed gives the same schedule.
 */

export interface RandomScheduleOptions {
  readonly seed: number
  readonly validators: number
  /** Seconds of load the schedule spans; no fault starts in the last `quietTailS` of it. */
  readonly durationS: number
  /** Seconds before the first fault (the network settles) and without faults at the end. */
  readonly quietTailS?: number
}

/** Fault lengths: long enough for timeouts and view changes to happen, short enough for many faults per run. */
const MIN_FAULT_S = 2
const MAX_FAULT_S = 8
/**
 * Quiet time after a fault. A killed validator takes ~5-15 s to start on a loaded 2-core
 * machine; the gap lets it rejoin before the next fault, most of the time.
 */
const MIN_GAP_S = 4
const MAX_GAP_S = 10
const DEFAULT_QUIET_S = 10

const ACTIONS = ['kill', 'pause', 'restart', 'disconnect', 'delay', 'loss', 'partition'] as const

export function randomSchedule(opts: RandomScheduleOptions): PerturbationStep[] {
  const prng = new Prng(opts.seed)
  const between = (lo: number, hi: number): number => Math.round(prng.uniform(lo, hi) * 10) / 10
  const n = opts.validators
  const node = (): number => prng.int(0, n - 1)
  const quiet = opts.quietTailS ?? DEFAULT_QUIET_S
  const steps: Record<string, unknown>[] = []
  for (let at = quiet; at < opts.durationS - quiet; ) {
    const duration = between(MIN_FAULT_S, MAX_FAULT_S)
    const action = prng.pick(ACTIONS)
    switch (action) {
      case 'kill':
      case 'restart':
      case 'pause':
      case 'disconnect':
        steps.push({ action, at, nodes: [node()], duration })
        break
      case 'delay':
        steps.push({ action, at, nodes: prng.chance(0.5) ? '*' : [node()], duration, delayMs: Math.round(between(20, 300)), jitterMs: Math.round(between(0, 50)) })
        break
      case 'loss':
        steps.push({ action, at, nodes: prng.chance(0.5) ? '*' : [node()], duration, lossRate: Math.round(between(0.05, 0.3) * 100) / 100 })
        break
      case 'partition': {
        // A random split into two non-empty sides: a Fisher-Yates shuffle, cut at a random point.
        const order = Array.from({ length: n }, (_, i) => i)
        for (let i = n - 1; i > 0; i--) {
          const k = prng.int(0, i)
          ;[order[i], order[k]] = [order[k]!, order[i]!]
        }
        const cut = prng.int(1, n - 1)
        steps.push({ action, at, groups: [order.slice(0, cut).sort((a, b) => a - b), order.slice(cut).sort((a, b) => a - b)], duration })
        break
      }
    }
    at = Math.round((at + duration + between(MIN_GAP_S, MAX_GAP_S)) * 10) / 10
  }
  return parseSchedule({ perturbations: steps }, n, `random schedule (seed ${opts.seed})`)
}
