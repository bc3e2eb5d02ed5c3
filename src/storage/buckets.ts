/**
 * One-byte key prefixes, one per repository of the node's single LevelDB (Lodestar db/buckets.ts
 * style). Each comment reads `key -> value`. Height keys are u64 big-endian, so LevelDB's
 * lexicographic order is numeric order and a height range is a key range.
 *
 * Prefixes are part of the on-disk format: never renumber one, only add new ones.
 */
export const Bucket = {
  /** block id (32) -> canonical `encodeBlock` bytes; committed and not-yet-committed blocks */
  block: 0x01,
  /** height (u64 BE) -> block id (32); committed blocks only, 0..committedHeight without gaps */
  committedBlockId: 0x02,
  /** height (u64 BE) -> canonical `encodeQc` bytes: the QC that proved the commit of that height */
  commitProof: 0x03,
  /** batch digest (32) -> canonical `encodeBatch` bytes */
  batch: 0x04,
  /** address (32) -> msgpack `{balance, nonce}` */
  account: 0x05,
  /** compute-state key (utf8 of the execution key) -> msgpack value (bytes or bigint) */
  computeKey: 0x06,
  /** tx hash (32) -> msgpack `{height, index, status, reason?}` of the tx's first inclusion */
  txIndex: 0x07,
  /** height (u64 BE) -> msgpack `Receipt[]` in block order */
  receipts: 0x08,
  /** 'chain' -> msgpack `{committedHeight, committedBlockId, executedHeight, stateRoot}` */
  meta: 0x09,
  /** 'safety' -> msgpack `SafetyState` (written with fsync before any vote or timeout leaves) */
  safety: 0x0a,
  /** 'recovery' -> canonical `RecoveryState` (high QC, last TC), written with the safety record */
  consensus: 0x0b,
  /**
   * round (u64 BE) | offender (u16 BE) | kind (utf8) -> msgpack `StoredEvidence` (both conflicting
   * signed messages, canonical bytes); one record per (round, offender, kind), in round order
   */
  evidence: 0x0c,
} as const

export type BucketId = (typeof Bucket)[keyof typeof Bucket]

export const BUCKET_NAMES: Readonly<Record<BucketId, string>> = Object.fromEntries(
  Object.entries(Bucket).map(([name, id]) => [id, name]),
) as Record<BucketId, string>

export function bucketKey(bucket: BucketId, suffix: Uint8Array): Uint8Array {
  const key = new Uint8Array(1 + suffix.length)
  key[0] = bucket
  key.set(suffix, 1)
  return key
}

export function heightKey(bucket: BucketId, height: number): Uint8Array {
  const key = new Uint8Array(9)
  key[0] = bucket
  new DataView(key.buffer).setBigUint64(1, BigInt(height))
  return key
}

/** Inverse of `heightKey`; `undefined` if the key is not a 9-byte height key. */
export function heightOfKey(key: Uint8Array): number | undefined {
  if (key.length !== 9) return undefined
  const h = new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(1)
  return h <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(h) : undefined
}

export function namedKey(bucket: BucketId, name: string): Uint8Array {
  return bucketKey(bucket, new TextEncoder().encode(name))
}

/** Iterator bounds covering exactly one bucket. */
export function bucketRange(bucket: BucketId): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(bucket), lt: Uint8Array.of(bucket + 1) }
}
