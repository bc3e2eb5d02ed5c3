import { BYZANTINE_STRATEGIES, type ByzantineStrategy } from './byzantine.ts'
import { DEFAULT_CPU } from './cpu.ts'
import type { ByzantineSpec, CrashSpec, SimConfig } from './config.ts'
import { maxLatency, type LatencyModel } from './latency.ts'
import type { PartitionSpec } from './network.ts'
import { Prng } from '../core/prng.ts'

export interface ScenarioOptions {
  /** Only these strategies for Byzantine validators (default: all). */
  readonly strategies?: readonly ByzantineStrategy[]
  /** Make every faulty validator Byzantine (no crashes), and always use the whole budget f. */
  readonly byzantineOnly?: boolean
  readonly testFaults?: SimConfig['testFaults']
}

/**
 * Liveness bound after the network is stable. Round-robin puts up to f faulty leaders in a row,
 * each costing at most a maximal round timer plus message delays; a commit then needs three
 * consecutive good rounds (two certified blocks, and the proposal that spreads the second QC).
 * Twice that allows for the rounds spent resynchronising validators whose timers were backed
 * off, and for block sync after a crash.
 */
export function livenessBoundMs(f: number, maxTimeoutMs: number, maxDelayMs: number): number {
  return 2 * (f + 3) * (maxTimeoutMs + 4 * maxDelayMs)
}

function randomLatency(prng: Prng): LatencyModel {
  switch (prng.int(0, 2)) {
    case 0:
      return { kind: 'fixed', ms: prng.int(1, 40) }
    case 1: {
      const minMs = prng.int(1, 30)
      return { kind: 'uniform', minMs, maxMs: minMs + prng.int(0, 60) }
    }
    default:
      return { kind: 'normal', meanMs: prng.int(5, 40), stdMs: prng.int(0, 15) }
  }
}

/** Splits the validators into 2 or 3 non-empty groups. */
function randomGroups(prng: Prng, n: number): number[][] {
  const shuffled = prng.shuffled(Array.from({ length: n }, (_, i) => i))
  const groups = prng.int(2, Math.min(3, n))
  const out: number[][] = Array.from({ length: groups }, () => [])
  shuffled.forEach((v, i) => out[i < groups ? i : prng.int(0, groups - 1)]!.push(v))
  return out
}

/**
 * A random short adversarial scenario for property tests, fully determined by `seed`: n = 4 (or
 * 7), random latency model, losses and partitions before GST, and up to f faulty validators —
 * crashes, crash-recoveries and every Byzantine strategy. After GST the network is synchronous
 * and loss-free, so liveness must hold.
 */
export function randomScenario(seed: number, opts: ScenarioOptions = {}): SimConfig {
  const prng = new Prng(seed)
  const n = prng.chance(0.25) ? 7 : 4
  const f = Math.floor((n - 1) / 3)
  const baseTimeoutMs = prng.int(100, 400)
  const maxTimeoutMs = baseTimeoutMs * 8
  const latency = randomLatency(prng)
  const gstMs = prng.int(0, 3_000)
  const partitions: PartitionSpec[] = []
  for (let i = prng.int(0, 2); i > 0; i--) {
    const startMs = prng.int(0, gstMs + 1_000)
    partitions.push({ startMs, healMs: startMs + prng.int(100, 2_000), groups: randomGroups(prng, n) })
  }
  const faulty = opts.byzantineOnly === true ? f : prng.int(0, f)
  const victims = prng.shuffled(Array.from({ length: n }, (_, i) => i)).slice(0, faulty)
  const byzantine: ByzantineSpec[] = []
  const crashes: CrashSpec[] = []
  const strategies = opts.strategies ?? BYZANTINE_STRATEGIES
  for (const validator of victims) {
    if (opts.byzantineOnly === true || prng.chance(0.6)) {
      byzantine.push({ validator, strategy: prng.pick(strategies) })
    } else {
      const atMs = prng.int(0, gstMs + 1_000)
      crashes.push({ validator, atMs, ...(prng.chance(0.7) ? { recoverAtMs: atMs + prng.int(50, 2_000) } : {}) })
    }
  }
  return {
    validators: n,
    seed,
    // Safety is explored until the network is stable; the liveness verdict extends the run.
    durationMs: gstMs + 1,
    baseTimeoutMs,
    maxTimeoutMs,
    network: {
      latency,
      dropProbability: prng.chance(0.5) ? prng.uniform(0, 0.3) : 0,
      dropUntilMs: gstMs,
      partitions,
      gstMs,
      preGstMaxExtraMs: prng.int(0, 1_000),
      fifo: prng.chance(0.5),
    },
    cpu: DEFAULT_CPU,
    load: { offeredTps: 1_000, maxBlockTxs: 1_000, batchSize: 100 },
    byzantine,
    crashes,
    ...(opts.testFaults !== undefined ? { testFaults: opts.testFaults } : {}),
    liveness: { boundMs: livenessBoundMs(f, maxTimeoutMs, maxLatency(latency)) },
  }
}
