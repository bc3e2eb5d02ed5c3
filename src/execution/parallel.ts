import { availableParallelism } from 'node:os'
import { Piscina } from 'piscina'
import type { Account } from '../core/account.ts'
import { Writer } from '../core/codec.ts'
import { HASH_BYTES } from '../core/hash.ts'
import { encodedTxLength, writeTx, type Tx } from '../core/tx.ts'
import { accountEntry, changeDelta } from './commitment.ts'
import {
  buildResult,
  checkExecuteOptions,
  executeSequential,
  feeSinkAfter,
  prepareBlock,
  type ExecuteOptions,
  type ExecutionResult,
} from './executor.ts'
import type { Receipt } from './receipts.ts'
import { buildSchedule, mayGainFromParallel, worthParallel, type Schedule } from './schedule.ts'
import {
  FINISHED,
  KEY_EXISTED_BEFORE,
  KEY_EXISTS,
  KEY_WRITTEN,
  TX_VERIFY,
  abortBlock,
  allocateBlock,
  markFilled,
  publishDag,
  type BlockSizes,
  type BlockViews,
} from './shared-block.ts'
import { FEE_SINK, FEE_SINK_ID, type AccountId, type SlotId, type WorldState } from './state.ts'
import type { BlockTask, BlockTaskResult, TestDelay, WorkerTask } from './wire.ts'
import { runBlockShare } from './worker.ts'

/**
 * `auto` picks the sequential path for blocks the cost model predicts no gain on (small,
 * conflict-heavy, or transfer-only blocks where the per-tx overhead costs more than the work).
 * Every policy runs a block holding a tx beyond the wire limits (built in memory, never
 * decoded) sequentially: workers receive txs encoded and could not decode it.
 */
export type ExecutionPolicy = 'auto' | 'parallel' | 'sequential'

export interface ParallelExecutorOptions {
  /** Executors per block, the calling thread included; default availableParallelism(). */
  readonly workers?: number
  readonly policy?: ExecutionPolicy
}

export interface ParallelExecuteOptions extends ExecuteOptions {
  /**
   * Test only: inside the workers, a seeded random quarter of the txs first sleep up to `maxMs`,
   * which shuffles completion order (the result must not depend on it).
   */
  readonly testDelay?: TestDelay
  /**
   * Test only: the calling thread sleeps this long after declaring each chunk of encoded txs
   * and pre-state, so the pool threads run ahead into chunks not yet declared (they must wait).
   */
  readonly testFillPauseMs?: number
}

/** The executor's piscina worker (also what exec-bench's calibration runs its pure compute on). */
export const WORKER_URL = new URL('./worker.ts', import.meta.url).href

/**
 * Parallel block execution by worker self-scheduling over shared memory (Block-STM's
 * collaborative scheduler, on the declared-access-set DAG so nothing is ever re-executed).
 * The main thread lays the block out in one SharedArrayBuffer (shared-block.ts) and posts one
 * task per pool thread; the pool threads and the calling thread itself take ready txs, run the
 * shared transition function on the shared state and release each tx's successors, then sum
 * the commitment delta. With `workers` = n, the pool has n − 1 threads: the calling thread is
 * the n-th executor rather than a thread idling in `await` while n others share its cores (an
 * idle main thread ran its garbage collector's tasks on the workers' cores). Like the
 * sequential path, it is busy until the block is done. Why and measurements: docs/decisions.md.
 */
export class ParallelExecutor {
  readonly workers: number
  readonly policy: ExecutionPolicy
  /** `workers` − 1 threads; none when the calling thread is the only executor. */
  readonly #pool: Piscina<WorkerTask, BlockTaskResult | ArrayBuffer> | undefined

  constructor(opts: ParallelExecutorOptions = {}) {
    this.workers = opts.workers ?? availableParallelism()
    if (!Number.isInteger(this.workers) || this.workers < 1) throw new RangeError(`workers must be a positive integer, got ${opts.workers}`)
    this.policy = opts.policy ?? 'auto'
    const threads = this.workers - 1
    this.#pool = threads > 0 ? new Piscina({ filename: WORKER_URL, minThreads: threads, maxThreads: threads }) : undefined
  }

  async execute(state: WorldState, txs: readonly Tx[], opts: ParallelExecuteOptions = {}): Promise<ExecutionResult> {
    checkExecuteOptions(txs, opts)
    const plan = this.#plan(txs, opts.unverified)
    // The sequential path is the oracle itself, so it never costs more than the oracle.
    if (plan === undefined) return executeSequential(state, txs, opts)
    return this.#executeParallel(state, txs, opts, plan)
  }

