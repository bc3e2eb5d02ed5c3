import { batchDigestOfEncoding } from '../core/batch.ts'
import type { Account } from '../core/account.ts'
import { decodeBlock, encodeBlock, type Block } from '../core/block.ts'
import { HASH_BYTES, bytesEqual, toHex } from '../core/hash.ts'
import { PUBLIC_KEY_BYTES } from '../core/keys.ts'
import { decodeQc, encodeQc, type QuorumCert } from '../core/vote.ts'
import type { RecoveryState, SafetyState } from '../consensus/types.ts'
import { Bucket, bucketKey, heightKey, heightOfKey, namedKey, type BucketId } from './buckets.ts'
import { CommittedTxFilter } from './committed-txs.ts'
import { crashPoint } from './crash-point.ts'
import type { Database, Op } from './database.ts'
import { Repository } from './repository.ts'
import {
  decodeAccount,
  decodeChainMeta,
  decodeComputeValue,
  decodeEvidence,
  decodeReceipts,
  decodeRecovery,
  decodeSafety,
  decodeTxRecord,
  encodeAccount,
  encodeChainMeta,
  encodeComputeValue,
  encodeEvidence,
  encodeReceipts,
  encodeRecovery,
  encodeSafety,
  encodeTxRecord,
  type ChainMeta,
  type ComputeValue,
  type StoredEvidence,
  type StoredReceipt,
  type TxRecord,
} from './values.ts'

/**
 * The repositories of the node's LevelDB, one per bucket (buckets.ts says what each maps). The
 * generic ones are a spec each; a bucket with a rule of its own (the safety record's refusal to
 * go backwards, the tx index's filter, evidence's round-ordered keys) is a class here.
 */

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/** Height-keyed buckets: u64 big-endian, so key order is height order. */
function byHeight(bucket: (typeof Bucket)['committedBlockId' | 'commitProof' | 'receipts']) {
  return {
    bucket,
    key: (height: number) => heightKey(bucket, height),
    idOf: (key: Uint8Array) => {
      const height = heightOfKey(key)
      if (height === undefined) throw new RangeError(`key ${toHex(key)} of bucket 0x${bucket.toString(16)} is not a height key`)
      return height
    },
  }
}

/** Buckets keyed by a 32-byte hash (block id, batch digest, tx hash). */
function byHash(bucket: (typeof Bucket)['block' | 'batch' | 'txIndex']) {
  return { bucket, key: (hash: Uint8Array) => bucketKey(bucket, hash), idOf: (key: Uint8Array) => key.subarray(1) }
}

/** block id (32) -> Block; committed and not-yet-committed blocks. */
export function blockRepository(db: Database): Repository<Uint8Array, Block> {
  return new Repository(db, {
    ...byHash(Bucket.block),
    describe: (id) => `block ${toHex(id)}`,
    encode: encodeBlock,
    decode: decodeBlock,
    mismatch: (id, block) => (bytesEqual(block.id, id) ? undefined : `stored bytes hash to block ${toHex(block.id)}`),
  })
}

/** height -> id of the block committed there; 0..committedHeight without gaps. */
export function committedIdRepository(db: Database): Repository<number, Uint8Array> {
  return new Repository(db, {
    ...byHeight(Bucket.committedBlockId),
    describe: (height) => `height index entry ${height}`,
    encode: (id) => id,
    decode: (bytes) => bytes,
    mismatch: (_height, id) => (id.length === HASH_BYTES ? undefined : `${id.length} bytes, not a block id`),
  })
}

/** height -> the QC that proved the commit of that height. */
export function commitProofRepository(db: Database): Repository<number, QuorumCert> {
  return new Repository(db, { ...byHeight(Bucket.commitProof), describe: (height) => `commit proof of height ${height}`, encode: encodeQc, decode: decodeQc })
}

/** height -> the block's receipts in block order. */
export function receiptRepository(db: Database): Repository<number, readonly StoredReceipt[]> {
  return new Repository(db, { ...byHeight(Bucket.receipts), describe: (height) => `receipts of height ${height}`, encode: encodeReceipts, decode: decodeReceipts })
}

/** batch digest -> the batch's canonical bytes, checked against the digest they are stored under. */
export function batchRepository(db: Database): Repository<Uint8Array, Uint8Array> {
  return new Repository(db, {
    ...byHash(Bucket.batch),
    describe: (digest) => `batch ${toHex(digest)}`,
    encode: (bytes) => bytes,
    decode: (bytes) => bytes,
    mismatch: (digest, bytes) => (bytesEqual(batchDigestOfEncoding(bytes), digest) ? undefined : 'stored bytes do not hash to its digest'),
  })
}

/**
 * The account bucket's key for an address in hex, as execution keys its writes (never client
 * input): decoded straight into the key, without `fromHex`'s copy and regex (one per changed
 * account per block), still refusing anything but exactly 32 bytes of hex.
 */
