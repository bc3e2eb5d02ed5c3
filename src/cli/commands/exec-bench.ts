import { InvalidArgumentError, type Command } from 'commander'
import { FULL_GRID, MIN_RUNS, MIN_TIMED_TXS, QUICK_GRID, runExecBench, type ExecBenchOptions } from '../../bench/exec/exec-bench.ts'
import type { HotSpec } from '../../bench/exec/blocks.ts'
import type { ExecutionPolicy } from '../../execution/parallel.ts'

function intList(flag: string, min: number): (raw: string) => number[] {
  return (raw) => {
    const values = raw.split(',').map((s) => s.trim())
    return values.map((s) => {
      const v = Number(s)
      if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(v) || v < min) throw new InvalidArgumentError(`${flag} expects comma-separated integers ≥ ${min}, got ${JSON.stringify(s)}.`)
      return v
    })
  }
}

function hotSpec(raw: string): HotSpec {
  const match = /^(0?\.[0-9]+|1(?:\.0*)?|0):([1-9][0-9]*)$/.exec(raw.trim())
  if (match === null) throw new InvalidArgumentError(`--hot expects p:k with p in [0,1] and k ≥ 1 (e.g. 0.5:1), got ${JSON.stringify(raw)}.`)
  return { p: Number(match[1]), k: Number(match[2]) }
}

function positiveInt(flag: string): (raw: string) => number {
  const parse = intList(flag, 1)
  return (raw) => {
    const values = parse(raw)
    if (values.length !== 1) throw new InvalidArgumentError(`${flag} expects one integer, got ${JSON.stringify(raw)}.`)
    return values[0]!
  }
}

interface ExecBenchFlags {
  accounts?: number[]
  txs?: number[]
  computeUs?: number[]
  workers?: number[]
  hot?: HotSpec
  runs: number
  seed: number
  policy: ExecutionPolicy
  json?: string
  quick?: boolean
}

/** Flags → options: explicit lists override the grid (`--quick` or the full Block-STM grid). */
function execBenchOptions(flags: ExecBenchFlags): ExecBenchOptions {
  const grid = flags.quick ? QUICK_GRID : FULL_GRID
  return {
    accounts: flags.accounts ?? grid.accounts,
    txs: flags.txs ?? grid.txs,
    computeUs: flags.computeUs ?? grid.computeUs,
    workers: flags.workers ?? grid.workers,
    hot: flags.hot,
    runs: flags.runs,
    seed: flags.seed,
    policy: flags.policy,
    json: flags.json,
  }
}

export function registerExecBenchCommand(program: Command): void {
  program
    .command('exec-bench')
    .description('parallel vs sequential execution on seeded blocks (Block-STM grid)')
    .option('--txs <list>', 'block sizes, comma-separated (default 1000,10000)', intList('--txs', 1))
    .option('--accounts <list>', 'account counts (default 2,10,100,1000,10000)', intList('--accounts', 2))
    .option('--compute-us <list>', 'compute units per tx, ≈ µs (0 = transfers; default 0,10,50,200)', intList('--compute-us', 0))
    .option('--workers <list>', 'worker threads (default 1,2)', intList('--workers', 1))
    .option('--hot <p:k>', 'hot-account mode: fraction p of txs go to one of k hot accounts', hotSpec)
    .option('--runs <n>', `timed runs per cell, median reported (≥ ${MIN_RUNS}; small blocks get more, ${MIN_TIMED_TXS.toLocaleString('en')} txs per path)`, positiveInt('--runs'), MIN_RUNS)
    .option('--seed <n>', 'block generator seed', positiveInt('--seed'), 1)
    .option('--policy <auto|parallel>', 'executor policy: auto may fall back to sequential per block', (raw: string) => {
      if (raw !== 'auto' && raw !== 'parallel') throw new InvalidArgumentError(`--policy expects auto or parallel, got ${JSON.stringify(raw)}.`)
      return raw
    }, 'auto')
    .option('--json <file>', 'write the result JSON here')
    .option('--quick', 'small smoke subset (accounts 2,1000; 1000 txs; compute 0,50; 2 workers)')
    .action(async (flags: ExecBenchFlags) => {
      const report = await runExecBench(execBenchOptions(flags))
      const mismatches = report.points.filter((p) => !p.rootsMatch)
      if (mismatches.length > 0) throw new Error(`${mismatches.length} cells produced a state root or receipts hash different from the sequential oracle`)
    })
}
