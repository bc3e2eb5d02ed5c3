import { decodeBatchIndexed, batchDigestOfEncoding, type IndexedBatch } from '../core/batch.ts'
import { DecodeError } from '../core/codec.ts'
import { toHex } from '../core/hash.ts'
import { txBodyHashes, type Tx } from '../core/tx.ts'
import { VerifyPriority, type TxSignatureVerifier } from './verifier.ts'
import { verifyOnce, type VerifiedTxs } from './verified-txs.ts'

/**
 * Batches held in memory. A block references up to a few hundred batches in practice; 4,096
 * covers the batches of the blocks between proposal and execution many times over, so the
 * vote → commit → execute path reads memory and the disk serves only sync and restarts.
 */
export const DEFAULT_CACHED_BATCHES = 4_096

/** The node store's batch repository, as the batch store persists through it. */
export interface BatchPersistence {
  put(digest: Uint8Array, encoded: Uint8Array): Promise<void>
  /** The batch's bytes, checked against the digest they are stored under. */
  get(digest: Uint8Array): Promise<Uint8Array | undefined>
}

/**
 * A held batch with each tx's encoding (`txBytes`, views into `encoded`) and hash. Its txs' byte
 * fields are views into `encoded` too, or, for a batch this node packed, into what its clients sent.
 */
export interface StoredBatch extends IndexedBatch {
  readonly digest: Uint8Array
  readonly encoded: Uint8Array
  readonly hashes: readonly Uint8Array[]
}

/** A block's txs in execution order, with what the executor would otherwise recompute. */
export interface BlockTxs {
  readonly txs: readonly Tx[]
  readonly encoded: readonly Uint8Array[]
  readonly hashes: readonly Uint8Array[]
}

/** Decodes `encoded` (which must not change afterwards: the batch aliases it) and hashes its txs. */
function storedBatch(digest: Uint8Array, encoded: Uint8Array): StoredBatch {
  const { batch, txBytes } = decodeBatchIndexed(encoded)
  return { digest, encoded, batch, txBytes, hashes: txBodyHashes(txBytes) }
}

/** A batch that must not be stored or voted on: undecodable or carrying an invalid tx. */
export class BatchRejectedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BatchRejectedError'
  }
}

/** A block's payload names a batch this node does not hold: fetch it before executing. */
export class MissingBatchError extends Error {
  readonly digest: Uint8Array
  constructor(digest: Uint8Array) {
    super(`batch ${toHex(digest)} is not available locally; fetch it from its author or a voter`)
    this.name = 'MissingBatchError'
    this.digest = digest
  }
}

export interface BatchStoreOptions {
  readonly maxCachedBatches?: number
}

export interface BatchStoreModules {
  readonly store: BatchPersistence
  readonly verifier: TxSignatureVerifier
  readonly verified: VerifiedTxs
}

/**
 * Batches by digest (docs/design.md §5): an LRU in memory over the NodeStore on disk. A batch is stored
 * only after every tx in it has a valid signature, checked once per tx (txs this node already
 * verified — its own clients' or an earlier batch's — are not verified again), so anything
 * `get` returns may be executed without further checks.
 */
export class BatchStore {
  readonly #maxCached: number
  readonly #modules: BatchStoreModules
  readonly #cache = new Map<string, StoredBatch>()
  /**
   * Puts in progress by digest: the same batch gossiped by several peers is verified once, and a
   * proposal naming it raises its checks' priority (`has`).
   */
  readonly #inFlight = new Map<string, { readonly put: Promise<StoredBatch>; readonly priority: VerifyPriority }>()

