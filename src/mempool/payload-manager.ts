import { batchAuthorOfEncoding } from '../core/batch.ts'
import type { Block, Payload } from '../core/block.ts'
import { DecodeError } from '../core/codec.ts'
import type { Logger } from '../core/logger.ts'
import { encodeTx, txBodyHashes } from '../core/tx.ts'
import { PayloadAvailability, answerBatchRequest, type BatchRequests } from './availability.ts'
import { BatchQueue } from './batch-queue.ts'
import { BatchRejectedError, BatchStore, MissingBatchError, type BatchPersistence, type BlockTxs, type StoredBatch } from './batch-store.ts'
import { Mempool, type AccountView, type MempoolOptions } from './mempool.ts'
import { SerialByKey } from './serial.ts'
import type { TxSignatureVerifier } from './verifier.ts'
import { verifyOnce, type VerifiedTxs } from './verified-txs.ts'

/** Longest a leader waits for a batch before proposing an empty block; well below round timeouts. */
const EMPTY_PROPOSAL_WAIT_MS = 100
/** Wait before asking peers again for batches of a committed block nobody supplied. */
const PAYLOAD_RETRY_MS = 500

export interface PayloadOptions {
  /** This validator's index: the author of the batches it packs. */
  readonly self: number
  /** `batches`: blocks reference batches by digest; `full-block`: a leader inlines its own batches' txs. */
  readonly mode: 'batches' | 'full-block'
  readonly maxBlockBatches: number
  readonly maxBlockTxs: number
  /** Largest network message: bounds batch-request answers and what is accepted from them. */
  readonly maxMessageBytes: number
  readonly mempool: Omit<MempoolOptions, 'author'>
}

/** How batches travel: requests (availability.ts), and our own batches gossiped on the node's batch topic. */
export interface BatchNetwork extends BatchRequests {
  /** Gossips one of our batches to every validator. */
  publish(encoded: Uint8Array): Promise<void>
}

/** The node metrics the payload manager reports to (structurally NodeMetrics'). */
export interface PayloadMetrics {
  readonly batchSize: { observe(txs: number): void }
  readonly droppedMessages: { inc(labels: { reason: string }): void }
}

export interface PayloadModules {
  /** Where batches persist (the node store's batch repository). */
  readonly store: BatchPersistence
  readonly verifier: TxSignatureVerifier
  /** Txs this validator already verified (admission, batches): never checked twice. */
  readonly verified: VerifiedTxs
  /** Executed account state, for admission. */
  readonly accounts: AccountView
  /** Which of these tx hashes are already committed (the store's tx index). */
  readonly isCommitted: (hashes: readonly Uint8Array[]) => Promise<boolean[]>
  readonly network: BatchNetwork
  /**
   * The uncommitted blocks a proposal of ours would extend (from the high QC's block down to the
   * committed height): their batches are not proposed again.
   */
  readonly pendingBranch: () => readonly Block[]
  readonly metrics: PayloadMetrics
  readonly log: Logger
}

/** A block's txs in execution order, ready for the executor. */
export interface BlockPayload extends BlockTxs {
  /**
   * Present for another leader's full block, whose inline txs were never checked here: true
   * marks a tx whose signature failed (the executor records its `invalid signature` receipt).
   */
  readonly unverified?: readonly boolean[]
}

/**
 * Everything about batches for one validator, end to end (docs/design.md, "A transaction's
 * path"): the mempool admits txs and packs them into batches, handed here; our batches are
 * stored and published in sequence order; peers' batches are verified, stored and queued in
 * their author's order; a leader's proposal takes queued batches its branch does not carry; a
 * vote waits until every referenced batch is held (fetched from peers if not); a committed
 * block's txs come from the held batches; and a commit releases its txs and batches.
 */
export class PayloadManager {
  /** Admission and packing (the HTTP API submits here). */
  readonly mempool: Mempool
  readonly #opts: PayloadOptions
  readonly #m: PayloadModules
  readonly #batches: BatchStore
  readonly #queue = new BatchQueue()
  readonly #availability: PayloadAvailability
  /** Per-author order of batch hand-offs: our own to gossip, peers' to the proposal queue. */
  readonly #order = new SerialByKey()
  #closed = false

  constructor(opts: PayloadOptions, modules: PayloadModules) {
    this.#opts = opts
    this.#m = modules
    this.#batches = new BatchStore({}, { store: modules.store, verifier: modules.verifier, verified: modules.verified })
    this.#availability = new PayloadAvailability(this.#batches, modules.network, opts.maxMessageBytes, modules.log)
    this.mempool = new Mempool(
      { ...opts.mempool, author: opts.self },
      {
        accounts: modules.accounts,
        verifier: modules.verifier,
        verified: modules.verified,
        isCommitted: modules.isCommitted,
        onBatch: (packed) => this.#packed(packed),
      },
    )
  }

