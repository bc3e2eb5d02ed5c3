import type { Batch } from '../core/batch.ts'
import type { Block } from '../core/block.ts'
import { toHex } from '../core/hash.ts'
import type { Tx } from '../core/tx.ts'

/**
 * A batch seen in a proposal is not proposed again for this many rounds: if that proposal's
 * block is orphaned (leader timed out), the batch becomes eligible again after a few failed
 * rounds instead of being lost. Re-proposing a batch that does commit twice costs only failed
 * duplicate receipts, never a wrong state.
 */
const REPROPOSE_AFTER_ROUNDS = 4

/**
 * Digests of committed (or proposed) batches remembered so a late gossip copy is not queued as
 * new; at 500 txs per batch this spans millions of txs, far longer than any gossip delay.
 */
const REMEMBERED_DIGESTS = 16_384

interface Entry {
  readonly digest: Uint8Array
  readonly txs: readonly Tx[]
  /** Round of the latest proposal that referenced this batch (0: none yet). */
  proposedRound: number
}

/**
 * Batches held locally and not yet committed, in arrival order: what a leader proposes from.
 * In batches mode a block references any validator's batches by digest; in full-block mode a
 * leader inlines the txs of its own batches (the comparison baseline where the leader's link
 * carries everything).
 */
export class BatchQueue {
  readonly #entries = new Map<string, Entry>()
  readonly #committed = new Set<string>()
  /**
   * Round of the latest proposal referencing each digest, also for batches not (yet) queued: a
   * batch often reaches us through a payload fetch for the proposal before its gossip copy.
   */
  readonly #proposedIn = new Map<string, number>()
  #waiters: (() => void)[] = []
  /** Full-block mode: the batches inlined in our proposal of each round, until it commits or is pruned. */
  readonly #inlined = new Map<number, Uint8Array[]>()

  get size(): number {
    return this.#entries.size
  }

  add(batch: Batch, digest: Uint8Array): void {
    const key = toHex(digest)
    if (this.#committed.has(key) || this.#entries.has(key)) return
    this.#entries.set(key, { digest, txs: batch.txs, proposedRound: this.#proposedIn.get(key) ?? 0 })
    for (const wake of this.#waiters.splice(0)) wake()
  }

  /** Batches referenced by a proposal (ours or another leader's) are skipped for a while. */
  markProposed(digests: readonly Uint8Array[], round: number): void {
    for (const d of digests) {
      const key = toHex(d)
      if ((this.#proposedIn.get(key) ?? 0) < round) this.#proposedIn.set(key, round)
      if (this.#proposedIn.size > REMEMBERED_DIGESTS) this.#proposedIn.delete(this.#proposedIn.keys().next().value!)
      const entry = this.#entries.get(key)
      if (entry !== undefined && entry.proposedRound < round) entry.proposedRound = round
    }
  }

  /** A block committed: its batches (referenced, or inlined by us as leader) leave the queue. */
  markCommitted(block: Block, self: number): void {
    const digests = block.payload.kind === 'batches' ? block.payload.digests : block.author === self ? (this.#inlined.get(block.round) ?? []) : []
    for (const d of digests) {
      const key = toHex(d)
      this.#entries.delete(key)
      this.#committed.add(key)
      this.#proposedIn.delete(key)
      if (this.#committed.size > REMEMBERED_DIGESTS) this.#committed.delete(this.#committed.values().next().value!)
    }
    for (const round of this.#inlined.keys()) if (round <= block.round) this.#inlined.delete(round)
  }

  /** True if a proposal in `round` would get at least one batch. */
  hasEligible(round: number): boolean {
    for (const entry of this.#entries.values()) if (this.#eligible(entry, round)) return true
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

  #eligible(entry: Entry, round: number): boolean {
    return entry.proposedRound === 0 || round - entry.proposedRound >= REPROPOSE_AFTER_ROUNDS
  }

  /** Up to `maxBatches` eligible digests, oldest first, marked proposed in `round`. */
  takeDigests(round: number, maxBatches: number): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const entry of this.#entries.values()) {
      if (out.length >= maxBatches) break
      if (!this.#eligible(entry, round)) continue
      entry.proposedRound = round
      out.push(entry.digest)
    }
    return out
  }

  /** Full-block mode: whole eligible batches, oldest first, while within `maxTxs`. */
  takeTxs(round: number, maxTxs: number): Tx[] {
    const txs: Tx[] = []
    const digests: Uint8Array[] = []
    for (const entry of this.#entries.values()) {
      if (!this.#eligible(entry, round)) continue
      if (txs.length + entry.txs.length > maxTxs) break
      entry.proposedRound = round
      txs.push(...entry.txs)
      digests.push(entry.digest)
    }
    this.#inlined.set(round, digests)
    return txs
  }
}
