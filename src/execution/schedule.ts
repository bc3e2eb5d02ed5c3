import { bytesEqual, toHex } from '../core/hash.ts'
import type { PreparedBlock } from './executor.ts'
import { FEE_SINK } from './state.ts'

/**
 * Declared-access-set scheduling (Sealevel style, refined into a dependency DAG): a tx touches
 * exactly its sender, its recipient and, for compute txs, its access-list slots — the transition
 * function can touch nothing else — so conflicts are known before execution and nothing is ever
 * re-executed. Every key's txs form a chain in block order; a tx depends on the previous tx of
 * each chain it is on. Why this scheme rather than optimistic execution: docs/decisions.md.
 */

/**
 * Cost model, in µs on the reference machine (AMD EPYC, 2 cores, Node 22.23), used to predict
 * whether a block gains from the parallel path. The machine is shared, so these are rounded
 * medians of noisy measurements (process CPU time of the same block, sequential vs parallel):
 * TX_BASE_COST_US     sequential time per transfer: 2.6 µs (1,000 transfers between 2 accounts,
 *                     no commitment work) to 5.7 µs (10,000 transfers among 1,000 accounts);
 * SLOT_COST_US        extra sequential time per access-list slot (two SHA-256 + map writes);
 * DISPATCH_COST_US    extra CPU per tx on the parallel path (pre-state encoding, tx decoding in
 *                     the worker, result decoding and merge): 9.8 compute-unit equivalents per tx
 *                     measured on 10,000 transfers among 1,000 accounts. It is paid on the same
 *                     cores as the work, hence added to the work before dividing by workers.
 */
export const TX_BASE_COST_US = 4
export const SLOT_COST_US = 2
export const DISPATCH_COST_US = 10
/**
 * Main-thread ↔ worker round trip (0.1–0.3 ms measured through piscina). A block whose DAG is
 * deep and narrow (10 accounts: ~2 txs per level) pays about one per level, which no amount of
 * work-splitting recovers; measured speedups there were 0.4–0.9× before this term was added.
 */
export const ROUND_TRIP_US = 150
/**
 * The parallel path is chosen only if predicted this much faster: the model is coarse, and
 * blocks predicted at 1.1–1.2× (compute ≈ 10 µs per tx) measured 0.8–1.06× in exec-bench.
 */
export const MIN_PREDICTED_SPEEDUP = 1.25
/** Below this many executable txs a block never leaves the main thread (a round trip costs more). */
export const MIN_PARALLEL_TXS = 32

/** The state keys one tx touches, with their hex ids (computed once per block, reused for shipping state). */
export interface TxAccess {
  readonly accounts: readonly { readonly id: string; readonly address: Uint8Array }[]
  readonly slots: readonly { readonly id: string; readonly key: Uint8Array }[]
}

export interface Schedule {
  /** Indices of the txs to execute (not pre-failed), in block order. */
  readonly executable: readonly number[]
  readonly access: readonly TxAccess[]
  /** preds[i]: distinct earlier txs sharing a key with txs[i] (the last one per shared key). */
  readonly preds: readonly (readonly number[])[]
  readonly succs: readonly number[][]
  readonly costUs: Float64Array
  /** Longest cost path from i to the end of the DAG (list-scheduling priority). */
  readonly bottomLevelUs: Float64Array
  readonly totalCostUs: number
  readonly criticalPathUs: number
  /** Longest dependency chain counted in txs (the number of DAG levels). */
  readonly depth: number
}

/** Keys a tx touches. The fee sink is left out (credits to it commute: see BlockOverlay). */
export function txAccess(block: PreparedBlock, i: number): TxAccess {
  const tx = block.txs[i]!
  const accounts = [{ id: toHex(tx.from), address: tx.from }]
  if (!bytesEqual(tx.to, FEE_SINK) && !bytesEqual(tx.to, tx.from)) accounts.push({ id: toHex(tx.to), address: tx.to })
  const slots = tx.kind === 'compute' ? tx.accessList.map((key) => ({ id: toHex(key), key })) : []
  return { accounts, slots }
}

export function estimatedCostUs(block: PreparedBlock, i: number): number {
  const tx = block.txs[i]!
  if (tx.kind !== 'compute') return TX_BASE_COST_US
  return TX_BASE_COST_US + tx.accessList.length * SLOT_COST_US + tx.computeUnits
}

