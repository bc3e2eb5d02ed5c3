import { groupSeries, peakPoint, type AggregatedPoint, type Series } from './aggregate.ts'
import type { Experiment } from './experiment.ts'
import type { Plot } from './plots.ts'
import type { BenchResults, SeriesOutcome } from './runner.ts'

/**
 * report.md: setup, plots, the table of every point, and notes on what limits each curve,
 * derived from the measured numbers (not boilerplate), so a reader sees at a glance whether a
 * curve hit the CPU, the API, timeouts, or simply was not pushed far enough.
 */

/**
 * Fraction of the verify bound above which verification is named as the limit. Verification is
 * one of several CPU consumers sharing the cores (HTTP, gossip, execution, LevelDB); once it
 * alone would use half the machine it is the largest of them.
 */
const VERIFY_DOMINANT_FRACTION = 0.5

/**
 * Largest run-to-run spread (max/min − 1 of e2e TPS) at which a point counts as reproducible:
 * the project's bar for two runs of one point on this shared 2-core machine. A wider spread
 * means the machine's noise, not the configuration, decided the number.
 */
export const STABILITY_TOLERANCE = 0.15

const round = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'))
const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)}%`)
const withSpread = (v: number, sd: number | undefined): string => (sd !== undefined && sd > 0 ? `${round(v)} ± ${round(sd)}` : round(v))

function describeLoad(e: Experiment): string {
  if (e.rates !== 'saturate') return `offered rates ${e.rates.join(', ')} tx/s`
  const s = e.saturate
  return `saturating: from ${s.startTps} tx/s ×${s.stepFactor} per step up to ${s.maxTps} tx/s, until achieved < ${s.achievedRatio} × offered or p99 > ${s.p99CapMs} ms`
}

function describeNetwork(e: Experiment): string {
  const n = e.network
  const base = `every link ${n.delayMs} ms + uniform(0, ${n.jitterMs}) ms jitter, loss ${n.lossRate}`
  return n.links.length === 0 ? base : `${base}; ${n.links.map((l) => `${l.from}→${l.to}: ${l.delayMs} ms + ${l.jitterMs} ms jitter, loss ${l.lossRate}`).join('; ')}`
}

function describeFaults(e: Experiment): string {
  const crashed = e.faults.crashed === 'f' ? 'f (the most tolerated)' : String(e.faults.crashed)
  const restarts = e.faults.restarts.map((r) => `validator ${r.validator} down at ${r.atS} s for ${r.downS} s`)
  return [`${crashed} crashed from the start`, ...restarts].join('; ')
}

function setupSection(r: BenchResults): string[] {
  const e = r.config
  return [
    '## Setup',
    '',
    `- machine: ${r.env.cores} × ${r.env.cpuModel}, Node ${r.env.node}, commit \`${r.env.gitCommit}\``,
    `- signature verification: ${round(r.env.verifiesPerSec)} verifies/s/core; verify bound = that × ${r.env.cores} cores / n (every validator verifies every tx, all on this machine)`,
    `- validators ${e.validators.join(', ')}; payload ${e.payloadModes.join(', ')}; ${describeLoad(e)}`,
    `- ${e.durationS} s measured after ${e.warmupS} s warm-up, ${e.runs} run(s) per point; tx ${e.tx.kind}${e.tx.kind === 'compute' ? ` (${e.tx.computeUnits} units)` : ''}`,
    `- batchSize ${e.batchSize ?? 'chain default'}, maxBatchDelayMs ${e.maxBatchDelayMs ?? 'chain default'}, executor workers ${e.executorWorkers ?? 'node default'}`,
    `- network: ${describeNetwork(e)}`,
    `- faults: ${describeFaults(e)}`,
    '',
  ]
}

function safetySection(points: readonly AggregatedPoint[]): string[] {
  const bad = points.filter((p) => (p.safetyViolations ?? 0) > 0 || (p.stateRootMismatches ?? 0) > 0)
  if (bad.length === 0) return []
  return [
    '> **Correctness failure.** Safety violations or state-root mismatches were measured; the numbers below are not trustworthy:',
    ...bad.map((p) => `> - ${p.source} n=${p.validators} ${p.payloadMode} ${p.offeredTps} tx/s: ${p.safetyViolations ?? 'n/a'} safety violations, ${p.stateRootMismatches ?? 'n/a'} root mismatches (worst run)`),
    '',
  ]
}

