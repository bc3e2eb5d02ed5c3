import { bytesEqual, bytesEqualAt, toHex } from '../core/hash.ts'
import { LIMITS } from '../core/limits.ts'
import type { Tx } from '../core/tx.ts'
import { FEE_SINK } from './state.ts'
import { MAX_COMPUTE_UNITS } from './transition.ts'

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
 * VERIFY_COST_US      one ed25519 verify of an `unverified` tx (sodium, ≈ 50 µs);
 * DISPATCH_COST_US    extra CPU per tx on the parallel path: main-thread encoding, interning and
 *                     read-back plus the worker's decoding, body hash and shared-state copies.
 *                     Measured as the extra process CPU of the parallel path on 10,000 transfers
 *                     among 1,000 accounts: 127.6 ms vs 98.3 ms sequential, 2.9 µs per tx. It is
 *                     paid on the same cores as the work, hence added to the work before dividing
 *                     by workers.
 */
export const TX_BASE_COST_US = 4
export const SLOT_COST_US = 2
export const VERIFY_COST_US = 50
export const DISPATCH_COST_US = 3
/**
 * Fixed cost of one parallel block (laying out the shared buffer, posting one task per worker,
 * reading the results back): 256 transfers among 100 accounts (1.0 ms of modelled work) took
 * 7.4 ms in parallel vs 6.1 ms sequentially, 64 transfers 2.7 vs 3.7 ms.
 */
export const BLOCK_OVERHEAD_US = 1000
/**
 * A worker that finds no ready tx sleeps on a futex; a deep, narrow DAG hands txs from one
 * worker to the other about once per level and pays a wake-up each time. Fitted on 10,000
 * compute-50 txs among 10 accounts (4,675 levels, critical path 47 % of the work), forced
 * parallel: 629 ms vs 844 ms sequential, i.e. ≈ 25 µs per level beyond the work/critical path.
 */
export const HANDOFF_US = 25
/**
 * The parallel path is chosen only if predicted this much faster: the model is coarse, and
 * blocks predicted at 1.1–1.2× (compute ≈ 10 µs per tx) measured 0.8–1.06× in exec-bench.
 */
export const MIN_PREDICTED_SPEEDUP = 1.25
/** Below this many txs a block never leaves the main thread (the per-block overhead dominates). */
export const MIN_PARALLEL_TXS = 32

/**
 * A tx declares its sender's account and, unless it is the fee sink (see BlockOverlay) or the
 * sender itself, its recipient's.
 */
function declaresRecipient(tx: Tx): boolean {
  return !bytesEqual(tx.to, FEE_SINK) && !bytesEqual(tx.to, tx.from)
}

/** Slot keys a tx declares (duplicates included: the transition function reads each occurrence). */
function txSlotKeys(tx: Tx): readonly Uint8Array[] {
  return tx.kind === 'compute' ? tx.accessList : []
}

export function estimatedCostUs(tx: Tx, unverified: boolean): number {
  const verify = unverified ? VERIFY_COST_US : 0
  // Over-limit compute fails before burning anything: its declared units must not sway the model.
  if (tx.kind !== 'compute' || tx.computeUnits > MAX_COMPUTE_UNITS) return TX_BASE_COST_US + verify
  return TX_BASE_COST_US + verify + tx.accessList.length * SLOT_COST_US + tx.computeUnits
}

/** Key bytes: account ids are public keys, slot ids hashes; both 32 bytes. */
const KEY_BYTES = 32
const KEY_WORDS = KEY_BYTES / 4
/**
 * Random odd multipliers of the interner's hash, drawn once per process: the keys come from
 * txs (slot keys are any 32 bytes a client picks), and a fixed hash would let a client fill a
 * block with keys that all probe the same bucket, making one block's DAG quadratic to build.
 */
const HASH_MULTIPLIERS = Int32Array.from(crypto.getRandomValues(new Uint32Array(KEY_WORDS)), (m) => m | 1)