function accountKeyOfHex(hex: string): Uint8Array {
  const key = Buffer.allocUnsafe(1 + PUBLIC_KEY_BYTES)
  key[0] = Bucket.account
  if (hex.length !== 2 * PUBLIC_KEY_BYTES || key.write(hex, 1, 'hex') !== PUBLIC_KEY_BYTES) {
    throw new RangeError(`state write key ${JSON.stringify(hex.slice(0, 80))} is not a ${PUBLIC_KEY_BYTES}-byte address in hex`)
  }
  return key
}

/** address (hex) -> Account. */
export function accountRepository(db: Database): Repository<string, Account> {
  return new Repository(db, {
    bucket: Bucket.account,
    key: accountKeyOfHex,
    idOf: (key) => toHex(key.subarray(1)),
    describe: (address) => `account ${address}`,
    encode: encodeAccount,
    decode: decodeAccount,
    mismatch: (address) => (address.length === 2 * PUBLIC_KEY_BYTES ? undefined : `key is not ${PUBLIC_KEY_BYTES} bytes`),
  })
}

/** compute-state key (the execution key's string) -> its value. */
export function computeStateRepository(db: Database): Repository<string, ComputeValue> {
  return new Repository(db, {
    bucket: Bucket.computeKey,
    key: (name) => bucketKey(Bucket.computeKey, utf8.encode(name)),
    idOf: (key) => fromUtf8.decode(key.subarray(1)),
    describe: (name) => `compute key ${name}`,
    encode: encodeComputeValue,
    decode: decodeComputeValue,
  })
}

/** A bucket that holds one record under a fixed name. */
function namedRecord<N extends string, T>(db: Database, bucket: BucketId, name: N, what: string, encode: (value: T) => Uint8Array, decode: (bytes: Uint8Array) => T): Repository<N, T> {
  return new Repository(db, { bucket, key: (n) => namedKey(bucket, n), idOf: () => name, describe: () => what, encode, decode })
}

/** 'chain' -> the persisted chain tip; changes only inside a commit batch. */
export function chainMetaRepository(db: Database): Repository<'chain', ChainMeta> {
  return namedRecord(db, Bucket.meta, 'chain', 'chain meta', encodeChainMeta, decodeChainMeta)
}

/**
 * The safety record ('safety' in its bucket) and the consensus recovery state ('recovery'),
 * always written together, fsynced, and never backwards.
 */
export class SafetyRecord {
  readonly #db: Database
  readonly #safety: Repository<'safety', SafetyState>
  readonly #recovery: Repository<'recovery', RecoveryState>
  #last: SafetyState | undefined

  private constructor(db: Database) {
    this.#db = db
    this.#safety = namedRecord(db, Bucket.safety, 'safety', 'safety state', encodeSafety, decodeSafety)
    this.#recovery = namedRecord(db, Bucket.consensus, 'recovery', 'recovery state', encodeRecovery, decodeRecovery)
  }

  /** Reads the stored record (refusing a damaged one) so `save` can refuse regressions. */
  static async open(db: Database): Promise<SafetyRecord> {
    const record = new SafetyRecord(db)
    record.#last = await record.load()
    return record
  }

  /**
   * Durable (fsync) before it resolves: the caller releases a vote or timeout only afterwards,
   * so a crash can never leave a signature out in the world that the restarted node forgets.
   * The recovery state (high QC, last TC) goes in the same atomic write, so the restarted core
   * resumes in exactly the round its last signature was for. Refuses to move either safety
   * round backwards (a driver bug that would allow a double vote).
   */
  async save(s: SafetyState, recovery: RecoveryState): Promise<void> {
    const last = this.#last
    if (last !== undefined && (s.highestVotedRound < last.highestVotedRound || s.highestQcRound < last.highestQcRound)) {
      throw new Error(
        `safety regression refused: stored (voted ${last.highestVotedRound}, qc ${last.highestQcRound}), ` +
          `asked to write (voted ${s.highestVotedRound}, qc ${s.highestQcRound})`,
      )
    }
    crashPoint('safety:before-write')
    await this.#db.writeSynced([this.#safety.op('safety', s), this.#recovery.op('recovery', recovery)])
    crashPoint('safety:after-write')
    this.#last = s
  }

  load(): Promise<SafetyState | undefined> {
    return this.#safety.get('safety')
  }

  loadRecovery(): Promise<RecoveryState | undefined> {
    return this.#recovery.get('recovery')
  }
}

/**
 * tx hash -> where the tx was committed (its first inclusion), with every indexed hash also in a
 * Bloom filter in memory (committed-txs.ts) that answers admission's "already committed?" misses.
 */
