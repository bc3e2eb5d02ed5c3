import { basename } from 'node:path'
import { z } from 'zod'
import { LIMITS } from '../core/limits.ts'
import { PAYLOAD_MODES, readDataFile, type PayloadMode } from '../node/config.ts'
import { parseLatency } from '../sim/latency.ts'

/**
 * Experiment files (`configs/experiments/*.toml` or `.json`): what a benchmark sweeps and under
 * which conditions. Every field is validated up front, so a typo fails in a second with the
 * field's path instead of after ten minutes of sweeping.
 */

export class ExperimentError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`)
    this.name = 'ExperimentError'
  }
}

const positive = z.number().positive()
const nonNegative = z.number().min(0)
const validatorIndex = z.number().int().min(0)

/** Outbound link emulation (the node's app-level fault table: delay + uniform jitter, loss). */
const linkProfileSchema = z
  .object({
    delayMs: nonNegative.default(0),
    /** Each message waits delayMs + uniform(0, jitterMs). */
    jitterMs: nonNegative.default(0),
    lossRate: z.number().min(0).max(1).default(0),
  })
  .strict()

export type LinkProfile = z.output<typeof linkProfileSchema>

const networkSchema = linkProfileSchema
  .extend({
    /** Directed per-link overrides of the profile above (e.g. one validator far away). */
    links: z
      .array(
        linkProfileSchema.extend({ from: validatorIndex, to: validatorIndex }).refine((l) => l.from !== l.to, {
          message: 'a link joins two different validators (from must differ from to)',
          path: ['to'],
        }),
      )
      .default([]),
  })
  .strict()

export type NetworkProfile = z.output<typeof networkSchema>

/**
 * The capacity search (src/bench/search.ts): the highest offered rate whose achieved e2e rate is
 * ≥ achievedRatio × offered, with p50 under `latencyCapMs` and no round timeouts caused by load.
 */
const capacitySchema = z
  .object({
    /**
     * First rate tried; absent: `startFraction` × this machine's verify bound for n, or once one
     * is measured, the capacity/bound of the same count in another payload mode or of the
     * previous count, times the bound for n.
     */
    startTps: positive.optional(),
    /** Fraction of the verify bound to start at when nothing better is known. */
    startFraction: z.number().gt(0).max(1).default(0.25),
    /** Doubling stops here: a series that keeps up at maxTps reports "≥ maxTps" (protects the load generator). */
    maxTps: positive.default(64_000),
    /** Halving stops here: a series failing even at minTps has no capacity to report. */
    minTps: positive.default(50),
    /** Achieved (sustained e2e) rate must reach this fraction of offered. */
    achievedRatio: z.number().gt(0).max(1).default(0.95),
    /** Bisection ends once the failing rate is within this fraction above the passing one. */
    precision: z.number().gt(0).max(1).default(0.05),
    /** Repetitions at the found rate (mean ± stdev); three at least, so a stdev means something. */
    finalRuns: z.number().int().min(3).default(3),
  })
  .strict()
  .refine((c) => c.maxTps >= c.minTps, { message: 'maxTps must be ≥ minTps', path: ['maxTps'] })
  .refine((c) => c.startTps === undefined || (c.startTps >= c.minTps && c.startTps <= c.maxTps), { message: 'startTps must lie within minTps … maxTps', path: ['startTps'] })

export type CapacityOptions = z.output<typeof capacitySchema>

const restartSchema = z
  .object({
    validator: validatorIndex,
    /** Seconds after load starts (warm-up included) at which the validator is killed. */
    atS: nonNegative,
    /** Seconds it stays down before it restarts from its data dir. */
    downS: positive,
  })
  .strict()

export type RestartFault = z.output<typeof restartSchema>

const faultsSchema = z
  .object({
    /** Validators down for the whole run (the last ones by index); 'f' = the most the committee tolerates. */
    crashed: z.union([z.number().int().min(0), z.literal('f')]).default(0),
    restarts: z.array(restartSchema).default([]),
  })
  .strict()

const txSchema = z
  .object({
    kind: z.enum(['transfer', 'compute']).default('transfer'),
    /** CPU weight of a compute tx (calibrated iterations of the execution engine). */
    computeUnits: z.number().int().min(0).default(0),
  })
  .strict()
  .refine((t) => t.kind === 'compute' || t.computeUnits === 0, { message: 'computeUnits applies to kind = "compute" only', path: ['computeUnits'] })

const simSchema = z
  .object({
    /** Validator counts only the simulator can reach on one machine. */
    validators: z.array(z.number().int().min(1).max(LIMITS.maxValidators)).min(1).default([64, 128, 256]),
    /** Latency model for those counts (simulator syntax: lan, wan, fixed:10, uniform:50-200 …). */
    latency: z
      .string()
      .default('wan')
      .superRefine((spec, ctx) => {
        try {
          parseLatency(spec)
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message })
        }
      }),
  })
  .strict()

const experimentSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only (it names output files)').default('experiment'),
    validators: z.array(z.number().int().min(1).max(LIMITS.maxValidators)).min(1),
    /** Offered load per point (tx/s), or 'capacity' to search each series' capacity. */
    rates: z.union([z.array(positive).min(1), z.literal('capacity')], { error: 'expected a non-empty list of offered rates in tx/s (e.g. [1000, 2000]) or "capacity"' }),
    capacity: capacitySchema.optional(),
    payloadModes: z.array(z.enum(PAYLOAD_MODES)).min(1).default(['batches']),
    /** Absent: the chain default of the node's genesis params. */
    batchSize: z.number().int().positive().max(LIMITS.maxBatchTxs).optional(),
    maxBatchDelayMs: z.number().int().positive().optional(),
    executorWorkers: z.number().int().min(0).max(64).optional(),
    tx: txSchema.default(txSchema.parse({})),
    network: networkSchema.default(networkSchema.parse({})),
    faults: faultsSchema.default(faultsSchema.parse({})),
    /** Measured window per run. */
    durationS: positive.default(20),
    /** Load runs this long before measuring, so pipelines fill and JIT settles. */
    warmupS: nonNegative.default(5),
    /** Repetitions of each rate of a fixed list (default 1); the capacity search has `capacity.finalRuns`. */
    runs: z.number().int().min(1).optional(),
    /**
     * Latency cap: the capacity criterion's p50, and the p99 of the "throughput under a latency
     * cap" plot (Narwhal's tps plot).
     */
    latencyCapMs: z.number({ error: 'expected a latency cap in ms' }).positive('must be > 0 ms: a cap of zero or less admits no rate').default(1_000),
    seed: z.number().int().min(0).default(1),
    sim: simSchema.default(simSchema.parse({})),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.rates !== 'capacity' && e.capacity !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['capacity'], message: 'capacity search options apply to rates = "capacity" only; a fixed rate list measures exactly its rates' })
    }
    if (e.rates === 'capacity' && e.runs !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['runs'], message: 'runs repeats each rate of a fixed list; the capacity search repeats the rate it finds capacity.finalRuns times' })
    }
    const smallest = Math.min(...e.validators)
    const fOf = (n: number) => Math.floor((n - 1) / 3)
    if (typeof e.faults.crashed === 'number') {
      for (const n of e.validators) {
        if (e.faults.crashed > fOf(n)) {
          ctx.addIssue({ code: 'custom', path: ['faults', 'crashed'], message: `${e.faults.crashed} crashed validators exceed f = ${fOf(n)} for n = ${n}: no quorum, nothing to measure` })
        }
      }
    }
    const crashedAtSmallest = e.faults.crashed === 'f' ? fOf(smallest) : e.faults.crashed
    e.faults.restarts.forEach((r, i) => {
      if (r.validator >= smallest - crashedAtSmallest) {
        ctx.addIssue({ code: 'custom', path: ['faults', 'restarts', i, 'validator'], message: `validator ${r.validator} is not a running validator at n = ${smallest} (crashed ones are the last ${crashedAtSmallest})` })
      }
      if (r.atS + r.downS >= e.warmupS + e.durationS) {
        ctx.addIssue({ code: 'custom', path: ['faults', 'restarts', i, 'downS'], message: `restart at ${r.atS + r.downS} s is after the run ends (${e.warmupS + e.durationS} s)` })
      }
    })
    e.network.links.forEach((l, i) => {
      for (const end of ['from', 'to'] as const) {
        if (l[end] >= smallest) ctx.addIssue({ code: 'custom', path: ['network', 'links', i, end], message: `validator ${l[end]} does not exist at n = ${smallest}` })
      }
    })
  })

export type Experiment = z.output<typeof experimentSchema>

/** The capacity options in force (defaults for absent fields). */
export function capacityOptions(e: Experiment): CapacityOptions {
  return e.capacity ?? capacitySchema.parse({})
}
export type ExperimentInput = z.input<typeof experimentSchema>

/** One measured point as handed to a point runner (testnet or simulator). */
export interface PointSpec {
  readonly validators: number
  readonly offeredTps: number
  readonly payloadMode: PayloadMode
  readonly batchSize?: number
  readonly maxBatchDelayMs?: number
  readonly executorWorkers?: number
  readonly tx: Experiment['tx']
  readonly network: NetworkProfile
  /** Resolved: indices n − crashed … n − 1 are never started. */
  readonly crashed: number
  readonly restarts: readonly RestartFault[]
  readonly durationS: number
  readonly warmupS: number
  /** Distinct per run so repetitions sample different loss/jitter draws. */
  readonly seed: number
}

export function crashedCount(experiment: Experiment, validators: number): number {
  return experiment.faults.crashed === 'f' ? Math.floor((validators - 1) / 3) : experiment.faults.crashed
}

export function pointSpec(experiment: Experiment, validators: number, payloadMode: PayloadMode, offeredTps: number, run: number): PointSpec {
  return {
    validators,
    offeredTps,
    payloadMode,
    batchSize: experiment.batchSize,
    maxBatchDelayMs: experiment.maxBatchDelayMs,
    executorWorkers: experiment.executorWorkers,
    tx: experiment.tx,
    network: experiment.network,
    crashed: crashedCount(experiment, validators),
    restarts: experiment.faults.restarts,
    durationS: experiment.durationS,
    warmupS: experiment.warmupS,
    seed: experiment.seed + run,
  }
}

/**
 * `names` maps a field path ("capacity.maxTps") to what the user typed to set it ("--max-tps"),
 * so an error caused by a flag names the flag.
 */
export function parseExperiment(data: unknown, source = 'experiment', names: ReadonlyMap<string, string> = new Map()): Experiment {
  const result = experimentSchema.safeParse(data)
  if (result.success) return result.data
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i > 0 ? '.' : ''}${String(k)}`)).join('')
    const flag = names.get(issue.path.join('.'))
    const where = flag !== undefined ? `${flag} (${path})` : path === '' ? '(top level)' : path
    return `${where}: ${issue.message}`
  })
  throw new ExperimentError(source, lines.length === 1 ? lines[0]! : lines.map((l) => `\n  ${l}`).join(''))
}