function tableSection(points: readonly AggregatedPoint[]): string[] {
  const header = '| source | n | payload | offered tx/s | accepted tx/s | e2e tx/s | consensus tx/s | p50 ms | p99 ms | tps/bound | timeouts | rejected |'
  const rows = groupSeries(points).flatMap((s) =>
    s.points.map(
      (p) =>
        `| ${p.source} | ${p.validators} | ${p.payloadMode} | ${round(p.offeredTps)} | ${round(p.achievedSubmitTps)} | ${withSpread(p.e2eTps, p.stdev.e2eTps)} | ${round(p.consensusTps)} | ${round(p.latencyMs.p50)} | ${withSpread(p.latencyMs.p99, p.stdev.latencyMs?.p99)} | ${pct(p.tpsToBound)} | ${round(p.timeouts)} | ${round(p.rejectedTxs)} |`,
    ),
  )
  return ['## Results', '', 'Means over runs (± sample stdev where runs > 1).', '', header, '|' + ' --- |'.repeat(12), ...rows, '']
}

/** Per point: every run's e2e TPS and their spread, flagging points past the tolerance (runs ≥ 2 only). */
function stabilitySection(r: BenchResults): string[] {
  if (r.config.runs < 2) return []
  const key = (source: string, n: number, mode: string, offered: number) => `${source}/${n}/${mode}/${offered}`
  const perRun = new Map<string, number[]>()
  for (const run of r.runs) {
    const k = key(run.source, run.spec.validators, run.spec.payloadMode, run.spec.offeredTps)
    perRun.set(k, [...(perRun.get(k) ?? []), run.result.e2eTps])
  }
  const points = groupSeries(r.points).flatMap((s) => s.points)
  const unstable = points.filter((p) => !((p.e2eTpsSpread ?? 0) <= STABILITY_TOLERANCE))
  const rows = points.map((p) => {
    const spread = p.e2eTpsSpread
    const flag = spread !== undefined && !(spread <= STABILITY_TOLERANCE) ? ` **> ±${STABILITY_TOLERANCE * 100}%**` : ''
    const runs = (perRun.get(key(p.source, p.validators, p.payloadMode, p.offeredTps)) ?? []).map(round).join(', ')
    const shown = spread === undefined ? '–' : Number.isFinite(spread) ? pct(spread) : 'one run committed nothing'
    return `| ${p.source} | ${p.validators} | ${p.payloadMode} | ${round(p.offeredTps)} | ${runs} | ${shown}${flag} |`
  })
  return [
    '## Run-to-run stability',
    '',
    `Spread = max/min − 1 of e2e tx/s over the ${r.config.runs} runs of each point; a point is reproducible within ±${STABILITY_TOLERANCE * 100}% when the spread is at most ${STABILITY_TOLERANCE * 100}%. ` +
      (unstable.length === 0 ? 'Every point is.' : `${unstable.length} of ${points.length} point(s) are not (flagged).`),
    '',
    '| source | n | payload | offered tx/s | e2e tx/s per run | spread |',
    '|' + ' --- |'.repeat(6),
    ...rows,
    '',
  ]
}

