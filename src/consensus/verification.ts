import { verifyBlock, type Block } from '../core/block.ts'
import type { Committee } from '../core/committee.ts'
import { VerificationError } from '../core/committee.ts'
import { toHex } from '../core/hash.ts'
import { verify } from '../core/keys.ts'
import { timeoutSigningBytes, verifyTc, type Timeout, type TimeoutCert } from '../core/timeout.ts'
import { verifyQc, verifyVote, type QuorumCert, type Vote } from '../core/vote.ts'

/**
 * Distinct QCs live at one time are few (each honest validator's high QC is within a few rounds
 * of the others'); 256 covers long timeout streaks while bounding memory against junk.
 */
const MAX_CACHED_QCS = 256

/**
 * Signature checks for consensus messages, with verified QCs cached by (round, blockId): the same
 * QC arrives in a proposal and in up to n timeouts, and each check costs 2f+1 ed25519 verifies.
 *
 * Keying by (round, blockId) rather than by the exact signer set is sound: a cached key means
 * (blockId, round) is certified, which is all the core takes from a QC; and a QC object with that
 * key but bad signatures is never adopted as high QC (a valid one of that round already was).
 */
export class MessageVerifier {
  readonly #committee: Committee
  readonly #genesisId: Uint8Array
  readonly #verifiedQcs = new Set<string>()

  constructor(committee: Committee, genesisId: Uint8Array) {
    this.#committee = committee
    this.#genesisId = genesisId
  }

  qc(qc: QuorumCert): void {
    if (this.#verifiedQcs.has(qcKey(qc))) return
    verifyQc(qc, this.#committee, this.#genesisId)
    this.remember(qc)
  }

  /** Records a QC known valid without checking (one this validator aggregated itself). */
  remember(qc: QuorumCert): void {
    const key = qcKey(qc)
    if (this.#verifiedQcs.has(key)) return
    if (this.#verifiedQcs.size >= MAX_CACHED_QCS) this.#verifiedQcs.delete(this.#verifiedQcs.values().next().value!)
    this.#verifiedQcs.add(key)
  }

  block(block: Block): void {
    verifyBlock(block, this.#committee, this.#genesisId)
    this.remember(block.parentQc)
  }

  vote(vote: Vote): void {
    verifyVote(vote, this.#committee)
  }

  tc(tc: TimeoutCert): void {
    verifyTc(tc, this.#committee)
  }

  /**
   * The checks of core's `verifyTimeout`, with the high QC going through the cache instead of
   * being re-verified for each of the up to n timeouts that carry it.
   */
  timeout(t: Timeout): void {
    if (t.highQc.round >= t.round) {
      throw new VerificationError(`timeout round ${t.round} from ${t.author}: highQc round ${t.highQc.round} not below it`)
    }
    if (!verify(t.signature, timeoutSigningBytes(t.round, t.highQc.round), this.#committee.key(t.author))) {
      throw new VerificationError(`timeout round ${t.round} from ${t.author}: invalid signature`)
    }
    this.qc(t.highQc)
  }
}

function qcKey(qc: QuorumCert): string {
  return `${qc.round}:${toHex(qc.blockId)}`
}
