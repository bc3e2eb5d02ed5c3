import { writeFile } from 'node:fs/promises'
import { describeEnvironment, measureVerifiesPerSec } from '../core/environment.ts'
import type { ByzantineStrategy } from './byzantine.ts'
import { defaultSimConfig, type SimConfig } from './config.ts'
import { describeLatency, type LatencyModel } from './latency.ts'
import { simPoint, type SimPoint } from './sim-point.ts'
import { simulate } from './simulation.ts'
import { leastSquares } from './stats.ts'

/** A sweep over validator counts with one network, CPU, load and fault setting (`bftlab sim`). */
export interface SimOptions {
  validators: number[]
  seed: number
  rounds: number
  durationS: number
  byzantine: number
  strategy: ByzantineStrategy
  latency: LatencyModel
  drop: number
  gst: number
  bandwidth?: number
  verifyUs: number
  offeredTps: number
  json?: string
}

/**
 * The simulation config of one point. Byzantine validators are the last K indices: with
 * round-robin leaders that is K consecutive faulty leaders, the worst case for liveness.
 */
export function simConfigFromOptions(opts: SimOptions, validators: number): SimConfig {
  const base = defaultSimConfig(validators, opts.seed)
  return {
    ...base,
    rounds: opts.rounds,
    durationMs: opts.durationS * 1000,
    network: {
      ...base.network,
      latency: opts.latency,
      dropProbability: opts.drop,
      gstMs: opts.gst,
      ...(opts.bandwidth !== undefined ? { bandwidthMBps: opts.bandwidth } : {}),
    },
    cpu: { ...base.cpu, verifyUs: opts.verifyUs },
    load: { ...base.load, offeredTps: opts.offeredTps },
    byzantine: Array.from({ length: Math.min(opts.byzantine, validators) }, (_, i) => ({ validator: validators - 1 - i, strategy: opts.strategy })),
  }
}

const COLUMNS = ['n', 'commits', 'rounds', 'timeouts', 'msgs/blk', 'bytes/blk', 'p50 ms', 'p99 ms', 'tps', 'safety', 'wall s'] as const

function row(p: SimPoint, wallS: number): string[] {
  return [
    String(p.validators),
    String(p.committedBlocks),
    String(p.rounds),
    String(p.timeouts),
    p.msgsPerBlock.toFixed(1),
    p.bytesPerBlock.toFixed(0),
    p.consensusLatencyMs.p50.toFixed(1),
    p.consensusLatencyMs.p99.toFixed(1),
    p.consensusTps.toFixed(0),
    String(p.safetyViolations),
    wallS.toFixed(1),
  ]
}

function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ')
  return [line(COLUMNS), ...rows.map(line)].join('\n')
}

/**
 * Message complexity: 2-chain HotStuff sends O(n) messages per block (a broadcast proposal and
 * n votes to one collector), so msgs/block over n should be a line and msgs/block / n flat.
 */
function complexityReport(points: readonly SimPoint[]): string {
  const perN = points.map((p) => `n=${p.validators}: ${(p.msgsPerBlock / p.validators).toFixed(2)}`).join(', ')
  const fit = leastSquares(points.filter((p) => p.committedBlocks > 0).map((p) => ({ x: p.validators, y: p.msgsPerBlock })))
  const slope = fit === undefined ? 'needs ≥ 2 validator counts with commits' : `${fit.slope.toFixed(3)} msgs/block per validator (intercept ${fit.intercept.toFixed(1)})`
  return `msgs/block vs n — least-squares slope: ${slope}\nmsgs/block / n: ${perN}`
}

/** Runs one point per validator count, prints the table and complexity fit, writes `--json`; throws if safety broke. */
export async function runSim(opts: SimOptions): Promise<void> {
  console.log(
    `bftlab sim — seed ${opts.seed}, rounds ${opts.rounds}, latency ${describeLatency(opts.latency)}, drop ${opts.drop}, GST ${opts.gst} ms, ` +
      `bandwidth ${opts.bandwidth === undefined ? 'unlimited' : `${opts.bandwidth} MB/s`}, verify ${opts.verifyUs} µs, offered ${opts.offeredTps} tx/s` +
      (opts.byzantine > 0 ? `, ${opts.byzantine} byzantine (${opts.strategy})` : ''),
  )
  const points: SimPoint[] = []
  const rows: string[][] = []
  for (const n of opts.validators) {
    const f = Math.floor((n - 1) / 3)
    if (opts.byzantine > f) console.log(`note: ${opts.byzantine} Byzantine validators exceed f = ${f} at n = ${n}: safety is not guaranteed there`)
    const config = simConfigFromOptions(opts, n)
    const started = performance.now()
    const point = simPoint(config, simulate(config))
    const wallS = (performance.now() - started) / 1000
    points.push(point)
    rows.push(row(point, wallS))
  }
  console.log(formatTable(rows))
  console.log(complexityReport(points))
  console.log(`seed ${opts.seed}: the same seed and flags replay these traces bit for bit: ${points.map((p) => `n=${p.validators} ${p.traceHash.slice(0, 16)}`).join(', ')}`)
  if (opts.json !== undefined) {
    const env = describeEnvironment(measureVerifiesPerSec())
    const { json: _json, ...config } = opts
    await writeFile(opts.json, JSON.stringify({ config: { ...config, latency: describeLatency(opts.latency) }, env, points }, null, 2) + '\n')
    console.log(`wrote ${opts.json}`)
  }
  const unsafe = points.filter((p) => p.safetyViolations > 0)
  if (unsafe.length > 0) throw new Error(`safety violated at n = ${unsafe.map((p) => p.validators).join(', ')} (seed ${opts.seed})`)
}