  /**
   * A batch the mempool just sealed: queued for our proposals and, in batches mode, stored and
   * published in seq order. Storing finishes out of order (LevelDB puts complete on several
   * threads), and peers queue an author's batches as they arrive, so batch n+1 gossiped before
   * batch n would be proposed first and its txs fail as "bad nonce".
   */
  #packed(packed: StoredBatch): void {
    this.#m.metrics.batchSize.observe(packed.batch.txs.length)
    this.#queue.add(packed.batch, packed.digest)
    if (this.#opts.mode === 'full-block') return
    const stored = this.#batches.putPacked(packed)
    void this.#order.run('own', () =>
      stored.then(
        () => this.#m.network.publish(packed.encoded).catch((err: unknown) => this.#m.log.warn({ err: (err as Error).message }, 'batch gossip failed')),
        (err: unknown) => this.#m.log.error({ err }, 'own batch could not be stored'),
      ),
    )
  }

  /**
   * A batch gossiped by `from`. Batches of one author are verified concurrently but queued in
   * arrival order: verification finishing out of order would let an author's batch n+1 be
   * proposed before batch n, and the txs of a sender whose nonces span both would then fail as
   * "bad nonce". Keyed by the author the batch names, not by the peer that relayed it (gossip is
   * unsigned, so a relayed copy may arrive first); a false author only reorders that batch, which
   * is then checked anyway.
   */
  receive(data: Uint8Array, from: string): void {
    const stored = this.#batches.put(data, from)
    const author = batchAuthorOfEncoding(data)
    void this.#order.run(author === undefined ? from : `author ${author}`, () =>
      stored
        .then(
          (batch) => this.#queue.add(batch.batch, batch.digest),
          (err: unknown) => {
            if (!(err instanceof BatchRejectedError)) throw err
            this.#m.metrics.droppedMessages.inc({ reason: 'invalid batch' })
            this.#m.log.warn({ peer: from, err: err.message }, 'invalid batch dropped')
          },
        )
        .catch((err: unknown) => this.#m.log.error({ err }, 'storing a gossiped batch failed')),
    )
  }

  /** Answers a peer's batch request (sync-batches); a malformed request gets no answer. */
  async answer(data: Uint8Array, from: string): Promise<Uint8Array | undefined> {
    try {
      return await answerBatchRequest(this.#batches, data, this.#opts.maxMessageBytes)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      this.#m.metrics.droppedMessages.inc({ reason: 'malformed batch request' })
      this.#m.log.debug({ peer: from, err: err.message }, 'malformed batch request')
      return undefined
    }
  }

  /** True once every batch `block` references is held (fetched from peers if need be); false if none supplied them. */
  available(block: Block): Promise<boolean> {
    return this.#availability.ensure(block)
  }

  /**
   * The payload of our proposal for `round`: queued batches the pending branch does not carry.
   * An idle chain would otherwise commit empty blocks as fast as the network allows, each an
   * fsynced write on every validator; waiting briefly for a batch costs nothing under load
   * (batches are always queued) and keeps idle disk use bounded.
   */
  async buildProposal(round: number): Promise<Payload> {
    if (!this.#queue.hasEligible(this.#m.pendingBranch())) await this.#queue.waitForBatch(EMPTY_PROPOSAL_WAIT_MS)
    const pending = this.#m.pendingBranch()
    const { maxBlockBatches, maxBlockTxs } = this.#opts
    return this.#opts.mode === 'batches'
      ? { kind: 'batches', digests: this.#queue.takeDigests(pending, maxBlockBatches, maxBlockTxs) }
      : { kind: 'txs', txs: this.#queue.takeTxs(round, pending, maxBlockTxs) }
  }

  /**
   * A committed block's txs in execution order with their encodings and hashes (the batch store
   * keeps them; a full block's are computed once here). Batches were signature-checked when
   * stored; inline txs of another leader's full block were not, so they are checked here, on the
   * verify workers (a full block holds up to maxBlockTxs of them: ~37 µs each would stall the main
   * thread). A committed block cannot be skipped: missing batches are asked for until some
   * validator supplies them.
   */
  async txsOf(block: Block): Promise<BlockPayload> {
    if (block.payload.kind === 'txs') {
      const { txs } = block.payload
      const encoded = txs.map(encodeTx)
      const hashes = txBodyHashes(encoded)
      if (block.author === this.#opts.self) return { txs, encoded, hashes }
      const valid = await verifyOnce(txs.map((tx, i) => ({ hash: hashes[i]!, tx, encoded: encoded[i] })), this.#m.verified, this.#m.verifier)
      return { txs, encoded, hashes, unverified: valid.map((ok) => !ok) }
    }
    for (;;) {
      try {
        return await this.#batches.txsOf(block.payload.digests)
      } catch (err) {
        if (!(err instanceof MissingBatchError)) throw err
      }
      if (this.#closed) throw new Error(`stopped while fetching batches of block at height ${block.height}`)
      if (!(await this.#availability.ensure(block))) await new Promise((resolve) => setTimeout(resolve, PAYLOAD_RETRY_MS))
    }
  }

  /**
   * After a block is durably committed and applied: its txs leave the mempool (and pending txs
   * of `touchedAccounts` whose nonce the new state passed are evicted), its batches leave the
   * proposal queue and the batch cache. `txIds` are the block's tx hashes in hex.
   */
  committed(block: Block, txIds: Iterable<string>, touchedAccounts: Iterable<string>): void {
    this.mempool.markCommitted(txIds, touchedAccounts)
    this.#queue.markCommitted(block, this.#opts.self)
    if (block.payload.kind === 'batches') this.#batches.prune(block.payload.digests)
  }

  /** Stops packing; a commit still fetching batches gives up. Txs not yet packed are dropped. */
  close(): void {
    this.#closed = true
    this.mempool.close()
  }
}