  #plan(txs: readonly Tx[], unverified: readonly boolean[] | undefined): Plan | undefined {
    if (this.policy === 'sequential') return undefined
    if (this.policy === 'auto' && !mayGainFromParallel(txs, unverified, this.workers)) return undefined
    let schedule = buildSchedule(txs, unverified)
    // A tx beyond the wire limits cannot be decoded by a worker; it can only come from a caller
    // that built it in memory, and the oracle's path handles it.
    if (schedule.unshippable) return undefined
    let duplicates: Plan['duplicates']
    if (schedule.mayHaveDuplicates) {
      const { hashes, preFailed } = prepareBlock(txs, {})
      if (preFailed.some((reason) => reason !== undefined)) {
        duplicates = { hashes, preFailed }
        schedule = buildSchedule(txs, unverified, preFailed)
      }
    }
    if (this.policy === 'auto' && !worthParallel(schedule, this.workers)) return undefined
    return { schedule, duplicates }
  }

  async #executeParallel(state: WorldState, txs: readonly Tx[], opts: ParallelExecuteOptions, plan: Plan): Promise<ExecutionResult> {
    const { schedule, duplicates } = plan
    const { views, buffer } = allocateLayout(txs, schedule)
    const { sizes } = views
    // The calling thread always runs a share (a block of only pre-failed txs leaves it nothing to run).
    const executors = Math.max(1, Math.min(this.workers, schedule.executable.length))
    const share = (worker: number): BlockTask => ({ kind: 'block', buffer, sizes, worker, testDelay: opts.testDelay })
    // Posted before the layout is filled in: a thread takes longer to wake than the fill, and
    // it waits for publishDag before touching the buffer.
    const pooled = this.#runPoolShares(views, executors, share)
    let own: BlockTaskResult
    try {
      fillLayout(views, state, txs, opts.unverified, schedule, opts.testFillPauseMs ?? 0)
      own = runBlockShare(share(0))
    } catch (err) {
      abortBlock(views)
      await pooled.catch(() => undefined)
      throw err
    }
    const results = [own, ...(await pooled)]
    // Each executor's last act is this increment: reading it orders the state reads after their writes.
    const finished = Atomics.load(views.control, FINISHED)
    if (finished !== executors || results.some((r) => r.aborted)) {
      throw new Error(`parallel execution of a ${sizes.txs}-tx block was aborted with no executor failure (${finished} of ${executors} executors finished)`)
    }

    const reasons = new Array<string | undefined>(txs.length)
    let feeSinkCredit = 0n
    let txsRun = 0
    for (const result of results) {
      feeSinkCredit += result.feeSinkCredit
      txsRun += result.txsRun
      result.failedTxs.forEach((i, k) => (reasons[i] = result.failureReasons[k]))
    }
    if (txsRun !== schedule.executable.length) {
      throw new Error(`workers ran ${txsRun} txs of a block with ${schedule.executable.length} executable (dependency bookkeeping bug)`)
    }
    const receipts: Receipt[] = new Array(txs.length)
    for (let i = 0; i < txs.length; i++) {
      const preFailure = duplicates?.preFailed[i]
      if (preFailure !== undefined) {
        receipts[i] = { txHash: duplicates!.hashes[i]!, status: 'failed', reason: preFailure }
        continue
      }
      const txHash = views.hashes.slice(i * HASH_BYTES, (i + 1) * HASH_BYTES)
      const reason = reasons[i]
      receipts[i] = reason === undefined ? { txHash, status: 'ok' } : { txHash, status: 'failed', reason }
    }

    const accounts = new Map<AccountId, Account>()
    for (let k = 0; k < sizes.accounts; k++) {
      if ((views.accountFlags[k]! & KEY_WRITTEN) !== 0) accounts.set(schedule.accounts.hex(k), { balance: views.balances[k]!, nonce: views.nonces[k]! })
    }
    const slots = new Map<SlotId, Uint8Array>()
    for (let k = 0; k < sizes.slots; k++) {
      if ((views.slotFlags[k]! & KEY_WRITTEN) !== 0) slots.set(schedule.slots.hex(k), views.slotValues.slice(k * HASH_BYTES, (k + 1) * HASH_BYTES))
    }
    const deltas = results.map((result) => result.delta)
    // No tx writes the fee sink (see BlockOverlay), so its one change is summed here.
    const sink = feeSinkAfter(state, feeSinkCredit)
    if (sink !== undefined) {
      accounts.set(FEE_SINK_ID, sink)
      const before = state.account(FEE_SINK_ID)
      deltas.push(changeDelta([{ before: before && accountEntry(FEE_SINK, before), after: accountEntry(FEE_SINK, sink) }]))
    }
    const stats = { path: 'parallel' as const, tasks: executors, reexecutions: 0 }
    return buildResult(state, receipts, { accounts, slots }, state.commitment.plus(deltas), stats)
  }

  /**
   * Posts shares 1..executors − 1 to the pool and waits for all of them. The first failure
   * aborts the block (the other executors stop at their next tx) and is reported once every
   * pool thread has stopped, so the pool is idle again when this rejects.
   */
  async #runPoolShares(views: BlockViews, executors: number, share: (worker: number) => BlockTask): Promise<BlockTaskResult[]> {
    const runs = Array.from({ length: executors - 1 }, (_, k) =>
      (this.#pool!.run(share(k + 1)) as Promise<BlockTaskResult>).catch((err: unknown) => {
        abortBlock(views)
        throw err
      }),
    )
    const settled = await Promise.allSettled(runs)
    const failure = settled.find((s) => s.status === 'rejected')
    if (failure !== undefined) {
      const reason = failure.reason instanceof Error ? failure.reason.message : String(failure.reason)
      throw new Error(`parallel execution of a ${views.sizes.txs}-tx block failed in a worker: ${reason}`, { cause: failure.reason })
    }
    return settled.map((s) => (s as PromiseFulfilledResult<BlockTaskResult>).value)
  }

  async close(): Promise<void> {
    await this.#pool?.destroy()
  }
}

