import type { Block } from '../core/block.ts'
import { bytesEqual, toHex } from '../core/hash.ts'
import { encodeTx, txBodyHashes, type Tx } from '../core/tx.ts'
import type { QuorumCert } from '../core/vote.ts'
import { executeSequential, type ExecuteOptions, type ExecutionResult } from '../execution/executor.ts'
import type { ParallelExecutor } from '../execution/parallel.ts'
import type { StateWrites as ExecutionWrites, WorldState } from '../execution/state.ts'
import { MissingBatchError, type BatchStore } from '../mempool/batch-store.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { TxSignatureVerifier } from '../mempool/verifier.ts'
import { verifyOnce, type VerifiedTxs } from '../mempool/verified-txs.ts'
import type { NodeStore, StateWrites as StoredWrites } from '../storage/node-store.ts'
import type { BatchQueue } from './batch-queue.ts'
import type { CommitFeed } from './commit-feed.ts'
import type { Logger } from './logger.ts'
import type { NodeMetrics } from './metrics.ts'
import type { PayloadAvailability } from './payload.ts'

/**
 * Compute slots are stored under `slot/<hex>` so they can never collide with an account, whose
 * storage key is its bare address hex (both are 32-byte values).
 */
const SLOT_PREFIX = 'slot/'

export function toStoredWrites(writes: ExecutionWrites): StoredWrites {
  const out = new Map<string, StoredWrites extends ReadonlyMap<string, infer V> ? V : never>(writes.accounts)
  for (const [id, value] of writes.slots) out.set(SLOT_PREFIX + id, value)
  return out
}

/** Inverse of toStoredWrites for the slots read back at start. */
export function slotIdOfStoredKey(key: string): string | undefined {
  return key.startsWith(SLOT_PREFIX) ? key.slice(SLOT_PREFIX.length) : undefined
}

/**
 * Roots remembered per executed height, to check `executedRoot` of blocks proposed a few
 * heights later (deferred execution: a leader proposes with the root it had when proposing).
 */
const ROOT_HISTORY = 1_024
/** Wait before asking peers again for batches of a committed block nobody supplied. */
const PAYLOAD_RETRY_MS = 500

export interface CommitterModules {
  readonly index: number
  readonly store: NodeStore
  readonly state: WorldState
  /** Undefined: execute on the main thread with the sequential reference executor. */
  readonly executor: ParallelExecutor | undefined
  readonly batches: BatchStore
  /** Checks the inline txs of other leaders' full blocks off the main thread. */
  readonly verifier: TxSignatureVerifier
  /** Txs this validator already verified (admission, batches): not checked again. */
  readonly verified: VerifiedTxs
  readonly payload: PayloadAvailability
  readonly mempool: Mempool
  readonly queue: BatchQueue
  readonly metrics: NodeMetrics
  readonly commits: CommitFeed
  readonly log: Logger
  /** Called once a block is durably committed and applied (pending-tx bookkeeping). */
  readonly onCommitted: (block: Block, receipts: ExecutionResult['receipts']) => void
  /** A commit failed (disk error, say): this validator can no longer execute and must stop. */
  readonly onFatal: (err: unknown) => void
}

/**
 * Turns committed blocks into state, strictly in height order: fetch the txs, execute, compare
 * the block's `executedRoot` with our own root at its `executedHeight`, persist everything in one
 * atomic store batch, then apply to memory and notify (mempool, SSE, metrics).
 */
export class BlockCommitter {
  readonly #m: CommitterModules
  readonly #roots = new Map<number, Uint8Array>()
  #last: Block
  #tail: Promise<void> = Promise.resolve()
  #stopped = false

  constructor(modules: CommitterModules, lastCommitted: Block) {
    this.#m = modules
    this.#last = lastCommitted
    this.#roots.set(lastCommitted.height, modules.state.root())
  }

  get lastCommitted(): Block {
    return this.#last
  }

  get height(): number {
    return this.#last.height
  }

  get root(): Uint8Array {
    return this.#m.state.root()
  }

