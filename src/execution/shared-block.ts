import { HASH_BYTES } from '../core/hash.ts'
import { PUBLIC_KEY_BYTES } from '../core/keys.ts'

/**
 * One block laid out in a single SharedArrayBuffer, shared (not copied) by the main thread and
 * every worker: the encoded txs, the conflict DAG in CSR form, the scheduler's counters and
 * ready queue, and the touched state indexed by key id. The main thread fills it, workers
 * self-schedule over it (`drainBlock`), and the main thread reads the final state back.
 *
 * Memory ordering: plain reads and writes of the state arrays are ordered only through the
 * Atomics operations on `pending`, `queue` and `control` (all sequentially consistent): the
 * main thread writes a tx's bytes and a key's pre-state before the Atomics.store of FILLED_*
 * that covers them, and an executor loads FILLED_* before reading a tx (`awaitTxFilled`); a worker
 * writes a tx's state before `Atomics.sub` on each successor's pending count, and whichever
 * thread's `Atomics.sub` brings it to zero (reading that value) — or later pops the successor
 * from the queue (`Atomics.load` of the slot another thread `Atomics.store`d) — is thereby
 * ordered after those writes and sees them.
 */

export interface BlockSizes {
  readonly txs: number
  readonly txBytes: number
  readonly accounts: number
  readonly slots: number
  readonly accountRefs: number
  readonly slotRefs: number
  readonly edges: number
}

/** Control words (Int32 indices). */
export const QUEUE_HEAD = 0
export const QUEUE_TAIL = 1
/** Txs that are ready or running: 0 while txs remain means no tx can ever become ready (stall). */
export const OUTSTANDING = 2
/** Executable txs not yet completed (set by publishDag, before PUBLISHED). */
export const REMAINING = 3
export const ABORT = 4
/** Event count idle workers sleep on; bumped when work appears, the block ends or aborts. */
export const WAKE = 5
export const SLEEPERS = 6
/** Next changed-key index to claim for the commitment partial sums. */
export const COMMIT_CURSOR = 7
/** Workers that finished; the main thread reads it (Atomics) before reading state back. */
export const FINISHED = 8
/**
 * 1 once the main thread has laid out the DAG. Workers receive the buffer before that (waking a
 * worker takes longer than the layout) and wait for this word before touching it.
 */
export const PUBLISHED = 9
/**
 * Keys whose pre-state is in place, by id: ids 0..FILLED_ACCOUNTS−1 and
 * 0..FILLED_SLOTS−1, and txs 0..FILLED_TXS−1 encoded. The main thread fills both after
 * publishing the DAG, in block order (key ids are interned in the order the txs first use
 * them), so executors start on the first txs while it fills the rest.
 */
export const FILLED_ACCOUNTS = 10
export const FILLED_SLOTS = 11
export const FILLED_TXS = 12
const CONTROL_WORDS = 13

/** txFlags bits. */
export const TX_VERIFY = 1
/** accountFlags / slotFlags bits. */
export const KEY_EXISTS = 1
export const KEY_EXISTED_BEFORE = 2
export const KEY_WRITTEN = 4

export const EMPTY_SLOT = -1

type Kind = 'i32' | 'u8' | 'u64'
type ArrayOf<K extends Kind> = K extends 'i32' ? Int32Array : K extends 'u8' ? Uint8Array : BigUint64Array
const ELEMENT_BYTES: Record<Kind, number> = { i32: 4, u8: 1, u64: 8 }

