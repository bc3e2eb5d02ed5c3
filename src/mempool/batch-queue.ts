import type { Batch } from '../core/batch.ts'
import type { Block } from '../core/block.ts'
import { toHex } from '../core/hash.ts'
import type { Tx } from '../core/tx.ts'

/**
 * Digests of committed batches remembered so a late gossip copy is not queued as new; at 500
 * txs per batch this spans millions of txs, far longer than any gossip delay.
 */
const REMEMBERED_DIGESTS = 16_384

interface Entry {
  readonly digest: Uint8Array
  readonly txs: readonly Tx[]
}

/**
 * Batches held locally and not yet committed, in arrival order: what a leader proposes from.
 * In batches mode a block references any validator's batches by digest; in full-block mode a
 * leader inlines the txs of its own batches (the comparison baseline where the leader's link
 * carries everything).
 *
 * A leader proposes every queued batch that the branch it extends (the uncommitted blocks from
 * its parent down to the committed chain, `pending`) does not already carry, as DiemBFT/Aptos
 * exclude the payloads of pending ancestors. So no batch is proposed twice on one branch, and a
 * batch whose block was orphaned (a leader turn that ended in a timeout) is proposed again by
 * the very next leader. Rules that instead wait a fixed number of rounds can starve a batch: with
 * round-robin leaders, the round they expire in can belong to the same leader whose turn a silent
 * next leader orphans every time.
 */
export class BatchQueue {
  readonly #entries = new Map<string, Entry>()
  readonly #committed = new Set<string>()
  #waiters: (() => void)[] = []
  /** Full-block mode: the batches inlined in our proposal of each round, until it commits or is pruned. */
  readonly #inlined = new Map<number, Uint8Array[]>()

  get size(): number {
    return this.#entries.size
  }

  add(batch: Batch, digest: Uint8Array): void {
    const key = toHex(digest)
    if (this.#committed.has(key) || this.#entries.has(key)) return
    this.#entries.set(key, { digest, txs: batch.txs })
    for (const wake of this.#waiters.splice(0)) wake()
  }

  /** A block committed: its batches (referenced, or inlined by us as leader) leave the queue. */
  markCommitted(block: Block, self: number): void {
    const digests = block.payload.kind === 'batches' ? block.payload.digests : block.author === self ? (this.#inlined.get(block.round) ?? []) : []
    for (const d of digests) {
      const key = toHex(d)
      this.#entries.delete(key)
      this.#committed.add(key)
      if (this.#committed.size > REMEMBERED_DIGESTS) this.#committed.delete(this.#committed.values().next().value!)
    }
    for (const round of this.#inlined.keys()) if (round <= block.round) this.#inlined.delete(round)
  }

  /** True if a proposal extending `pending` would get at least one batch. */
  hasEligible(pending: readonly Block[]): boolean {
    const carried = this.#carried(pending)
    for (const key of this.#entries.keys()) if (!carried.has(key)) return true
    return false
  }

  /** Resolves when a batch is added or after `ms`, whichever comes first. */
  waitForBatch(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /**
   * Digests `pending` does not carry, oldest first: at most `maxBatches`, and whole batches only
   * while their txs stay within `maxTxs` (the first batch is always taken, so an oversized one
   * cannot starve). The tx bound keeps a block's vote, execution and commit work below the round
   * timeout once a backlog builds; without it, a slow round left more batches queued, the next
   * block grew, timed out in turn, and the chain collapsed under load (docs/decisions.md).
   */
  takeDigests(pending: readonly Block[], maxBatches: number, maxTxs: number): Uint8Array[] {
    const carried = this.#carried(pending)
    const out: Uint8Array[] = []
    let txs = 0
    for (const [key, entry] of this.#entries) {
      if (out.length >= maxBatches) break
      if (carried.has(key)) continue
      if (out.length > 0 && txs + entry.txs.length > maxTxs) break
      out.push(entry.digest)
      txs += entry.txs.length
    }
    return out
  }

  /** Full-block mode: whole batches `pending` does not carry, oldest first, while within `maxTxs`; remembered as our proposal of `round`. */
  takeTxs(round: number, pending: readonly Block[], maxTxs: number): Tx[] {
    const carried = this.#carried(pending)
    const txs: Tx[] = []
    const digests: Uint8Array[] = []
    for (const [key, entry] of this.#entries) {
      if (carried.has(key)) continue
      if (txs.length + entry.txs.length > maxTxs) break
      txs.push(...entry.txs)
      digests.push(entry.digest)
    }
    this.#inlined.set(round, digests)
    return txs
  }

  /**
   * Digests (hex) of the batches the blocks carry: referenced ones, or those we inlined in our own
   * full blocks (a block in a branch at a round we proposed in is ours: one leader per round).
   */
  #carried(pending: readonly Block[]): Set<string> {
    const carried = new Set<string>()
    for (const block of pending) {
      const digests = block.payload.kind === 'batches' ? block.payload.digests : (this.#inlined.get(block.round) ?? [])
      for (const d of digests) carried.add(toHex(d))
    }
    return carried
  }
}