  /** Queues blocks (oldest first) behind earlier commits; resolves when they are committed. */
  enqueue(blocks: readonly Block[], proof: QuorumCert): Promise<void> {
    const run = this.#tail.then(async () => {
      for (const block of blocks) if (!this.#stopped) await this.#commit(block, proof)
    })
    this.#tail = run.catch((err: unknown) => {
      this.#stopped = true
      this.#m.log.fatal({ err }, 'commit failed; this validator stops executing')
      this.#m.onFatal(err)
    })
    return run
  }

  /** Resolves once every queued commit finished; no new ones start. */
  async stop(): Promise<void> {
    this.#stopped = true
    await this.#tail
  }

  async #commit(block: Block, proof: QuorumCert): Promise<void> {
    const { store, state, metrics, log } = this.#m
    if (block.height <= this.#last.height) return this.#checkAlreadyCommitted(block)
    if (!bytesEqual(block.parentQc.blockId, this.#last.id) || block.height !== this.#last.height + 1) {
      throw new Error(`block ${toHex(block.id)} at height ${block.height} does not extend committed block ${toHex(this.#last.id)} at height ${this.#last.height}`)
    }
    const started = performance.now()
    const { txs, known, unverified } = await this.#txsOf(block)
    const options: ExecuteOptions = unverified ? { known, unverified: await this.#failingSignatures(txs, known) } : { known }
    const execStarted = performance.now()
    const result: ExecutionResult = this.#m.executor ? await this.#m.executor.execute(state, txs, options) : executeSequential(state, txs, options)
    metrics.executionDuration.observe((performance.now() - execStarted) / 1000)
    this.#checkExecutedRoot(block)

    await store.commitBlock({
      block,
      proof,
      receipts: result.receipts,
      writes: toStoredWrites(result.writes),
      root: result.root,
      executedHeight: block.height,
    })
    state.apply(result)
    this.#last = block
    this.#roots.set(block.height, result.root)
    this.#roots.delete(block.height - ROOT_HISTORY)

    const txIds = result.receipts.map((r) => toHex(r.txHash))
    const ok = result.receipts.reduce((n, r) => n + (r.status === 'ok' ? 1 : 0), 0)
    this.#m.mempool.markCommitted(txIds, result.writes.accounts.keys())
    this.#m.queue.markCommitted(block, this.#m.index)
    if (block.payload.kind === 'batches') this.#m.batches.prune(block.payload.digests)
    this.#m.onCommitted(block, result.receipts)
    metrics.committedHeight.set(block.height)
    metrics.committedBlocks.inc()
    metrics.committedTxs.inc(ok)
    metrics.failedTxs.inc(result.receipts.length - ok)
    metrics.blockSize.observe(txs.length)
    metrics.commitDuration.observe((performance.now() - started) / 1000)
    const committedAt = Date.now()
    this.#m.commits.publish({ height: block.height, round: block.round, id: toHex(block.id), proposedAt: block.timestamp, committedAt, txs: txIds })
    log.debug({ height: block.height, round: block.round, txs: txs.length, ok, ms: Math.round(performance.now() - started) }, 'block committed')
  }

  /** A block committed again (the core re-learning blocks we got by sync) must be the same one. */
  async #checkAlreadyCommitted(block: Block): Promise<void> {
    const ours = await this.#m.store.blockAt(block.height)
    if (ours !== undefined && !bytesEqual(ours.id, block.id)) {
      this.#m.log.fatal({ height: block.height, committed: toHex(ours.id), conflicting: toHex(block.id) }, 'SAFETY VIOLATION: two different blocks committed at one height')
    }
  }

  /**
   * The block's txs in execution order with their encodings and hashes (the batch store keeps
   * them; a full block's are computed once here). Batches were signature-checked when stored;
   * inline txs of another leader's full block were not, so they are checked before execution.
   */
  async #txsOf(block: Block): Promise<{ txs: readonly Tx[]; known: NonNullable<ExecuteOptions['known']>; unverified: boolean }> {
    if (block.payload.kind === 'txs') {
      const { txs } = block.payload
      const encoded = txs.map(encodeTx)
      return { txs, known: { encoded, hashes: txBodyHashes(encoded) }, unverified: block.author !== this.#m.index }
    }
    for (;;) {
      try {
        const { txs, encoded, hashes } = await this.#m.batches.txsOf(block.payload.digests)
        return { txs, known: { encoded, hashes }, unverified: false }
      } catch (err) {
        if (!(err instanceof MissingBatchError)) throw err
      }
      // A committed block cannot be skipped: keep asking until some validator supplies the batch.
      if (this.#stopped) throw new Error(`stopped while fetching batches of block at height ${block.height}`)
      if (!(await this.#m.payload.ensure(block))) await new Promise((resolve) => setTimeout(resolve, PAYLOAD_RETRY_MS))
    }
  }

  /**
   * Flags for the executor's `unverified` option. The txs are checked on the verify workers
   * (a full block holds up to maxBlockTxs of them: ~37 µs each would stall the main thread);
   * only those that fail are flagged, so the executor re-checks just those and records their
   * `invalid signature` receipts exactly as the oracle would.
   */
  async #failingSignatures(txs: readonly Tx[], known: NonNullable<ExecuteOptions['known']>): Promise<boolean[]> {
    const valid = await verifyOnce(txs.map((tx, i) => ({ hash: known.hashes[i]!, tx, encoded: known.encoded[i] })), this.#m.verified, this.#m.verifier)
    return valid.map((ok) => !ok)
  }

  /** Validators agree on execution through consensus: a differing root is reported loudly. */
  #checkExecutedRoot(block: Block): void {
    const ours = this.#roots.get(block.executedHeight)
    if (ours === undefined) {
      this.#m.log.debug({ height: block.height, executedHeight: block.executedHeight }, 'executedRoot not checkable: root of that height no longer remembered')
      return
    }
    if (bytesEqual(ours, block.executedRoot)) return
    this.#m.metrics.stateRootMismatches.inc()
    this.#m.log.error(
      { height: block.height, executedHeight: block.executedHeight, author: block.author, expected: toHex(block.executedRoot), got: toHex(ours) },
      `STATE ROOT MISMATCH: block at height ${block.height} says the root at height ${block.executedHeight} is ${toHex(block.executedRoot)}, ours is ${toHex(ours)}`,
    )
  }
}
