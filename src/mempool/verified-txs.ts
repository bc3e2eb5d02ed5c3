import { HASH_BYTES, bytesEqualAt, hashKey31 } from '../core/hash.ts'
import { SIGNATURE_BYTES } from '../core/keys.ts'
import { encodeTx, type Tx } from '../core/tx.ts'
import type { TxSignatureVerifier, VerifyPriority } from './verifier.ts'

/**
 * How many verified txs are remembered. A tx submitted here usually reappears in peers' batches
 * within a second or two; 65,536 entries cover that window at tens of thousands of tx/s for
 * about 10 MB (hash key + 64-byte signature each).
 */
export const DEFAULT_VERIFIED_CAPACITY = 65_536

/** Bytes per remembered tx: its hash, then its signature. */
const ENTRY_BYTES = HASH_BYTES + SIGNATURE_BYTES

/**
 * The index is never more than half full, so a scan through all its positions means a deletion
 * left stale entries behind: that throws rather than spinning the event loop forever.
 */
const INDEX_FULL = 'verified-tx index has no empty position'

/**
 * Txs whose signature this node already checked, so it verifies each tx once (DESIGN §6) whether
 * it arrives from a client or inside a peer's batch. Keyed by tx hash, which covers the body only,
 * so the signature is stored and compared too: the same body with different signature bytes is
 * a different message and gets verified. Bounded: the oldest entry goes first.
 *
 * Entries are copied into one preallocated table (capacity × 96 bytes), slots reused in
 * insertion order, so remembering a tx neither allocates nor keeps the buffer it was decoded
 * from alive. Slots are found by the hash's first 31 bits in an open-addressing index (linear
 * probing, at most half full, deletion by backward shift), and the full hash is compared on
 * lookup: two hashes that share the key keep only the newer one, so a collision can only make a
 * tx be checked again, never let an unchecked one through. The index is a typed array rather than
 * a Map because a full Map churned by one delete and one insert per tx rebuilt its whole table
 * every few seconds (≈ 2 MB each time at the default capacity, on fresh pages).
 */
export class VerifiedTxs {
  readonly capacity: number
  /** Slot + 1 per position, 0 = empty; twice the capacity or more, a power of two. */
  private readonly index: Int32Array
  private readonly mask: number
  private readonly keyAt: Uint32Array
  private readonly entries: Uint8Array
  /** Slots filled so far; once full, `next` is the oldest slot, the next to be reused. */
  private filled = 0
  private next = 0

  constructor(capacity = DEFAULT_VERIFIED_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`verified-tx capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
    const positions = 2 ** Math.ceil(Math.log2(2 * capacity))
    this.index = new Int32Array(positions)
    this.mask = positions - 1
    this.keyAt = new Uint32Array(capacity)
    this.entries = new Uint8Array(capacity * ENTRY_BYTES)
  }

  /** Every filled slot holds one key: a reused slot gives up its old key as it takes the new one. */
  get size(): number {
    return this.filled
  }

  has(hash: Uint8Array, signature: Uint8Array): boolean {
    if (hash.length !== HASH_BYTES || signature.length !== SIGNATURE_BYTES) return false
    const held = this.index[this.positionOf(hashKey31(hash))]!
    if (held === 0) return false
    const at = (held - 1) * ENTRY_BYTES
    return bytesEqualAt(this.entries, at, hash) && bytesEqualAt(this.entries, at + HASH_BYTES, signature)
  }

  /** A key already present keeps its slot (its place in the eviction order) and takes the new hash and signature. */
  add(hash: Uint8Array, signature: Uint8Array): void {
    if (hash.length !== HASH_BYTES || signature.length !== SIGNATURE_BYTES) {
      throw new RangeError(`verified tx needs a ${HASH_BYTES}-byte hash and a ${SIGNATURE_BYTES}-byte signature, got ${hash.length} and ${signature.length}`)
    }
    const key = hashKey31(hash)
    let position = this.positionOf(key)
    let slot = this.index[position]! - 1
    if (slot < 0) {
      if (this.filled < this.capacity) {
        slot = this.filled++
      } else {
        slot = this.next
        this.remove(this.positionOf(this.keyAt[slot]!))
        this.next = (slot + 1) % this.capacity
        position = this.positionOf(key)
      }
      this.index[position] = slot + 1
      this.keyAt[slot] = key
    }
    this.entries.set(hash, slot * ENTRY_BYTES)
    this.entries.set(signature, slot * ENTRY_BYTES + HASH_BYTES)
  }

  /** Where `key` is in the index, or the empty position where it would go. */
  private positionOf(key: number): number {
    let position = key & this.mask
    for (let probes = 0; probes <= this.mask; probes++) {
      const held = this.index[position]!
      if (held === 0 || this.keyAt[held - 1] === key) return position
      position = (position + 1) & this.mask
    }
    throw new Error(INDEX_FULL)
  }

  /** Empties `position`, moving back later entries of its probe run that would otherwise become unreachable. */
  private remove(position: number): void {
    let hole = position
    let next = position
    for (let probes = 0; ; probes++) {
      if (probes > this.mask) throw new Error(INDEX_FULL)
      next = (next + 1) & this.mask
      const held = this.index[next]!
      if (held === 0) break
      const home = this.keyAt[held - 1]! & this.mask
      // The entry stays unless its home lies cyclically outside (hole, next].
      const staysPut = hole <= next ? hole < home && home <= next : hole < home || home <= next
      if (!staysPut) {
        this.index[hole] = held
        hole = next
      }
    }
    this.index[hole] = 0
  }
}

/** A tx to check: `hash` and the tx's signature key the cache; `encoded` if already at hand. */
export interface TxToVerify {
  readonly hash: Uint8Array
  readonly tx: Tx
  readonly encoded?: Uint8Array
}

/**
 * One verdict per tx (true: validly signed by its sender). Only txs `verified` does not already
 * hold go to `verifier` (encoded only then); the valid ones are remembered, so each tx is checked
 * once per node whether it comes from a client, a peer's batch or another leader's full block.
 * `priority` goes with the checks to the verifier (VerifyPriority).
 */
export async function verifyOnce(txs: readonly TxToVerify[], verified: VerifiedTxs, verifier: TxSignatureVerifier, priority?: VerifyPriority): Promise<boolean[]> {
  const toCheck: number[] = []
  for (let i = 0; i < txs.length; i++) if (!verified.has(txs[i]!.hash, txs[i]!.tx.signature)) toCheck.push(i)
  const valid = new Array<boolean>(txs.length).fill(true)
  if (toCheck.length === 0) return valid
  const verdicts = await verifier.verifyTxs(toCheck.map((i) => txs[i]!.encoded ?? encodeTx(txs[i]!.tx)), priority)
  toCheck.forEach((i, k) => {
    if (verdicts[k]) verified.add(txs[i]!.hash, txs[i]!.tx.signature)
    else valid[i] = false
  })
  return valid
}
