import { availableParallelism } from 'node:os'
import { Piscina } from 'piscina'
import { toHex } from '../core/hash.ts'
import type { Tx } from '../core/tx.ts'
import { changeDelta, type EntryChange } from './commitment.ts'
import {
  buildResult,
  collectWrites,
  prepareBlock,
  runTxs,
  type ExecuteOptions,
  type ExecutionResult,
  type PreparedBlock,
} from './executor.ts'
import { Prng } from '../core/prng.ts'
import type { Receipt } from './receipts.ts'
import { ReadyQueue, buildSchedule, planParallel, type Schedule } from './schedule.ts'
import type { WorldState } from './state.ts'
import { BlockOverlay } from './transition.ts'
import {
  decodeCommitResult,
  decodeExecuteResult,
  encodeCommitTask,
  encodeExecuteTask,
  encodeVerifyTask,
  type ExecuteTaskInput,
  type WorkerTask,
} from './wire.ts'

/**
 * `auto` picks the sequential path for blocks the cost model predicts no gain on (small,
 * conflict-heavy, or transfer-only blocks where per-tx dispatch costs more than the work).
 */
export type ExecutionPolicy = 'auto' | 'parallel' | 'sequential'

export interface ParallelExecutorOptions {
  /** Worker threads; default availableParallelism(). */
  readonly workers?: number
  readonly policy?: ExecutionPolicy
}

export interface ParallelExecuteOptions extends ExecuteOptions {
  /**
   * Estimated µs of work per execute task. Default: the block's cost split into
   * TASKS_PER_WORKER tasks per worker, clamped to [MIN_TASK_COST_US, MAX_TASK_COST_US].
   */
  readonly taskCostUs?: number
  /** Test only: every worker task first sleeps a seeded random time in [0, maxMs). */
  readonly testDelay?: { readonly seed: number; readonly maxMs: number }
}

/**
 * Task sizing. Each task is one round trip through the pool (~0.1 ms measured), so tasks carry
 * many txs; but a block must still split into several tasks per worker so a slow task at the
 * end does not leave the other workers idle.
 */
const TASKS_PER_WORKER = 8
const MIN_TASK_COST_US = 500
const MAX_TASK_COST_US = 20_000
/**
 * Two tasks in flight per worker: a worker always has its next task queued while the main
 * thread merges. Traced on 1,000-tx blocks: with one task per worker, workers idled up to 7 ms
 * between tasks waiting for the (core-sharing) main thread to hand out the next one.
 */
const IN_FLIGHT_PER_WORKER = 2
/** Below this many changed entries the commitment delta (~9 µs per entry) stays on the main thread. */
const MIN_PARALLEL_COMMIT_CHANGES = 256
/** One ed25519 verify ≈ 50 µs: below 16 (< 1 ms) a second task's round trip is not worth it. */
const MIN_PARALLEL_VERIFY_TXS = 16

const WORKER_URL = new URL('./worker.ts', import.meta.url).href

export class ParallelExecutor {
  readonly workers: number
  readonly policy: ExecutionPolicy
  private readonly pool: Piscina<WorkerTask, ArrayBuffer>

  constructor(opts: ParallelExecutorOptions = {}) {
    this.workers = opts.workers ?? availableParallelism()
    if (!Number.isInteger(this.workers) || this.workers < 1) throw new RangeError(`workers must be a positive integer, got ${opts.workers}`)
    this.policy = opts.policy ?? 'auto'
    // Tasks are posted to a worker while it is still busy, so it starts the next one without
    // waiting for this thread, which competes with the workers for the same cores.
    this.pool = new Piscina({
      filename: WORKER_URL,
      minThreads: this.workers,
      maxThreads: this.workers,
      concurrentTasksPerWorker: IN_FLIGHT_PER_WORKER,
    })
  }

