import { bytesEqual, toHex } from '../core/hash.ts'

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

  add(hash: Uint8Array, signature: Uint8Array): void {
    const key = toHex(hash)
    this.signatures.delete(key)
    this.signatures.set(key, signature)
    if (this.signatures.size > this.capacity) {
      const oldest = this.signatures.keys().next().value as string
      this.signatures.delete(oldest)
    }
  }
}