export class TxIndex {
  readonly #db: Database
  readonly #records: Repository<Uint8Array, TxRecord>
  /** Every tx hash in the index (filled at open, then by each commit before it is written). */
  readonly #filter = new CommittedTxFilter()

  private constructor(db: Database) {
    this.#db = db
    this.#records = new Repository(db, {
      ...byHash(Bucket.txIndex),
      describe: (hash) => `tx index entry ${toHex(hash)}`,
      encode: encodeTxRecord,
      decode: decodeTxRecord,
    })
  }

  /** Fills the committed-tx filter from the index's keys (≈ 1 s per million txs). */
  static async open(db: Database): Promise<TxIndex> {
    const index = new TxIndex(db)
    for await (const key of db.keys(Bucket.txIndex)) index.#filter.add(key.subarray(1))
    return index
  }

  get(hash: Uint8Array): Promise<TxRecord | undefined> {
    return this.#records.get(hash)
  }

  /** Whether each tx is in the index: the filter answers the misses, one LevelDB call the rest. */
  async hasMany(hashes: readonly Uint8Array[]): Promise<boolean[]> {
    const found = new Array<boolean>(hashes.length).fill(false)
    const maybe: number[] = []
    hashes.forEach((h, i) => {
      if (this.#filter.mightContain(h)) maybe.push(i)
    })
    if (maybe.length === 0) return found
    const indexed = await this.#db.hasMany(maybe.map((i) => bucketKey(Bucket.txIndex, hashes[i]!)))
    maybe.forEach((i, k) => {
      found[i] = indexed[k]!
    })
    return found
  }

  /**
   * The index writes of a block's receipts. A tx can be included more than once (the same tx in
   * two authors' batches, or again after a failure). Clients must see where it took effect: an
   * `ok` execution is indexed over whatever is there — an earlier inclusion can only have failed,
   * since a success uses up the tx's nonce, and within a block every later copy is a `duplicate` —
   * and a failure only where nothing is indexed yet (its first failure, in this block or an
   * earlier one). So only failed receipts cost an index lookup, and a block's failures are the
   * exception.
   */
  async ops(height: number, receipts: readonly StoredReceipt[]): Promise<Op[]> {
    const keys = receipts.map((r) => bucketKey(Bucket.txIndex, r.txHash))
    const put = (r: StoredReceipt, index: number): Op => {
      const record: TxRecord = { height, index, status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}) }
      return { key: keys[index]!, value: encodeTxRecord(record) }
    }
    const failed = receipts.flatMap((r, index) => (r.status === 'ok' ? [] : [index]))
    if (failed.length === 0) return receipts.map(put)
    const indexed = await this.#db.hasMany(failed.map((index) => keys[index]!))
    const indexedBefore = new Set(failed.filter((_, k) => indexed[k]))
    const indexedHere = new Set<string>()
    const ops: Op[] = []
    receipts.forEach((r, index) => {
      const hex = toHex(r.txHash)
      if (r.status !== 'ok' && (indexedBefore.has(index) || indexedHere.has(hex))) return
      indexedHere.add(hex)
      ops.push(put(r, index))
    })
    return ops
  }

  /**
   * Into the filter before the write: a hash indexed but not in the filter would let its tx be
   * admitted again, while one in the filter but not indexed (a failed write) costs a lookup.
   */
  noteCommitted(receipts: readonly StoredReceipt[]): void {
    for (const r of receipts) this.#filter.add(r.txHash)
  }
}

/** Round first, so the key order is round order and the newest records are the last keys. */
function evidenceKey(e: StoredEvidence): Uint8Array {
  const kind = utf8.encode(e.kind)
  const key = new Uint8Array(1 + 8 + 2 + kind.length)
  const view = new DataView(key.buffer)
  key[0] = Bucket.evidence
  view.setBigUint64(1, BigInt(e.round))
  view.setUint16(9, e.offender)
  key.set(kind, 11)
  return key
}

/** round | offender | kind -> the evidence record; one per (round, offender, kind). */
export class EvidenceRepository {
  readonly #db: Database

  constructor(db: Database) {
    this.#db = db
  }

  /**
   * Idempotent: one record per (round, offender, kind). Not fsynced: evidence is diagnostic, and
   * a record lost in a crash costs nothing to consensus (the offender's messages stay signed).
   */
  put(e: StoredEvidence): Promise<void> {
    return this.#db.put(evidenceKey(e), encodeEvidence(e))
  }

  /** The `limit` records of the highest rounds (oldest first) and how many are stored in all. */
  async newest(limit: number): Promise<{ records: StoredEvidence[]; total: number }> {
    const { count, values } = await this.#db.tail(Bucket.evidence, limit)
    const records = values.reverse().map((bytes, i) => this.#db.decode(`evidence record ${i}`, bytes, decodeEvidence))
    return { records, total: count }
  }
}
