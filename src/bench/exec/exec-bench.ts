import { writeFileSync } from 'node:fs'
import { Piscina } from 'piscina'
import { describeEnvironment, measureVerifiesPerSec, type RunEnvironment } from '../../core/environment.ts'
import { toHex } from '../../core/hash.ts'
import { Prng } from '../../core/prng.ts'
import { executeSequential, type ExecutionStats } from '../../execution/executor.ts'
import { ParallelExecutor, WORKER_URL, type ExecutionPolicy } from '../../execution/parallel.ts'
import { receiptsHash } from '../../execution/receipts.ts'
import { TX_BASE_COST_US, buildSchedule } from '../../execution/schedule.ts'
import { burnCompute } from '../../execution/transition.ts'
import type { WorkerTask } from '../../execution/wire.ts'
import { generateBenchBlock, type BenchBlock, type HotSpec } from './blocks.ts'

/**
 * Execution benchmark (`bftlab exec-bench`): sequential oracle vs parallel executor on the Block-STM grid (p2p
 * transfers / compute txs among N accounts). Same block, same process, after warm-up; each
 * cell reports medians of alternating runs (`runs`, more for small blocks: MIN_TIMED_TXS).
 * Signing is done before timing (admission's job).
 */

export interface ExecBenchOptions {
  readonly accounts: readonly number[]
  readonly txs: readonly number[]
  readonly computeUs: readonly number[]
  readonly workers: readonly number[]
  readonly hot?: HotSpec
  readonly runs: number
  readonly seed: number
  readonly policy: ExecutionPolicy
  readonly json?: string
}

export interface ExecBenchPoint {
  readonly accounts: number
  readonly txs: number
  readonly computeUs: number
  readonly workers: number
  readonly hot: HotSpec | null
  /** Path the parallel executor took (`auto` may fall back to sequential). */
  readonly path: 'sequential' | 'parallel'
  readonly seqMs: number
  readonly parMs: number
  readonly speedup: number
  readonly efficiency: number
  readonly reexecPerTx: number
  readonly rootsMatch: boolean
  /**
   * Share of txs that touch a key an earlier tx of the block touched: what an optimistic
   * executor running every tx on the pre-block snapshot would have to re-execute at least once.
   */
  readonly conflictingTxFraction: number
  /** Critical path ÷ total estimated work: 1 / the best speedup any scheduler can reach on this block. */
  readonly criticalPathShare: number
}

export interface CalibrationPoint {
  readonly workers: number
  readonly tasks: number
  readonly bytesPerTask: number
  readonly unitsPerTask: number
  readonly speedup: number
}

export interface ExecBenchReport {
  readonly config: ExecBenchOptions
  readonly env: RunEnvironment & { readonly usPerComputeUnit: number }
  readonly points: ExecBenchPoint[]
  readonly calibration: CalibrationPoint[]
}

export const FULL_GRID = {
  accounts: [2, 10, 100, 1000, 10000],
  txs: [1000, 10000],
  computeUs: [0, 10, 50, 200],
  workers: [1, 2],
} as const

export const QUICK_GRID = { accounts: [2, 1000], txs: [1000], computeUs: [0, 50], workers: [2] } as const

export const MIN_RUNS = 5

/** Bytes per tx the calibration ships with its tasks: about what a block's shared buffer holds per tx (encoded tx ≈ 200 B, DAG, state). */
const TASK_BYTES_PER_TX = 300

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Measured cost of one compute unit here (the constant was calibrated to ≈1 µs on the reference machine). */
function measureUsPerComputeUnit(): number {
  const units = 20_000
  burnCompute(new Uint8Array(32), units)
  const start = performance.now()
  burnCompute(new Uint8Array(32), units)
  return ((performance.now() - start) * 1000) / units
}

