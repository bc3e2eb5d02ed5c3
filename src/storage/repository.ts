import type { BucketId } from './buckets.ts'
import type { Database, Op } from './database.ts'

/** How one bucket maps ids to keys and values to bytes (Lodestar's `Repository<I, T>` split). */
export interface RepositorySpec<I, T> {
  readonly bucket: BucketId
  key(id: I): Uint8Array
  /** The id a stored key stands for (the inverse of `key`), for scans. */
  idOf(key: Uint8Array): I
  /** Names the record in corruption reports, e.g. `block ab12…`. */
  describe(id: I): string
  encode(value: T): Uint8Array
  decode(bytes: Uint8Array): T
  /** Checks a decoded value against the id it was stored under; returns a reason if they disagree. */
  mismatch?(id: I, value: T): string | undefined
}

/**
 * One bucket of the node's LevelDB with typed ids and values: values are encoded and decoded
 * only here, and anything read back that does not decode, or does not belong under its key, is a
 * StorageCorruptionError naming the record, never a value.
 */
export class Repository<I, T> {
  readonly #db: Database
  readonly #spec: RepositorySpec<I, T>

  constructor(db: Database, spec: RepositorySpec<I, T>) {
    this.#db = db
    this.#spec = spec
  }

  async get(id: I): Promise<T | undefined> {
    const bytes = await this.#db.get(this.#spec.key(id), this.#spec.describe(id))
    return bytes === undefined ? undefined : this.#decodeAt(id, bytes)
  }

  /** Not fsynced: only for records that can be fetched again (commits go through `op`). */
  put(id: I, value: T): Promise<void> {
    return this.#db.put(this.#spec.key(id), this.#spec.encode(value))
  }

  /** The put of `value` under `id`, for an atomic write across buckets. */
  op(id: I, value: T): Op {
    return { key: this.#spec.key(id), value: this.#spec.encode(value) }
  }

  /** Every record of the bucket, in key order. */
  async entries(): Promise<[I, T][]> {
    return (await this.#db.scan(this.#spec.bucket)).map(([key, bytes]) => {
      const id = this.#spec.idOf(key)
      return [id, this.#decodeAt(id, bytes)]
    })
  }

  #decodeAt(id: I, bytes: Uint8Array): T {
    const what = this.#spec.describe(id)
    const value = this.#db.decode(what, bytes, this.#spec.decode)
    const mismatch = this.#spec.mismatch?.(id, value)
    if (mismatch !== undefined) throw this.#db.corruption(`${what}: ${mismatch}`)
    return value
  }
}
