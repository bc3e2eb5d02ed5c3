import type { Block } from '../core/block.ts'
import { toHex } from '../core/hash.ts'
import type { LoadModel } from './load.ts'
import { emptyTrace, type BlockRecord, type CommitTrace } from './result-point.ts'

export interface SimStats {
  /** Every arrived tx and committed block, for `traceMetrics` (the rates and latencies live there). */
  readonly trace: CommitTrace
  /** Distinct blocks committed by honest validators. */
  readonly committedBlocks: number
  /** Highest round an honest validator reached. */
  readonly rounds: number
  /** Rounds that ended in a timeout certificate (seen by any honest validator). */
  readonly timeouts: number
  /** Network transmissions (each unicast copy, consensus and block sync), and their bytes. */
  readonly messages: number
  readonly bytes: number
  readonly msgsPerBlock: number
  readonly bytesPerBlock: number
  /** Equivocation / double-vote / double-timeout proofs honest validators produced. */
  readonly evidence: number
  /** Messages honest validators refused. */
  readonly rejected: number
  /** Busiest validator's CPU time / virtual duration. */
  readonly maxCpuUtilisation: number
  readonly virtualMs: number
}

/** Txs [firstTx, firstTx + count) first committed in `blocks[block]`. */
interface CommittedRange {
  readonly firstTx: number
  readonly count: number
  readonly block: number
}

/**
 * Accumulates the run as the simulation reports it. Commit times are the first honest commit
 * of each block: the moment a client following any honest validator would see its txs final.
 */
export class SimMetrics {
  readonly #load: LoadModel
  readonly #proposedAt = new Map<string, number>()
  readonly #committed = new Set<string>()
  readonly #timeoutRounds = new Set<number>()
  readonly #blocks: BlockRecord[] = []
  readonly #ranges: CommittedRange[] = []
  maxRound = 0
  messages = 0
  bytes = 0
  evidence = 0
  rejected = 0

  constructor(load: LoadModel) {
    this.#load = load
  }

  onProposalSent(block: Block, atMs: number): void {
    const id = toHex(block.id)
    if (!this.#proposedAt.has(id)) this.#proposedAt.set(id, atMs)
  }

  onTransmission(bytes: number): void {
    this.messages++
    this.bytes += bytes
  }

  onRoundChanged(round: number, reason: 'qc' | 'tc'): void {
    if (round > this.maxRound) this.maxRound = round
    if (reason === 'tc') this.#timeoutRounds.add(round - 1)
  }

  /** An honest validator committed `blocks` at `atMs`. */
  onCommit(blocks: readonly Block[], atMs: number): void {
    for (const b of blocks) {
      const id = toHex(b.id)
      if (this.#committed.has(id)) continue
      this.#committed.add(id)
      const ranges = this.#load.txRanges(b.payload)
      const index = this.#blocks.length
      this.#blocks.push({ proposedMs: this.#proposedAt.get(id) ?? b.timestamp, committedMs: atMs, txs: ranges.reduce((sum, r) => sum + r.count, 0) })
      for (const r of ranges) this.#ranges.push({ firstTx: r.firstTx, count: r.count, block: index })
    }
  }

  /** The run as a trace whose steady window is [windowStartMs, windowEndMs] of virtual time. */
  #trace(virtualMs: number, windowStartMs: number, windowEndMs: number): CommitTrace {
    let arrived = this.#load.arrivedBy(virtualMs)
    for (const r of this.#ranges) arrived = Math.max(arrived, r.firstTx + r.count)
    const trace = emptyTrace(arrived, windowStartMs, windowEndMs)
    trace.blocks.push(...this.#blocks)
    for (let k = 0; k < arrived; k++) trace.submitMs[k] = this.#load.arrivalMs(k)
    for (const r of this.#ranges) {
      const at = this.#blocks[r.block]!.committedMs
      for (let k = r.firstTx; k < r.firstTx + r.count; k++) {
        trace.commitMs[k] = at
        trace.block[k] = r.block
      }
    }
    return trace
  }

  /** `warmupMs`: virtual time at the start whose txs are excluded (the bench's warm-up); the window ends with the load. */
  finish(virtualMs: number, maxCpuBusyMs: number, windowEndMs: number, warmupMs = 0): SimStats {
    const blocks = this.#committed.size
    return {
      trace: this.#trace(virtualMs, Math.min(warmupMs, windowEndMs), windowEndMs),
      committedBlocks: blocks,
      rounds: this.maxRound,
      timeouts: this.#timeoutRounds.size,
      messages: this.messages,
      bytes: this.bytes,
      msgsPerBlock: blocks === 0 ? 0 : this.messages / blocks,
      bytesPerBlock: blocks === 0 ? 0 : this.bytes / blocks,
      evidence: this.evidence,
      rejected: this.rejected,
      maxCpuUtilisation: virtualMs > 0 ? maxCpuBusyMs / virtualMs : 0,
      virtualMs,
    }
  }
}
