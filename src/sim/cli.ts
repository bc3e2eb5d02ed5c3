import { writeFile } from 'node:fs/promises'
import { InvalidArgumentError, type Command } from 'commander'
import { integer, number, oneOf } from '../cli/options.ts'
import { describeEnvironment, measureVerifiesPerSec } from '../core/environment.ts'
import { BYZANTINE_STRATEGIES, type ByzantineStrategy } from './byzantine.ts'
import { defaultSimConfig, type SimConfig } from './config.ts'
import { describeLatency, parseLatency, type LatencyModel } from './latency.ts'
import { simPoint, type SimPoint } from './result-point.ts'
import { simulate } from './simulation.ts'
import { leastSquares } from './stats.ts'

interface SimOptions {
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

function validatorList(raw: string): number[] {
  const parse = integer(1, 1024)
  const list = raw.split(',').map((s) => parse(s.trim()))
  if (list.length === 0) throw new InvalidArgumentError('expected a comma-separated list of validator counts, e.g. 4,16,64.')
  return list
}

function latencyOption(raw: string): LatencyModel {
  try {
    return parseLatency(raw)
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err))
  }
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

async function runSim(opts: SimOptions): Promise<void> {
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

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('deterministic simulation of the real consensus core over a modelled network, CPU and load')
    .option('--validators <list>', 'comma-separated validator counts', validatorList, [4, 16, 64])
    .option('--seed <n>', 'PRNG seed: same seed and flags, same run bit for bit', integer(0), 1)
    .option('--rounds <n>', 'stop once an honest validator reaches this round', integer(1), 50)
    .option('--duration-s <s>', 'virtual time limit per point (seconds)', number(0, { exclusive: true }), 120)
    .option('--byzantine <k>', 'Byzantine validators (the last k indices)', integer(0), 0)
    .option('--strategy <name>', `Byzantine strategy: ${BYZANTINE_STRATEGIES.join(', ')}`, oneOf(BYZANTINE_STRATEGIES), 'silent')
    .option('--latency <model>', 'link latency: lan, wan, fixed:MS, uniform:MIN-MAX, normal:MEAN,STD', latencyOption, parseLatency('lan'))
    .option('--drop <p>', 'message loss probability', number(0), 0)
    .option('--gst <ms>', 'global stabilisation time (virtual ms); before it delays are unbounded', number(0), 0)
    .option('--bandwidth <MBps>', 'outbound bandwidth per validator in MB/s (default unlimited)', number(0, { exclusive: true }))
    .option('--verify-us <us>', 'CPU cost of one ed25519 verification (virtual µs)', number(0), 50)
    .option('--offered-tps <tps>', 'offered load of the load model (tx/s of virtual time)', number(0), 50_000)
    .option('--json <file>', 'write {config, env, points} (DESIGN §12) to this file')
    .action(async (opts: SimOptions) => {
      if (opts.drop > 1) throw new InvalidArgumentError(`--drop is a probability in [0, 1], got ${opts.drop}`)
      await runSim(opts)
    })
}
