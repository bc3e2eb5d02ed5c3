import { Reader, Writer, decodeWith } from './codec.ts'
import { DOMAIN, sha256 } from './hash.ts'
import { LIMITS } from './limits.ts'
import { readTx, writeTx, type Tx } from './tx.ts'

/**
 * A batch of txs disseminated by its author (Narwhal / Quorum Store style): blocks reference
 * batches by digest, so the leader's link never carries the tx bytes.
 */
export interface Batch {
  readonly author: number
  readonly seq: number
  readonly txs: readonly Tx[]
}

/* Layout: u16 author | u64 seq | list<Tx> txs. digest = sha256(DOMAIN.batch || encoding). */

/** author, seq and the list's u32 count: everything before the first tx. */
const BATCH_HEADER_BYTES = 2 + 8 + 4

export function writeBatch(w: Writer, b: Batch): void {
  w.u16(b.author).u64(BigInt(b.seq)).list(b.txs, writeTx)
}

export function readBatch(r: Reader, readOneTx: (r: Reader) => Tx = readTx): Batch {
  const author = r.u16('batch.author')
  const seq = r.safeU64('batch.seq')
  const txs = r.list('batch.txs', LIMITS.maxBatchTxs, readOneTx)
  return { author, seq, txs }
}

export function encodeBatch(b: Batch): Uint8Array {
  const w = new Writer(64 + b.txs.length * 240)
  writeBatch(w, b)
  return w.finish()
}

export function decodeBatch(bytes: Uint8Array): Batch {
  return decodeWith(bytes, 'batch', readBatch)
}

/** A decoded batch with each tx's canonical encoding: `txBytes[i]` encodes `batch.txs[i]`. */
export interface IndexedBatch {
  readonly batch: Batch
  readonly txBytes: readonly Uint8Array[]
}

/**
 * decodeBatch for a node that keeps the encoding anyway (its batch store): the txs' byte fields
 * and `txBytes` are views into `bytes`, which must not change afterwards. Nothing is copied, and
 * the per-tx encodings serve hashing and signature checks without encoding the txs again.
 */
export function decodeBatchIndexed(bytes: Uint8Array): IndexedBatch {
  return decodeWith(
    bytes,
    'batch',
    (r) => {
      const txBytes: Uint8Array[] = []
      const batch = readBatch(r, (rr) => {
        const start = rr.offset
        const tx = readTx(rr)
        txBytes.push(rr.bytes.subarray(start, rr.offset))
        return tx
      })
      return { batch, txBytes }
    },
    true,
  )
}

/**
 * encodeBatch for txs whose canonical encodings are at hand (`txBytes[i]` must encode
 * `b.txs[i]`, as a mempool keeps them from admission): the header, then those bytes verbatim.
 * Returns `txBytes` again as views into the encoding, as decodeBatchIndexed would.
 */
export function encodeBatchIndexed(b: Batch, txBytes: readonly Uint8Array[]): IndexedBatch & { readonly encoded: Uint8Array } {
  if (txBytes.length !== b.txs.length) throw new RangeError(`batch of ${b.txs.length} txs given ${txBytes.length} encodings`)
  let size = BATCH_HEADER_BYTES
  for (const bytes of txBytes) size += bytes.length
  const w = new Writer(size).u16(b.author).u64(BigInt(b.seq)).u32(b.txs.length)
  for (const bytes of txBytes) w.raw(bytes)
  const encoded = w.finish()
  let offset = BATCH_HEADER_BYTES
  const views = txBytes.map((bytes) => encoded.subarray(offset, (offset += bytes.length)))
  return { batch: b, txBytes: views, encoded }
}

export function batchDigestOfEncoding(encoded: Uint8Array): Uint8Array {
  return sha256(DOMAIN.batch, encoded)
}

export function batchDigest(b: Batch): Uint8Array {
  return batchDigestOfEncoding(encodeBatch(b))
}

/** The author field leading a batch's encoding, without decoding the rest; undefined if too short. */
export function batchAuthorOfEncoding(encoded: Uint8Array): number | undefined {
  return encoded.length < 2 ? undefined : (encoded[0]! << 8) | encoded[1]!
}
