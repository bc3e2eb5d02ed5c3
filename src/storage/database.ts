import { mkdirSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import { BUCKET_NAMES, bucketRange, type BucketId } from './buckets.ts'
import { StorageCorruptionError } from './errors.ts'

/** One put of an atomic write. */
export interface Op {
  readonly key: Uint8Array
  readonly value: Uint8Array
}

/**
 * LevelDB hands back Buffers; the core decoders slice their input, so without this every decoded
 * id and signature would be a Buffer and compare unequal to the Uint8Arrays the rest of the node uses.
 */
function plainBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/**
 * The node's single LevelDB, as the repositories use it: reads that turn a damaged file into a
 * StorageCorruptionError naming what was read, scans of one bucket, and atomic fsynced writes.
 */
export class Database {
  readonly dir: string
  readonly #db: ClassicLevel<Uint8Array, Uint8Array>

  private constructor(dir: string, db: ClassicLevel<Uint8Array, Uint8Array>) {
    this.dir = dir
    this.#db = db
  }

  /** Opens (creating if needed) the database in `dir`. */
  static async open(dir: string): Promise<Database> {
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
    return new Database(dir, db)
  }

  close(): Promise<void> {
    return this.#db.close()
  }

  /** The value under `key`; `what` names it in a corruption report. */
  async get(key: Uint8Array, what: string): Promise<Uint8Array | undefined> {
    try {
      const value = await this.#db.get(key)
      return value === undefined ? undefined : plainBytes(value)
    } catch (err) {
      throw this.#translate(err, what)
    }
  }

  /** Not fsynced: for records that can be fetched again or lost without harm. */
  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.#db.put(key, value)
  }

  hasMany(keys: readonly Uint8Array[]): Promise<boolean[]> {
    return this.#db.hasMany(keys as Uint8Array[])
  }

  /** Every entry of one bucket, in key order. */
  async scan(bucket: BucketId): Promise<[Uint8Array, Uint8Array][]> {
    try {
      const entries = await this.#db.iterator(bucketRange(bucket)).all()
      return entries.map(([k, v]) => [k, plainBytes(v)])
    } catch (err) {
      throw this.#translate(err, `bucket ${BUCKET_NAMES[bucket]}`)
    }
  }

  /** Every key of one bucket, in key order, without reading values. */
  async *keys(bucket: BucketId): AsyncGenerator<Uint8Array> {
    try {
      for await (const key of this.#db.keys(bucketRange(bucket))) yield key
    } catch (err) {
      throw this.#translate(err, `bucket ${BUCKET_NAMES[bucket]}`)
    }
  }

  /** How many keys one bucket holds, and the values of its `limit` last keys (last first). */
  async tail(bucket: BucketId, limit: number): Promise<{ count: number; values: Uint8Array[] }> {
    try {
      const range = bucketRange(bucket)
      const count = (await this.#db.keys(range).all()).length
      const values = await this.#db.values({ ...range, reverse: true, limit }).all()
      return { count, values: values.map(plainBytes) }
    } catch (err) {
      throw this.#translate(err, `bucket ${BUCKET_NAMES[bucket]}`)
    }
  }

  /** The first key of the whole database, if any. */
  async firstKey(): Promise<Uint8Array | undefined> {
    const [key] = await this.#db.keys({ limit: 1 }).all()
    return key
  }

  /**
   * One atomic, fsynced LevelDB write. Through a chained batch: the array form clones every op
   * with the options and reads its fields back by name in the binding, 0.5 µs per op on the
   * main thread against 0.17 µs (3,000 puts of tx-index size; a block writes thousands).
   */
  async writeSynced(ops: readonly Op[]): Promise<void> {
    const batch = this.#db.batch()
    try {
      for (const op of ops) batch.put(op.key, op.value)
    } catch (err) {
      await batch.close()
      throw err
    }
    await batch.write({ sync: true })
  }

  /** Decodes what this node stored; anything that does not decode is corruption. */
  decode<T>(what: string, bytes: Uint8Array, decode: (bytes: Uint8Array) => T): T {
    try {
      return decode(bytes)
    } catch (err) {
      throw new StorageCorruptionError(this.dir, `${what} does not decode (${(err as Error).message})`, { cause: err })
    }
  }

  corruption(what: string): StorageCorruptionError {
    return new StorageCorruptionError(this.dir, what)
  }

  /**
   * LevelDB reports a damaged file either as corruption (bad checksum, bad block) or as an IO
   * error (a table truncated below its index reads past EOF). Either way the bytes this node
   * committed are gone, so both stop the node with the same operator instruction.
   */
  #translate(err: unknown, what: string): unknown {
    const codes = [(err as { code?: string }).code, (err as { cause?: { code?: string } }).cause?.code]
    if (codes.includes('LEVEL_CORRUPTION') || codes.includes('LEVEL_IO_ERROR')) {
      return new StorageCorruptionError(this.dir, `LevelDB cannot read ${what} (${(err as Error).message})`, { cause: err })
    }
    return err
  }
}
