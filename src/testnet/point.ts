import type { TxKind } from '../core/tx.ts'
import type { LinkFaults } from '../network/faults.ts'
import type { ChainParams, LogLevel, NodeConfigFile, PayloadMode } from '../node/config.ts'
import type { RunEnvironment } from '../core/environment.ts'
import type { ResultPoint } from './report.ts'
import type { PerturbationStep } from './perturbation-schedule.ts'
import { survivedSteps } from './perturbations.ts'
import { runTestnetLoad, type TestnetEvent } from './testnet.ts'

/**
 * One benchmark point measured on a real local testnet: every knob of an experiment mapped onto
 * genesis params, node configs and the load generator, with no live table (a sweep runs many
 * of these; its progress line must stay readable).
 */

/** Emulated conditions on every validator's outbound links (the node config's `faults`). */
export type LinkProfile = Pick<LinkFaults, 'delayMs' | 'jitterMs' | 'lossRate'>

/** A validator killed (SIGKILL) during the run and restarted from its data dir. */
export interface RestartFault {
  readonly validator: number
  /** Seconds after load starts (warm-up included). */
  readonly atS: number
  /** Seconds it stays down. */
  readonly downS: number
}

export interface TestnetPointOptions {
  readonly validators: number
  /** Offered tx/s. */
  readonly rate: number
  /** Measured seconds, after the warm-up. */
  readonly durationS: number
  readonly warmupS: number
  /** Funded genesis accounts the load cycles through. */
  readonly accounts: number
  /** Absent: the chain defaults (src/node/config.ts). */
  readonly payloadMode?: PayloadMode
  readonly batchSize?: number
  readonly maxBatchDelayMs?: number
  /** Absent: the node defaults. */
  readonly executorWorkers?: number
  readonly verifyWorkers?: number
  /** Default: plain transfers. */
  readonly tx?: { readonly kind: TxKind; readonly computeUnits?: number }
  /** Static for the whole run, applied by every node from its start. */
  readonly network?: LinkProfile
  /** Seed of the validators' emulated-fault draws, so a lossy point can be replayed. */
  readonly seed?: number
  /** The last `crashed` validators are never started. */
  readonly crashed?: number
  readonly restarts?: readonly RestartFault[]
  /** This machine (verify rate for the bound), measured once per sweep; measured per point when absent. */
  readonly env?: RunEnvironment
  /** Validator log level; default `warn` so n node logs stay small over a long sweep. */
  readonly logLevel?: LogLevel
  readonly signal?: AbortSignal
  readonly onProgress?: (e: TestnetEvent) => void
}

/** docs/design.md §12 point, plus the faults it ran under. */
export interface TestnetPoint extends ResultPoint {
  /** Validators down for the whole run. */
  readonly crashed: number
  /** Kill-and-restart steps that took effect and were undone without error. */
  readonly restartsApplied: number
}

/** A restart schedule that was not applied as asked: the point measured something else. */
export class RestartScheduleError extends Error {
  constructor(message: string) {
    super(`runTestnetPoint: restarts: ${message}`)
    this.name = 'RestartScheduleError'
  }
}

const isQuiet = (l: LinkProfile): boolean => l.delayMs === 0 && l.jitterMs === 0 && l.lossRate === 0

export function chainParamsOf(opts: TestnetPointOptions): Partial<ChainParams> {
  return {
    ...(opts.payloadMode !== undefined ? { payloadMode: opts.payloadMode } : {}),
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    ...(opts.maxBatchDelayMs !== undefined ? { maxBatchDelayMs: opts.maxBatchDelayMs } : {}),
  }
}

/** Overrides of every node config; a quiet network adds no `faults` entry, so nodes skip the fault path entirely. */
export function nodeOverridesOf(opts: TestnetPointOptions): Partial<NodeConfigFile> {
  return {
    ...(opts.executorWorkers !== undefined ? { executorWorkers: opts.executorWorkers } : {}),
    ...(opts.verifyWorkers !== undefined ? { verifyWorkers: opts.verifyWorkers } : {}),
    ...(opts.network !== undefined && !isQuiet(opts.network) ? { faults: { ...opts.network } } : {}),
  }
}

/**
 * Each restart as a perturbation step: SIGKILL (a crash: nothing flushed) at `atS`, started
 * again from its data dir `downS` later. A validator that never runs cannot be restarted.
 */
export function restartSteps(restarts: readonly RestartFault[], validators: number, crashed: number): PerturbationStep[] {
  return restarts.map((r, i) => {
    if (!Number.isInteger(r.validator) || r.validator < 0 || r.validator >= validators - crashed) {
      throw new RestartScheduleError(`[${i}]: validator ${r.validator} is not running (validators 0..${validators - crashed - 1} run; the last ${crashed} are crashed)`)
    }
    if (!(r.atS >= 0 && r.downS > 0)) throw new RestartScheduleError(`[${i}]: expected atS ≥ 0 and downS > 0, got atS ${r.atS}, downS ${r.downS}`)
    return { action: 'kill', at: r.atS, nodes: [r.validator], duration: r.downS }
  })
}

export async function runTestnetPoint(opts: TestnetPointOptions): Promise<TestnetPoint> {
  if (!(opts.durationS > 0)) throw new RangeError(`runTestnetPoint: durationS (the measured window) must be positive, got ${opts.durationS}`)
  const crashed = opts.crashed ?? 0
  const restarts = opts.restarts ?? []
  const steps = restartSteps(restarts, opts.validators, crashed)
  const { point, perturbations } = await runTestnetLoad(
    {
      validators: opts.validators,
      crashed,
      accounts: opts.accounts,
      params: chainParamsOf(opts),
      node: nodeOverridesOf(opts),
      logLevel: opts.logLevel ?? 'warn',
      keep: false,
      rate: opts.rate,
      // The load generator's duration includes its warm-up; a point's is the measured window.
      durationS: opts.warmupS + opts.durationS,
      warmupS: opts.warmupS,
      tx: { kind: opts.tx?.kind ?? 'transfer', computeUnits: opts.tx?.computeUnits ?? 0 },
      ...(opts.env !== undefined ? { env: opts.env } : {}),
      ...(steps.length > 0 ? { perturbations: steps } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    },
    {
      ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
      ...(opts.onProgress !== undefined ? { onEvent: opts.onProgress } : {}),
    },
  )
  const restartsApplied = survivedSteps(perturbations)
  // An interrupted run skips steps on purpose; otherwise a step not applied means a mislabelled point.
  if (restartsApplied < steps.length && opts.signal?.aborted !== true) {
    const problems = perturbations.filter((e) => e.errors.length > 0 || e.phase === 'skipped').map((e) => `step ${e.step} ${e.spec} ${e.phase}: ${e.errors.join('; ') || e.detail}`)
    throw new RestartScheduleError(`${restartsApplied} of ${steps.length} applied (${problems.join(' | ') || 'a step did not finish before the load ended'})`)
  }
  return { ...point, crashed, restartsApplied }
}
