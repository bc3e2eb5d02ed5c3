import type { BlockSizes } from './shared-block.ts'

/**
 * Messages between the executor's main thread and its workers. A block travels as one
 * SharedArrayBuffer (shared, not copied: see shared-block.ts); only this small envelope and the
 * small per-worker result are structured-cloned.
 */

export interface TestDelay {
  readonly seed: number
  readonly maxMs: number
}

/** One executor's share of a block: run by each pool thread and by the calling thread. */
export interface BlockTask {
  readonly kind: 'block'
  readonly buffer: SharedArrayBuffer
  readonly sizes: BlockSizes
  /** This executor's index among the block's executors, 0 = the calling thread (seeds its test delays). */
  readonly worker: number
  readonly testDelay: TestDelay | undefined
}

export type WorkerTask =
  | BlockTask
  /** exec-bench calibration: `units` of pure compute, no state. */
  | { readonly kind: 'burn'; readonly bytes: ArrayBuffer; readonly units: number }

/** What one worker returns for a block: everything else it produced is in the shared buffer. */
export interface BlockTaskResult {
  /** The block was aborted (another worker failed) before this worker finished its share. */
  readonly aborted: boolean
  /** Txs this worker ran. */
  readonly txsRun: number
  /** Failed txs this worker ran, with their reasons (same order). */
  readonly failedTxs: readonly number[]
  readonly failureReasons: readonly string[]
  /** Sum of the fees and fee-sink transfers of the txs this worker ran (credits commute). */
  readonly feeSinkCredit: bigint
  /** LtHash partial sum (changeDelta) over the changed entries this worker claimed. */
  readonly delta: Uint16Array
}
