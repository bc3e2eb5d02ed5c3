import { z } from 'zod'

/**
 * The shape of one measured point (docs/design.md §12 `points[]`) as the testnet runner and the
 * simulator return it. The benchmark validates every result it receives: the point runners are
 * separate modules, and a renamed field must fail loudly here rather than plot as a gap.
 */

/** A latency field is NaN (JSON null) when nothing committed in the window. */
const latencyValue = z.union([z.number(), z.nan(), z.null()]).transform((v) => (v === null ? Number.NaN : v))

const latencySummarySchema = z.object({ p50: latencyValue, p95: latencyValue, p99: latencyValue, mean: latencyValue })

const count = z.number().min(0)

export const pointResultSchema = z
  .object({
    validators: z.number().int().min(1),
    offeredTps: z.number().min(0),
    achievedSubmitTps: z.number().min(0),
    consensusTps: z.number().min(0),
    e2eTps: z.number().min(0),
    latencyMs: latencySummarySchema,
    consensusLatencyMs: latencySummarySchema,
    committedTxs: count,
    rejectedTxs: count,
    failedTxs: count,
    committedBlocks: count,
    rounds: count,
    timeouts: count,
    msgsPerBlock: z.number().min(0).optional(),
    bytesPerBlock: z.number().min(0).optional(),
    boundTps: z.number().positive().optional(),
    tpsToBound: z.number().min(0).optional(),
    /** Absent where the source cannot observe it (the simulator executes nothing; a testnet has no global view). */
    safetyViolations: count.optional(),
    stateRootMismatches: count.optional(),
  })
  // Runners may report more (per-node detail, load-generator stats): kept in results.json.
  .loose()

export type PointResult = z.output<typeof pointResultSchema>

export class PointResultError extends Error {
  constructor(context: string, message: string) {
    super(`${context}: point result does not match docs/design.md §12: ${message}`)
    this.name = 'PointResultError'
  }
}

export function checkPointResult(data: unknown, context: string): PointResult {
  const result = pointResultSchema.safeParse(data)
  if (!result.success) throw new PointResultError(context, z.prettifyError(result.error))
  return result.data
}