/** What ended the curve, then what the numbers at that point say about the bottleneck. */
function limitNotes(series: Series, outcome: SeriesOutcome | undefined, e: Experiment): string {
  const last = series.points.at(-1)!
  const at = (offered: number) => series.points.find((p) => p.offeredTps === offered) ?? last
  const notes: string[] = []
  let knee = peakPoint(series) ?? last
  switch (outcome?.reason) {
    case 'throughput': {
      knee = at(outcome.saturatedAtTps!)
      notes.push(`stops keeping up at ${round(knee.offeredTps)} tx/s offered (commits ${round(knee.consensusTps)} tx/s, below ${e.saturate.achievedRatio} × offered)`)
      break
    }
    case 'latency': {
      knee = at(outcome.saturatedAtTps!)
      notes.push(`p99 latency ${round(knee.latencyMs.p99)} ms passes the ${e.saturate.p99CapMs} ms cap at ${round(knee.offeredTps)} tx/s offered`)
      break
    }
    case 'maxTps':
      notes.push(`kept up to the highest rate tried (${round(last.offeredTps)} tx/s): not saturated, raise saturate.maxTps`)
      break
    default:
      notes.push(`kept up at every offered rate (up to ${round(last.offeredTps)} tx/s): the limit lies beyond this sweep`)
  }
  if (knee.achievedSubmitTps < e.saturate.achievedRatio * knee.offeredTps) {
    notes.push(`the API accepted only ${round(knee.achievedSubmitTps)} of ${round(knee.offeredTps)} tx/s offered (${round(knee.rejectedTxs)} rejected): admission or the load generator limits, not ordering`)
  }
  if (knee.tpsToBound !== undefined && knee.tpsToBound >= VERIFY_DOMINANT_FRACTION) {
    notes.push(`runs at ${pct(knee.tpsToBound)} of the verify bound (${round(knee.boundTps)} tx/s): signature verification is the largest CPU consumer`)
  }
  if (knee.timeouts !== undefined && knee.timeouts > 0) {
    notes.push(`${round(knee.timeouts)} round timeouts per run: leaders missed rounds, each costing a timeout period without commits`)
  }
  if (knee.e2eTps > 0 && knee.consensusTps > 0 && knee.latencyMs.p50 > 2 * knee.consensusLatencyMs.p50) {
    notes.push(`end-to-end p50 ${round(knee.latencyMs.p50)} ms is over twice the consensus p50 ${round(knee.consensusLatencyMs.p50)} ms: txs queue before they reach a block (batching delay, mempool backlog)`)
  }
  return `- **${series.source} n=${series.validators} ${series.payloadMode}**: ${notes.join('; ')}.`
}

/** Peak-vs-peak comparisons across payload modes and validator counts. */
function comparisonNotes(points: readonly AggregatedPoint[]): string[] {
  const series = groupSeries(points.filter((p) => p.source === 'testnet'))
  const notes: string[] = []
  const peaks = new Map(series.map((s) => [`${s.validators}/${s.payloadMode}`, peakPoint(s)]))
  for (const n of [...new Set(series.map((s) => s.validators))]) {
    const batches = peaks.get(`${n}/batches`)
    const full = peaks.get(`${n}/full-block`)
    if (batches !== undefined && full !== undefined && full.e2eTps > 0) {
      notes.push(`- n=${n}: batch dissemination peaks at ${round(batches.e2eTps)} tx/s vs ${round(full.e2eTps)} tx/s for full blocks (×${(batches.e2eTps / full.e2eTps).toFixed(2)}).`)
    }
  }
  for (const mode of [...new Set(series.map((s) => s.payloadMode))]) {
    const curve = series.filter((s) => s.payloadMode === mode).map((s) => ({ n: s.validators, peak: peakPoint(s) }))
    const first = curve[0]
    const lastOne = curve.at(-1)
    if (first?.peak === undefined || lastOne?.peak === undefined || first.n === lastOne.n || lastOne.peak.e2eTps <= 0) continue
    notes.push(
      `- ${mode}: peak goes from ${round(first.peak.e2eTps)} tx/s at n=${first.n} to ${round(lastOne.peak.e2eTps)} tx/s at n=${lastOne.n} (×${(lastOne.peak.e2eTps / first.peak.e2eTps).toFixed(2)}); ` +
        `the verify bound alone changes by ×${(first.n / lastOne.n).toFixed(2)} because every added validator verifies every tx on the same cores.`,
    )
  }
  return notes
}

export function benchReport(r: BenchResults, plots: readonly Plot[]): string {
  const outcomes = new Map(r.outcomes.map((o) => [`${o.source}/${o.validators}/${o.payloadMode}`, o]))
  const limits = groupSeries(r.points).map((s) => limitNotes(s, outcomes.get(`${s.source}/${s.validators}/${s.payloadMode}`), r.config))
  return [
    `# Benchmark: ${r.config.name}`,
    '',
    ...(r.interrupted ? ['> **Interrupted.** The sweep was stopped early: only the points below were measured.', ''] : []),
    ...safetySection(r.points),
    ...setupSection(r),
    '## Plots',
    '',
    ...plots.flatMap((p) => [`![${p.title}](${p.file})`, '']),
    ...tableSection(r.points),
    ...stabilitySection(r),
    '## What limits the curves',
    '',
    ...limits,
    ...comparisonNotes(r.points),
    '',
    'Full configuration, environment and every individual run: `results.json`; one row per point: `results.csv`.',
    '',
  ].join('\n')
}