  async execute(state: WorldState, txs: readonly Tx[], opts: ParallelExecuteOptions = {}): Promise<ExecutionResult> {
    const block = prepareBlock(txs, opts)
    const delay = opts.testDelay
    const prng = delay && new Prng(delay.seed)
    const nextDelayMs = (): number => (delay && prng ? prng.float() * delay.maxMs : 0)
    const run = (task: WorkerTask) => this.pool.run(task, { transferList: [task.bytes] })
    let tasks = 0

    const toVerify = (opts.unverified ?? []).flatMap((flag, i) => (flag && block.preFailed[i] === undefined ? [i] : []))
    if (toVerify.length > 0) tasks += await this.verifySignatures(block, toVerify, run, nextDelayMs)

    const schedule =
      this.policy === 'parallel' ? buildSchedule(block) : this.policy === 'auto' ? planParallel(block, this.workers) : undefined
    const view = new BlockOverlay(state)
    const receipts: Receipt[] = new Array(txs.length)
    if (schedule !== undefined) {
      runTxs(block, block.preFailed.flatMap((reason, i) => (reason === undefined ? [] : [i])), view, receipts)
      tasks += await new BlockDispatch(block, schedule, view, receipts, this.workers, opts.taskCostUs, run, nextDelayMs).run()
    } else {
      runTxs(block, txs.keys(), view, receipts)
    }

    const { writes, changes } = collectWrites(state, view)
    // The sequential path stays entirely on this thread, so it never costs more than the oracle.
    const deltas = schedule !== undefined ? await this.commitmentDeltas(changes, run, nextDelayMs) : [changeDelta(changes)]
    tasks += deltas.length > 1 ? deltas.length : 0
    const stats = { path: schedule !== undefined ? ('parallel' as const) : ('sequential' as const), tasks, reexecutions: 0 }
    return buildResult(state, receipts, writes, state.commitment.plus(deltas), stats)
  }

  /** Signature checks are state-independent, so they run up front, split evenly over the workers. */
  private async verifySignatures(block: PreparedBlock, indices: number[], run: TaskRunner, nextDelayMs: () => number): Promise<number> {
    const chunks = indices.length < MIN_PARALLEL_VERIFY_TXS ? [indices] : splitEvenly(indices, this.workers)
    const results = await Promise.all(
      chunks.map((chunk) => run({ kind: 'verify', bytes: encodeVerifyTask(chunk.map((i) => block.encoded[i]!)), delayMs: nextDelayMs() })),
    )
    results.forEach((result, c) => {
      const valid = new Uint8Array(result)
      chunks[c]!.forEach((i, k) => {
        if (valid[k] !== 1) block.preFailed[i] = 'invalid signature'
      })
    })
    return chunks.length
  }

  /** LtHash partial sums: order-independent, so each worker sums its share of the changed entries. */
  private async commitmentDeltas(changes: EntryChange[], run: TaskRunner, nextDelayMs: () => number): Promise<Uint16Array[]> {
    if (changes.length < MIN_PARALLEL_COMMIT_CHANGES || this.workers === 1) return [changeDelta(changes)]
    const results = await Promise.all(
      splitEvenly(changes, this.workers).map((chunk) => run({ kind: 'commit', bytes: encodeCommitTask(chunk), delayMs: nextDelayMs() })),
    )
    return results.map(decodeCommitResult)
  }

  async close(): Promise<void> {
    await this.pool.destroy()
  }
}

type TaskRunner = (task: WorkerTask) => Promise<ArrayBuffer>

function splitEvenly<T>(items: readonly T[], parts: number): T[][] {
  const size = Math.ceil(items.length / parts)
  const chunks: T[][] = []
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size))
  return chunks
}

const WAITING = 0
const PACKING = 1
const ASSIGNED = 2
const DONE = 3

/**
 * Dependency-driven dispatch of one block (list scheduling on the conflict DAG). A tx is sent
 * once all its predecessors are done, so concurrently running tasks never share a key and each
 * task's shipped pre-state is exact. A task also takes successors whose predecessors are all
 * done or earlier in the same task ("chain packing"): a hot account's chain then runs inside a
 * worker without a round trip per tx.
 */
class BlockDispatch {
  private readonly status: Uint8Array
  private readonly pendingPreds: Int32Array
  private readonly taskOf: Int32Array
  private readonly ready: ReadyQueue
  private readonly targetTaskCostUs: number
  private readonly maxInFlight: number
  private inFlight = 0
  private remaining: number
  private tasks = 0
  private readonly block: PreparedBlock
  private readonly schedule: Schedule
  private readonly view: BlockOverlay
  private readonly receipts: Receipt[]
  private readonly runTask: TaskRunner
  private readonly nextDelayMs: () => number

  constructor(
    block: PreparedBlock,
    schedule: Schedule,
    view: BlockOverlay,
    receipts: Receipt[],
    workers: number,
    taskCostUs: number | undefined,
    runTask: TaskRunner,
    nextDelayMs: () => number,
  ) {
    this.block = block
    this.schedule = schedule
    this.view = view
    this.receipts = receipts
    this.runTask = runTask
    this.nextDelayMs = nextDelayMs
    const n = block.txs.length
    this.status = new Uint8Array(n)
    this.pendingPreds = new Int32Array(n)
    this.taskOf = new Int32Array(n).fill(-1)
    this.ready = new ReadyQueue(schedule.bottomLevelUs)
    for (const i of schedule.executable) {
      this.pendingPreds[i] = schedule.preds[i]!.length
      if (this.pendingPreds[i] === 0) this.ready.push(i)
    }
    this.remaining = schedule.executable.length
    this.targetTaskCostUs = taskCostUs ?? Math.min(MAX_TASK_COST_US, Math.max(MIN_TASK_COST_US, schedule.totalCostUs / (workers * TASKS_PER_WORKER)))
    this.maxInFlight = workers * IN_FLIGHT_PER_WORKER
  }