export function buildSchedule(block: PreparedBlock): Schedule {
  const n = block.txs.length
  const executable: number[] = []
  const access: TxAccess[] = new Array(n)
  const preds: number[][] = Array.from({ length: n }, () => [])
  const succs: number[][] = Array.from({ length: n }, () => [])
  const costUs = new Float64Array(n)
  const finishUs = new Float64Array(n)
  const level = new Int32Array(n)
  let depth = 0
  // Separate maps keep an account and a slot with the same 32 bytes apart (no key prefixing).
  const lastAccountTouch = new Map<string, number>()
  const lastSlotTouch = new Map<string, number>()
  let totalCostUs = 0
  let criticalPathUs = 0
  for (let i = 0; i < n; i++) {
    if (block.preFailed[i] !== undefined) continue
    executable.push(i)
    let start = 0
    const touch = (lastTouch: Map<string, number>, id: string): void => {
      const prev = lastTouch.get(id)
      lastTouch.set(id, i)
      if (prev === undefined || prev === i || preds[i]!.includes(prev)) return
      preds[i]!.push(prev)
      succs[prev]!.push(i)
      start = Math.max(start, finishUs[prev]!)
      level[i] = Math.max(level[i]!, level[prev]! + 1)
    }
    access[i] = txAccess(block, i)
    for (const { id } of access[i]!.accounts) touch(lastAccountTouch, id)
    for (const { id } of access[i]!.slots) touch(lastSlotTouch, id)
    costUs[i] = estimatedCostUs(block, i)
    finishUs[i] = start + costUs[i]!
    totalCostUs += costUs[i]!
    criticalPathUs = Math.max(criticalPathUs, finishUs[i]!)
    depth = Math.max(depth, level[i]! + 1)
  }
  const bottomLevelUs = new Float64Array(n)
  for (let k = executable.length - 1; k >= 0; k--) {
    const i = executable[k]!
    let tail = 0
    for (const s of succs[i]!) tail = Math.max(tail, bottomLevelUs[s]!)
    bottomLevelUs[i] = costUs[i]! + tail
  }
  return { executable, access, preds, succs, costUs, bottomLevelUs, totalCostUs, criticalPathUs, depth }
}

/**
 * Predicted speedup of the parallel path: the work plus dispatch overhead spread over the
 * workers, but never faster than the block's critical path (a single hot account makes the
 * whole block one chain), plus a round trip per DAG level.
 */
export function predictedSpeedup(totalCostUs: number, txs: number, criticalPathUs: number, depth: number, workers: number): number {
  const parallelUs = Math.max((totalCostUs + txs * DISPATCH_COST_US) / workers, criticalPathUs) + depth * ROUND_TRIP_US
  return parallelUs > 0 ? totalCostUs / parallelUs : 1
}

/**
 * The schedule for the parallel path, or undefined when the sequential path is predicted at
 * least as fast. The conflict-free bound is checked first because building the DAG itself
 * costs a few µs per tx — as much as executing a transfer.
 */
export function planParallel(block: PreparedBlock, workers: number): Schedule | undefined {
  let executable = 0
  let totalCostUs = 0
  for (let i = 0; i < block.txs.length; i++) {
    if (block.preFailed[i] !== undefined) continue
    executable++
    totalCostUs += estimatedCostUs(block, i)
  }
  if (workers < 2 || executable < MIN_PARALLEL_TXS) return undefined
  if (predictedSpeedup(totalCostUs, executable, 0, 1, workers) < MIN_PREDICTED_SPEEDUP) return undefined
  const schedule = buildSchedule(block)
  const speedup = predictedSpeedup(schedule.totalCostUs, executable, schedule.criticalPathUs, schedule.depth, workers)
  return speedup >= MIN_PREDICTED_SPEEDUP ? schedule : undefined
}

/** Ready txs, highest bottom level first (critical chains start early), then block order. */
export class ReadyQueue {
  private readonly heap: number[] = []
  private readonly priority: Float64Array

  constructor(priority: Float64Array) {
    this.priority = priority
  }

  get size(): number {
    return this.heap.length
  }

  private before(a: number, b: number): boolean {
    const pa = this.priority[a]!
    const pb = this.priority[b]!
    return pa > pb || (pa === pb && a < b)
  }

  push(i: number): void {
    const h = this.heap
    h.push(i)
    let c = h.length - 1
    while (c > 0) {
      const p = (c - 1) >> 1
      if (!this.before(h[c]!, h[p]!)) break
      ;[h[c], h[p]] = [h[p]!, h[c]!]
      c = p
    }
  }

  pop(): number | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length === 0 || last === undefined) return top
    h[0] = last
    let p = 0
    for (;;) {
      const l = 2 * p + 1
      const r = l + 1
      let best = p
      if (l < h.length && this.before(h[l]!, h[best]!)) best = l
      if (r < h.length && this.before(h[r]!, h[best]!)) best = r
      if (best === p) break
      ;[h[p], h[best]] = [h[best]!, h[p]!]
      p = best
    }
    return top
  }
}
