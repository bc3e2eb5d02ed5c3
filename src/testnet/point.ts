import type { TxKind } from '../core/tx.ts'
import type { LinkFaults } from '../network/faults.ts'
import type { ChainParams, LogLevel, NodeConfigFile, PayloadMode } from '../node/config.ts'
import type { RunEnvironment } from '../core/environment.ts'
import type { ResultPoint } from './report.ts'
import type { PerturbationStep } from './perturbation-schedule.ts'
import { survivedSteps } from './perturbations.ts'
import { TestnetSession, type StepStart, type TestnetEvent } from './testnet.ts'

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
  readonly offeredTps: number
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
  /** Longest wait after submission for the window's txs to commit; default the load generator's. */
  readonly drainS?: number
  /** Validator log level; default `warn` so n node logs stay small over a long sweep. */
  readonly logLevel?: LogLevel
  readonly signal?: AbortSignal
  readonly onProgress?: (e: TestnetEvent) => void
}

/** docs/design.md §12 point, plus the faults it ran under. */
export interface TestnetPoint extends ResultPoint {
  /** How its step started: on a drained, live chain (TestnetSession.settle). */
  readonly start: StepStart
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

export function chainParamsOf(opts: TestnetSeriesOptions): Partial<ChainParams> {
  return {
    ...(opts.payloadMode !== undefined ? { payloadMode: opts.payloadMode } : {}),
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    ...(opts.maxBatchDelayMs !== undefined ? { maxBatchDelayMs: opts.maxBatchDelayMs } : {}),
  }
}

/** Overrides of every node config; a quiet network adds no `faults` entry, so nodes skip the fault path entirely. */
export function nodeOverridesOf(opts: TestnetSeriesOptions): Partial<NodeConfigFile> {
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

/** The conditions of a series: everything of a point but its offered rate. */
export type TestnetSeriesOptions = Omit<TestnetPointOptions, 'offeredTps' | 'onProgress'>

/**
 * Points of one series measured on one running testnet (TestnetSession): the validators start
 * once, and each point is a load step on the drained chain. Restarts are applied in every step,
 * at their times from that step's start.
 */
export class TestnetSeries {
  readonly #opts: TestnetSeriesOptions
  readonly #session: TestnetSession
  readonly #restarts: PerturbationStep[]

  private constructor(opts: TestnetSeriesOptions, session: TestnetSession, restarts: PerturbationStep[]) {
    this.#opts = opts
    this.#session = session
    this.#restarts = restarts
  }

  static async open(opts: TestnetSeriesOptions, onProgress?: (e: TestnetEvent) => void): Promise<TestnetSeries> {
    if (!(opts.durationS > 0)) throw new RangeError(`runTestnetPoint: durationS (the measured window) must be positive, got ${opts.durationS}`)
    const crashed = opts.crashed ?? 0
    const restarts = restartSteps(opts.restarts ?? [], opts.validators, crashed)
    const session = await TestnetSession.start(
      {
        validators: opts.validators,
        crashed,
        accounts: opts.accounts,
        params: chainParamsOf(opts),
        node: nodeOverridesOf(opts),
        logLevel: opts.logLevel ?? 'warn',
        keep: false,
        perturbable: restarts.length > 0,
        ...(opts.env !== undefined ? { env: opts.env } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      },
      {
        ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
        ...(onProgress !== undefined ? { onEvent: onProgress } : {}),
      },
    )
    return new TestnetSeries(opts, session, restarts)
  }

  async point(offeredTps: number, onProgress?: (e: TestnetEvent) => void): Promise<TestnetPoint> {
    const opts = this.#opts
    const { point, perturbations } = await this.#session.step(
      {
        offeredTps,
        // The load generator's duration includes its warm-up; a point's is the measured window.
        durationS: opts.warmupS + opts.durationS,
        warmupS: opts.warmupS,
        tx: { kind: opts.tx?.kind ?? 'transfer', computeUnits: opts.tx?.computeUnits ?? 0 },
        ...(this.#restarts.length > 0 ? { perturbations: this.#restarts } : {}),
        ...(opts.drainS !== undefined ? { drainS: opts.drainS } : {}),
      },
      {
        ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
        ...(onProgress !== undefined ? { onEvent: onProgress } : {}),
      },
    )
    const restartsApplied = survivedSteps(perturbations)
    // An interrupted run skips steps on purpose; otherwise a step not applied means a mislabelled point.
    if (restartsApplied < this.#restarts.length && opts.signal?.aborted !== true) {
      const problems = perturbations.filter((e) => e.errors.length > 0 || e.phase === 'skipped').map((e) => `step ${e.step} ${e.spec} ${e.phase}: ${e.errors.join('; ') || e.detail}`)
      throw new RestartScheduleError(`${restartsApplied} of ${this.#restarts.length} applied (${problems.join(' | ') || 'a step did not finish before the load ended'})`)
    }
    return { ...point, crashed: opts.crashed ?? 0, restartsApplied }
  }

  close(): Promise<void> {
    return this.#session.close()
  }
}

/** One point on a testnet of its own: started for it, stopped after it. */
export async function runTestnetPoint(opts: TestnetPointOptions): Promise<TestnetPoint> {
  const series = await TestnetSeries.open(opts, opts.onProgress)
  try {
    return await series.point(opts.offeredTps, opts.onProgress)
  } finally {
    await series.close()
  }
}
