import { appendFile } from 'node:fs/promises'
import { defaultSimConfig, type SimConfig } from '../sim/config.ts'
import { parseLatency, type LatencyModel } from '../sim/latency.ts'
import { simulate } from '../sim/simulation.ts'
import type { RunEnvironment } from '../core/environment.ts'
import { DEFAULT_ACCOUNTS } from '../node/config.ts'
import { runTestnetPoint, type TestnetPointOptions } from '../testnet/point.ts'
import { describeTestnetEvent } from '../testnet/testnet.ts'
import type { Experiment, LinkProfile, PointSpec } from './experiment.ts'
import type { PointResult } from './point.ts'
import type { RunPoint } from './runner.ts'

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

/** A PointSpec as runTestnetPoint's options (the experiment's window is already the measured one). */
export function testnetPointOptions(spec: PointSpec, env: RunEnvironment): TestnetPointOptions {
  const { delayMs, jitterMs, lossRate } = spec.network
  return {
    validators: spec.validators,
    rate: spec.offeredTps,
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
 * Runs one point as a local testnet. Its per-second table and node diagnostics go to `logPath`
 * (kept in the output folder), so the sweep's progress line stays readable.
 */
export function testnetPointRunner(logPath: string, env: RunEnvironment, signal: AbortSignal): RunPoint {
  return async (spec) => {
    const unsupported = testnetUnsupported(spec)
    if (unsupported.length > 0) throw new UnsupportedPointError('testnet', unsupported)
    await appendFile(logPath, `\n=== n=${spec.validators} ${spec.payloadMode} ${spec.offeredTps} tx/s seed ${spec.seed}\n`)
    const lines: string[] = []
    try {
      return await runTestnetPoint({ ...testnetPointOptions(spec, env), signal, onProgress: (e) => lines.push(...describeTestnetEvent(e)) })
    } finally {
      await appendFile(logPath, lines.join('\n') + '\n')
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
    load: { ...base.load, offeredTps: spec.offeredTps, ...(spec.batchSize !== undefined ? { batchSize: spec.batchSize } : {}) },
    crashes: [
      ...Array.from({ length: spec.crashed }, (_, i) => ({ validator: n - spec.crashed + i, atMs: 0 })),
      ...spec.restarts.map((r) => ({ validator: r.validator, atMs: r.atS * 1_000, recoverAtMs: (r.atS + r.downS) * 1_000 })),
    ],
  }
}

/** The simulator models batch dissemination only (blocks carry digests; docs/design.md §5 Quorum Store). */
export const SIM_PAYLOAD_MODES = ['batches'] as const

export function simPointRunner(experiment: Experiment, env: RunEnvironment): RunPoint {
  return async (spec): Promise<PointResult> => {
    if (!(SIM_PAYLOAD_MODES as readonly string[]).includes(spec.payloadMode)) throw new UnsupportedPointError('simulator', [`payloadModes (${spec.payloadMode})`])
    const unsupported = [spec.executorWorkers !== undefined ? 'executorWorkers' : '', spec.tx.kind !== 'transfer' ? 'tx.kind' : ''].filter((f) => f !== '')
    if (unsupported.length > 0) throw new UnsupportedPointError('simulator', unsupported)
    const { stats, safetyViolations } = simulate(simConfigFor(spec, experiment, env))
    const virtualS = stats.virtualMs / 1_000
    return {
      validators: spec.validators,
      offeredTps: spec.offeredTps,
      // The simulated load is admitted in full: there is no API to refuse it.
      achievedSubmitTps: spec.offeredTps,
      consensusTps: stats.consensusTps,
      e2eTps: virtualS > 0 ? stats.committedTxs / virtualS : 0,
      latencyMs: stats.txLatencyMs,
      consensusLatencyMs: stats.consensusLatencyMs,
      committedTxs: stats.committedTxs,
      rejectedTxs: 0,
      failedTxs: 0,
      committedBlocks: stats.committedBlocks,
      rounds: stats.rounds,
      timeouts: stats.timeouts,
      msgsPerBlock: stats.msgsPerBlock,
      bytesPerBlock: stats.bytesPerBlock,
      safetyViolations: safetyViolations.length,
    }
  }
}