export async function runExecBench(opts: ExecBenchOptions, log: (line: string) => void = console.log): Promise<ExecBenchReport> {
  if (opts.runs < MIN_RUNS) throw new RangeError(`--runs must be at least ${MIN_RUNS} (medians of fewer runs are noise on a shared machine), got ${opts.runs}`)
  const env = { ...describeEnvironment(measureVerifiesPerSec()), usPerComputeUnit: round(measureUsPerComputeUnit(), 3) }
  log(`exec-bench: node ${env.node}, ${env.cpuModel}, ${env.cores} cores, 1 compute unit = ${env.usPerComputeUnit} µs, runs=${opts.runs}, seed=${opts.seed}, policy=${opts.policy}`)
  const header = ['accounts', 'txs', 'computeUs', 'workers', 'path', 'seqMs', 'parMs', 'speedup', 'efficiency', 'reexec/tx', 'rootsMatch', 'conflicting', 'critPath']
  log(header.map((h) => h.padStart(11)).join(' '))

  const executors = new Map(opts.workers.map((w) => [w, new ParallelExecutor({ workers: w, policy: opts.policy })]))
  const points: ExecBenchPoint[] = []
  /** Per worker count, the messaging pattern of the heaviest parallel cell, replayed as pure compute. */
  const heaviest = new Map<number, { tasks: number; bytes: number; units: number; seqMs: number }>()
  try {
    for (const txs of opts.txs) {
      for (const accounts of opts.accounts) {
        for (const computeUs of opts.computeUs) {
          const block = generateBenchBlock({ accounts, txs, computeUs, hot: opts.hot, seed: opts.seed })
          const schedule = buildSchedule(block.txs)
          const conflictingTxFraction = round(schedule.executable.filter((i) => schedule.predCount[i]! > 0).length / txs, 3)
          const criticalPathShare = round(schedule.criticalPathUs / schedule.totalCostUs, 3)
          for (const [workers, executor] of executors) {
            const { seqMs, parMs, rootsMatch, stats } = await measureCell(block, executor, opts.runs, opts.seed)
            const { path, tasks, reexecutions } = stats
            const point: ExecBenchPoint = {
              accounts,
              txs,
              computeUs,
              workers,
              hot: opts.hot ?? null,
              path,
              seqMs: round(seqMs),
              parMs: round(parMs),
              speedup: round(seqMs / parMs, 3),
              efficiency: round(seqMs / parMs / workers, 3),
              reexecPerTx: round(reexecutions / txs, 4),
              rootsMatch,
              conflictingTxFraction,
              criticalPathShare,
            }
            points.push(point)
            log([accounts, txs, computeUs, workers, path, point.seqMs, point.parMs, point.speedup, point.efficiency, point.reexecPerTx, rootsMatch, conflictingTxFraction, criticalPathShare].map((v) => String(v).padStart(11)).join(' '))
            const bytes = block.txs.length * TASK_BYTES_PER_TX
            if (path === 'parallel' && tasks > 0 && seqMs > (heaviest.get(workers)?.seqMs ?? 0)) {
              heaviest.set(workers, { tasks, bytes, units: Math.round(block.txs.length * (computeUs + TX_BASE_COST_US)), seqMs })
            }
          }
        }
      }
    }
  } finally {
    await Promise.all([...executors.values()].map((e) => e.close()))
  }

  const calibration: CalibrationPoint[] = []
  for (const [workers, pattern] of heaviest) {
    const point = await calibrate(workers, pattern.tasks, pattern.bytes, pattern.units, opts.runs)
    calibration.push(point)
    log(
      `calibration (workers=${workers}): conflict-free pure compute, ${point.tasks} tasks × ${point.bytesPerTask} B × ${point.unitsPerTask} units → best speedup ${point.speedup}× (efficiency ${round(point.speedup / workers, 3)})`,
    )
  }
  const report: ExecBenchReport = { config: opts, env, points, calibration }
  if (opts.json !== undefined) {
    writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n')
    log(`wrote ${opts.json}`)
  }
  return report
}

interface CellTiming {
  readonly seqMs: number
  readonly parMs: number
  /** Every parallel run's state root and receipts hash equal the sequential oracle's. */
  readonly rootsMatch: boolean
  readonly stats: ExecutionStats
}

/**
 * Untimed pairs run first until each path has executed this many txs (at least one pair): the
 * workers' code is optimized only after a few thousand txs each, so one warm-up pair of a
 * 1,000-tx block left the first timed runs on unoptimized code.
 */
const WARMUP_TXS = 20_000

