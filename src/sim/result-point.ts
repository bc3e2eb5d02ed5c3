import { z } from 'zod'
import { SampleSet, type LatencySummary } from './stats.ts'

/**
 * The one definition of a measured point (docs/design.md §12) and of every metric in it (§11). The
 * simulator, the load generator, `bftlab testnet`/`load` and the benchmark record what they saw
 * as a CommitTrace and hand it to `traceMetrics`; nothing else derives a rate or a percentile,
 * so `bftlab sim --json` and `bftlab bench --sim` cannot disagree about one run.
 */

/** One committed block, once: its proposal and its first reported commit (the nodes' clocks). */
export interface BlockRecord {
  readonly proposedMs: number
  readonly committedMs: number
  readonly txs: number
}

/**
 * What a run observed, per tx in schedule order and per committed block. Times are ms on the
 * observer's clock (the load generator's wall clock, or the simulator's virtual clock).
 */
export interface CommitTrace {
  /** The steady window: txs due from here on count (what came before is warm-up). */
  readonly windowStartMs: number
  /** End of submission: the window's last instant. Commits after it are the drain. */
  readonly windowEndMs: number
  /** When tx j fell due (its submit time, wherever it then waited), NaN if it never left. */
  readonly submitMs: Float64Array
  /** When the observer first saw tx j committed, NaN if it did not by the end of the trace. */
  readonly commitMs: Float64Array
  /** Index into `blocks` of the block that carried tx j, −1 if none. */
  readonly block: Int32Array
  /** 1 where admission refused tx j (it cannot commit). */
  readonly rejected: Uint8Array
  readonly blocks: readonly BlockRecord[]
}

/** An empty trace of `count` txs: nothing submitted, nothing committed yet. */
export function emptyTrace(count: number, windowStartMs: number, windowEndMs: number): CommitTrace & { blocks: BlockRecord[] } {
  return {
    windowStartMs,
    windowEndMs,
    submitMs: new Float64Array(count).fill(Number.NaN),
    commitMs: new Float64Array(count).fill(Number.NaN),
    block: new Int32Array(count).fill(-1),
    rejected: new Uint8Array(count),
    blocks: [],
  }
}

/** The figures a trace alone decides (docs/design.md §11), for the offered rate that produced it. */
export interface TraceMetrics {
  readonly offeredTps: number
  /** Txs due in the window that admission accepted, per second of window. */
  readonly achievedSubmitTps: number
  /**
   * Txs of the blocks proposed in the window / (their last commit − their first proposal):
   * the ordering pipeline's rate, on the nodes' clocks.
   */
  readonly consensusTps: number
  /**
   * The sustained end-to-end rate: txs the observer saw committed during the window, per second
   * of window. At a load the chain keeps up with it equals the offered rate (the warm-up has
   * filled the pipeline, so commits leave at the rate txs arrive); past capacity it is the rate
   * the chain actually commits. docs/design.md §11's committed / (last commit − first submit) read 1–3 %
   * under offered at a kept-up load, because the drain's last latency stretches its denominator,
   * and a capacity criterion "achieved ≥ 95 % of offered" must not fail on a measuring artefact
   * (docs/decisions.md, "Capacity search").
   */
  readonly e2eTps: number
  /** Commit − submit of the window's committed txs. */
  readonly latencyMs: LatencySummary
  /** Commit − proposal of the block carrying each of the window's committed txs. */
  readonly consensusLatencyMs: LatencySummary
  readonly submittedTxs: number
  /** Window txs committed by the end of the trace (drain included): the latency samples. */
  readonly committedTxs: number
  readonly rejectedTxs: number
  /** Accepted in the window, not committed by the end of the trace. */
  readonly uncommittedTxs: number
  /** Blocks proposed in the window. */
  readonly committedBlocks: number
  readonly windowS: number
}

const rateOver = (count: number, ms: number): number => (ms > 0 ? (count * 1_000) / ms : 0)

