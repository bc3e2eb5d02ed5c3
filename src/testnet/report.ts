import { writeFile } from 'node:fs/promises'
import { shortCommit, verifyBoundTps, type RunEnvironment } from '../core/environment.ts'
import type { LiveSecond, LoadResult } from './load.ts'
import type { PerturbationEvent } from './perturbations.ts'
import { resultPoint, type PointCounters, type ResultPoint } from '../sim/result-point.ts'
import type { LatencySummary } from './stats.ts'

export type { ResultPoint } from '../sim/result-point.ts'

/** What every measuring command writes with `--json F`. */
export interface ResultDocument<C extends object = object> {
  readonly config: C
  readonly env: RunEnvironment
  readonly points: readonly ResultPoint[]
  /** `bftlab testnet --perturb`: every step as it took effect and was undone, with wall times. */
  readonly perturbations?: readonly PerturbationEvent[]
}

/** A load run as a §12 point, with this machine's verify bound for n validators. */
export function loadPoint(validators: number, load: LoadResult, env: RunEnvironment, counters: Partial<PointCounters> = {}): ResultPoint {
  // The acknowledged hashes go to their own file (`--acks`) and the trace stays in memory: neither goes into every result document.
  const { acknowledged: _acks, trace: _trace, ...figures } = load
  return resultPoint(validators, figures, { ...figures, ...counters }, verifyBoundTps(env.verifiesPerSec, env.cores, validators))
}

export async function writeResultJson(path: string, doc: ResultDocument): Promise<void> {
  await writeFile(path, JSON.stringify(doc, null, 2) + '\n')
}

const COLUMNS = ['t s', 'height', 'round', 'commit tx/s', 'p50 ms', 'p99 ms', 'mempool', 'timeouts', 'submit tx/s', 'rejected'] as const
const WIDTH = 12

const cell = (v: string | number): string => String(v).padStart(WIDTH)
const ms = (v: number): string => Math.round(v).toString()

export function liveHeader(): string {
  return COLUMNS.map(cell).join('')
}

export function formatLiveSecond(s: LiveSecond): string {
  // A second without commits has no latency; show '-' rather than the summary's zero.
  const latency = (v: number): string => (s.committed === 0 ? '-' : ms(v))
  return [s.second, s.height, s.round, s.committed, latency(s.latencyP50Ms), latency(s.latencyP99Ms), s.mempool, s.timeouts, s.submitted, s.rejected]
    .map(cell)
    .join('')
}

const fixed = (v: number, digits = 0): string => v.toFixed(digits)
const latency = (l: LatencySummary): string => `p50 ${ms(l.p50)} ms, p95 ${ms(l.p95)} ms, p99 ${ms(l.p99)} ms, mean ${ms(l.mean)} ms`

/** The human summary; it repeats the configuration so a pasted summary is self-describing. */
export function formatSummary(doc: ResultDocument, point: ResultPoint): string {
  const reasons = Object.entries(point.rejectReasons ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `      ${String(n).padStart(8)}  ${reason}`)
  return [
    'bftlab result',
    `  config        ${JSON.stringify(doc.config)}`,
    `  env           node ${doc.env.node}, ${doc.env.cores} × ${doc.env.cpuModel}, git ${shortCommit(doc.env.gitCommit)}`,
    `  verify rate   ${fixed(doc.env.verifiesPerSec)} verifies/s/core → bound ${fixed(point.boundTps ?? 0)} tx/s for ${point.validators} validators`,
    `  window        ${fixed(point.windowS, 1)} s after warm-up`,
    `  offered       ${fixed(point.offeredTps)} tx/s, accepted ${fixed(point.achievedSubmitTps)} tx/s (${point.submittedTxs} submitted)`,
    `  consensus     ${fixed(point.consensusTps)} tx/s, latency ${latency(point.consensusLatencyMs)}`,
    `  end-to-end    ${fixed(point.e2eTps)} tx/s (${fixed(point.tpsToBound ?? 0, 3)} of bound), latency ${latency(point.latencyMs)}`,
    `  txs           ${point.committedTxs} committed, ${point.failedTxs} failed in execution, ${point.rejectedTxs} rejected, ${point.uncommittedTxs} accepted but not committed${(point.resubmittedTxs ?? 0) > 0 ? `, ${point.resubmittedTxs} resubmissions` : ''}`,
    ...(reasons.length > 0 ? ['    rejected by reason', ...reasons] : []),
    `  chain         ${point.committedBlocks} blocks, ${point.rounds} rounds, ${point.timeouts} timeouts, ${point.stateRootMismatches ?? 0} state-root mismatches`,
    ...(point.validatorCpuUsPerTx !== undefined ? [`  validator CPU ${fixed(point.validatorCpuUsPerTx)} µs per tx committed in the window, mean over validators (user + system)`] : []),
  ].join('\n')
}
