import sodium from 'sodium-native'
import { DecodeError, Reader, Writer, decodeWith } from './codec.ts'
import { DOMAIN, HASH_BYTES, sha256 } from './hash.ts'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, sign, verify } from './keys.ts'
import { LIMITS } from './limits.ts'

/** An account address is its ed25519 public key. */
export type Address = Uint8Array

export type TxKind = 'transfer' | 'compute'
const KIND_CODE: Record<TxKind, number> = { transfer: 0, compute: 1 }
const KIND_BY_CODE: readonly TxKind[] = ['transfer', 'compute']

export interface TxBody {
  readonly kind: TxKind
  readonly from: Address
  readonly to: Address
  readonly amount: bigint
  readonly nonce: bigint
  readonly fee: bigint
  /** compute: deterministic CPU work in calibrated µs-equivalent units; 0 for transfers. */
  readonly computeUnits: number
  /** compute: extra state keys (32 bytes each) the tx reads and writes, besides from/to. */
  readonly accessList: readonly Uint8Array[]
  readonly payload: Uint8Array
}

export interface Tx extends TxBody {
  readonly signature: Uint8Array
}

/*
 * Tx layout (canonical):
 *   u8 kind | fixed32 from | fixed32 to | u64 amount | u64 nonce | u64 fee | u32 computeUnits |
 *   list<fixed32> accessList | bytes payload | fixed64 signature
 * The signature covers DOMAIN.tx || body (everything before the signature).
 * The tx hash is sha256(body): it identifies the tx independently of the signature bytes.
 */

export function writeTxBody(w: Writer, tx: TxBody): void {
  w.u8(KIND_CODE[tx.kind])
    .fixed(tx.from, PUBLIC_KEY_BYTES)
    .fixed(tx.to, PUBLIC_KEY_BYTES)
    .u64(tx.amount)
    .u64(tx.nonce)
    .u64(tx.fee)
    .u32(tx.computeUnits)
    .list(tx.accessList, (ww, k) => ww.fixed(k, HASH_BYTES))
    .bytes(tx.payload)
}

export function writeTx(w: Writer, tx: Tx): void {
  writeTxBody(w, tx)
  w.fixed(tx.signature, SIGNATURE_BYTES)
}

export function readTx(r: Reader): Tx {
  const code = r.u8('tx.kind')
  const kind = KIND_BY_CODE[code]
  if (kind === undefined) throw new DecodeError('tx.kind', `unknown kind ${code}`)
  const from = r.fixed(PUBLIC_KEY_BYTES, 'tx.from')
  const to = r.fixed(PUBLIC_KEY_BYTES, 'tx.to')
  const amount = r.u64('tx.amount')
  const nonce = r.u64('tx.nonce')
  const fee = r.u64('tx.fee')
  const computeUnits = r.u32('tx.computeUnits')
  const accessList = r.list('tx.accessList', LIMITS.maxAccessList, (rr) => rr.fixed(HASH_BYTES, 'tx.accessList[]'))
  const payload = r.bytesField('tx.payload', LIMITS.maxTxPayload)
  const signature = r.fixed(SIGNATURE_BYTES, 'tx.signature')
  return { kind, from, to, amount, nonce, fee, computeUnits, accessList, payload, signature }
}

export function encodeTxBody(tx: TxBody): Uint8Array {
  const w = new Writer(160)
  writeTxBody(w, tx)
  return w.finish()
}

/** Bytes of the fields whose size does not depend on the tx (kind … computeUnits, both list/bytes lengths, signature). */
const TX_FIXED_BYTES = 1 + 2 * PUBLIC_KEY_BYTES + 3 * 8 + 4 + 4 + 4 + SIGNATURE_BYTES

/** Length of encodeTx(tx), without encoding it. */
export function encodedTxLength(tx: Tx): number {
  return TX_FIXED_BYTES + tx.accessList.length * HASH_BYTES + tx.payload.length
}

export function encodeTx(tx: Tx): Uint8Array {
  const w = new Writer(224)
  writeTx(w, tx)
  return w.finish()
}

export function decodeTx(bytes: Uint8Array): Tx {
  return decodeWith(bytes, 'tx', readTx)
}

/** decodeTx whose byte fields are views into `bytes`: only for a tx dropped before `bytes` changes. */
export function decodeTxAliasing(bytes: Uint8Array): Tx {
  return decodeWith(bytes, 'tx', readTx, true)
}

export function txHash(tx: TxBody): Uint8Array {
  return sha256(encodeTxBody(tx))
}

/**
 * txHash from a tx's canonical encoding: sha256 of everything before the trailing signature,
 * without decoding or re-encoding the body. `encoded` must be a canonical encoding (any bytes
 * decodeTx accepts are: every field has one fixed-width or length-prefixed form).
 */
export function txBodyHash(encoded: Uint8Array): Uint8Array {
  return txBodyHashes([encoded])[0]!
}

/**
 * txBodyHash of each encoding, all written into one buffer (libsodium's SHA-256 hashes in place):
 * a batch's hashes cost one allocation instead of a Buffer each, which the garbage collector
 * would otherwise sweep one by one.
 */
export function txBodyHashes(encoded: readonly Uint8Array[]): Uint8Array[] {
  const arena = new Uint8Array(HASH_BYTES * encoded.length)
  return encoded.map((bytes, i) => {
    const out = arena.subarray(HASH_BYTES * i, HASH_BYTES * (i + 1))
    sodium.crypto_hash_sha256(out, bytes.subarray(0, bytes.length - SIGNATURE_BYTES))
    return out
  })
}

export function txSigningBytes(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(DOMAIN.tx.length + body.length)
  out.set(DOMAIN.tx, 0)
  out.set(body, DOMAIN.tx.length)
  return out
}

export function signTx(body: TxBody, secretKey: Uint8Array): Tx {
  return { ...body, signature: sign(txSigningBytes(encodeTxBody(body)), secretKey) }
}

/** The signer must be `from`: a tx signed by any other key is invalid. */
export function verifyTx(tx: Tx): boolean {
  return verify(tx.signature, txSigningBytes(encodeTxBody(tx)), tx.from)
}

function signingBuffer(size: number): Uint8Array {
  const buffer = new Uint8Array(size)
  buffer.set(DOMAIN.tx, 0)
  return buffer
}

/** Reused signing-bytes buffer of verifyEncodedTx: DOMAIN.tx, then the body being checked. */
let signingScratch = signingBuffer(256)

/**
 * verifyTx(decodeTx(encoded)) without copying the fields out or encoding the body again: the
 * signed body is the encoding minus its trailing signature (canonical, see txBodyHash). Throws
 * DecodeError for bytes that are not a tx.
 */
export function verifyEncodedTx(encoded: Uint8Array): boolean {
  const tx = decodeTxAliasing(encoded)
  const bodyLength = encoded.length - SIGNATURE_BYTES
  const length = DOMAIN.tx.length + bodyLength
  if (signingScratch.length < length) signingScratch = signingBuffer(2 * length)
  signingScratch.set(encoded.subarray(0, bodyLength), DOMAIN.tx.length)
  return verify(tx.signature, signingScratch.subarray(0, length), tx.from)
}
