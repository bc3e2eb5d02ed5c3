import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Block } from '../core/block.ts'
import { bytesEqual, toHex } from '../core/hash.ts'
import type { QuorumCert } from '../core/vote.ts'
import { BUCKET_NAMES, Bucket, heightOfKey, type BucketId } from './buckets.ts'
import type { Database } from './database.ts'
import { StorageCorruptionError } from './errors.ts'
import type { Repository } from './repository.ts'
import type { ChainMeta, StoredReceipt } from './values.ts'

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

/** What the integrity check reads. */
export interface ChainRecords {
  readonly db: Database
  readonly meta: ChainMeta | undefined
  readonly blocks: Repository<Uint8Array, Block>
  readonly committedIds: Repository<number, Uint8Array>
  readonly commitProofs: Repository<number, QuorumCert>
  readonly receipts: Repository<number, readonly StoredReceipt[]>
}

/**
 * Checks that the chain on disk is whole: meta present when anything else is; heights
 * 0..committedHeight indexed without gaps or extras; and for the newest INTEGRITY_DEPTH
 * heights: block present, decodable, hashing to its id, at its height, linked to the block
 * below, with a commit proof and receipts. A directory whose marker says it held a chain must
 * not open empty. Throws StorageCorruptionError naming what is damaged.
 */
export async function verifyIntegrity(chain: ChainRecords): Promise<void> {
  const { db, meta } = chain
  if (meta === undefined) {
    const anyKey = await db.firstKey()
    if (anyKey !== undefined) {
      const bucket = BUCKET_NAMES[anyKey[0] as BucketId] ?? `unknown prefix 0x${anyKey[0]!.toString(16)}`
      throw new StorageCorruptionError(db.dir, `the chain meta record is missing although the database holds data (first key in bucket ${bucket})`)
    }
    refuseForgottenChain(db.dir)
    return
  }
  if (meta.executedHeight > meta.committedHeight) {
    throw new StorageCorruptionError(db.dir, `chain meta says executed height ${meta.executedHeight} > committed height ${meta.committedHeight}`)
  }
  await checkHeightIndex(db, meta.committedHeight)
  const low = Math.max(0, meta.committedHeight - INTEGRITY_DEPTH + 1)
  let childParentId: Uint8Array | undefined
  for (let h = meta.committedHeight; h >= low; h--) {
    const id = (await chain.committedIds.get(h))!
    if (h === meta.committedHeight && !bytesEqual(id, meta.committedBlockId)) {
      throw new StorageCorruptionError(db.dir, `chain meta names block ${toHex(meta.committedBlockId)} at height ${h} but the height index holds ${toHex(id)}`)
    }
    if (childParentId !== undefined && !bytesEqual(childParentId, id)) {
      throw new StorageCorruptionError(db.dir, `committed block at height ${h + 1} extends ${toHex(childParentId)}, but height ${h} holds ${toHex(id)}`)
    }
    const block = await chain.blocks.get(id)
    if (block === undefined) throw new StorageCorruptionError(db.dir, `committed block ${toHex(id)} at height ${h} is missing`)
    if (block.height !== h) throw new StorageCorruptionError(db.dir, `block ${toHex(id)} indexed at height ${h} says height ${block.height}`)
    if ((await chain.commitProofs.get(h)) === undefined) throw new StorageCorruptionError(db.dir, `commit proof of height ${h} is missing`)
    if ((await chain.receipts.get(h)) === undefined) throw new StorageCorruptionError(db.dir, `receipts of height ${h} are missing`)
    childParentId = block.parentQc.blockId
  }
}

/** Keys-only scan: the committed height index must be exactly 0..committedHeight. */
async function checkHeightIndex(db: Database, committedHeight: number): Promise<void> {
  let expected = 0
  for await (const key of db.keys(Bucket.committedBlockId)) {
    const h = heightOfKey(key)
    if (h === undefined) throw new StorageCorruptionError(db.dir, `malformed key ${toHex(key)} in the committed height index`)
    if (h !== expected) throw new StorageCorruptionError(db.dir, `committed height index has no entry for height ${expected} (next entry is ${h})`)
    expected++
  }
  const top = expected - 1
  if (top < committedHeight) throw new StorageCorruptionError(db.dir, `committed height is ${committedHeight} but the height index stops at ${top}`)
  if (top > committedHeight) throw new StorageCorruptionError(db.dir, `height index reaches ${top}, beyond the committed height ${committedHeight}`)
}

/** An empty database in a directory whose marker says it held a chain: LevelDB's files were lost. */
function refuseForgottenChain(dir: string): void {
  const marker = join(dir, INITIALIZED_MARKER)
  if (!existsSync(marker)) return
  let genesis: string
  try {
    genesis = `genesis ${String((JSON.parse(readFileSync(marker, 'utf8')) as { genesisBlockId?: unknown }).genesisBlockId)}`
  } catch (err) {
    genesis = `an unreadable genesis id (${(err as Error).message})`
  }
  throw new StorageCorruptionError(
    dir,
    `the database is empty, but ${marker} records that it was initialized with ${genesis}: LevelDB's files were truncated or deleted, ` +
      'and with them the safety record (the last round this validator voted in); starting from an empty database could sign a second, conflicting vote',
  )
}

export function hasInitializedMarker(dir: string): boolean {
  return existsSync(join(dir, INITIALIZED_MARKER))
}

/** fsyncs the file and its directory entry, so the marker survives exactly like the genesis batch. */
export function writeInitializedMarker(dir: string, genesisBlockId: Uint8Array): void {
  const fd = openSync(join(dir, INITIALIZED_MARKER), 'w')
  try {
    writeSync(fd, JSON.stringify({ genesisBlockId: toHex(genesisBlockId) }) + '\n')
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  const dirFd = openSync(dir, 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}