/** Repetitions of each rate of a fixed list. */
export function runsPerRate(e: Experiment): number {
  return e.runs ?? 1
}

/** Reads a TOML (`.toml`) or JSON experiment file as raw data; syntax errors name the file. */
export async function readExperimentFile(path: string): Promise<Record<string, unknown>> {
  const data = await readDataFile(path, (file, message) => new ExperimentError(file, message))
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ExperimentError(basename(path), 'expected a table/object at the top level')
  return data as Record<string, unknown>
}

export async function loadExperiment(path: string): Promise<Experiment> {
  return parseExperiment(await readExperimentFile(path), basename(path))
}

/** The command-line form: `--validators 4,7,10 --rates 1000,2000|capacity --duration S --runs K --latency-cap MS …`. */
export interface ExperimentFlags {
  readonly validators?: string
  readonly rates?: string
  readonly payloadModes?: string
  readonly duration?: string
  readonly warmup?: string
  readonly runs?: string
  readonly name?: string
  readonly latencyCap?: string
  readonly startTps?: string
  readonly maxTps?: string
  readonly minTps?: string
  readonly finalRuns?: string
}

function numberList(flag: string, text: string): number[] {
  return text.split(',').map((part) => {
    const v = Number(part.trim())
    if (part.trim() === '' || !Number.isFinite(v)) throw new ExperimentError('flags', `--${flag}: "${part}" is not a number (expected a comma-separated list like 4,7,10)`)
    return v
  })
}