/**
 * Dense ids for the distinct 32-byte keys of one block, in first-seen order, so the DAG and the
 * shared state are plain arrays indexed by id. An open-addressing table over the key bytes:
 * no string per lookup (hex strings made interning two thirds of the DAG build). The keys are
 * copied into one contiguous arena, each with its 32-bit hash, so a probe compares hashes and
 * then bytes in the arena instead of chasing a key object per probe (and the arena is the
 * shared block's key region in one copy). The hex form, the WorldState key, is made once per
 * distinct key, on demand.
 */
export class KeyInterner {
  #arena: Uint8Array
  /** Hash of each key, by id. */
  #hashes: Int32Array
  #count = 0
  readonly #hexes: string[] = []
  /** Key id + 1 per bucket, 0 = empty; 2^bits buckets, at most half full. */
  #table: Int32Array
  #bits: number
  readonly #multipliers: Int32Array

  /**
   * `expectedKeys`: sizes the table and arena so that many keys fit without growing them.
   * `multipliers`: the hash's (tests pass zeros, so that every key collides).
   */
  constructor(expectedKeys = 32, multipliers: Int32Array = HASH_MULTIPLIERS) {
    this.#multipliers = multipliers
    this.#bits = Math.max(6, Math.ceil(Math.log2(2 * expectedKeys + 1)))
    this.#table = new Int32Array(2 ** this.#bits)
    this.#arena = new Uint8Array(Math.max(16, expectedKeys) * KEY_BYTES)
    this.#hashes = new Int32Array(Math.max(16, expectedKeys))
  }

  get size(): number {
    return this.#count
  }

  /** The keys of ids 0..size−1, 32 bytes each in id order (a view, valid until the next intern). */
  bytes(): Uint8Array {
    return this.#arena.subarray(0, this.#count * KEY_BYTES)
  }

