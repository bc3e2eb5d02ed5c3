import { Reader, Writer, decodeWith } from './codec.ts'
import { Committee, VerificationError, checkSigners } from './committee.ts'
import { DOMAIN, HASH_BYTES, bytesEqual } from './hash.ts'
import { SIGNATURE_BYTES, sign, verify } from './keys.ts'
import { LIMITS } from './limits.ts'

/** A validator's vote for block `blockId` proposed in `round`. */
export interface Vote {
  readonly blockId: Uint8Array
  readonly round: number
  readonly voter: number
  readonly signature: Uint8Array
}

/** 2f+1 votes for one block: the block (and its whole ancestry) is certified. */
export interface QuorumCert {
  readonly blockId: Uint8Array
  readonly round: number
  readonly signers: readonly number[]
  readonly signatures: readonly Uint8Array[]
}

/* Vote signing bytes: DOMAIN.vote || blockId || u64 round. */
export function voteSigningBytes(blockId: Uint8Array, round: number): Uint8Array {
  return new Writer(64).raw(DOMAIN.vote).fixed(blockId, HASH_BYTES).u64(BigInt(round)).finish()
}

export function signVote(blockId: Uint8Array, round: number, voter: number, secretKey: Uint8Array): Vote {
  return { blockId, round, voter, signature: sign(voteSigningBytes(blockId, round), secretKey) }
}

export function verifyVote(vote: Vote, committee: Committee): void {
  const key = committee.key(vote.voter)
  if (!verify(vote.signature, voteSigningBytes(vote.blockId, vote.round), key)) {
    throw new VerificationError(`vote round ${vote.round} from validator ${vote.voter}: invalid signature`)
  }
}

/* Layout: fixed32 blockId | u64 round | u16 voter | fixed64 signature */
export function writeVote(w: Writer, v: Vote): void {
  w.fixed(v.blockId, HASH_BYTES).u64(BigInt(v.round)).u16(v.voter).fixed(v.signature, SIGNATURE_BYTES)
}

export function readVote(r: Reader): Vote {
  return {
    blockId: r.fixed(HASH_BYTES, 'vote.blockId'),
    round: r.safeU64('vote.round'),
    voter: r.u16('vote.voter'),
    signature: r.fixed(SIGNATURE_BYTES, 'vote.signature'),
  }
}

export function encodeVote(v: Vote): Uint8Array {
  const w = new Writer(112)
  writeVote(w, v)
  return w.finish()
}

export function decodeVote(bytes: Uint8Array): Vote {
  return decodeWith(bytes, 'vote', readVote)
}

/* QC layout: fixed32 blockId | u64 round | list<u16> signers | list<fixed64> signatures */
export function writeQc(w: Writer, qc: QuorumCert): void {
  w.fixed(qc.blockId, HASH_BYTES)
    .u64(BigInt(qc.round))
    .list(qc.signers, (ww, s) => ww.u16(s))
    .list(qc.signatures, (ww, s) => ww.fixed(s, SIGNATURE_BYTES))
}

export function readQc(r: Reader): QuorumCert {
  const blockId = r.fixed(HASH_BYTES, 'qc.blockId')
  const round = r.safeU64('qc.round')
  const signers = r.list('qc.signers', LIMITS.maxValidators, (rr) => rr.u16('qc.signers[]'))
  const signatures = r.list('qc.signatures', LIMITS.maxValidators, (rr) => rr.fixed(SIGNATURE_BYTES, 'qc.signatures[]'))
  return { blockId, round, signers, signatures }
}

export function encodeQc(qc: QuorumCert): Uint8Array {
  const w = new Writer(128 + qc.signatures.length * 66)
  writeQc(w, qc)
  return w.finish()
}

export function decodeQc(bytes: Uint8Array): QuorumCert {
  return decodeWith(bytes, 'qc', readQc)
}

/** The genesis QC certifies the genesis block by definition and carries no signatures. */
export function genesisQc(genesisId: Uint8Array): QuorumCert {
  return { blockId: genesisId, round: 0, signers: [], signatures: [] }
}

export function isGenesisQc(qc: QuorumCert, genesisId: Uint8Array): boolean {
  return qc.round === 0 && qc.signers.length === 0 && bytesEqual(qc.blockId, genesisId)
}

/**
 * A QC is valid iff it is the genesis QC, or it carries ≥ quorum distinct known signers, each
 * with a valid vote signature over (blockId, round). Protects: quorum intersection — two
 * conflicting QCs for one round would need f+1 honest validators to vote twice.
 */
export function verifyQc(qc: QuorumCert, committee: Committee, genesisId: Uint8Array): void {
  if (isGenesisQc(qc, genesisId)) return
  if (qc.round === 0) throw new VerificationError('qc: round 0 is reserved for the genesis QC')
  if (qc.signers.length !== qc.signatures.length) {
    throw new VerificationError(`qc round ${qc.round}: ${qc.signers.length} signers but ${qc.signatures.length} signatures`)
  }
  checkSigners(qc.signers, committee, `qc round ${qc.round}`)
  const msg = voteSigningBytes(qc.blockId, qc.round)
  for (let i = 0; i < qc.signers.length; i++) {
    const signer = qc.signers[i]!
    if (!verify(qc.signatures[i]!, msg, committee.key(signer))) {
      throw new VerificationError(`qc round ${qc.round}: invalid signature of validator ${signer}`)
    }
  }
}
