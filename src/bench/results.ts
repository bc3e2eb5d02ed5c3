import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import type { AggregatedPoint } from './aggregate.ts'
import { renderPlots, type Plot } from './plots.ts'
import { benchReport } from './report.ts'
import type { BenchResults } from './runner.ts'

/** The output folder of `bftlab bench`: results.json, results.csv, one SVG per plot, report.md. */

/** NaN (nothing committed) is not JSON; null keeps the field present for scripts. */
export function resultsJson(results: BenchResults): string {
  return JSON.stringify(results, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2) + '\n'
}

type Column = readonly [header: string, value: (p: AggregatedPoint) => string | number | undefined]

const CSV_COLUMNS: readonly Column[] = [
  ['source', (p) => p.source],
  ['validators', (p) => p.validators],
  ['payloadMode', (p) => p.payloadMode],
  ['offeredTps', (p) => p.offeredTps],
  ['runs', (p) => p.runs],
  ['keptUp', (p) => String(p.keptUp)],
  ['achievedSubmitTps', (p) => p.achievedSubmitTps],
  ['consensusTps', (p) => p.consensusTps],
  ['e2eTps', (p) => p.e2eTps],
  ['e2eTpsStdev', (p) => p.stdev.e2eTps],
  ['e2eTpsSpread', (p) => p.e2eTpsSpread],
  ['latencyP50Ms', (p) => p.latencyMs.p50],
  ['latencyP95Ms', (p) => p.latencyMs.p95],
  ['latencyP99Ms', (p) => p.latencyMs.p99],
  ['latencyMeanMs', (p) => p.latencyMs.mean],
  ['latencyP99StdevMs', (p) => p.stdev.latencyMs?.p99],
  ['consensusLatencyP50Ms', (p) => p.consensusLatencyMs.p50],
  ['consensusLatencyP99Ms', (p) => p.consensusLatencyMs.p99],
  ['boundTps', (p) => p.boundTps],
  ['tpsToBound', (p) => p.tpsToBound],
  ['validatorCpuUsPerTx', (p) => p.validatorCpuUsPerTx],
  ['committedTxs', (p) => p.committedTxs],
  ['rejectedTxs', (p) => p.rejectedTxs],
  ['failedTxs', (p) => p.failedTxs],
  ['committedBlocks', (p) => p.committedBlocks],
  ['rounds', (p) => p.rounds],
  ['timeouts', (p) => p.timeouts],
  ['msgsPerBlock', (p) => p.msgsPerBlock],
  ['bytesPerBlock', (p) => p.bytesPerBlock],
  ['safetyViolations', (p) => p.safetyViolations],
  ['stateRootMismatches', (p) => p.stateRootMismatches],
]

function csvCell(v: string | number | undefined): string {
  if (v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return ''
  if (typeof v === 'number') return String(Math.round(v * 1_000) / 1_000)
  return /[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v
}

/** One row per aggregated point (means, with the spread of the headline numbers). */
export function resultsCsv(points: readonly AggregatedPoint[]): string {
  const lines = [CSV_COLUMNS.map(([h]) => h).join(',')]
  for (const p of points) lines.push(CSV_COLUMNS.map(([, value]) => csvCell(value(p))).join(','))
  return lines.join('\n') + '\n'
}

/** Writes every output file into `dir`; returns their paths. */
export async function writeBenchOutput(dir: string, results: BenchResults): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const written: string[] = []
  const write = async (name: string, text: string) => {
    const path = join(dir, name)
    await writeFile(path, text)
    written.push(path)
  }
  await write('results.json', resultsJson(results))
  await write('results.csv', resultsCsv(results.points))
  const plots: Plot[] = await renderPlots(results)
  for (const plot of plots) await write(plot.file, plot.svg)
  await write('report.md', benchReport(results, plots))
  return written
}

/**
 * Where a bench writes while it runs: a hidden sibling of the output folder, moved into place
 * only when everything is written, so a failed or refused sweep leaves the output folder as it
 * was (a previous result stays whole, or no folder appears).
 */
export class StagedOutput {
  readonly out: string
  readonly dir: string

  private constructor(out: string, dir: string) {
    this.out = out
    this.dir = dir
  }

  static async create(out: string): Promise<StagedOutput> {
    const parent = dirname(resolve(out))
    await mkdir(parent, { recursive: true })
    return new StagedOutput(out, await mkdtemp(join(parent, `.${basename(resolve(out))}.partial-`)))
  }

  /** Replaces the output folder with the staged one. */
  async commit(): Promise<void> {
    const old = `${this.dir}.old`
    let replaced = false
    try {
      await rename(this.out, old)
      replaced = true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    await rename(this.dir, this.out)
    if (replaced) await rm(old, { recursive: true, force: true })
  }

  /** Moves the staged folder beside the output folder as `<out>.<suffix>` (replacing an earlier one); returns its path. */
  async commitAside(suffix: string): Promise<string> {
    const aside = `${this.out}.${suffix}`
    await rm(aside, { recursive: true, force: true })
    await rename(this.dir, aside)
    return aside
  }
}
