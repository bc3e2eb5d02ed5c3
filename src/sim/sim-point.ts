import type { SimConfig } from './config.ts'
import { resultPoint, traceMetrics, type ResultPoint } from './result-point.ts'
import type { SimResult } from './simulation.ts'

/** A simulated point: the §12 fields plus what only the simulator knows (what `bftlab sim --json` writes). */
export type SimPoint = ResultPoint & {
  readonly seed: number
  readonly safetyViolations: number
  readonly msgsPerBlock: number
  readonly bytesPerBlock: number
  readonly livenessViolations?: number
  readonly virtualMs: number
  readonly maxCpuUtilisation: number
  readonly traceHash: string
}

/**
 * A simulator run as a point. The load model admits every tx (open loop, no mempool limit) and
 * nothing is executed, so nothing is rejected or fails: those counts are 0 by construction.
 */
export function simPoint(config: SimConfig, result: SimResult): SimPoint {
  const s = result.stats
  return {
    ...resultPoint(result.validators, traceMetrics(s.trace, config.load.offeredTps), {
      failedTxs: 0,
      rounds: s.rounds,
      timeouts: s.timeouts,
      msgsPerBlock: s.msgsPerBlock,
      bytesPerBlock: s.bytesPerBlock,
    }),
    seed: result.seed,
    msgsPerBlock: s.msgsPerBlock,
    bytesPerBlock: s.bytesPerBlock,
    safetyViolations: result.safetyViolations.length,
    ...(result.livenessViolations !== undefined ? { livenessViolations: result.livenessViolations.length } : {}),
    virtualMs: s.virtualMs,
    maxCpuUtilisation: s.maxCpuUtilisation,
    traceHash: result.traceHash,
  }
}
