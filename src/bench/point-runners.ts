import { appendFile } from 'node:fs/promises'
import { defaultSimConfig, type SimConfig } from '../sim/config.ts'
import { parseLatency, type LatencyModel } from '../sim/latency.ts'
import { simulate } from '../sim/simulation.ts'
import type { RunEnvironment } from '../core/environment.ts'
import { DEFAULT_ACCOUNTS } from '../node/config.ts'
import { simPoint } from '../sim/sim-point.ts'
import { TestnetSeries, type TestnetSeriesOptions } from '../testnet/point.ts'
import { describeTestnetEvent, type TestnetEvent } from '../testnet/testnet.ts'
import type { Experiment, LinkProfile, PointSpec } from './experiment.ts'
import { statelessSeries, type OpenSeries } from './runner.ts'

/**
 * The two real point runners behind `bftlab bench`: local validator processes (src/testnet)
 * and the deterministic simulator (src/sim). Each maps a PointSpec onto its module's own
 * configuration and refuses, by field name, the knobs that module cannot honour yet — a sweep
 * that silently ignored `faults.crashed` would report a fault-free number as a faulty one.
 */

export class UnsupportedPointError extends Error {
  constructor(runner: string, fields: readonly string[]) {
    super(`the ${runner} runner cannot apply ${fields.join(', ')} yet; remove them from the experiment rather than measure something other than what it asks for`)
    this.name = 'UnsupportedPointError'
  }
}

/**
 * Experiment fields a local testnet cannot apply: per-link overrides need per-peer faults in the
 * node config, which has one static profile for all outbound links.
 */
function testnetUnsupported(spec: PointSpec): string[] {
  return spec.network.links.length > 0 ? ['network.links'] : []
}

/** A PointSpec as a testnet series' options (the experiment's window is already the measured one). */
export function testnetSeriesOptions(spec: PointSpec, env: RunEnvironment): TestnetSeriesOptions {
  const { delayMs, jitterMs, lossRate } = spec.network
  return {
    validators: spec.validators,
    durationS: spec.durationS,
    warmupS: spec.warmupS,
    accounts: DEFAULT_ACCOUNTS,
    payloadMode: spec.payloadMode,
    ...(spec.batchSize !== undefined ? { batchSize: spec.batchSize } : {}),
    ...(spec.maxBatchDelayMs !== undefined ? { maxBatchDelayMs: spec.maxBatchDelayMs } : {}),
    ...(spec.executorWorkers !== undefined ? { executorWorkers: spec.executorWorkers } : {}),
    tx: spec.tx,
    network: { delayMs, jitterMs, lossRate },
    seed: spec.seed,
    crashed: spec.crashed,
    restarts: spec.restarts,
    env,
  }
}

/**
 * How long a step waits after submission for its window's txs to commit: three latency caps (at
 * least 2 s). A rate the chain keeps up with at p50 ≤ cap commits its txs well inside that; one
 * past capacity fails on throughput whatever its tail, and waiting the load generator's default
 * 10 s for that tail would cost every failing step of a search 10 s for nothing. The backlog
 * still clears before the next step (TestnetSession.settle).
 */
export function benchDrainS(experiment: Experiment): number {
  return Math.max(2, (3 * experiment.latencyCapMs) / 1_000)
}

/**
 * Each series on one local testnet (TestnetSeries): its validators start once and every point
 * is a load step on the drained chain. Per-second tables and node diagnostics go to `logPath`
 * (kept in the output folder), so the sweep's progress line stays readable.
 */
export function testnetSeriesRunner(experiment: Experiment, logPath: string, env: RunEnvironment, signal: AbortSignal): OpenSeries {
  const drainS = benchDrainS(experiment)
  const log = async (header: string, lines: readonly string[]): Promise<void> => {
    await appendFile(logPath, `\n=== ${header}\n${lines.join('\n')}\n`)
  }
  return async (first) => {
    const unsupported = testnetUnsupported(first)
    if (unsupported.length > 0) throw new UnsupportedPointError('testnet', unsupported)
    const startLines: string[] = []
    const collect = (lines: string[]) => (e: TestnetEvent) => lines.push(...describeTestnetEvent(e))
    let series: TestnetSeries
    try {
      series = await TestnetSeries.open({ ...testnetSeriesOptions(first, env), drainS, signal }, collect(startLines))
    } finally {
      await log(`n=${first.validators} ${first.payloadMode}: start (seed ${first.seed})`, startLines)
    }
    return {
      measure: async (spec) => {
        const lines: string[] = []
        try {
          return await series.point(spec.offeredTps, collect(lines))
        } finally {
          await log(`n=${spec.validators} ${spec.payloadMode} ${spec.offeredTps} tx/s`, lines)
        }
      },
      close: () => series.close(),
    }
  }
}

/** The simulator's view of an emulated link: delay + uniform(0, jitter), as the node's fault table draws it. */
export function linkLatency(l: LinkProfile): LatencyModel {
  return l.jitterMs === 0 ? { kind: 'fixed', ms: l.delayMs } : { kind: 'uniform', minMs: l.delayMs, maxMs: l.delayMs + l.jitterMs }
}

/**
 * Simulator configuration of one point. Counts the testnet also runs use the experiment's own
 * network profile (so the overlay compares like with like); the larger ones use `sim.latency`.
 * Verification cost is calibrated to this machine's measured verify rate.
 */
export function simConfigFor(spec: PointSpec, experiment: Experiment, env: RunEnvironment): SimConfig {
  const base = defaultSimConfig(spec.validators, spec.seed)
  const sameAsTestnet = experiment.validators.includes(spec.validators)
  const n = spec.validators
  return {
    ...base,
    durationMs: (spec.warmupS + spec.durationS) * 1_000,
    network: {
      ...base.network,
      latency: sameAsTestnet ? linkLatency(spec.network) : parseLatency(experiment.sim.latency),
      linkLatency: sameAsTestnet ? spec.network.links.map((l) => ({ from: l.from, to: l.to, latency: linkLatency(l) })) : [],
      dropProbability: spec.network.lossRate,
    },
    cpu: { ...base.cpu, verifyUs: 1e6 / env.verifiesPerSec },
    load: { ...base.load, offeredTps: spec.offeredTps, warmupMs: spec.warmupS * 1_000, ...(spec.batchSize !== undefined ? { batchSize: spec.batchSize } : {}) },
    crashes: [
      ...Array.from({ length: spec.crashed }, (_, i) => ({ validator: n - spec.crashed + i, atMs: 0 })),
      ...spec.restarts.map((r) => ({ validator: r.validator, atMs: r.atS * 1_000, recoverAtMs: (r.atS + r.downS) * 1_000 })),
    ],
  }
}

/** The simulator models batch dissemination only (blocks carry digests; docs/design.md §5 Quorum Store). */
export const SIM_PAYLOAD_MODES = ['batches'] as const

/** The simulator keeps nothing between points: each is one deterministic run of the model. */
export function simSeriesRunner(experiment: Experiment, env: RunEnvironment): OpenSeries {
  return statelessSeries(async (spec) => {
    if (!(SIM_PAYLOAD_MODES as readonly string[]).includes(spec.payloadMode)) throw new UnsupportedPointError('simulator', [`payloadModes (${spec.payloadMode})`])
    const unsupported = [spec.executorWorkers !== undefined ? 'executorWorkers' : '', spec.tx.kind !== 'transfer' ? 'tx.kind' : ''].filter((f) => f !== '')
    if (unsupported.length > 0) throw new UnsupportedPointError('simulator', unsupported)
    const config = simConfigFor(spec, experiment, env)
    return simPoint(config, simulate(config))
  })
}
