import { Reader, Writer, decodeWith } from './codec.ts'
import { Committee, VerificationError, checkSigners } from './committee.ts'
import { DOMAIN } from './hash.ts'
import { SIGNATURE_BYTES, sign, verify } from './keys.ts'
import { LIMITS } from './limits.ts'
import { readQc, verifyQc, writeQc, type QuorumCert } from './vote.ts'

/** "I give up on `round`; the highest QC I know is `highQc`." */
export interface Timeout {
  readonly round: number
  readonly highQc: QuorumCert
  readonly author: number
  readonly signature: Uint8Array
}

/** One signer's contribution to a TC: its signature over (round, its high-QC round). */
export interface TimeoutCertEntry {
  readonly signer: number
  readonly highQcRound: number
  readonly signature: Uint8Array
}

/** 2f+1 timeouts for `round`: lets the next leader propose without a QC for `round`. */
export interface TimeoutCert {
  readonly round: number
  readonly entries: readonly TimeoutCertEntry[]
}

/* Timeout signing bytes: DOMAIN.timeout || u64 round || u64 highQcRound (as in DiemBFT v4). */
export function timeoutSigningBytes(round: number, highQcRound: number): Uint8Array {
  return new Writer(48).raw(DOMAIN.timeout).u64(BigInt(round)).u64(BigInt(highQcRound)).finish()
}

export function signTimeout(round: number, highQc: QuorumCert, author: number, secretKey: Uint8Array): Timeout {
  return { round, highQc, author, signature: sign(timeoutSigningBytes(round, highQc.round), secretKey) }
}

/**
 * A timeout is valid iff it is signed by its author over (round, highQc.round), its highQc is
 * valid, and highQc.round < round (a node can only know QCs of rounds before the one it leaves).
 */
export function verifyTimeout(t: Timeout, committee: Committee, genesisId: Uint8Array): void {
  if (t.highQc.round >= t.round) {
    throw new VerificationError(`timeout round ${t.round} from ${t.author}: highQc round ${t.highQc.round} not below it`)
  }
  if (!verify(t.signature, timeoutSigningBytes(t.round, t.highQc.round), committee.key(t.author))) {
    throw new VerificationError(`timeout round ${t.round} from ${t.author}: invalid signature`)
  }
  verifyQc(t.highQc, committee, genesisId)
}

/* Layout: u64 round | QC highQc | u16 author | fixed64 signature */
export function writeTimeout(w: Writer, t: Timeout): void {
  w.u64(BigInt(t.round))
  writeQc(w, t.highQc)
  w.u16(t.author).fixed(t.signature, SIGNATURE_BYTES)
}

export function readTimeout(r: Reader): Timeout {
  const round = r.safeU64('timeout.round')
  const highQc = readQc(r)
  const author = r.u16('timeout.author')
  const signature = r.fixed(SIGNATURE_BYTES, 'timeout.signature')
  return { round, highQc, author, signature }
}

export function encodeTimeout(t: Timeout): Uint8Array {
  const w = new Writer(256)
  writeTimeout(w, t)
  return w.finish()
}

export function decodeTimeout(bytes: Uint8Array): Timeout {
  return decodeWith(bytes, 'timeout', readTimeout)
}

/* TC layout: u64 round | list<(u16 signer | u64 highQcRound | fixed64 signature)> */
export function writeTc(w: Writer, tc: TimeoutCert): void {
  w.u64(BigInt(tc.round)).list(tc.entries, (ww, e) => {
    ww.u16(e.signer).u64(BigInt(e.highQcRound)).fixed(e.signature, SIGNATURE_BYTES)
  })
}

export function readTc(r: Reader): TimeoutCert {
  const round = r.safeU64('tc.round')
  const entries = r.list('tc.entries', LIMITS.maxValidators, (rr) => ({
    signer: rr.u16('tc.entries[].signer'),
    highQcRound: rr.safeU64('tc.entries[].highQcRound'),
    signature: rr.fixed(SIGNATURE_BYTES, 'tc.entries[].signature'),
  }))
  return { round, entries }
}

export function encodeTc(tc: TimeoutCert): Uint8Array {
  const w = new Writer(32 + tc.entries.length * 80)
  writeTc(w, tc)
  return w.finish()
}

export function decodeTc(bytes: Uint8Array): TimeoutCert {
  return decodeWith(bytes, 'tc', readTc)
}

/** The highest high-QC round any TC signer reported: a block after a TC must extend at least it. */
export function tcHighQcRound(tc: TimeoutCert): number {
  let max = 0
  for (const e of tc.entries) if (e.highQcRound > max) max = e.highQcRound
  return max
}

/**
 * A TC is valid iff ≥ quorum distinct known signers each signed (round, highQcRound) and every
 * reported highQcRound is below the round. Protects the TC-extension vote rule: with a forged
 * or inflated TC a leader could make honest nodes abandon a locked (possibly committed) branch.
 */
export function verifyTc(tc: TimeoutCert, committee: Committee): void {
  checkSigners(tc.entries.map((e) => e.signer), committee, `tc round ${tc.round}`)
  for (const e of tc.entries) {
    if (e.highQcRound >= tc.round) {
      throw new VerificationError(`tc round ${tc.round}: signer ${e.signer} reports highQc round ${e.highQcRound}`)
    }
    if (!verify(e.signature, timeoutSigningBytes(tc.round, e.highQcRound), committee.key(e.signer))) {
      throw new VerificationError(`tc round ${tc.round}: invalid signature of validator ${e.signer}`)
    }
  }
}
