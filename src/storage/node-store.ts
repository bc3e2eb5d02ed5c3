import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { batchDigestOfEncoding } from '../core/batch.ts'
import { decodeBlock, encodeBlock, type Block } from '../core/block.ts'
import { HASH_BYTES, bytesEqual, toHex } from '../core/hash.ts'
import { PUBLIC_KEY_BYTES } from '../core/keys.ts'
import { decodeQc, encodeQc, genesisQc, type QuorumCert } from '../core/vote.ts'
import type { RecoveryState, SafetyState } from '../consensus/types.ts'
import { BUCKET_NAMES, Bucket, bucketKey, bucketRange, heightKey, heightOfKey, namedKey, type BucketId } from './buckets.ts'
import { CommittedTxFilter } from './committed-txs.ts'
import { crashPoint } from './crash-point.ts'
import { StorageCorruptionError } from './errors.ts'
import {
  decodeAccount,
  decodeChainMeta,
  decodeComputeValue,
  decodeReceipts,
  decodeRecovery,
  decodeSafety,
  decodeTxRecord,
  encodeAccount,
  encodeChainMeta,
  decodeEvidence,
  encodeComputeValue,
  encodeEvidence,
  encodeReceipts,
  encodeRecovery,
  encodeSafety,
  encodeTxRecord,
  type AccountState,
  type ChainMeta,
  type ComputeValue,
  type StoredEvidence,
  type StoredReceipt,
  type TxRecord,
} from './values.ts'

/**
 * How many of the newest committed heights `verifyIntegrity` decodes, re-hashes and links to
 * their parent at open. Older heights are only checked for presence in the height index (a
 * keys-only scan). 64 blocks cost a few ms at start and cover every height a crash could have
 * left half-written many times over (a commit is one atomic batch, so at most one is at risk).
 */
export const INTEGRITY_DEPTH = 64

/**
 * File next to LevelDB's own, written with fsync once genesis is durable. It lives outside the
 * database so that losing LevelDB's files (a log truncated to nothing opens as an EMPTY database)
 * cannot also erase the fact that this directory held a chain: without it the node would restart
 * from genesis with no safety record and could sign a second vote for a round it already voted in.
 * Content: JSON `{genesisBlockId: hex}`.
 */
export const INITIALIZED_MARKER = 'NODE_INITIALIZED'

const META_KEY = namedKey(Bucket.meta, 'chain')
const SAFETY_KEY = namedKey(Bucket.safety, 'safety')
const RECOVERY_KEY = namedKey(Bucket.consensus, 'recovery')

/**
 * State writes of one executed block, keyed like the execution module's WorldState:
 * an account under its address in hex, anything else (compute keys) under its own key string.
 */
export type StateWrites = ReadonlyMap<string, AccountState | ComputeValue>

export interface GenesisInput {
  readonly block: Block
  readonly writes: StateWrites
  readonly root: Uint8Array
}

export interface CommitInput {
  readonly block: Block
  /** The QC that proved the commit (for a 2-chain commit: the QC on the block's child). */
  readonly proof: QuorumCert
  /** In block order; a tx's first receipt is the one its tx-index entry records. */
  readonly receipts: readonly StoredReceipt[]
  readonly writes: StateWrites
  /** State root after executing up to `executedHeight`. */
  readonly root: Uint8Array
  readonly executedHeight: number
}

type Op = { type: 'put'; key: Uint8Array; value: Uint8Array }

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

/**
 * LevelDB hands back Buffers; the core decoders slice their input, so without this every decoded
 * id and signature would be a Buffer and compare unequal to the Uint8Arrays the rest of the node uses.
 */
function plainBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/** Round first, so the key order is round order and the newest records are the last keys. */
function evidenceKey(e: StoredEvidence): Uint8Array {
  const kind = new TextEncoder().encode(e.kind)
  const key = new Uint8Array(1 + 8 + 2 + kind.length)
  const view = new DataView(key.buffer)
  key[0] = Bucket.evidence
  view.setBigUint64(1, BigInt(e.round))
  view.setUint16(9, e.offender)
  key.set(kind, 11)
  return key
}