function flagNumber(flag: string, text: string): number {
  const v = Number(text)
  if (text.trim() === '' || !Number.isFinite(v)) throw new ExperimentError('flags', `--${flag}: "${text}" is not a number`)
  return v
}

/** Flags that set one number field: flag → field path. */
const NUMBER_FLAGS = [
  ['duration', 'duration', ['durationS']],
  ['warmup', 'warmup', ['warmupS']],
  ['runs', 'runs', ['runs']],
  ['latencyCap', 'latency-cap', ['latencyCapMs']],
  ['startTps', 'start-tps', ['capacity', 'startTps']],
  ['maxTps', 'max-tps', ['capacity', 'maxTps']],
  ['minTps', 'min-tps', ['capacity', 'minTps']],
  ['finalRuns', 'final-runs', ['capacity', 'finalRuns']],
] as const satisfies readonly (readonly [keyof ExperimentFlags, string, readonly string[]])[]

/**
 * Flags overlaid on a file's raw data (or on nothing), then validated as one experiment, so a
 * flag gets exactly the checks and defaults of the file field it stands for, and an error in a
 * field a flag set names the flag.
 */
export function experimentFromFlags(flags: ExperimentFlags, base: Record<string, unknown> = {}, source = 'flags'): Experiment {
  const data: Record<string, unknown> = { ...base }
  const names = new Map<string, string>()
  const set = (flag: string, path: readonly string[], value: unknown): void => {
    let target = data
    for (const key of path.slice(0, -1)) {
      const inner = target[key]
      target = target[key] = typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? { ...(inner as Record<string, unknown>) } : {}
    }
    target[path.at(-1)!] = value
    names.set(path.join('.'), `--${flag}`)
  }
  if (flags.name !== undefined) set('name', ['name'], flags.name)
  if (flags.validators !== undefined) set('validators', ['validators'], numberList('validators', flags.validators))
  if (flags.rates !== undefined) set('rates', ['rates'], flags.rates.trim() === 'capacity' ? 'capacity' : numberList('rates', flags.rates))
  if (flags.payloadModes !== undefined) set('payload-modes', ['payloadModes'], flags.payloadModes.split(',').map((m) => m.trim()))
  for (const [key, flag, path] of NUMBER_FLAGS) {
    const text = flags[key]
    if (text !== undefined) set(flag, path, flagNumber(flag, text))
  }
  // A search option on a fixed rate list is refused by the schema under `capacity`: name the flag that put it there.
  const searchFlags = NUMBER_FLAGS.filter(([key, , path]) => path[0] === 'capacity' && flags[key] !== undefined).map(([, flag]) => `--${flag}`)
  if (searchFlags.length > 0) names.set('capacity', searchFlags.join(', '))
  return parseExperiment(data, source, names)
}