  intern(key: Uint8Array): number {
    if (key.length !== KEY_BYTES) throw new RangeError(`interned keys are ${KEY_BYTES} bytes, got ${key.length}`)
    const h = hashKey(key, this.#multipliers)
    const mask = this.#table.length - 1
    for (let bucket = h >>> (32 - this.#bits); ; bucket = (bucket + 1) & mask) {
      const entry = this.#table[bucket]!
      if (entry === 0) break
      if (this.#hashes[entry - 1] === h && bytesEqualAt(this.#arena, (entry - 1) * KEY_BYTES, key)) return entry - 1
    }
    const id = this.#count++
    if (id === this.#hashes.length) this.#grow()
    this.#arena.set(key, id * KEY_BYTES)
    this.#hashes[id] = h
    if (2 * this.#count > this.#table.length) this.#rehash(this.#bits + 1)
    else this.#place(id)
    return id
  }

  /** Key `id` as lowercase hex (the WorldState key). */
  hex(id: number): string {
    return (this.#hexes[id] ??= toHex(this.#arena.subarray(id * KEY_BYTES, (id + 1) * KEY_BYTES)))
  }

  #grow(): void {
    const arena = new Uint8Array(this.#arena.length * 2)
    arena.set(this.#arena)
    this.#arena = arena
    const hashes = new Int32Array(this.#hashes.length * 2)
    hashes.set(this.#hashes)
    this.#hashes = hashes
  }

  #place(id: number): void {
    const mask = this.#table.length - 1
    let bucket = this.#hashes[id]! >>> (32 - this.#bits)
    while (this.#table[bucket] !== 0) bucket = (bucket + 1) & mask
    this.#table[bucket] = id + 1
  }

  #rehash(bits: number): void {
    this.#bits = bits
    this.#table = new Int32Array(2 ** bits)
    for (let id = 0; id < this.#count; id++) this.#place(id)
  }
}

/** Multilinear hash of the key's 32-bit words with the multipliers; its top bits pick the bucket. */
function hashKey(key: Uint8Array, multipliers: Int32Array): number {
  let h = 0
  for (let w = 0; w < KEY_WORDS; w++) {
    const o = 4 * w
    h = (h + Math.imul(key[o]! | (key[o + 1]! << 8) | (key[o + 2]! << 16) | (key[o + 3]! << 24), multipliers[w]!)) | 0
  }
  return h
}

/** An append-only Int32 list that doubles its storage, so CSR building allocates O(log n) times. */
export class Int32List {
  #data: Int32Array
  length = 0

  constructor(capacity = 16) {
    this.#data = new Int32Array(Math.max(1, capacity))
  }

  push(v: number): void {
    if (this.length === this.#data.length) {
      const next = new Int32Array(this.#data.length * 2)
      next.set(this.#data)
      this.#data = next
    }
    this.#data[this.length++] = v
  }

  at(i: number): number {
    return this.#data[i]!
  }

  /** The written prefix (a view: valid until the next push). */
  view(): Int32Array {
    return this.#data.subarray(0, this.length)
  }
}

/**
 * A block's conflict DAG in CSR form: the keys of tx i are ids[start[i]..start[i+1]) of the
 * account and slot lists; its successors are succs[succStart[i]..succStart[i+1]) in block order.
 * Excluded txs (pre-failed) have no keys, no edges and are not in `executable`.
 */
export interface Schedule {
  readonly txCount: number
  /** Indices of the txs to execute, in block order. */
  readonly executable: Int32Array
  readonly accounts: KeyInterner
  readonly slots: KeyInterner
  readonly txAccountStart: Int32Array
  readonly txAccountIds: Int32Array
  readonly txSlotStart: Int32Array
  readonly txSlotIds: Int32Array
  /** Distinct earlier txs sharing a key with tx i (the last one per shared key). */
  readonly predCount: Int32Array
  readonly succStart: Int32Array
  readonly succs: Int32Array
  readonly totalCostUs: number
  readonly criticalPathUs: number
  /** Longest dependency chain counted in txs (the number of DAG levels). */
  readonly depth: number
  /**
   * Some sender's nonces do not strictly increase in block order. Only then can the block hold
   * a duplicate (same body ⇒ same sender and nonce), so only then must tx hashes be computed
   * before scheduling to find them.
   */
  readonly mayHaveDuplicates: boolean
  /** Some tx exceeds a wire limit (access list, payload), so it cannot be shipped to a worker. */
  readonly unshippable: boolean
}

/**
 * Builds the DAG in one pass over the block. `excluded[i]` (a pre-failure reason) leaves tx i
 * out; `unverified[i]` adds a signature check to its cost.
 */
export function buildSchedule(txs: readonly Tx[], unverified?: readonly boolean[], excluded?: readonly (string | undefined)[]): Schedule {
  const n = txs.length
  // Sized for one new account per tx and one new slot per access-list entry: sizing for the
  // bound (two accounts per tx) built 10,000-tx blocks slower, the probes spread over more cache lines.
  const accounts = new KeyInterner(n)
  let slotRefs = 0
  for (const tx of txs) slotRefs += txSlotKeys(tx).length
  const slots = new KeyInterner(slotRefs)
  const executable = new Int32List(n)
  const txAccountStart = new Int32Array(n + 1)
  const txAccountIds = new Int32List(2 * n)
  const txSlotStart = new Int32Array(n + 1)
  const txSlotIds = new Int32List(n)
  const predCount = new Int32Array(n)
  const preds = new Int32List(2 * n)
  const predStart = new Int32Array(n + 1)
  const finishUs = new Float64Array(n)
  const level = new Int32Array(n)
  const lastAccountTouch: number[] = []
  const lastSlotTouch: number[] = []
  const lastNonce: bigint[] = []
  let mayHaveDuplicates = false
  let unshippable = false
  let totalCostUs = 0
  let criticalPathUs = 0
  let depth = 0

  /** Makes `lastTouch[id]` a predecessor of tx i (once), then i the key's last toucher. */
  const touch = (lastTouch: number[], id: number, i: number): void => {
    const prev = lastTouch[id] ?? -1
    lastTouch[id] = i
    if (prev < 0 || prev === i) return
    for (let p = predStart[i]!; p < preds.length; p++) if (preds.at(p) === prev) return
    preds.push(prev)
  }
  for (let i = 0; i < n; i++) {
    const tx = txs[i]!
    predStart[i] = preds.length
    if (excluded?.[i] === undefined) {
      executable.push(i)
      const sender = accounts.intern(tx.from)
      txAccountIds.push(sender)
      touch(lastAccountTouch, sender, i)
      if (declaresRecipient(tx)) {
        const recipient = accounts.intern(tx.to)
        txAccountIds.push(recipient)
        touch(lastAccountTouch, recipient, i)
      }
      for (const key of txSlotKeys(tx)) {
        const id = slots.intern(key)
        txSlotIds.push(id)
        touch(lastSlotTouch, id, i)
      }
      const previousNonce = lastNonce[sender]
      if (previousNonce !== undefined && tx.nonce <= previousNonce) mayHaveDuplicates = true
      if (previousNonce === undefined || tx.nonce > previousNonce) lastNonce[sender] = tx.nonce
      if (tx.accessList.length > LIMITS.maxAccessList || tx.payload.length > LIMITS.maxTxPayload) unshippable = true
      let startUs = 0
      for (let p = predStart[i]!; p < preds.length; p++) {
        const prev = preds.at(p)
        startUs = Math.max(startUs, finishUs[prev]!)
        level[i] = Math.max(level[i]!, level[prev]! + 1)
      }
      const cost = estimatedCostUs(tx, unverified?.[i] === true)
      predCount[i] = preds.length - predStart[i]!
      finishUs[i] = startUs + cost
      totalCostUs += cost
      criticalPathUs = Math.max(criticalPathUs, finishUs[i]!)
      depth = Math.max(depth, level[i]! + 1)
    }
    txAccountStart[i + 1] = txAccountIds.length
    txSlotStart[i + 1] = txSlotIds.length
  }
  predStart[n] = preds.length

  // Successor lists: count, prefix-sum, fill. Preds are visited in block order, so each
  // successor list comes out in block order too.
  const succStart = new Int32Array(n + 1)
  for (let e = 0; e < preds.length; e++) succStart[preds.at(e) + 1]!++
  for (let i = 0; i < n; i++) succStart[i + 1]! += succStart[i]!
  const succs = new Int32Array(preds.length)
  const fill = succStart.slice(0, n)
  for (let i = 0; i < n; i++) {
    for (let e = predStart[i]!; e < predStart[i + 1]!; e++) succs[fill[preds.at(e)]!++] = i
  }

  return {
    txCount: n,
    executable: executable.view(),
    accounts,
    slots,
    txAccountStart,
    txAccountIds: txAccountIds.view(),
    txSlotStart,
    txSlotIds: txSlotIds.view(),
    predCount,
    succStart,
    succs,
    totalCostUs,
    criticalPathUs,
    depth,
    mayHaveDuplicates,
    unshippable,
  }
}

/**
 * Predicted speedup of the parallel path: the work plus per-tx dispatch overhead spread over the
 * workers, but never faster than the block's critical path (a single hot account makes the whole
 * block one chain), plus a worker hand-off per DAG level and the fixed per-block cost.
 */
export function predictedSpeedup(totalCostUs: number, txs: number, criticalPathUs: number, depth: number, workers: number): number {
  const parallelUs = Math.max((totalCostUs + txs * DISPATCH_COST_US) / workers, criticalPathUs) + depth * HANDOFF_US + BLOCK_OVERHEAD_US
  return parallelUs > 0 ? totalCostUs / parallelUs : 1
}

/**
 * Whether even a conflict-free DAG could make the parallel path worthwhile. Checked before
 * building the DAG, which costs a few µs per tx — as much as executing a transfer.
 */
export function mayGainFromParallel(txs: readonly Tx[], unverified: readonly boolean[] | undefined, workers: number): boolean {
  if (workers < 2 || txs.length < MIN_PARALLEL_TXS) return false
  let totalCostUs = 0
  for (let i = 0; i < txs.length; i++) totalCostUs += estimatedCostUs(txs[i]!, unverified?.[i] === true)
  return predictedSpeedup(totalCostUs, txs.length, 0, 1, workers) >= MIN_PREDICTED_SPEEDUP
}

/** Whether the DAG predicts the parallel path at least MIN_PREDICTED_SPEEDUP faster. */
export function worthParallel(schedule: Schedule, workers: number): boolean {
  const { totalCostUs, executable, criticalPathUs, depth } = schedule
  return predictedSpeedup(totalCostUs, executable.length, criticalPathUs, depth, workers) >= MIN_PREDICTED_SPEEDUP
}