/**
 * Timed pairs run until each path has executed this many txs (at least `runs` pairs): a
 * 1,000-tx cell takes 30–130 ms, and one major GC of the bench's heap landing in a run moves it
 * by 10–30 ms, so five runs gave medians up to 2× apart between identical paths.
 */
export const MIN_TIMED_TXS = 50_000

/** Medians of at least `runs` timed sequential/parallel pairs (MIN_TIMED_TXS), after WARMUP_TXS of warm-up pairs. */
async function measureCell(block: BenchBlock, executor: ParallelExecutor, minRuns: number, seed: number): Promise<CellTiming> {
  const oracle = executeSequential(block.genesis, block.txs)
  const oracleRoot = toHex(oracle.root)
  const oracleReceipts = toHex(receiptsHash(oracle.receipts))
  const seqTimes: number[] = []
  const parTimes: number[] = []
  let rootsMatch = true
  let stats: ExecutionStats = oracle.stats
  const timeSequential = (): number => {
    const start = performance.now()
    executeSequential(block.genesis, block.txs)
    return performance.now() - start
  }
  const timeParallel = async (): Promise<number> => {
    const start = performance.now()
    const result = await executor.execute(block.genesis, block.txs)
    const ms = performance.now() - start
    rootsMatch &&= toHex(result.root) === oracleRoot && toHex(receiptsHash(result.receipts)) === oracleReceipts
    stats = result.stats
    return ms
  }
  const warmups = Math.max(1, Math.ceil(WARMUP_TXS / block.txs.length))
  const runs = Math.max(minRuns, Math.ceil(MIN_TIMED_TXS / block.txs.length))
  const order = new Prng(seed)
  for (let run = -warmups; run < runs; run++) {
    // A seeded coin picks which goes first, so neither side systematically runs on a warmer
    // cache or pays for the other's garbage (a block's ~2 KB LtHash buffers per changed entry)
    // — strict alternation phase-locked with the GC's period and billed most major GCs to one
    // side. No forced GC between runs either: a full GC shrinks the young generation, and the
    // allocation-heavy main thread that runs next pays for it — the sequential path entirely,
    // the parallel path only in its layout — which made 1,000-tx sequential runs 20–30 %
    // slower than in steady state. A validator never forces one.
    const parBefore = order.float() < 0.5 ? await timeParallel() : undefined
    const seqMs = timeSequential()
    const parMs = parBefore ?? (await timeParallel())
    if (run < 0) continue
    seqTimes.push(seqMs)
    parTimes.push(parMs)
  }
  return { seqMs: median(seqTimes), parMs: median(parTimes), rootsMatch, stats }
}

/**
 * The ceiling for this machine: the same number of tasks and bytes as a real parallel block,
 * but with no dependencies and pure compute, against the same compute on the main thread.
 * Same split as the executor: tasks 1..n−1 go to a pool of n − 1 threads, the calling thread
 * burns the first one itself.
 */
async function calibrate(workers: number, tasks: number, totalBytes: number, totalUnits: number, runs: number): Promise<CalibrationPoint> {
  const threads = Math.max(1, workers - 1)
  const pool = new Piscina<WorkerTask, ArrayBuffer>({ filename: WORKER_URL, minThreads: threads, maxThreads: threads })
  const bytesPerTask = Math.ceil(totalBytes / tasks)
  const unitsPerTask = Math.ceil(totalUnits / tasks)
  try {
    let best = 0
    for (let run = -1; run < runs; run++) {
      const seqStart = performance.now()
      for (let t = 0; t < tasks; t++) burnCompute(new Uint8Array(32), unitsPerTask)
      const seqMs = performance.now() - seqStart
      const parStart = performance.now()
      const pooled = Promise.all(
        Array.from({ length: tasks - 1 }, () => {
          const bytes = new ArrayBuffer(bytesPerTask)
          return pool.run({ kind: 'burn', bytes, units: unitsPerTask }, { transferList: [bytes] })
        }),
      )
      burnCompute(new Uint8Array(32), unitsPerTask)
      await pooled
      const parMs = performance.now() - parStart
      if (run >= 0) best = Math.max(best, seqMs / parMs)
    }
    return { workers, tasks, bytesPerTask, unitsPerTask, speedup: round(best, 3) }
  } finally {
    await pool.destroy()
  }
}
