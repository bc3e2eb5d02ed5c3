import { HASH_BYTES, bytesEqualAt, hashKey31 } from '../core/hash.ts'
import { SIGNATURE_BYTES } from '../core/keys.ts'
import { SlotIndex } from '../core/slot-index.ts'
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
 * Txs whose signature this node already checked, so it verifies each tx once (docs/design.md §5) whether
 * it arrives from a client or inside a peer's batch. Keyed by tx hash, which covers the body only,
 * so the signature is stored and compared too: the same body with different signature bytes is
 * a different message and gets verified. Bounded: the oldest entry goes first.
 *
 * Entries are copied into one preallocated table (capacity × 96 bytes), slots reused in
 * insertion order, so remembering a tx neither allocates nor keeps the buffer it was decoded
 * from alive. Slots are found by the hash's first 31 bits (SlotIndex) and the full hash is
 * compared on lookup: two hashes that share the key keep only the newer one, so a collision can
 * only make a tx be checked again, never let an unchecked one through.
 */
export class VerifiedTxs {
  readonly capacity: number
  readonly #slots: SlotIndex
  readonly #entries: Uint8Array
  /** Slots filled so far; once full, `next` is the oldest slot, the next to be reused. */
  #filled = 0
  #next = 0

  constructor(capacity = DEFAULT_VERIFIED_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`verified-tx capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
    this.#slots = new SlotIndex(capacity)
    this.#entries = new Uint8Array(capacity * ENTRY_BYTES)
  }

  /** Every filled slot holds one key: a reused slot gives up its old key as it takes the new one. */
  get size(): number {
    return this.#filled
  }

  has(hash: Uint8Array, signature: Uint8Array): boolean {
    if (hash.length !== HASH_BYTES || signature.length !== SIGNATURE_BYTES) return false
    const slot = this.#slots.get(hashKey31(hash))
    if (slot < 0) return false
    const at = slot * ENTRY_BYTES
    return bytesEqualAt(this.#entries, at, hash) && bytesEqualAt(this.#entries, at + HASH_BYTES, signature)
  }

  /** A key already present keeps its slot (its place in the eviction order) and takes the new hash and signature. */
  add(hash: Uint8Array, signature: Uint8Array): void {
    if (hash.length !== HASH_BYTES || signature.length !== SIGNATURE_BYTES) {
      throw new RangeError(`verified tx needs a ${HASH_BYTES}-byte hash and a ${SIGNATURE_BYTES}-byte signature, got ${hash.length} and ${signature.length}`)
    }
    const key = hashKey31(hash)
    let slot = this.#slots.get(key)
    if (slot < 0) {
      if (this.#filled < this.capacity) {
        slot = this.#filled++
      } else {
        slot = this.#next
        this.#slots.delete(this.#slots.keyAt(slot))
        this.#next = (slot + 1) % this.capacity
      }
      this.#slots.set(key, slot)
    }
    this.#entries.set(hash, slot * ENTRY_BYTES)
    this.#entries.set(signature, slot * ENTRY_BYTES + HASH_BYTES)
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