  /** Resolves with the number of tasks used once every executable tx has a receipt. */
  run(): Promise<number> {
    return new Promise((resolve, reject) => {
      let failed = false
      const fail = (err: unknown): void => {
        // Stop dispatching; tasks already in flight finish in the pool and are ignored.
        failed = true
        reject(err)
      }
      const pump = (): void => {
        while (!failed && this.inFlight < this.maxInFlight && this.ready.size > 0) {
          const members = this.takeTask()
          this.inFlight++
          this.tasks++
          this.runTask({ kind: 'execute', bytes: this.encodeTask(members), delayMs: this.nextDelayMs() }).then((result) => {
            this.inFlight--
            if (failed) return
            try {
              this.merge(members, result)
            } catch (err) {
              fail(err)
              return
            }
            pump()
          }, fail)
        }
        if (!failed && this.inFlight === 0) {
          if (this.remaining === 0) resolve(this.tasks)
          else fail(new Error(`parallel executor stalled with ${this.remaining} txs unexecuted and none ready (dependency bookkeeping bug)`))
        }
      }
      pump()
    })
  }

  /** Highest-priority ready txs, plus chain followers that become runnable inside this task. */
  private takeTask(): number[] {
    const { preds, succs, costUs } = this.schedule
    const taskId = this.tasks
    const members: number[] = []
    const followers: number[] = []
    let cost = 0
    while (cost < this.targetTaskCostUs) {
      const i = followers.pop() ?? this.ready.pop()
      if (i === undefined) break
      this.status[i] = ASSIGNED
      this.taskOf[i] = taskId
      members.push(i)
      cost += costUs[i]!
      for (const s of succs[i]!) {
        if (this.status[s] !== WAITING) continue
        if (preds[s]!.every((p) => this.status[p] === DONE || this.taskOf[p] === taskId)) {
          this.status[s] = PACKING
          followers.push(s)
        }
      }
    }
    // Followers not taken wait for this task to finish, like any other dependent tx.
    for (const s of followers) this.status[s] = WAITING
    return members.sort((a, b) => a - b)
  }

  private encodeTask(members: readonly number[]): ArrayBuffer {
    const accounts: ExecuteTaskInput['accounts'][number][] = []
    const slots: ExecuteTaskInput['slots'][number][] = []
    const shipped = new Set<string>()
    for (const i of members) {
      const access = this.schedule.access[i]!
      for (const { id, address } of access.accounts) {
        if (shipped.has(id)) continue
        shipped.add(id)
        accounts.push({ address, account: this.view.account(id) })
      }
      for (const { id, key } of access.slots) {
        // Slot ids are prefixed in the set so they cannot collide with an account id.
        if (shipped.has('s' + id)) continue
        shipped.add('s' + id)
        const value = this.view.slot(id)
        if (value !== undefined) slots.push({ key, value })
      }
    }
    const txs = members.map((i) => ({ index: i, hash: this.block.hashes[i]!, encoded: this.block.encoded[i]! }))
    const sizeHint = 64 + members.length * 300 + accounts.length * 50 + slots.length * 70
    return encodeExecuteTask({ txs, accounts, slots }, sizeHint)
  }

  private merge(members: readonly number[], result: ArrayBuffer): void {
    const out = decodeExecuteResult(result)
    if (out.receipts.length !== members.length) {
      throw new Error(`worker returned ${out.receipts.length} receipts for a task of ${members.length} txs`)
    }
    for (const { index, reason } of out.receipts) {
      const txHash = this.block.hashes[index]!
      this.receipts[index] = reason === undefined ? { txHash, status: 'ok' } : { txHash, status: 'failed', reason }
    }
    this.view.feeSinkCredit += out.feeSinkCredit
    for (const { address, account } of out.accounts) this.view.accounts.set(toHex(address), account)
    for (const { key, value } of out.slots) this.view.slots.set(toHex(key), value)
    for (const i of members) {
      this.status[i] = DONE
      this.remaining--
      for (const s of this.schedule.succs[i]!) {
        if (--this.pendingPreds[s]! === 0 && this.status[s] === WAITING) this.ready.push(s)
      }
    }
  }
}
