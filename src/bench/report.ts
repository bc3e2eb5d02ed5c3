import { verifyBoundTps } from '../core/environment.ts'
import { groupSeries, type AggregatedPoint } from './aggregate.ts'
import { capacityOptions, runsPerRate, type Experiment } from './experiment.ts'
import { AT_LEAST, type Plot } from './plots.ts'
import { criteriaOf, type BenchResults, type Capacity, type RunRecord } from './runner.ts'
import { keptUp } from './search.ts'

/**
 * report.md: the capacity table first, then how it was found (criteria and every search step),
 * the plots, every measured rate, notes on what limits each series derived from the measured
 * numbers (not boilerplate), and last the full configuration and environment.
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

const round = (v: number | null | undefined): string => (v === undefined || v === null || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'))
const pct = (v: number | null | undefined): string => (v === undefined || v === null || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)}%`)
const withSpread = (v: number, sd: number | undefined): string => (sd !== undefined && sd > 0 ? `${round(v)} ± ${round(sd)}` : round(v))

function describeLoad(e: Experiment): string {
  if (e.rates !== 'capacity') return `offered rates ${e.rates.join(', ')} tx/s, ${runsPerRate(e)} run(s) each`
  const c = capacityOptions(e)
  const start = c.startTps !== undefined ? `${c.startTps} tx/s` : `${c.startFraction} × the verify bound, once one is measured the capacity/bound of the same count in another payload mode or of the previous count`
  return `capacity search from ${start}, within ${c.minTps}–${c.maxTps} tx/s, to ${c.precision * 100}%, ${c.finalRuns} final runs`
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
    '## Configuration and environment',
    '',
    `- machine: ${r.env.cores} × ${r.env.cpuModel}, Node ${r.env.node}, commit \`${r.env.gitCommit}\``,
    `- signature verification: ${round(r.env.verifiesPerSec)} verifies/s/core; verify bound = that × ${r.env.cores} cores / n (every validator verifies every tx, all on this machine)`,
    `- validators ${e.validators.join(', ')}; payload ${e.payloadModes.join(', ')}; ${describeLoad(e)}`,
    `- ${e.durationS} s measured after ${e.warmupS} s warm-up per run; tx ${e.tx.kind}${e.tx.kind === 'compute' ? ` (${e.tx.computeUnits} units)` : ''}`,
    `- batchSize ${e.batchSize ?? 'chain default'}, maxBatchDelayMs ${e.maxBatchDelayMs ?? 'chain default'}, executor workers ${e.executorWorkers ?? 'node default'}`,
    `- network: ${describeNetwork(e)}`,
    `- faults: ${describeFaults(e)}`,
    '',
    'The experiment as run (every default filled in):',
    '',
    '```json',
    JSON.stringify(e, null, 2),
    '```',
    '',
    'Environment:',
    '',
    '```json',
    JSON.stringify(r.env, null, 2),
    '```',
    '',
  ]
}

const capacityValue = (c: Capacity): string => `${c.status === 'atLeast' ? `${AT_LEAST} ` : ''}${withSpread(c.e2eTps, c.e2eTpsStdev)}`

/**
 * The capacity table of one source (the report's and the README's, `npm run bench:publish`):
 * n, payload, capacity ± stdev, p50/p99 at capacity, capacity/bound and, for real processes,
 * per-validator CPU per tx. Empty when the source has no capacity.
 */
export function capacityTable(capacities: readonly Capacity[], source: Capacity['source']): string[] {
  const rows = capacities.filter((c) => c.source === source)
  if (rows.length === 0) return []
  const cpu = source === 'testnet'
  return [
    `| n | payload | capacity tx/s | p50 ms | p99 ms | capacity/bound |${cpu ? ' validator CPU µs/tx |' : ''}`,
    '|' + ' --- |'.repeat(cpu ? 7 : 6),
    ...rows
      .toSorted((a, b) => a.payloadMode.localeCompare(b.payloadMode) || a.validators - b.validators)
      .map((c) => `| ${c.validators} | ${c.payloadMode} | ${capacityValue(c)} | ${round(c.latencyMs.p50)} | ${round(c.latencyMs.p99)} | ${pct(c.tpsToBound)} |${cpu ? ` ${round(c.validatorCpuUsPerTx)} |` : ''}`),
    '',
  ]
}

