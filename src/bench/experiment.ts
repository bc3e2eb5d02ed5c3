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

const saturateSchema = z
  .object({
    /** First offered rate of every series. */
    startTps: positive.default(500),
    /** Each step offers rate × stepFactor: geometric steps find the knee in few points. */
    stepFactor: z.number().gt(1).default(2),
    /** Stop stepping here even if the system still keeps up (protects the load generator). */
    maxTps: positive.default(64_000),
    /** Saturated once the commit rate (consensusTps) falls below this fraction of the offered rate. */
    achievedRatio: z.number().gt(0).max(1).default(0.9),
    /** … or once p99 end-to-end latency exceeds this. */
    p99CapMs: positive.default(2_000),
  })
  .strict()
  .refine((s) => s.maxTps >= s.startTps, { message: 'maxTps must be ≥ startTps', path: ['maxTps'] })

export type SaturateOptions = z.output<typeof saturateSchema>

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
    /** Offered load per point (tx/s), or 'saturate' to step it up until the system stops keeping up. */
    rates: z.union([z.array(positive).min(1), z.literal('saturate')], { error: 'expected a non-empty list of offered rates in tx/s (e.g. [1000, 2000]) or "saturate"' }),
    saturate: saturateSchema.default(saturateSchema.parse({})),
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
    runs: z.number().int().min(1).default(1),
    /** Latency cap of the "best throughput under a latency cap" plot (Narwhal's tps plot). */
    latencyCapMs: positive.default(1_000),
    seed: z.number().int().min(0).default(1),
    sim: simSchema.default(simSchema.parse({})),
  })
  .strict()
  .superRefine((e, ctx) => {
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

export function parseExperiment(data: unknown, source = 'experiment'): Experiment {
  const result = experimentSchema.safeParse(data)
  if (!result.success) throw new ExperimentError(source, z.prettifyError(result.error))
  return result.data
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

/** The command-line form: `--validators 4,7,10 --rates 1000,2000|saturate --duration S --runs K`. */
export interface ExperimentFlags {
  readonly validators?: string
  readonly rates?: string
  readonly payloadModes?: string
  readonly duration?: string
  readonly warmup?: string
  readonly runs?: string
  readonly name?: string
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

/**
 * Flags overlaid on a file's raw data (or on nothing), then validated as one experiment, so a
 * flag gets exactly the checks and defaults of the file field it stands for.
 */
export function experimentFromFlags(flags: ExperimentFlags, base: Record<string, unknown> = {}, source = 'flags'): Experiment {
  const data: Record<string, unknown> = { ...base }
  if (flags.name !== undefined) data.name = flags.name
  if (flags.validators !== undefined) data.validators = numberList('validators', flags.validators)
  if (flags.rates !== undefined) data.rates = flags.rates.trim() === 'saturate' ? 'saturate' : numberList('rates', flags.rates)
  if (flags.payloadModes !== undefined) data.payloadModes = flags.payloadModes.split(',').map((m) => m.trim())
  if (flags.duration !== undefined) data.durationS = flagNumber('duration', flags.duration)
  if (flags.warmup !== undefined) data.warmupS = flagNumber('warmup', flags.warmup)
  if (flags.runs !== undefined) data.runs = flagNumber('runs', flags.runs)
  return parseExperiment(data, source)
}