/** The buffer's regions, in order: element type and length. */
const REGIONS = {
  control: ['i32', () => CONTROL_WORDS],
  /** Ready txs in push order; a slot is EMPTY_SLOT until its pusher has stored the index. */
  queue: ['i32', (s) => s.txs],
  /** Predecessors of each tx not yet completed. */
  pending: ['i32', (s) => s.txs],
  txOffsets: ['i32', (s) => s.txs + 1],
  txBytes: ['u8', (s) => s.txBytes],
  txFlags: ['u8', (s) => s.txs],
  /** Tx hashes, written by the worker that executes the tx. */
  hashes: ['u8', (s) => s.txs * HASH_BYTES],
  txAccountStart: ['i32', (s) => s.txs + 1],
  txAccountIds: ['i32', (s) => s.accountRefs],
  txSlotStart: ['i32', (s) => s.txs + 1],
  txSlotIds: ['i32', (s) => s.slotRefs],
  succStart: ['i32', (s) => s.txs + 1],
  succs: ['i32', (s) => s.edges],
  accountKeys: ['u8', (s) => s.accounts * PUBLIC_KEY_BYTES],
  accountFlags: ['u8', (s) => s.accounts],
  balances: ['u64', (s) => s.accounts],
  nonces: ['u64', (s) => s.accounts],
  balancesBefore: ['u64', (s) => s.accounts],
  noncesBefore: ['u64', (s) => s.accounts],
  slotKeys: ['u8', (s) => s.slots * HASH_BYTES],
  slotFlags: ['u8', (s) => s.slots],
  slotValues: ['u8', (s) => s.slots * HASH_BYTES],
  slotValuesBefore: ['u8', (s) => s.slots * HASH_BYTES],
} as const satisfies Record<string, readonly [Kind, (s: BlockSizes) => number]>

type RegionName = keyof typeof REGIONS
export type BlockViews = { readonly sizes: BlockSizes } & { readonly [R in RegionName]: ArrayOf<(typeof REGIONS)[R][0]> }

/** Byte offset of every region (8-byte aligned, so any region could hold u64s) and the total size. */
function layout(sizes: BlockSizes): { bytes: number; regions: [RegionName, Kind, number, number][] } {
  let bytes = 0
  const regions: [RegionName, Kind, number, number][] = []
  for (const [name, [kind, length]] of Object.entries(REGIONS) as [RegionName, readonly [Kind, (s: BlockSizes) => number]][]) {
    const count = length(sizes)
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`shared block region ${name} has invalid length ${count}`)
    const offset = Math.ceil(bytes / 8) * 8
    regions.push([name, kind, offset, count])
    bytes = offset + count * ELEMENT_BYTES[kind]
  }
  return { bytes, regions }
}

function carve(buffer: SharedArrayBuffer, sizes: BlockSizes): BlockViews {
  const { bytes, regions } = layout(sizes)
  if (buffer.byteLength !== bytes) throw new RangeError(`shared block buffer has ${buffer.byteLength} bytes, its sizes need ${bytes}`)
  const entries: [string, unknown][] = [['sizes', sizes]]
  for (const [name, kind, offset, count] of regions) {
    entries.push([name, kind === 'i32' ? new Int32Array(buffer, offset, count) : kind === 'u8' ? new Uint8Array(buffer, offset, count) : new BigUint64Array(buffer, offset, count)])
  }
  // One fromEntries rather than a property store per region: an object given more than a dozen
  // properties by keyed stores turns into a dictionary, and every hot `v.region` load became a lookup.
  return Object.fromEntries(entries) as BlockViews
}

export function allocateBlock(sizes: BlockSizes): { buffer: SharedArrayBuffer; views: BlockViews } {
  const buffer = new SharedArrayBuffer(layout(sizes).bytes)
  const views = carve(buffer, sizes)
  views.queue.fill(EMPTY_SLOT)
  return { buffer, views }
}

/** A worker's views of a block the main thread allocated; refuses a buffer that does not fit. */
export function attachBlock(buffer: SharedArrayBuffer, sizes: BlockSizes): BlockViews {
  return carve(buffer, sizes)
}

/**
 * Starts the scheduler state once the DAG is laid out (the txs and the pre-state follow, see
 * FILLED_ACCOUNTS): pending counts, the txs with no predecessor queued in block order,
 * then PUBLISHED stored last — atomically, so a worker that loads it (awaitPublished) sees
 * every plain write made before — and the waiting workers woken.
 */
export function publishDag(v: BlockViews, executable: Int32Array, predCount: Int32Array): void {
  v.pending.set(predCount)
  let ready = 0
  for (const i of executable) if (predCount[i] === 0) v.queue[ready++] = i
  v.control[QUEUE_TAIL] = ready
  v.control[OUTSTANDING] = ready
  v.control[REMAINING] = executable.length
  Atomics.store(v.control, PUBLISHED, 1)
  wakeAll(v)
}

/**
 * Waits until the main thread has published the block (true) or aborted it (false); throws if
 * neither happens within `timeoutMs`, so a worker never waits forever on a lost block.
 */