/** The answer: per series, the capacity ± stdev and what it costs. */
function capacitySection(r: BenchResults): string[] {
  if (r.config.rates !== 'capacity') {
    return ['## Capacity', '', 'Not measured: this experiment offers a fixed list of rates. `rates = "capacity"` searches each series for its capacity.', '']
  }
  const table = (source: Capacity['source']): string[] => capacityTable(r.capacities, source)
  const atLeast = r.capacities.some((c) => c.status === 'atLeast')
  const none = r.noCapacity.map((c) => `> **No capacity: ${c.message}**`)
  return [
    '## Capacity',
    '',
    'Capacity = mean achieved (sustained end-to-end) rate ± sample stdev over the final runs at the highest offered rate that met every criterion (below). ' +
      'p50/p99 are the final runs\' mean; capacity/bound divides by this machine\'s verify bound for n; validator CPU is user + system time of one validator process over the window per tx committed in it (mean over validators and runs).' +
      (atLeast ? ` ${AT_LEAST}: the series kept up at the highest rate allowed (maxTps), so its capacity is at least that.` : ''),
    '',
    ...table('testnet'),
    ...(none.length > 0 ? [...none.flatMap((line) => [line, '>']).slice(0, -1), ''] : []),
    ...(r.capacities.some((c) => c.source === 'sim') ? ['Simulator prediction (same search through `bftlab sim`\'s model, verify cost calibrated to this machine):', '', ...table('sim')] : []),
  ]
}

const mark = (run: RunRecord): string => `${round(run.spec.offeredTps)} ${run.shortfall === undefined ? '✓' : `✗ ${run.shortfall}`}`

/** The criteria, then every series' search as it went. */
function searchSection(r: BenchResults): string[] {
  if (r.config.rates !== 'capacity') return []
  const c = capacityOptions(r.config)
  const criteria = criteriaOf(r.config)
  const lines = [
    '## How it was found',
    '',
    `A rate meets the criteria when its achieved rate is ≥ ${c.achievedRatio} × offered, its p50 end-to-end latency ≤ ${criteria.latencyCapMs} ms, and ` +
      (criteria.timeoutsFail
        ? 'no round timed out in the window (each step starts from a drained chain that is committing, so a timeout there is caused by the load).'
        : 'round timeouts are reported but do not count (the experiment crashes or restarts validators, whose rounds time out whatever the load).'),
    `Each series doubles (or halves) from its start rate until one rate meets the criteria and another misses them, bisects geometrically until the two are within ${c.precision * 100}%, then runs ${c.finalRuns} times at the passing rate. ` +
      'All steps of a series run on one set of validator processes; each step starts once the previous one has drained (see docs/decisions.md, "Capacity search").',
    '',
    '| source | n | payload | bracket | bisect | final | found | runs | wall |',
    '|' + ' --- |'.repeat(9),
  ]
  const seriesRuns = (c: Pick<Capacity, 'source' | 'validators' | 'payloadMode'>) => r.runs.filter((x) => x.source === c.source && x.spec.validators === c.validators && x.spec.payloadMode === c.payloadMode)
  const steps = (runs: readonly RunRecord[], role: RunRecord['role']) => runs.filter((x) => x.role === role).map(mark).join(' → ') || '–'
  for (const cap of r.capacities) {
    const runs = seriesRuns(cap)
    const found = cap.status === 'atLeast' ? `${AT_LEAST} ${round(cap.offeredTps)} (maxTps)` : `${round(cap.offeredTps)} (misses at ${round(cap.failingTps)})`
    const finals = cap.finalsMeetingCriteria === cap.finalRuns ? '' : ` (${cap.finalsMeetingCriteria} of ${cap.finalRuns} finals met the criteria)`
    lines.push(`| ${cap.source} | ${cap.validators} | ${cap.payloadMode} | ${steps(runs, 'bracket')} | ${steps(runs, 'bisect')} | ${steps(runs, 'final')} | ${found}${finals} | ${cap.searchRuns} | ${Math.round(cap.wallS)} s |`)
  }
  for (const none of r.noCapacity) {
    const runs = seriesRuns(none)
    lines.push(`| ${none.source} | ${none.validators} | ${none.payloadMode} | ${steps(runs, 'bracket')} | – | – | none (minTps ${round(c.minTps)} misses) | ${runs.length} | – |`)
  }
  return [...lines, '']
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
  return ['## Every measured rate', '', 'Means over the runs at each rate, whatever their role in the search (± sample stdev where runs > 1).', '', header, '|' + ' --- |'.repeat(12), ...rows, '']
}

/** Per rate measured more than once: every run's e2e TPS and their spread, flagging those past the tolerance. */
function stabilitySection(r: BenchResults): string[] {
  const key = (source: string, n: number, mode: string, offered: number) => `${source}/${n}/${mode}/${offered}`
  const perRun = new Map<string, number[]>()
  for (const run of r.runs) {
    const k = key(run.source, run.spec.validators, run.spec.payloadMode, run.spec.offeredTps)
    perRun.set(k, [...(perRun.get(k) ?? []), run.result.e2eTps])
  }
  const points = groupSeries(r.points)
    .flatMap((s) => s.points)
    .filter((p) => p.runs >= 2)
  if (points.length === 0) return []
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
    `Spread = max/min − 1 of e2e tx/s over the runs of each rate measured more than once; a rate is reproducible within ±${STABILITY_TOLERANCE * 100}% when the spread is at most ${STABILITY_TOLERANCE * 100}%. ` +
      (unstable.length === 0 ? 'Every one is.' : `${unstable.length} of ${points.length} point(s) are not (flagged).`),
    '',
    '| source | n | payload | offered tx/s | e2e tx/s per run | spread |',
    '|' + ' --- |'.repeat(6),
    ...rows,
    '',
  ]
}

