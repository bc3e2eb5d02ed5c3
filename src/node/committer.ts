import type { Block } from '../core/block.ts'
import { bytesEqual, toHex } from '../core/hash.ts'
import type { QuorumCert } from '../core/vote.ts'
import { executeSequential, type ExecuteOptions, type ExecutionResult } from '../execution/executor.ts'
import type { ParallelExecutor } from '../execution/parallel.ts'
import type { WorldState } from '../execution/state.ts'
import type { PayloadManager } from '../mempool/payload-manager.ts'
import type { NodeStore } from '../storage/node-store.ts'
import type { CommitFeed } from './commit-feed.ts'
import type { NodeLogger } from './logger.ts'
import type { NodeMetrics } from './metrics.ts'
import { toStoredWrites } from './state-store.ts'

/**
 * Roots remembered per executed height, to check `executedRoot` of blocks proposed a few
 * heights later (deferred execution: a leader proposes with the root it had when proposing).
 */
const ROOT_HISTORY = 1_024

export interface CommitterModules {
  readonly store: NodeStore
  readonly state: WorldState
  /** Undefined: execute on the main thread with the sequential reference executor. */
  readonly executor: ParallelExecutor | undefined
  /** A block's txs, and what a commit releases (mempool txs, queued and cached batches). */
  readonly payloads: Pick<PayloadManager, 'txsOf' | 'committed'>
  readonly metrics: NodeMetrics
  readonly commits: CommitFeed
  readonly log: NodeLogger
  /** A commit failed (disk error, say): this validator can no longer execute and must stop. */
  readonly onFatal: (err: unknown) => void
}

/**
 * Turns committed blocks into state, strictly in height order: fetch the txs, execute, compare
 * the block's `executedRoot` with our own root at its `executedHeight`, persist everything in one
 * atomic store batch, then apply to memory and notify (payloads, SSE, metrics).
 */
export class BlockCommitter {
  readonly #m: CommitterModules
  readonly #roots = new Map<number, Uint8Array>()
  #last: Block
  #tail: Promise<void> = Promise.resolve()
  #stopped = false
  #committedTxs = 0

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

  /** Txs committed with an `ok` receipt since this validator started. */
  get committedTxs(): number {
    return this.#committedTxs
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
    const { txs, encoded, hashes, unverified } = await this.#m.payloads.txsOf(block)
    const options: ExecuteOptions = unverified === undefined ? { known: { encoded, hashes } } : { known: { encoded, hashes }, unverified }
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
    this.#m.payloads.committed(block, txIds, result.writes.accounts.keys())
    this.#committedTxs += ok
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
