import type { TxKind } from '../core/tx.ts'
import type { LinkFaults } from '../network/faults.ts'
import type { ChainParams, LogLevel, NodeConfigFile, PayloadMode } from '../node/config.ts'
import type { RunEnvironment } from './environment.ts'
import type { ResultPoint } from './report.ts'
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

/** DESIGN §12 point, plus how many validators were down for the whole run. */
export interface TestnetPoint extends ResultPoint {
  readonly crashed: number
}

/** Thrown for an option the testnet cannot honour: measuring something else would mislabel the number. */
export class UnsupportedTestnetOptionError extends Error {
  constructor(option: string, reason: string) {
    super(`runTestnetPoint: ${option} is not supported: ${reason}`)
    this.name = 'UnsupportedTestnetOptionError'
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

export async function runTestnetPoint(opts: TestnetPointOptions): Promise<TestnetPoint> {
  if ((opts.restarts ?? []).length > 0) {
    throw new UnsupportedTestnetOptionError('restarts', 'the crash-and-restart schedule needs src/testnet/perturbations.ts, which does not exist yet; use `crashed` for validators down the whole run')
  }
  if (!(opts.durationS > 0)) throw new RangeError(`runTestnetPoint: durationS (the measured window) must be positive, got ${opts.durationS}`)
  const crashed = opts.crashed ?? 0
  const { point } = await runTestnetLoad(
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
    },
    {
      ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
      ...(opts.onProgress !== undefined ? { onEvent: opts.onProgress } : {}),
    },
  )
  return { ...point, crashed }
}
