import { bytesEqual, toHex } from '../core/hash.ts'
import { encodeTx, type Tx } from '../core/tx.ts'
import type { TxSignatureVerifier } from './verifier.ts'

/**
 * How many verified txs are remembered. A tx submitted here usually reappears in peers' batches
 * within a second or two; 65,536 entries cover that window at tens of thousands of tx/s for
 * about 10 MB (hash key + 64-byte signature each).
 */
export const DEFAULT_VERIFIED_CAPACITY = 65_536

/**
 * Txs whose signature this node already checked, so it verifies each tx once (DESIGN §6) whether
 * it arrives from a client or inside a peer's batch. Keyed by tx hash, which covers the body only,
 * so the signature is stored and compared too: the same body with different signature bytes is
 * a different message and gets verified. Bounded: the oldest entry goes first.
 */
export class VerifiedTxs {
  readonly capacity: number
  private readonly signatures = new Map<string, Uint8Array>()
  /**
   * Keys in insertion order, a ring of `capacity` slots; `next` is the oldest once full. Evicting
   * through the Map's own iteration order (`keys().next()`) is quadratic in practice: V8 leaves
   * deleted entries as holes at the front until the next rehash, and every eviction re-skips
   * them — it was the costliest mempool function in the testnet profile.
   */
  private readonly order: string[] = []
  private next = 0

  constructor(capacity = DEFAULT_VERIFIED_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`verified-tx capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
  }

  get size(): number {
    return this.signatures.size
  }

  has(hash: Uint8Array, signature: Uint8Array): boolean {
    const known = this.signatures.get(toHex(hash))
    return known !== undefined && bytesEqual(known, signature)
  }

  /** A hash already present keeps its place in the eviction order and takes the new signature. */
  add(hash: Uint8Array, signature: Uint8Array): void {
    const key = toHex(hash)
    if (this.signatures.has(key)) {
      this.signatures.set(key, signature)
      return
    }
    if (this.order.length < this.capacity) {
      this.order.push(key)
    } else {
      this.signatures.delete(this.order[this.next]!)
      this.order[this.next] = key
      this.next = (this.next + 1) % this.capacity
    }
    this.signatures.set(key, signature)
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
 */
export async function verifyOnce(txs: readonly TxToVerify[], verified: VerifiedTxs, verifier: TxSignatureVerifier): Promise<boolean[]> {
  const toCheck = txs.flatMap((t, i) => (verified.has(t.hash, t.tx.signature) ? [] : [i]))
  const verdicts = toCheck.length === 0 ? [] : await verifier.verifyTxs(toCheck.map((i) => txs[i]!.encoded ?? encodeTx(txs[i]!.tx)))
  const valid = txs.map(() => true)
  toCheck.forEach((i, k) => {
    if (verdicts[k]) verified.add(txs[i]!.hash, txs[i]!.tx.signature)
    else valid[i] = false
  })
  return valid
}
