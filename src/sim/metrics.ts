import type { Block } from '../core/block.ts'
import { toHex } from '../core/hash.ts'
import type { LoadModel } from './load.ts'
import { SampleSet, type LatencySummary } from './stats.ts'

export interface SimStats {
  /** Distinct blocks committed by honest validators. */
  readonly committedBlocks: number
  readonly committedTxs: number
  /** Highest round an honest validator reached. */
  readonly rounds: number
  /** Rounds that ended in a timeout certificate (seen by any honest validator). */
  readonly timeouts: number
  /** Network transmissions (each unicast copy, consensus and block sync), and their bytes. */
  readonly messages: number
  readonly bytes: number
  readonly msgsPerBlock: number
  readonly bytesPerBlock: number
  /** Proposal → commit, per block and honest validator (virtual ms). */
  readonly consensusLatencyMs: LatencySummary
  /** Tx arrival in the load model → first honest commit of its block (virtual ms). */
  readonly txLatencyMs: LatencySummary
  /** Committed txs / (last commit − first proposal), per second of virtual time (docs/design.md §11). */
  readonly consensusTps: number
  /** Committed txs / (last commit − first tx arrival at virtual time 0), per second (docs/design.md §11). */
  readonly e2eTps: number
  /** Equivocation / double-vote / double-timeout proofs honest validators produced. */
  readonly evidence: number
  /** Messages honest validators refused. */
  readonly rejected: number
  /** Busiest validator's CPU time / virtual duration. */
  readonly maxCpuUtilisation: number
  readonly virtualMs: number
}

/** Accumulates the run's statistics as the simulation reports what happens. */
export class SimMetrics {
  readonly #load: LoadModel
  readonly #proposedAt = new Map<string, number>()
  readonly #committed = new Set<string>()
  readonly #timeoutRounds = new Set<number>()
  readonly #consensusLatency = new SampleSet()
  readonly #txLatency = new SampleSet()
  #firstProposalMs: number | undefined
  #lastCommitMs = 0
  #committedTxs = 0
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
    if (this.#proposedAt.has(id)) return
    this.#proposedAt.set(id, atMs)
    this.#firstProposalMs ??= atMs
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
      const proposedAt = this.#proposedAt.get(id) ?? b.timestamp
      this.#consensusLatency.add(atMs - proposedAt)
      if (this.#committed.has(id)) continue
      this.#committed.add(id)
      this.#lastCommitMs = atMs
      for (const range of this.#load.txRanges(b.payload)) {
        this.#committedTxs += range.count
        for (let k = range.firstTx; k < range.firstTx + range.count; k++) this.#txLatency.add(atMs - this.#load.arrivalMs(k))
      }
    }
  }

  finish(virtualMs: number, maxCpuBusyMs: number): SimStats {
    const blocks = this.#committed.size
    const window = this.#firstProposalMs === undefined ? 0 : this.#lastCommitMs - this.#firstProposalMs
    return {
      committedBlocks: blocks,
      committedTxs: this.#committedTxs,
      rounds: this.maxRound,
      timeouts: this.#timeoutRounds.size,
      messages: this.messages,
      bytes: this.bytes,
      msgsPerBlock: blocks === 0 ? 0 : this.messages / blocks,
      bytesPerBlock: blocks === 0 ? 0 : this.bytes / blocks,
      consensusLatencyMs: this.#consensusLatency.summary(),
      txLatencyMs: this.#txLatency.summary(),
      consensusTps: window > 0 ? (this.#committedTxs * 1000) / window : 0,
      e2eTps: this.#lastCommitMs > 0 ? (this.#committedTxs * 1000) / this.#lastCommitMs : 0,
      evidence: this.evidence,
      rejected: this.rejected,
      maxCpuUtilisation: virtualMs > 0 ? maxCpuBusyMs / virtualMs : 0,
      virtualMs,
    }
  }
}