export function traceMetrics(trace: CommitTrace, offeredTps: number): TraceMetrics {
  const { windowStartMs: start, windowEndMs: end } = trace
  const inWindow = (t: number): boolean => t >= start && t <= end
  const e2e = new SampleSet()
  const consensus = new SampleSet()
  let submitted = 0
  let rejected = 0
  let committedInWindow = 0
  for (let j = 0; j < trace.submitMs.length; j++) {
    const commit = trace.commitMs[j]!
    if (inWindow(commit)) committedInWindow++
    const submit = trace.submitMs[j]!
    if (!inWindow(submit)) continue
    submitted++
    if (trace.rejected[j] === 1) rejected++
    else if (!Number.isNaN(commit)) {
      e2e.add(commit - submit)
      const b = trace.blocks[trace.block[j]!]
      if (b !== undefined) consensus.add(b.committedMs - b.proposedMs)
    }
  }
  let blockTxs = 0
  let firstProposal = Infinity
  let lastCommit = -Infinity
  let blocks = 0
  for (const b of trace.blocks) {
    if (!inWindow(b.proposedMs)) continue
    blocks++
    blockTxs += b.txs
    firstProposal = Math.min(firstProposal, b.proposedMs)
    lastCommit = Math.max(lastCommit, b.committedMs)
  }
  const windowMs = Math.max(0, end - start)
  return {
    offeredTps,
    achievedSubmitTps: rateOver(submitted - rejected, windowMs),
    consensusTps: blocks > 0 ? rateOver(blockTxs, lastCommit - firstProposal) : 0,
    e2eTps: rateOver(committedInWindow, windowMs),
    latencyMs: e2e.summary(),
    consensusLatencyMs: consensus.summary(),
    submittedTxs: submitted,
    committedTxs: e2e.count,
    rejectedTxs: rejected,
    uncommittedTxs: submitted - rejected - e2e.count,
    committedBlocks: blocks,
    windowS: windowMs / 1_000,
  }
}

/** The verify bound's share a rate reaches (docs/design.md §11 `tpsToBound`); 0 without a bound. */
export function tpsToBound(e2eTps: number, boundTps: number | undefined): number {
  return boundTps !== undefined && boundTps > 0 ? e2eTps / boundTps : 0
}

/** A latency field is NaN (JSON null) when nothing committed in the window. */
const latencyValue = z.union([z.number(), z.nan(), z.null()]).transform((v) => (v === null ? Number.NaN : v))
const latencySummarySchema = z.object({ p50: latencyValue, p95: latencyValue, p99: latencyValue, mean: latencyValue })
const count = z.number().min(0)

/**
 * One measured point (docs/design.md §12), whoever measured it. The schema is the type: the benchmark
 * validates every point a runner hands it, so a runner that drifts fails loudly with the field
 * named instead of plotting a gap.
 */
export const resultPointSchema = z
  .object({
    validators: z.number().int().min(1),
    offeredTps: z.number().min(0),
    achievedSubmitTps: z.number().min(0),
    consensusTps: z.number().min(0),
    e2eTps: z.number().min(0),
    latencyMs: latencySummarySchema,
    consensusLatencyMs: latencySummarySchema,
    submittedTxs: count,
    committedTxs: count,
    rejectedTxs: count,
    uncommittedTxs: count,
    failedTxs: count,
    committedBlocks: count,
    rounds: count,
    /** Rounds that ended in a timeout certificate during the window. */
    timeouts: count,
    windowS: z.number().min(0),
    /** This machine's verify bound for n validators; absent where no machine ran them (the simulator). */
    boundTps: z.number().positive().optional(),
    tpsToBound: z.number().min(0).optional(),
    msgsPerBlock: z.number().min(0).optional(),
    bytesPerBlock: z.number().min(0).optional(),
    /** Absent where the source cannot observe it (the simulator executes nothing). */
    safetyViolations: count.optional(),
    stateRootMismatches: count.optional(),
    /** Admission's reason → count (testnet): why the rejected ones were refused. */
    rejectReasons: z.record(z.string(), z.number()).optional(),
    /** Resubmissions of acknowledged txs, warm-up included (testnet with rebroadcast on). */
    resubmittedTxs: count.optional(),
    /**
     * Mean over running validators of their process CPU time (user + system) during the window,
     * per tx committed in it, in µs (src/testnet/proc-cpu.ts). Testnet only.
     */
    validatorCpuUsPerTx: z.number().min(0).optional(),
  })
  // Runners may report more (per-run conditions, search context): kept in results.json.
  .loose()

export type ResultPoint = z.output<typeof resultPointSchema>

/** Counters a trace does not hold: the chain's own (gauges, or the simulator's bookkeeping). */
export type PointCounters = Pick<ResultPoint, 'failedTxs' | 'rounds' | 'timeouts'> &
  Partial<Pick<ResultPoint, 'msgsPerBlock' | 'bytesPerBlock' | 'safetyViolations' | 'stateRootMismatches' | 'rejectReasons' | 'resubmittedTxs' | 'validatorCpuUsPerTx'>>

export function resultPoint(validators: number, metrics: TraceMetrics, counters: PointCounters, boundTps?: number): ResultPoint {
  return {
    validators,
    ...metrics,
    ...counters,
    ...(boundTps !== undefined ? { boundTps, tpsToBound: tpsToBound(metrics.e2eTps, boundTps) } : {}),
  }
}

export class ResultPointError extends Error {
  constructor(context: string, message: string) {
    super(`${context}: point result does not match docs/design.md §12: ${message}`)
    this.name = 'ResultPointError'
  }
}

export function checkResultPoint(data: unknown, context: string): ResultPoint {
  const result = resultPointSchema.safeParse(data)
  if (!result.success) throw new ResultPointError(context, z.prettifyError(result.error))
  return result.data
}