function isAccountState(v: AccountState | ComputeValue): v is AccountState {
  return typeof v === 'object' && !(v instanceof Uint8Array)
}

/**
 * The node's single LevelDB (DESIGN §7). Every repository is a one-byte key prefix (buckets.ts);
 * values are encoded and decoded only here and in values.ts. A committed block's effects land in
 * one atomic, fsynced batch, so after any crash the database shows either the previous or the new
 * committed height, never a mix. Anything read back that does not decode is reported as a
 * StorageCorruptionError, never returned.
 */
export class NodeStore {
  readonly dir: string
  private readonly db: ClassicLevel<Uint8Array, Uint8Array>
  private meta: ChainMeta | undefined
  private lastSafety: SafetyState | undefined
  /** Commits run strictly one after the other: each checks it extends the previous one. */
  private commitTail: Promise<void> = Promise.resolve()
  /** Every tx hash in the tx index (filled at open, then by each commit before it is written). */
  private readonly committedTxs = new CommittedTxFilter()

  private constructor(dir: string, db: ClassicLevel<Uint8Array, Uint8Array>) {
    this.dir = dir
    this.db = db
  }

  /** Opens (creating if needed) the store in `dir` and checks its integrity. */
  static async open(dir: string): Promise<NodeStore> {
    mkdirSync(dir, { recursive: true })
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    try {
      // No Snappy: what is stored is hashes, keys, signatures and tx bodies, which do not
      // compress, and compressing and decompressing them took ~1 % of a loaded testnet's CPU
      // (perf, docs/decisions.md). Blocks already written compressed stay readable.
      await db.open({ compression: false })
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      if (cause?.code === 'LEVEL_CORRUPTION') {
        throw new StorageCorruptionError(dir, `LevelDB refuses to open it (${cause.message})`, { cause: err })
      }
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new Error(`storage at ${dir} is in use by another process (LevelDB lock held); stop that node first`, { cause: err })
      }
      throw err
    }
    const store = new NodeStore(dir, db)
    try {
      const metaBytes = await store.read(META_KEY, 'chain meta')
      store.meta = metaBytes === undefined ? undefined : store.decode('chain meta', metaBytes, decodeChainMeta)
      store.lastSafety = await store.loadSafety()
      await store.verifyIntegrity()
      await store.loadCommittedTxs()
      // A directory initialized before markers existed, or a crash between genesis and marker.
      if (store.meta !== undefined && !existsSync(join(dir, INITIALIZED_MARKER))) store.writeInitializedMarker((await store.committedBlockId(0))!)
    } catch (err) {
      await db.close()
      throw err
    }
    return store
  }

  async close(): Promise<void> {
    await this.commitTail
    await this.db.close()
  }

  /** False for a fresh directory: `initGenesis` must run before anything is committed. */
  get initialized(): boolean {
    return this.meta !== undefined
  }

  committedHeight(): number {
    return this.requireMeta('committedHeight').committedHeight
  }

  chainMeta(): ChainMeta {
    return this.requireMeta('chainMeta')
  }

  /** Writes the genesis block (height 0), genesis state and chain meta in one batch. */
  async initGenesis(g: GenesisInput): Promise<void> {
    if (this.meta !== undefined) throw new Error(`storage at ${this.dir} already holds a chain (committed height ${this.meta.committedHeight})`)
    if (g.block.height !== 0) throw new RangeError(`genesis block must have height 0, got ${g.block.height}`)
    const meta: ChainMeta = { committedHeight: 0, committedBlockId: g.block.id, executedHeight: 0, stateRoot: g.root }
    const ops: Op[] = [
      ...this.blockOps(g.block, genesisQc(g.block.id)),
      { type: 'put', key: heightKey(Bucket.receipts, 0), value: encodeReceipts([]) },
      ...this.stateOps(g.writes),
      { type: 'put', key: META_KEY, value: encodeChainMeta(meta) },
    ]
    await this.writeSynced(ops)
    this.meta = meta
    this.writeInitializedMarker(g.block.id)
  }

  // --- safety and consensus recovery data -------------------------------------------------------

  /**
   * Durable (fsync) before it resolves: the caller releases a vote or timeout only afterwards,
   * so a crash can never leave a signature out in the world that the restarted node forgets.
   * The recovery state (high QC, last TC) goes in the same atomic write, so the restarted core
   * resumes in exactly the round its last signature was for. Refuses to move either safety
   * round backwards (a driver bug that would allow a double vote).
   */
  async saveSafety(s: SafetyState, recovery: RecoveryState): Promise<void> {
    const last = this.lastSafety
    if (last !== undefined && (s.highestVotedRound < last.highestVotedRound || s.highestQcRound < last.highestQcRound)) {
      throw new Error(
        `safety regression refused: stored (voted ${last.highestVotedRound}, qc ${last.highestQcRound}), ` +
          `asked to write (voted ${s.highestVotedRound}, qc ${s.highestQcRound})`,
      )
    }
    crashPoint('safety:before-write')
    await this.writeSynced([
      { type: 'put', key: SAFETY_KEY, value: encodeSafety(s) },
      { type: 'put', key: RECOVERY_KEY, value: encodeRecovery(recovery) },
    ])
    crashPoint('safety:after-write')
    this.lastSafety = s
  }

  async loadSafety(): Promise<SafetyState | undefined> {
    const bytes = await this.read(SAFETY_KEY, 'safety state')
    return bytes === undefined ? undefined : this.decode('safety state', bytes, decodeSafety)
  }

  async loadRecovery(): Promise<RecoveryState | undefined> {
    const bytes = await this.read(RECOVERY_KEY, 'recovery state')
    return bytes === undefined ? undefined : this.decode('recovery state', bytes, decodeRecovery)
  }

  // --- blocks -------------------------------------------------------------------------------------

  /** Stores a not-yet-committed block by id (not fsynced: it can be fetched again). */
  async putBlock(block: Block): Promise<void> {
    await this.db.put(bucketKey(Bucket.block, block.id), encodeBlock(block))
  }

  async getBlock(id: Uint8Array): Promise<Block | undefined> {
    const bytes = await this.read(bucketKey(Bucket.block, id), `block ${toHex(id)}`)
    return bytes === undefined ? undefined : this.decodeBlockAt(id, bytes)
  }

  /** Every stored block, committed or not: offline checks (`bftlab check`) scan their certificates. */
  async loadAllBlocks(): Promise<Block[]> {
    return (await this.scan(Bucket.block)).map(([key, bytes]) => this.decodeBlockAt(key.subarray(1), bytes))
  }

  private decodeBlockAt(id: Uint8Array, bytes: Uint8Array): Block {
    const what = `block ${toHex(id)}`
    const block = this.decode(what, bytes, decodeBlock)
    if (!bytesEqual(block.id, id)) throw new StorageCorruptionError(this.dir, `${what}: stored bytes hash to block ${toHex(block.id)}`)
    return block
  }

  async getBlockByHeight(height: number): Promise<Block | undefined> {
    const id = await this.committedBlockId(height)
    if (id === undefined) return undefined
    const block = await this.getBlock(id)
    if (block === undefined) {
      throw new StorageCorruptionError(this.dir, `committed height ${height} points to block ${toHex(id)}, which is missing`)
    }
    return block
  }

  async getCommitProof(height: number): Promise<QuorumCert | undefined> {
    const what = `commit proof of height ${height}`
    const bytes = await this.read(heightKey(Bucket.commitProof, height), what)
    return bytes === undefined ? undefined : this.decode(what, bytes, decodeQc)
  }

  async getReceipts(height: number): Promise<StoredReceipt[] | undefined> {
    const what = `receipts of height ${height}`
    const bytes = await this.read(heightKey(Bucket.receipts, height), what)
    return bytes === undefined ? undefined : this.decode(what, bytes, decodeReceipts)
  }

  /**
   * Commits the next block with its execution results: block, height index, proof, receipts,
   * tx index, state writes and chain meta in ONE fsynced LevelDB batch. Calls are serialized;
   * each must extend the previously committed block.
   */
  commitBlock(input: CommitInput): Promise<void> {
    const run = this.commitTail.then(() => this.applyCommit(input))
    // The chain only orders commits; each caller gets its own commit's outcome from `run`.
    this.commitTail = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  private async applyCommit(c: CommitInput): Promise<void> {
    const meta = this.requireMeta('commitBlock')
    const { block } = c
    if (block.height !== meta.committedHeight + 1) {
      throw new RangeError(`commitBlock: block ${toHex(block.id)} has height ${block.height}, expected ${meta.committedHeight + 1}`)
    }
    if (!bytesEqual(block.parentQc.blockId, meta.committedBlockId)) {
      throw new RangeError(
        `commitBlock: block at height ${block.height} extends ${toHex(block.parentQc.blockId)}, ` +
          `not the committed block ${toHex(meta.committedBlockId)}`,
      )
    }
    if (c.executedHeight > block.height || c.executedHeight < meta.executedHeight) {
      throw new RangeError(`commitBlock: executed height ${c.executedHeight} outside [${meta.executedHeight}, ${block.height}]`)
    }
    const next: ChainMeta = { committedHeight: block.height, committedBlockId: block.id, executedHeight: c.executedHeight, stateRoot: c.root }
    const ops: Op[] = [
      ...this.blockOps(block, c.proof),
      { type: 'put', key: heightKey(Bucket.receipts, block.height), value: encodeReceipts(c.receipts) },
      ...(await this.txIndexOps(block.height, c.receipts)),
      ...this.stateOps(c.writes),
      { type: 'put', key: META_KEY, value: encodeChainMeta(next) },
    ]
    // Into the filter before the write: a hash indexed but not in the filter would let its tx be
    // admitted again, while one in the filter but not indexed (a failed write) costs a lookup.
    for (const r of c.receipts) this.committedTxs.add(r.txHash)
    crashPoint('commit:before-batch')
    await this.writeSynced(ops)
    crashPoint('commit:after-batch')
    this.meta = next
  }

  /**
   * One atomic, fsynced LevelDB write. Through a chained batch: the array form clones every op
   * with the options and reads its fields back by name in the binding, 0.5 µs per op on the
   * main thread against 0.17 µs (3,000 puts of tx-index size; a block writes thousands).
   */
  private async writeSynced(ops: readonly Op[]): Promise<void> {
    const batch = this.db.batch()
    try {
      for (const op of ops) batch.put(op.key, op.value)
    } catch (err) {
      await batch.close()
      throw err
    }
    await batch.write({ sync: true })
  }

  private blockOps(block: Block, proof: QuorumCert): Op[] {
    return [
      { type: 'put', key: bucketKey(Bucket.block, block.id), value: encodeBlock(block) },
      { type: 'put', key: heightKey(Bucket.committedBlockId, block.height), value: block.id },
      { type: 'put', key: heightKey(Bucket.commitProof, block.height), value: encodeQc(proof) },
    ]
  }

  /**
   * A tx can be included more than once (the same tx in two authors' batches, or again after a
   * failure). Clients must see where it took effect: an `ok` execution is indexed over whatever
   * is there — an earlier inclusion can only have failed, since a success uses up the tx's nonce,
   * and within a block every later copy is a `duplicate` — and a failure only where nothing is
   * indexed yet (its first failure, in this block or an earlier one). So only failed receipts
   * cost an index lookup, and a block's failures are the exception.
   */
  private async txIndexOps(height: number, receipts: readonly StoredReceipt[]): Promise<Op[]> {
    const keys = receipts.map((r) => bucketKey(Bucket.txIndex, r.txHash))
    const put = (r: StoredReceipt, index: number): Op => {
      const record: TxRecord = { height, index, status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}) }
      return { type: 'put', key: keys[index]!, value: encodeTxRecord(record) }
    }
    const failed = receipts.flatMap((r, index) => (r.status === 'ok' ? [] : [index]))
    if (failed.length === 0) return receipts.map(put)
    const indexed = await this.db.hasMany(failed.map((index) => keys[index]!))
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

  private stateOps(writes: StateWrites): Op[] {
    const ops: Op[] = []
    for (const [key, value] of writes) {
      if (isAccountState(value)) {
        ops.push({ type: 'put', key: accountKeyOfHex(key), value: encodeAccount(value) })
      } else {
        ops.push({ type: 'put', key: bucketKey(Bucket.computeKey, new TextEncoder().encode(key)), value: encodeComputeValue(value) })
      }
    }
    return ops
  }

  // --- state and tx index ---------------------------------------------------------------------------

  async getAccount(address: Uint8Array): Promise<AccountState | undefined> {
    const what = `account ${toHex(address)}`
    const bytes = await this.read(bucketKey(Bucket.account, address), what)
    return bytes === undefined ? undefined : this.decode(what, bytes, decodeAccount)
  }

  /** Every stored account, keyed by address hex (rebuilds the WorldState at start). */
  async loadAllAccounts(): Promise<Map<string, AccountState>> {
    const out = new Map<string, AccountState>()
    for (const [key, value] of await this.scan(Bucket.account)) {
      const address = toHex(key.subarray(1))
      if (key.length !== 1 + PUBLIC_KEY_BYTES) throw new StorageCorruptionError(this.dir, `account key ${address} is not ${PUBLIC_KEY_BYTES} bytes`)
      out.set(address, this.decode(`account ${address}`, value, decodeAccount))
    }
    return out
  }

  /** Every stored compute-state value, keyed like the execution module's WorldState. */
  async loadComputeState(): Promise<Map<string, ComputeValue>> {
    const out = new Map<string, ComputeValue>()
    const decoder = new TextDecoder()
    for (const [key, value] of await this.scan(Bucket.computeKey)) {
      const name = decoder.decode(key.subarray(1))
      out.set(name, this.decode(`compute key ${name}`, value, decodeComputeValue))
    }
    return out
  }

  async getTx(hash: Uint8Array): Promise<TxRecord | undefined> {
    const what = `tx index entry ${toHex(hash)}`
    const bytes = await this.read(bucketKey(Bucket.txIndex, hash), what)
    return bytes === undefined ? undefined : this.decode(what, bytes, decodeTxRecord)
  }

  /**
   * Whether each tx is in the tx index (mempool duplicate checks): the committed-tx filter answers
   * the misses, one LevelDB call the rest.
   */
  async hasTxs(hashes: readonly Uint8Array[]): Promise<boolean[]> {
    const found = new Array<boolean>(hashes.length).fill(false)
    const maybe: number[] = []
    hashes.forEach((h, i) => {
      if (this.committedTxs.mightContain(h)) maybe.push(i)
    })
    if (maybe.length === 0) return found
    const indexed = await this.db.hasMany(maybe.map((i) => bucketKey(Bucket.txIndex, hashes[i]!)))
    maybe.forEach((i, k) => {
      found[i] = indexed[k]!
    })
    return found
  }

  /** Fills the committed-tx filter from the tx index's keys (≈ 1 s per million txs). */
  private async loadCommittedTxs(): Promise<void> {
    try {
      for await (const key of this.db.keys(bucketRange(Bucket.txIndex))) this.committedTxs.add(key.subarray(1))
    } catch (err) {
      throw this.translate(err, `bucket ${BUCKET_NAMES[Bucket.txIndex]}`)
    }
  }

  // --- batches -----------------------------------------------------------------------------------

  /** Not fsynced: a batch lost in a crash is fetched again from its author or any voter. */
  async putBatch(digest: Uint8Array, encoded: Uint8Array): Promise<void> {
    await this.db.put(bucketKey(Bucket.batch, digest), encoded)
  }

  /** The batch's canonical bytes, checked against the digest they are stored under. */
  async getBatch(digest: Uint8Array): Promise<Uint8Array | undefined> {
    const what = `batch ${toHex(digest)}`
    const bytes = await this.read(bucketKey(Bucket.batch, digest), what)
    if (bytes === undefined) return undefined
    if (!bytesEqual(batchDigestOfEncoding(bytes), digest)) throw new StorageCorruptionError(this.dir, `${what}: stored bytes do not hash to its digest`)
    return bytes
  }

  // --- evidence of byzantine behaviour -------------------------------------------------------------

  /**
   * Idempotent: one record per (round, offender, kind). Not fsynced: evidence is diagnostic, and
   * a record lost in a crash costs nothing to consensus (the offender's messages stay signed).
   */
  async putEvidence(e: StoredEvidence): Promise<void> {
    await this.db.put(evidenceKey(e), encodeEvidence(e))
  }

  /** The `limit` records of the highest rounds (oldest first) and how many are stored in all. */
  async loadEvidence(limit: number): Promise<{ records: StoredEvidence[]; total: number }> {
    try {
      const range = bucketRange(Bucket.evidence)
      const total = (await this.db.keys(range).all()).length
      const newest = await this.db.values({ ...range, reverse: true, limit }).all()
      const records = newest.reverse().map((bytes, i) => this.decode(`evidence record ${i}`, plainBytes(bytes), decodeEvidence))
      return { records, total }
    } catch (err) {
      throw this.translate(err, 'bucket evidence')
    }
  }

  // --- integrity -----------------------------------------------------------------------------------

  /**
   * Checks that the chain on disk is whole: meta present when anything else is; heights
   * 0..committedHeight indexed without gaps or extras; and for the newest INTEGRITY_DEPTH
   * heights: block present, decodable, hashing to its id, at its height, linked to the block
   * below, with a commit proof and receipts. Also that the safety record decodes.
   */
  async verifyIntegrity(): Promise<void> {
    const meta = this.meta
    if (meta === undefined) {
      const [anyKey] = await this.db.keys({ limit: 1 }).all()
      if (anyKey !== undefined) {
        const bucket = BUCKET_NAMES[anyKey[0] as BucketId] ?? `unknown prefix 0x${anyKey[0]!.toString(16)}`
        throw new StorageCorruptionError(this.dir, `the chain meta record is missing although the database holds data (first key in bucket ${bucket})`)
      }
      this.refuseForgottenChain()
      return
    }
    if (meta.executedHeight > meta.committedHeight) {
      throw new StorageCorruptionError(this.dir, `chain meta says executed height ${meta.executedHeight} > committed height ${meta.committedHeight}`)
    }
    await this.checkHeightIndex(meta.committedHeight)
    const low = Math.max(0, meta.committedHeight - INTEGRITY_DEPTH + 1)
    let childParentId: Uint8Array | undefined
    for (let h = meta.committedHeight; h >= low; h--) {
      const id = (await this.committedBlockId(h))!
      if (h === meta.committedHeight && !bytesEqual(id, meta.committedBlockId)) {
        throw new StorageCorruptionError(this.dir, `chain meta names block ${toHex(meta.committedBlockId)} at height ${h} but the height index holds ${toHex(id)}`)
      }
      if (childParentId !== undefined && !bytesEqual(childParentId, id)) {
        throw new StorageCorruptionError(this.dir, `committed block at height ${h + 1} extends ${toHex(childParentId)}, but height ${h} holds ${toHex(id)}`)
      }
      const block = await this.getBlock(id)
      if (block === undefined) throw new StorageCorruptionError(this.dir, `committed block ${toHex(id)} at height ${h} is missing`)
      if (block.height !== h) throw new StorageCorruptionError(this.dir, `block ${toHex(id)} indexed at height ${h} says height ${block.height}`)
      if ((await this.getCommitProof(h)) === undefined) throw new StorageCorruptionError(this.dir, `commit proof of height ${h} is missing`)
      if ((await this.getReceipts(h)) === undefined) throw new StorageCorruptionError(this.dir, `receipts of height ${h} are missing`)
      childParentId = block.parentQc.blockId
    }
    await this.loadSafety()
  }

  /** Keys-only scan: the committed height index must be exactly 0..committedHeight. */
  private async checkHeightIndex(committedHeight: number): Promise<void> {
    let expected = 0
    for await (const key of this.db.keys(bucketRange(Bucket.committedBlockId))) {
      const h = heightOfKey(key)
      if (h === undefined) throw new StorageCorruptionError(this.dir, `malformed key ${toHex(key)} in the committed height index`)
      if (h !== expected) throw new StorageCorruptionError(this.dir, `committed height index has no entry for height ${expected} (next entry is ${h})`)
      expected++
    }
    const top = expected - 1
    if (top < committedHeight) throw new StorageCorruptionError(this.dir, `committed height is ${committedHeight} but the height index stops at ${top}`)
    if (top > committedHeight) throw new StorageCorruptionError(this.dir, `height index reaches ${top}, beyond the committed height ${committedHeight}`)
  }

  /** An empty database in a directory whose marker says it held a chain: LevelDB's files were lost. */
  private refuseForgottenChain(): void {
    const marker = join(this.dir, INITIALIZED_MARKER)
    if (!existsSync(marker)) return
    let genesis: string
    try {
      genesis = `genesis ${String((JSON.parse(readFileSync(marker, 'utf8')) as { genesisBlockId?: unknown }).genesisBlockId)}`
    } catch (err) {
      genesis = `an unreadable genesis id (${(err as Error).message})`
    }
    throw new StorageCorruptionError(
      this.dir,
      `the database is empty, but ${marker} records that it was initialized with ${genesis}: LevelDB's files were truncated or deleted, ` +
        'and with them the safety record (the last round this validator voted in); starting from an empty database could sign a second, conflicting vote',
    )
  }

  /** fsyncs the file and its directory entry, so the marker survives exactly like the genesis batch. */
  private writeInitializedMarker(genesisBlockId: Uint8Array): void {
    const fd = openSync(join(this.dir, INITIALIZED_MARKER), 'w')
    try {
      writeSync(fd, JSON.stringify({ genesisBlockId: toHex(genesisBlockId) }) + '\n')
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    const dirFd = openSync(this.dir, 'r')
    try {
      fsyncSync(dirFd)
    } finally {
      closeSync(dirFd)
    }
  }

  // --- helpers -------------------------------------------------------------------------------------

  private async committedBlockId(height: number): Promise<Uint8Array | undefined> {
    const what = `height index entry ${height}`
    const id = await this.read(heightKey(Bucket.committedBlockId, height), what)
    if (id !== undefined && id.length !== HASH_BYTES) throw new StorageCorruptionError(this.dir, `${what} is ${id.length} bytes, not a block id`)
    return id
  }

  private requireMeta(op: string): ChainMeta {
    if (this.meta === undefined) throw new Error(`${op}: storage at ${this.dir} holds no chain yet; call initGenesis first`)
    return this.meta
  }

  private async read(key: Uint8Array, what: string): Promise<Uint8Array | undefined> {
    try {
      const value = await this.db.get(key)
      return value === undefined ? undefined : plainBytes(value)
    } catch (err) {
      throw this.translate(err, what)
    }
  }

  private async scan(bucket: BucketId): Promise<[Uint8Array, Uint8Array][]> {
    try {
      const entries = await this.db.iterator(bucketRange(bucket)).all()
      return entries.map(([k, v]) => [k, plainBytes(v)])
    } catch (err) {
      throw this.translate(err, `bucket ${BUCKET_NAMES[bucket]}`)
    }
  }

  /**
   * LevelDB reports a damaged file either as corruption (bad checksum, bad block) or as an IO
   * error (a table truncated below its index reads past EOF). Either way the bytes this node
   * committed are gone, so both stop the node with the same operator instruction.
   */
  private translate(err: unknown, what: string): unknown {
    const codes = [(err as { code?: string }).code, (err as { cause?: { code?: string } }).cause?.code]
    if (codes.includes('LEVEL_CORRUPTION') || codes.includes('LEVEL_IO_ERROR')) {
      return new StorageCorruptionError(this.dir, `LevelDB cannot read ${what} (${(err as Error).message})`, { cause: err })
    }
    return err
  }

  private decode<T>(what: string, bytes: Uint8Array, decode: (bytes: Uint8Array) => T): T {
    try {
      return decode(bytes)
    } catch (err) {
      throw new StorageCorruptionError(this.dir, `${what} does not decode (${(err as Error).message})`, { cause: err })
    }
  }
}
