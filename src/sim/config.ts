import { isByzantineStrategy, type ByzantineStrategy } from './byzantine.ts'
import { DEFAULT_CPU, type CpuConfig } from './cpu.ts'
import { LATENCY_PRESETS } from './latency.ts'
import { DEFAULT_LOAD, type LoadConfig } from './load.ts'
import type { NetworkConfig } from './network.ts'

/** A validator process stops at `atMs` (all volatile state lost) and, optionally, restarts at `recoverAtMs`. */
export interface CrashSpec {
  readonly validator: number
  readonly atMs: number
  readonly recoverAtMs?: number
}

export interface ByzantineSpec {
  readonly validator: number
  readonly strategy: ByzantineStrategy
}

export interface SimConfig {
  readonly validators: number
  readonly seed: number
  /** Virtual time limit. */
  readonly durationMs: number
  /** Stop earlier once an honest validator enters this round. */
  readonly rounds?: number
  readonly baseTimeoutMs: number
  readonly maxTimeoutMs: number
  readonly network: NetworkConfig
  readonly cpu: CpuConfig
  readonly load: LoadConfig
  readonly byzantine: readonly ByzantineSpec[]
  readonly crashes: readonly CrashSpec[]
  /** Passed to every core (honest and Byzantine): only for the checker's negative control. */
  readonly testFaults?: { readonly brokenVoteRule?: boolean }
  /**
   * Check liveness: every honest running validator must commit within `boundMs` once the network
   * is stable. Only meaningful (and only applied) with at most f faulty validators.
   */
  readonly liveness?: { readonly boundMs: number }
}

/**
 * Round timer: 1 s base doubling up to 8 s keeps WAN rounds (≤ 4 × 200 ms of message delays
 * per round) clear of spurious timeouts while a crashed leader costs at most a few seconds.
 */
export const DEFAULT_TIMEOUTS = { baseTimeoutMs: 1_000, maxTimeoutMs: 8_000 } as const

/** Pre-GST extra delay bound: far above any timeout, so before GST rounds can fail arbitrarily. */
export const DEFAULT_PRE_GST_MAX_EXTRA_MS = 10_000

export function defaultSimConfig(validators: number, seed: number): SimConfig {
  return {
    validators,
    seed,
    durationMs: 60_000,
    ...DEFAULT_TIMEOUTS,
    network: {
      latency: LATENCY_PRESETS.lan,
      dropProbability: 0,
      partitions: [],
      gstMs: 0,
      preGstMaxExtraMs: DEFAULT_PRE_GST_MAX_EXTRA_MS,
      fifo: true,
    },
    cpu: DEFAULT_CPU,
    load: DEFAULT_LOAD,
    byzantine: [],
    crashes: [],
  }
}

/** Throws a RangeError naming the offending field. */
export function validateSimConfig(c: SimConfig): void {
  if (!Number.isInteger(c.validators) || c.validators < 1) throw new RangeError(`validators must be a positive integer, got ${c.validators}`)
  if (!(c.durationMs > 0)) throw new RangeError(`durationMs must be > 0, got ${c.durationMs}`)
  if (c.rounds !== undefined && !(Number.isInteger(c.rounds) && c.rounds > 0)) throw new RangeError(`rounds must be a positive integer, got ${c.rounds}`)
  const seen = new Set<number>()
  for (const b of c.byzantine) {
    if (!Number.isInteger(b.validator) || b.validator < 0 || b.validator >= c.validators) {
      throw new RangeError(`byzantine validator ${b.validator} is not in 0..${c.validators - 1}`)
    }
    if (!isByzantineStrategy(b.strategy)) throw new RangeError(`byzantine validator ${b.validator}: unknown strategy "${b.strategy}"`)
    if (seen.has(b.validator)) throw new RangeError(`byzantine validator ${b.validator} listed twice`)
    seen.add(b.validator)
  }
  for (const cr of c.crashes) {
    if (!Number.isInteger(cr.validator) || cr.validator < 0 || cr.validator >= c.validators) {
      throw new RangeError(`crash of validator ${cr.validator}: not in 0..${c.validators - 1}`)
    }
    if (seen.has(cr.validator)) throw new RangeError(`crash of validator ${cr.validator}: already Byzantine or crashing (one fault per validator)`)
    if (!(cr.atMs >= 0) || (cr.recoverAtMs !== undefined && !(cr.recoverAtMs > cr.atMs))) {
      throw new RangeError(`crash of validator ${cr.validator}: need 0 ≤ atMs (${cr.atMs}) < recoverAtMs (${cr.recoverAtMs})`)
    }
    seen.add(cr.validator)
  }
}