export function awaitPublished(v: BlockViews, idleWaitMs: number, timeoutMs: number): boolean {
  const { control } = v
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const seen = Atomics.load(control, WAKE)
    if (Atomics.load(control, PUBLISHED) !== 0) return true
    if (Atomics.load(control, ABORT) !== 0) return false
    if (performance.now() > deadline) throw new Error(`shared block was neither published nor aborted within ${timeoutMs} ms`)
    Atomics.wait(control, WAKE, seen, idleWaitMs)
  }
}

/**
 * Declares txs below `txs` encoded and the pre-state of account ids below `accounts` and slot
 * ids below `slots` in place (plain writes before these stores are visible to whoever loads a
 * covering value), and wakes executors waiting for them.
 */
export function markFilled(v: BlockViews, txs: number, accounts: number, slots: number): void {
  Atomics.store(v.control, FILLED_TXS, txs)
  Atomics.store(v.control, FILLED_ACCOUNTS, accounts)
  Atomics.store(v.control, FILLED_SLOTS, slots)
  // Waiters increment SLEEPERS before their last check, as for the ready queue (queuePush).
  if (Atomics.load(v.control, SLEEPERS) > 0) wakeAll(v)
}

/**
 * Waits until txs below `txs` are encoded and the pre-state of account ids below `accounts` and
 * slot ids below `slots` is in place (true) or the block is aborted (false); throws after `timeoutMs`.
 */
export function awaitFilled(v: BlockViews, txs: number, accounts: number, slots: number, idleWaitMs: number, timeoutMs: number): boolean {
  const { control } = v
  const filled = (): boolean =>
    Atomics.load(control, FILLED_TXS) >= txs && Atomics.load(control, FILLED_ACCOUNTS) >= accounts && Atomics.load(control, FILLED_SLOTS) >= slots
  if (filled()) return true
  const deadline = performance.now() + timeoutMs
  for (;;) {
    Atomics.add(control, SLEEPERS, 1)
    const seen = Atomics.load(control, WAKE)
    if (!filled() && Atomics.load(control, ABORT) === 0) Atomics.wait(control, WAKE, seen, idleWaitMs)
    Atomics.sub(control, SLEEPERS, 1)
    if (filled()) return true
    if (Atomics.load(control, ABORT) !== 0) return false
    if (performance.now() > deadline) throw new Error(`${txs} txs and the pre-state of ${accounts} accounts and ${slots} slots were not filled within ${timeoutMs} ms`)
  }
}

/** awaitFilled for tx `i`'s bytes and the keys it declares. */
export function awaitTxFilled(v: BlockViews, i: number, idleWaitMs: number, timeoutMs: number): boolean {
  let accounts = 0
  for (let k = v.txAccountStart[i]!; k < v.txAccountStart[i + 1]!; k++) accounts = Math.max(accounts, v.txAccountIds[k]! + 1)
  let slots = 0
  for (let k = v.txSlotStart[i]!; k < v.txSlotStart[i + 1]!; k++) slots = Math.max(slots, v.txSlotIds[k]! + 1)
  return awaitFilled(v, i + 1, accounts, slots, idleWaitMs, timeoutMs)
}

/**
 * Appends a ready tx. Multi-producer: the slot is reserved with one atomic add, then filled;
 * a consumer that reserved the slot first waits for the fill (see queuePop).
 */
export function queuePush(v: BlockViews, tx: number): void {
  const slot = Atomics.add(v.control, QUEUE_TAIL, 1)
  if (slot >= v.queue.length) throw new RangeError(`ready queue overflow: slot ${slot} of ${v.queue.length} (a tx was made ready twice)`)
  Atomics.store(v.queue, slot, tx)
  Atomics.notify(v.queue, slot, 1)
  // Workers increment SLEEPERS before their last emptiness check, so either this load sees
  // them and wakes them, or their check (later in the total order) sees this tx.
  if (Atomics.load(v.control, SLEEPERS) > 0) wakeAll(v)
}

/** Takes the oldest ready tx, or returns -1 when the queue is empty. Multi-consumer. */
export function queuePop(v: BlockViews): number {
  for (;;) {
    const head = Atomics.load(v.control, QUEUE_HEAD)
    if (head >= Atomics.load(v.control, QUEUE_TAIL)) return -1
    if (Atomics.compareExchange(v.control, QUEUE_HEAD, head, head + 1) !== head) continue
    // Reserved by a producer that has not stored the index yet (it was preempted between its
    // two steps): its notify ends the wait; the timeout only bounds a lost race on a busy core.
    let tx: number
    while ((tx = Atomics.load(v.queue, head)) === EMPTY_SLOT) Atomics.wait(v.queue, head, EMPTY_SLOT, 1)
    return tx
  }
}