  constructor(opts: BatchStoreOptions, modules: BatchStoreModules) {
    this.#maxCached = opts.maxCachedBatches ?? DEFAULT_CACHED_BATCHES
    if (!Number.isInteger(this.#maxCached) || this.#maxCached < 1) throw new RangeError(`maxCachedBatches must be a positive integer, got ${this.#maxCached}`)
    this.#modules = modules
  }

  /**
   * Verifies and stores a batch. `fromPeer` names the sender for error messages; omit it for
   * batches this node packed itself. Throws BatchRejectedError for bad bytes or a bad tx.
   * `encoded` must not change afterwards: the stored batch's txs are views into it.
   */
  put(encoded: Uint8Array, fromPeer?: string): Promise<StoredBatch> {
    const origin = fromPeer === undefined ? 'this node' : `peer ${fromPeer}`
    const digest = batchDigestOfEncoding(encoded)
    const key = toHex(digest)
    // Only the memory cache is consulted for a batch already held: a disk read per gossiped
    // batch (almost always a miss) was the largest LevelDB cost on the main thread. A batch
    // already on disk but no longer cached (executed and pruned) is simply verified and written
    // again, which is idempotent; its txs are usually still in `verified` (no signature checks).
    const held = this.#held(key)
    if (held !== undefined) return held
    let stored: StoredBatch
    try {
      stored = storedBatch(digest, encoded)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      return Promise.reject(new BatchRejectedError(`batch from ${origin} does not decode: ${err.message}`))
    }
    return this.#store(key, stored, origin)
  }

  /**
   * Stores a batch this node packed (Mempool `onBatch`): decoded and hashed already, so only the
   * cache lookups of the signature check remain (its txs were verified at admission).
   */
  putPacked(packed: StoredBatch): Promise<StoredBatch> {
    const key = toHex(packed.digest)
    return this.#held(key) ?? this.#store(key, packed, 'this node')
  }

  /** The put of `key` in progress, else the batch if it is in memory. */
  #held(key: string): Promise<StoredBatch> | undefined {
    const running = this.#inFlight.get(key)
    if (running !== undefined) return running.put
    const known = this.#cache.get(key)
    return known === undefined ? undefined : Promise.resolve(known)
  }

  /** Verifies and stores a batch; puts of the same batch meanwhile share this one (`inFlight`). */
  #store(key: string, stored: StoredBatch, origin: string): Promise<StoredBatch> {
    const priority = new VerifyPriority()
    const put = this.#verifyAndStore(stored, origin, priority).finally(() => this.#inFlight.delete(key))
    this.#inFlight.set(key, { put, priority })
    return put
  }

  async #verifyAndStore(stored: StoredBatch, origin: string, priority: VerifyPriority): Promise<StoredBatch> {
    const { batch, txBytes, hashes } = stored
    const { verified, verifier } = this.#modules
    const bad = (await verifyOnce(batch.txs.map((tx, i) => ({ hash: hashes[i]!, tx, encoded: txBytes[i] })), verified, verifier, priority)).indexOf(false)
    if (bad !== -1) {
      throw new BatchRejectedError(
        `batch ${toHex(stored.digest)} (author ${batch.author}, seq ${batch.seq}) from ${origin}: ` +
          `tx ${bad} (${toHex(hashes[bad]!)}) has an invalid signature`,
      )
    }
    await this.#modules.store.put(stored.digest, stored.encoded)
    this.#remember(stored)
    return stored
  }

  /**
   * Whether this node holds the batch. A put of it in progress is waited for, with its signature
   * checks raised ahead of the verify queue: whoever asks (a vote waiting on a proposal's
   * payload) needs exactly this batch, and fetching it again from a peer would only queue the
   * same checks once more.
   */
  async has(digest: Uint8Array): Promise<boolean> {
    const running = this.#inFlight.get(toHex(digest))
    if (running !== undefined) {
      running.priority.raise()
      try {
        await running.put
        return true
      } catch (err) {
        if (err instanceof BatchRejectedError) return false
        throw err
      }
    }
    return (await this.get(digest)) !== undefined
  }

  async get(digest: Uint8Array): Promise<StoredBatch | undefined> {
    const key = toHex(digest)
    const cached = this.#cache.get(key)
    if (cached !== undefined) {
      this.#remember(cached)
      return cached
    }
    // The repository checks the bytes against the digest, so what decodes here was verified on put.
    const encoded = await this.#modules.store.get(digest)
    if (encoded === undefined) return undefined
    const stored = storedBatch(digest, encoded)
    this.#remember(stored)
    return stored
  }

  /** The digests (in input order) this node does not hold (`has`). */
  async missing(digests: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const held = await Promise.all(digests.map((d) => this.has(d)))
    return digests.filter((_, i) => !held[i])
  }

  /** The txs of the batches, concatenated in digest order; throws MissingBatchError for the first absent one. */
  async txsOf(digests: readonly Uint8Array[]): Promise<BlockTxs> {
    const batches = await Promise.all(digests.map((d) => this.get(d)))
    const txs: Tx[] = []
    const encoded: Uint8Array[] = []
    const hashes: Uint8Array[] = []
    batches.forEach((b, i) => {
      if (b === undefined) throw new MissingBatchError(digests[i]!)
      txs.push(...b.batch.txs)
      encoded.push(...b.txBytes)
      hashes.push(...b.hashes)
    })
    return { txs, encoded, hashes }
  }

  /** Drops batches from memory (e.g. once executed); they stay on disk for peers that sync. */
  prune(digests: readonly Uint8Array[]): void {
    for (const d of digests) this.#cache.delete(toHex(d))
  }

  get cachedCount(): number {
    return this.#cache.size
  }

  #remember(stored: StoredBatch): void {
    const key = toHex(stored.digest)
    this.#cache.delete(key)
    this.#cache.set(key, stored)
    if (this.#cache.size > this.#maxCached) this.#cache.delete(this.#cache.keys().next().value as string)
  }
}