/** What the numbers at a series' capacity say about its bottleneck. */
function limitNotes(cap: Capacity, points: readonly AggregatedPoint[], achievedRatio: number): string | undefined {
  const at = points.find((p) => p.source === cap.source && p.validators === cap.validators && p.payloadMode === cap.payloadMode && p.offeredTps === cap.offeredTps)
  if (at === undefined) return undefined
  const notes: string[] = []
  if (!keptUp({ e2eTps: at.achievedSubmitTps, offeredTps: at.offeredTps }, achievedRatio)) {
    notes.push(`the API accepted only ${round(at.achievedSubmitTps)} of ${round(at.offeredTps)} tx/s offered (${round(at.rejectedTxs)} rejected): admission or the load generator limits, not ordering`)
  }
  if (cap.tpsToBound !== undefined && cap.tpsToBound >= VERIFY_DOMINANT_FRACTION) {
    notes.push(`runs at ${pct(cap.tpsToBound)} of the verify bound (${round(cap.boundTps)} tx/s): signature verification is the largest CPU consumer`)
  }
  if (cap.timeouts > 0) notes.push(`${round(cap.timeouts)} round timeouts per final run: leaders missed rounds, each costing a timeout period without commits`)
  if (at.consensusTps > 0 && at.latencyMs.p50 > 2 * at.consensusLatencyMs.p50) {
    notes.push(`end-to-end p50 ${round(at.latencyMs.p50)} ms is over twice the consensus p50 ${round(at.consensusLatencyMs.p50)} ms: txs queue before they reach a block (batching delay, mempool backlog)`)
  }
  return notes.length === 0 ? undefined : `- **${cap.source} n=${cap.validators} ${cap.payloadMode}**: ${notes.join('; ')}.`
}

/** Capacity comparisons across payload modes and validator counts. */
function comparisonNotes(r: BenchResults): string[] {
  const caps = r.capacities.filter((c) => c.source === 'testnet')
  const notes: string[] = []
  const by = new Map(caps.map((c) => [`${c.validators}/${c.payloadMode}`, c]))
  for (const n of [...new Set(caps.map((c) => c.validators))]) {
    const batches = by.get(`${n}/batches`)
    const full = by.get(`${n}/full-block`)
    if (batches !== undefined && full !== undefined && full.e2eTps > 0) {
      notes.push(`- n=${n}: batch dissemination reaches ${capacityValue(batches)} tx/s against ${capacityValue(full)} tx/s for full blocks (×${(batches.e2eTps / full.e2eTps).toFixed(2)}).`)
    }
  }
  for (const mode of [...new Set(caps.map((c) => c.payloadMode))]) {
    const curve = caps.filter((c) => c.payloadMode === mode).toSorted((a, b) => a.validators - b.validators)
    const first = curve[0]
    const last = curve.at(-1)
    if (first === undefined || last === undefined || first.validators === last.validators || last.e2eTps <= 0) continue
    notes.push(
      `- ${mode}: capacity goes from ${capacityValue(first)} tx/s at n=${first.validators} to ${capacityValue(last)} tx/s at n=${last.validators} (×${(last.e2eTps / first.e2eTps).toFixed(2)}); ` +
        `the verify bound alone changes by ×${(verifyBoundTps(1, 1, last.validators) / verifyBoundTps(1, 1, first.validators)).toFixed(2)} because every added validator verifies every tx on the same cores.`,
    )
  }
  return notes
}

export function benchReport(r: BenchResults, plots: readonly Plot[]): string {
  const limits = r.capacities.map((c) => limitNotes(c, r.points, criteriaOf(r.config).achievedRatio)).filter((l) => l !== undefined)
  const comparisons = comparisonNotes(r)
  return [
    `# Benchmark: ${r.config.name}`,
    '',
    ...(r.interrupted ? ['> **Interrupted.** The sweep was stopped early: only the runs below were measured.', ''] : []),
    ...safetySection(r.points),
    ...capacitySection(r),
    ...searchSection(r),
    '## Plots',
    '',
    ...plots.flatMap((p) => [`![${p.title}](${p.file})`, '']),
    ...tableSection(r.points),
    ...stabilitySection(r),
    ...(limits.length + comparisons.length > 0 ? ['## What limits the capacities', '', ...limits, ...comparisons, ''] : []),
    ...setupSection(r),
    'Every individual run with its role in the search: `results.json`; one row per measured rate: `results.csv`.',
    '',
  ].join('\n')
}
