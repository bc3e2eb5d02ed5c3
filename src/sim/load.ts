import type { Payload } from '../core/block.ts'
import { Writer } from '../core/codec.ts'
import { sha256, toHex } from '../core/hash.ts'

export interface LoadConfig {
  /** Open-loop offered load: txs arrive at this constant rate (per second of virtual time). */
  readonly offeredTps: number
  /** Most txs one block orders; the rest wait for the next proposal. */
  readonly maxBlockTxs: number
  /** Txs per batch: a block carries one 32-byte digest per batch (Quorum Store mode, docs/design.md §5). */
  readonly batchSize: number
  /** Virtual time at the start whose txs are excluded from every figure (a benchmark's warm-up); default 0. */
  readonly warmupMs?: number
}

export const DEFAULT_LOAD: LoadConfig = { offeredTps: 50_000, maxBlockTxs: 10_000, batchSize: 500 }

/** The txs one batch stands for: arrival indices [firstTx, firstTx + count). */
interface BatchRange {
  readonly firstTx: number
  readonly count: number
}

const BATCH_LABEL = new TextEncoder().encode('bftlab/sim/batch')

/**
 * The workload, modelled rather than executed: tx k arrives at k / offeredTps seconds, and
 * every proposal takes the oldest txs not yet taken (up to `maxBlockTxs`), packed into batches
 * that the block references by digest. Batches are assumed already disseminated (they travel
 * outside the consensus path in Quorum Store), so `fetchPayload` is answered at once.
 *
 * Simplification: txs taken by a block that never commits (a forked-away proposal) are not
 * offered again; they simply never commit, which shows up as lower throughput.
 */
export class LoadModel {
  readonly #config: LoadConfig
  readonly #batches = new Map<string, BatchRange>()
  #nextTx = 0
  #nextBatch = 0

  constructor(config: LoadConfig) {
    if (!(config.offeredTps >= 0)) throw new RangeError(`offered load must be ≥ 0 tx/s, got ${config.offeredTps}`)
    if (!Number.isInteger(config.batchSize) || config.batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${config.batchSize}`)
    if (!Number.isInteger(config.maxBlockTxs) || config.maxBlockTxs < 0) throw new RangeError(`max block txs must be a non-negative integer, got ${config.maxBlockTxs}`)
    this.#config = config
  }

  /** Virtual arrival time (ms) of tx `k`. */
  arrivalMs(k: number): number {
    return (k * 1000) / this.#config.offeredTps
  }

  /** How many txs have arrived by virtual time `now` (tx 0 arrives at 0). */
  arrivedBy(now: number): number {
    return this.#config.offeredTps === 0 ? 0 : Math.floor((now * this.#config.offeredTps) / 1000) + 1
  }

  /** Payload for a proposal built at `now`: every tx arrived so far and not yet taken, capped. */
  takePayload(now: number): Payload {
    const arrived = this.arrivedBy(now)
    const count = Math.min(arrived - this.#nextTx, this.#config.maxBlockTxs)
    const digests: Uint8Array[] = []
    for (let taken = 0; taken < count; taken += this.#config.batchSize) {
      const range = { firstTx: this.#nextTx + taken, count: Math.min(this.#config.batchSize, count - taken) }
      const digest = sha256(BATCH_LABEL, new Writer(8).u64(BigInt(this.#nextBatch++)).finish())
      this.#batches.set(toHex(digest), range)
      digests.push(digest)
    }
    this.#nextTx += Math.max(0, count)
    return { kind: 'batches', digests }
  }

  /** Arrival indices of the txs a payload orders (unknown digests, e.g. a Byzantine invention, count 0). */
  txRanges(payload: Payload): BatchRange[] {
    if (payload.kind === 'txs') return []
    const out: BatchRange[] = []
    for (const d of payload.digests) {
      const range = this.#batches.get(toHex(d))
      if (range !== undefined) out.push(range)
    }
    return out
  }
}