function queueLooksEmpty(v: BlockViews): boolean {
  return Atomics.load(v.control, QUEUE_HEAD) >= Atomics.load(v.control, QUEUE_TAIL)
}

export function wakeAll(v: BlockViews): void {
  Atomics.add(v.control, WAKE, 1)
  Atomics.notify(v.control, WAKE)
}

/** Stops every worker of the block at its next tx (a worker failed, or the caller gave up). */
export function abortBlock(v: BlockViews): void {
  Atomics.store(v.control, ABORT, 1)
  wakeAll(v)
}

/**
 * Marks tx `tx` done: decrements its successors' pending counts. The first successor that
 * becomes ready is returned for this worker to run next (a hot key's chain stays on one worker
 * and off the queue); the others are pushed. Returns -1 when none became ready.
 */
export function completeTx(v: BlockViews, tx: number): number {
  let next = -1
  for (let e = v.succStart[tx]!; e < v.succStart[tx + 1]!; e++) {
    const s = v.succs[e]!
    if (Atomics.sub(v.pending, s, 1) !== 1) continue
    Atomics.add(v.control, OUTSTANDING, 1)
    if (next < 0) next = s
    else queuePush(v, s)
  }
  // REMAINING before OUTSTANDING: whoever reads OUTSTANDING = 0 then reads a final REMAINING.
  if (Atomics.sub(v.control, REMAINING, 1) === 1) wakeAll(v)
  Atomics.sub(v.control, OUTSTANDING, 1)
  return next
}

/**
 * One worker's share of the block: once it is published, runs ready txs until every executable
 * tx is done. Returns false if the block was aborted (by another worker's failure or by the
 * main thread). Throws — after aborting the block, so the other workers stop too — what
 * `runTx` throws, and a stall: txs remain but none is ready or running, or (a lost wake-up or
 * a tx never released) no tx completed while this worker idled for `stallTimeoutMs` (or the
 * block was never published).
 */
export function drainBlock(v: BlockViews, runTx: (tx: number) => void, idleWaitMs: number, stallTimeoutMs: number): boolean {
  const { control } = v
  let idleSince = -1
  let remainingWhenIdle = -1
  try {
    if (!awaitPublished(v, idleWaitMs, stallTimeoutMs)) return false
    for (;;) {
      let tx = queuePop(v)
      if (tx < 0) {
        if (Atomics.load(control, ABORT) !== 0) return false
        const remaining = Atomics.load(control, REMAINING)
        if (remaining === 0) return true
        // OUTSTANDING = 0 is final (only a completing tx makes others ready); REMAINING is
        // re-read after it because the last completion decrements REMAINING first.
        if (Atomics.load(control, OUTSTANDING) === 0 && Atomics.load(control, REMAINING) !== 0) {
          throw new Error(`parallel executor stalled with ${Atomics.load(control, REMAINING)} txs unexecuted and none ready or running (dependency bookkeeping bug)`)
        }
        const now = performance.now()
        if (remaining !== remainingWhenIdle) {
          remainingWhenIdle = remaining
          idleSince = now
        } else if (now - idleSince > stallTimeoutMs) {
          throw new Error(`parallel executor stalled: no tx completed in ${Math.round(now - idleSince)} ms with ${remaining} txs unexecuted (scheduling bug)`)
        }
        Atomics.add(control, SLEEPERS, 1)
        const seen = Atomics.load(control, WAKE)
        if (queueLooksEmpty(v) && Atomics.load(control, REMAINING) !== 0 && Atomics.load(control, ABORT) === 0) {
          Atomics.wait(control, WAKE, seen, idleWaitMs)
        }
        Atomics.sub(control, SLEEPERS, 1)
        continue
      }
      while (tx >= 0) {
        if (Atomics.load(control, ABORT) !== 0) return false
        runTx(tx)
        tx = completeTx(v, tx)
      }
    }
  } catch (err) {
    abortBlock(v)
    throw err
  }
}
