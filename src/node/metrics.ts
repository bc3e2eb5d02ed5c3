import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Latency buckets in seconds: sub-millisecond verify batches up to multi-second commits. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
/** Txs per batch/block: powers of ~2.5 up to the codec's per-batch limit. */
const SIZE_BUCKETS = [1, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

/**
 * The validator's Prometheus metrics, on a registry of its own (not prom-client's global one)
 * so several validators in one process (integration tests) do not share counters.
 */
export class NodeMetrics {
  readonly registry = new Registry()

  readonly committedHeight = this.#gauge('bftlab_committed_height', 'Height of the last committed block')
  readonly committedBlocks = this.#counter('bftlab_committed_blocks_total', 'Blocks committed')
  readonly committedTxs = this.#counter('bftlab_committed_txs_total', 'Txs in committed blocks that executed successfully')
  readonly failedTxs = this.#counter('bftlab_failed_txs_total', 'Txs in committed blocks that failed execution (bad nonce, balance, duplicate)')
  readonly currentRound = this.#gauge('bftlab_current_round', 'Consensus round this validator is in')
  readonly timeouts = this.#counter('bftlab_timeouts_total', 'Round timers that expired locally')
  readonly roundChanges = new Counter({ name: 'bftlab_round_changes_total', help: 'Rounds entered, by the certificate that moved us', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly mempoolTxs = this.#gauge('bftlab_mempool_txs', 'Txs admitted and not yet committed')
  readonly rejectedTxs = this.#counter('bftlab_rejected_txs_total', 'Txs refused at admission (API)')
  readonly batchSize = new Histogram({ name: 'bftlab_batch_size_txs', help: 'Txs per batch sealed by this validator', buckets: SIZE_BUCKETS, registers: [this.registry] })
  readonly blockSize = new Histogram({ name: 'bftlab_block_size_txs', help: 'Txs per committed block', buckets: SIZE_BUCKETS, registers: [this.registry] })
  readonly verifyDuration = new Histogram({ name: 'bftlab_verify_duration_seconds', help: 'Signature verification of one submitted group of txs', buckets: DURATION_BUCKETS, registers: [this.registry] })
  readonly executionDuration = new Histogram({ name: 'bftlab_execution_duration_seconds', help: 'Execution of one committed block', buckets: DURATION_BUCKETS, registers: [this.registry] })
  readonly commitDuration = new Histogram({ name: 'bftlab_commit_duration_seconds', help: 'Commit of one block: fetch txs, execute, persist', buckets: DURATION_BUCKETS, registers: [this.registry] })
  readonly stateRootMismatches = this.#counter('bftlab_state_root_mismatches_total', "Blocks whose executedRoot differs from this validator's own root")
  readonly peers = this.#gauge('bftlab_peers', 'Validators currently connected')
  readonly messagesIn = new Counter({ name: 'bftlab_messages_in_total', help: 'Consensus messages received, by type', labelNames: ['type'] as const, registers: [this.registry] })
  readonly messagesOut = new Counter({ name: 'bftlab_messages_out_total', help: 'Consensus messages sent, by type', labelNames: ['type'] as const, registers: [this.registry] })
  readonly droppedMessages = new Counter({ name: 'bftlab_dropped_messages_total', help: 'Peer messages dropped before consensus, by reason', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly evidence = new Counter({ name: 'bftlab_evidence_total', help: 'Byzantine behaviour detected, by kind', labelNames: ['kind'] as const, registers: [this.registry] })
  readonly syncedBlocks = this.#counter('bftlab_synced_blocks_total', 'Committed blocks obtained from peers by catch-up sync')

  #gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] })
  }

  #counter(name: string, help: string): Counter {
    return new Counter({ name, help, registers: [this.registry] })
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
