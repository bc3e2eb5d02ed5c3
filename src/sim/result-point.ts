import type { SimConfig } from './config.ts'
import type { SimResult } from './simulation.ts'
import type { LatencySummary } from './stats.ts'

/** One simulated point in docs/design.md §12 field names (what `bftlab sim --json` writes and the benchmark reads). */
export interface SimPoint {
  readonly validators: number
  readonly seed: number
  readonly offeredTps: number
  /** The load model admits every tx (open loop, no mempool limit): equal to offeredTps. */
  readonly achievedSubmitTps: number
  readonly consensusTps: number
  readonly e2eTps: number
  /** Tx arrival → first honest commit of its block. */
  readonly latencyMs: LatencySummary
  readonly consensusLatencyMs: LatencySummary
  readonly committedTxs: number
  /** Nothing is refused by the load model and nothing is executed, so no tx can fail: both 0 by construction. */
  readonly rejectedTxs: number
  readonly failedTxs: number
  readonly committedBlocks: number
  readonly rounds: number
  readonly timeouts: number
  readonly msgsPerBlock: number
  readonly bytesPerBlock: number
  readonly safetyViolations: number
  readonly livenessViolations?: number
  readonly virtualMs: number
  readonly maxCpuUtilisation: number
  readonly traceHash: string
}

export function simPoint(config: SimConfig, result: SimResult): SimPoint {
  const s = result.stats
  return {
    validators: result.validators,
    seed: result.seed,
    offeredTps: config.load.offeredTps,
    achievedSubmitTps: config.load.offeredTps,
    consensusTps: s.consensusTps,
    e2eTps: s.e2eTps,
    latencyMs: s.txLatencyMs,
    consensusLatencyMs: s.consensusLatencyMs,
    committedTxs: s.committedTxs,
    rejectedTxs: 0,
    failedTxs: 0,
    committedBlocks: s.committedBlocks,
    rounds: s.rounds,
    timeouts: s.timeouts,
    msgsPerBlock: s.msgsPerBlock,
    bytesPerBlock: s.bytesPerBlock,
    safetyViolations: result.safetyViolations.length,
    ...(result.livenessViolations !== undefined ? { livenessViolations: result.livenessViolations.length } : {}),
    virtualMs: s.virtualMs,
    maxCpuUtilisation: s.maxCpuUtilisation,
    traceHash: result.traceHash,
  }
}