interface Plan {
  readonly schedule: Schedule
  /** Set only when the block holds duplicates: their hashes and `duplicate` reasons, by tx index. */
  readonly duplicates: { readonly hashes: readonly Uint8Array[]; readonly preFailed: readonly (string | undefined)[] } | undefined
}

/** Allocates the block's shared buffer at its exact sizes, still empty (the txs' from encodedTxLength). */
function allocateLayout(txs: readonly Tx[], schedule: Schedule): { views: BlockViews; buffer: SharedArrayBuffer } {
  let txBytes = 0
  for (const tx of txs) txBytes += encodedTxLength(tx)
  return allocateBlock({
    txs: txs.length,
    txBytes,
    accounts: schedule.accounts.size,
    slots: schedule.slots.size,
    accountRefs: schedule.txAccountIds.length,
    slotRefs: schedule.txSlotIds.length,
    edges: schedule.succs.length,
  })
}

/**
 * Fills the block's shared buffer: the DAG, then publishes it so the other executors start,
 * then in block order each tx's encoding and the pre-state of the keys it is first to use (ids
 * are interned in that order), declaring them chunk by chunk (markFilled).
 */
function fillLayout(
  views: BlockViews,
  state: WorldState,
  txs: readonly Tx[],
  unverified: readonly boolean[] | undefined,
  schedule: Schedule,
  pauseMs: number,
): void {
  views.txAccountStart.set(schedule.txAccountStart)
  views.txAccountIds.set(schedule.txAccountIds)
  views.txSlotStart.set(schedule.txSlotStart)
  views.txSlotIds.set(schedule.txSlotIds)
  views.succStart.set(schedule.succStart)
  views.succs.set(schedule.succs)
  views.accountKeys.set(schedule.accounts.bytes())
  views.slotKeys.set(schedule.slots.bytes())
  for (const i of schedule.executable) if (unverified?.[i] === true) views.txFlags[i] = TX_VERIFY
  publishDag(views, schedule.executable, schedule.predCount)

  const { txAccountStart, txAccountIds, txSlotStart, txSlotIds } = schedule
  // Encoded into private memory; each chunk is copied in before it is declared.
  const writer = new Writer(views.txBytes.length)
  let copied = 0
  let accounts = 0
  let slots = 0
  for (let i = 0; i < txs.length; i++) {
    writeTx(writer, txs[i]!)
    views.txOffsets[i + 1] = writer.length
    for (let k = txAccountStart[i]!; k < txAccountStart[i + 1]!; k++) while (accounts <= txAccountIds[k]!) fillAccount(views, state, schedule, accounts++)
    for (let k = txSlotStart[i]!; k < txSlotStart[i + 1]!; k++) while (slots <= txSlotIds[k]!) fillSlot(views, state, schedule, slots++)
    if (i % FILL_CHUNK_TXS === FILL_CHUNK_TXS - 1 || i === txs.length - 1) {
      views.txBytes.set(writer.finish().subarray(copied), copied)
      copied = writer.length
      markFilled(views, i + 1, accounts, slots)
      if (pauseMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs)
    }
  }
  if (copied !== views.txBytes.length) throw new Error(`txs encoded to ${copied} bytes, encodedTxLength predicted ${views.txBytes.length}`)
  if (accounts !== views.sizes.accounts || slots !== views.sizes.slots) {
    throw new Error(`filled ${accounts} of ${views.sizes.accounts} accounts and ${slots} of ${views.sizes.slots} slots (key ids not interned in tx order)`)
  }
}

/** Txs encoded and filled between two markFilled: ≈ 50–100 keys, a few tens of µs. */
const FILL_CHUNK_TXS = 32

function fillAccount(views: BlockViews, state: WorldState, schedule: Schedule, k: number): void {
  const account = state.account(schedule.accounts.hex(k))
  if (account === undefined) return
  views.accountFlags[k] = KEY_EXISTS | KEY_EXISTED_BEFORE
  views.balances[k] = views.balancesBefore[k] = account.balance
  views.nonces[k] = views.noncesBefore[k] = account.nonce
}

function fillSlot(views: BlockViews, state: WorldState, schedule: Schedule, k: number): void {
  const value = state.slot(schedule.slots.hex(k))
  if (value === undefined) return
  views.slotFlags[k] = KEY_EXISTS | KEY_EXISTED_BEFORE
  views.slotValues.set(value, k * HASH_BYTES)
  views.slotValuesBefore.set(value, k * HASH_BYTES)
}
