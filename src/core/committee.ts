import { PUBLIC_KEY_BYTES } from './keys.ts'
import { LIMITS } from './limits.ts'

/** Thrown by every `verify*` function; `reason` names what is wrong and who sent it. */
export class VerificationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'VerificationError'
  }
}

/**
 * The validator set as consensus sees it: public keys in genesis order (index = validator id).
 * n = 3f + 1 is the design point; for other n, f = ⌊(n−1)/3⌋ and quorum = n − f, the smallest
 * size for which any two quorums intersect in at least f + 1 validators (so in one honest one).
 */
export class Committee {
  readonly publicKeys: readonly Uint8Array[]
  readonly n: number
  readonly f: number
  readonly quorum: number

  constructor(publicKeys: readonly Uint8Array[]) {
    if (publicKeys.length < 1 || publicKeys.length > LIMITS.maxValidators) {
      throw new RangeError(`validator count ${publicKeys.length} outside 1..${LIMITS.maxValidators}`)
    }
    for (const [i, k] of publicKeys.entries()) {
      if (k.length !== PUBLIC_KEY_BYTES) throw new RangeError(`validator ${i}: public key must be 32 bytes`)
    }
    this.publicKeys = publicKeys
    this.n = publicKeys.length
    this.f = Math.floor((this.n - 1) / 3)
    this.quorum = this.n - this.f
  }

  key(index: number): Uint8Array {
    const k = this.publicKeys[index]
    if (k === undefined) throw new VerificationError(`unknown validator index ${index} (n=${this.n})`)
    return k
  }

  has(index: number): boolean {
    return Number.isInteger(index) && index >= 0 && index < this.n
  }
}

/**
 * Signer lists are canonical: strictly increasing validator indices. This rejects duplicates
 * (a QC counting one vote twice) and gives every certificate exactly one encoding.
 */
export function checkSigners(signers: readonly number[], committee: Committee, what: string): void {
  if (signers.length < committee.quorum) {
    throw new VerificationError(`${what}: ${signers.length} signers, quorum is ${committee.quorum}`)
  }
  for (let i = 0; i < signers.length; i++) {
    const s = signers[i]!
    if (!committee.has(s)) throw new VerificationError(`${what}: unknown signer ${s}`)
    if (i > 0 && s <= signers[i - 1]!) {
      throw new VerificationError(`${what}: signers not strictly increasing at position ${i} (duplicate or unsorted)`)
    }
  }
}
