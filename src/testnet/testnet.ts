import type { TxKind } from '../core/tx.ts'
import { loadGenesis, type ChainParams, type LogLevel, type PayloadMode } from '../node/config.ts'
import { genesisAccounts, withChainNonces } from './accounts.ts'
import { describeEnvironment, measureVerifiesPerSec, type RunEnvironment } from '../core/environment.ts'
import { writeAcks } from './check.ts'
import { runLoad, type LiveSecond, type LoadResult } from './load.ts'
import { LocalTestnet, type LocalTestnetOptions } from './local-testnet.ts'
import type { PerturbationSchedule } from './perturbation-schedule.ts'
import { runPerturbations, survivedSteps, type PerturbationEvent } from './perturbations.ts'
import { presignTransfers } from './presign.ts'
import type { NodeExit } from './processes.ts'
import { formatLiveSecond, formatSummary, liveHeader, resultPoint, writeResultJson, type ResultDocument, type ResultPoint } from './report.ts'

export interface TestnetRunConfig {
  readonly validators: number
  readonly durationS: number
  readonly rate: number
  readonly warmupS: number
  readonly accounts: number
  readonly payload: PayloadMode
  readonly dir?: string
  readonly basePort?: number
  readonly keep: boolean
  readonly logLevel: LogLevel
  readonly json?: string
  /** Applied during the load, times from its start (src/testnet/perturbations.ts). */
  readonly perturbations?: PerturbationSchedule
  /** Write the acknowledged tx hashes here (`bftlab check --acks`). */
  readonly acks?: string
  /** Resubmit acknowledged txs not committed after this many seconds (LoadOptions.rebroadcastAfterS). */
  readonly rebroadcastS?: number
  /** Seed of the validators' emulated-fault draws (loss, jitter); absent: each node's default. */
  readonly seed?: number
}

/**
 * Time allowed for every node to start and see all its peers. Node start (LevelDB, worker
 * pools, libp2p dial-ups and identify) takes seconds when n processes start at once on 2 cores.
 */
const READY_TIMEOUT_MS = 60_000

/** One load run on a fresh local testnet: the path `bftlab testnet` and benchmark points share. */
export interface TestnetLoadSpec {
  readonly validators: number
  /** The last `crashed` validators are never started, so the chain runs with n − crashed. */
  readonly crashed: number
  readonly accounts: number
  readonly params: Partial<ChainParams>
  /** Merged into every node config (worker counts, link faults). */
  readonly node: NonNullable<LocalTestnetOptions['node']>
  readonly logLevel: LogLevel
  readonly dir?: string
  readonly basePort?: number
  readonly keep: boolean
  /** Offered tx/s. */
  readonly rate: number
  /** Seconds of load, warm-up included. */
  readonly durationS: number
  readonly warmupS: number
  readonly tx: { readonly kind: TxKind; readonly computeUnits: number }
  /** This machine, measured once by a caller running many points; measured here when absent. */
  readonly env?: RunEnvironment
  /** Faults applied during the load, times from its start; they make the chain a test network (admin endpoints). */
  readonly perturbations?: PerturbationSchedule
  /** Resubmit acknowledged txs not committed after this many seconds (LoadOptions.rebroadcastAfterS). */
  readonly rebroadcastS?: number
  /** Seed of the validators' emulated-fault draws (loss, jitter); absent: each node's default. */
  readonly seed?: number
}

/** What one run measured, and what it did to the testnet. */
export interface TestnetLoadOutcome {
  readonly env: RunEnvironment
  readonly point: ResultPoint
  /** Hashes of every tx a validator accepted (`bftlab check --acks`). */
  readonly acknowledged: readonly string[]
  /** Every perturbation step as it took effect and was undone; empty without a schedule. */
  readonly perturbations: readonly PerturbationEvent[]
}

/** What happens during a run, for a caller to print (the live table) or log. */
export type TestnetEvent =
  | { readonly kind: 'starting'; readonly dir: string; readonly validators: number; readonly crashed: number; readonly firstUrl: string }
  | { readonly kind: 'loading'; readonly rate: number; readonly durationS: number; readonly warmupS: number }
  | { readonly kind: 'second'; readonly second: LiveSecond }
  | { readonly kind: 'node-exit'; readonly exit: NodeExit; readonly logPath: string }
  | { readonly kind: 'kept'; readonly dir: string }
  | { readonly kind: 'perturbation'; readonly line: string }

export interface TestnetLoadHooks {
  /** Aborting ends the load early; nodes are still stopped and what was measured is returned. */
  readonly signal?: AbortSignal
  readonly onEvent?: (e: TestnetEvent) => void
  /** Awaited while the nodes still run, so what it prints comes before the shutdown messages. */
  readonly onMeasured?: (env: RunEnvironment, point: ResultPoint, run: Pick<TestnetLoadOutcome, 'acknowledged' | 'perturbations'>) => Promise<void> | void
}

/** The lines `bftlab testnet` prints for each event (the benchmark writes the same into its log). */
export function describeTestnetEvent(e: TestnetEvent): string[] {
  switch (e.kind) {
    case 'starting': {
      const who = e.crashed === 0 ? `${e.validators} validators` : `${e.validators - e.crashed} of ${e.validators} validators (the last ${e.crashed} crashed: never started)`
      return [`starting ${who} in ${e.dir} (HTTP ${e.firstUrl} …)`]
    }
    case 'loading':
      return [`all validators connected; offering ${e.rate} tx/s for ${e.durationS} s (first ${e.warmupS} s are warm-up)`, liveHeader()]
    case 'second':
      return [formatLiveSecond(e.second)]
    case 'node-exit':
      return [`! node ${e.exit.index} (pid ${e.exit.pid}) exited unexpectedly: code ${e.exit.code}, signal ${e.exit.signal}; see ${e.logPath}`]
    case 'kept':
      return [`configs, data and logs kept in ${e.dir}`]
    case 'perturbation':
      return [e.line]
  }
}

/**
 * Starts validators 0 … n−crashed−1 on 127.0.0.1, drives them with open-loop load (signed
 * before the window opens), then stops them and returns the measured point. The temp dir is
 * removed unless `keep` or a `dir` was given.
 */
export async function runTestnetLoad(spec: TestnetLoadSpec, hooks: TestnetLoadHooks = {}): Promise<TestnetLoadOutcome> {
  const emit = hooks.onEvent ?? (() => {})
  const { signal } = hooks
  const maxCrashed = Math.floor((spec.validators - 1) / 3)
  if (!Number.isInteger(spec.crashed) || spec.crashed < 0 || spec.crashed > maxCrashed) {
    throw new RangeError(`crashed validators must be an integer in 0..${maxCrashed} (f for n = ${spec.validators}), got ${spec.crashed}: with more, no quorum forms and nothing commits`)
  }
  // Measured before any node starts: with validators running, the probe would share their cores.
  const env = spec.env ?? describeEnvironment(measureVerifiesPerSec())
  const testnet = await LocalTestnet.create({
    validators: spec.validators,
    accounts: spec.accounts,
    // The admin endpoints that apply link faults exist only on a chain declared a test network.
    params: spec.perturbations !== undefined ? { ...spec.params, testing: true } : spec.params,
    node: spec.node,
    logLevel: spec.logLevel,
    ...(spec.dir !== undefined ? { dir: spec.dir } : {}),
    ...(spec.basePort !== undefined ? { basePort: spec.basePort } : {}),
    ...(spec.seed !== undefined ? { faultSeed: spec.seed } : {}),
    onUnexpectedExit: (exit) => emit({ kind: 'node-exit', exit, logPath: testnet.logPath(exit.index) }),
  })
  const running = Array.from({ length: spec.validators - spec.crashed }, (_, i) => i)
  const urls = running.map((i) => testnet.urls[i]!)
  try {
    emit({ kind: 'starting', dir: testnet.dir, validators: spec.validators, crashed: spec.crashed, firstUrl: urls[0]! })
    for (const i of running) testnet.processes.start(i)
    await testnet.waitReady({ timeoutMs: READY_TIMEOUT_MS, nodes: running, peers: running.length - 1, ...(signal !== undefined ? { signal } : {}) })
    const genesis = await loadGenesis(testnet.genesisPath)
    const accounts = await withChainNonces(urls[0]!, genesisAccounts(genesis, testnet.genesisPath))
    const txs = await presignTransfers(accounts, Math.ceil(spec.rate * spec.durationS), spec.tx)
    emit({ kind: 'loading', rate: spec.rate, durationS: spec.durationS, warmupS: spec.warmupS })
    // Ends with the load (drain included): steps not yet due are skipped, those in force undone.
    const loadOver = new AbortController()
    const perturbing = runPerturbations(testnet, spec.perturbations ?? [], (line) => emit({ kind: 'perturbation', line }), {
      signal: signal === undefined ? loadOver.signal : AbortSignal.any([signal, loadOver.signal]),
    })
    let load: LoadResult
    try {
      load = await runLoad({
        targets: urls,
        rate: spec.rate,
        durationS: spec.durationS,
        warmupS: spec.warmupS,
        txs,
        ...(signal !== undefined ? { signal } : {}),
        ...(spec.rebroadcastS !== undefined ? { rebroadcastAfterS: spec.rebroadcastS } : {}),
        onSecond: (second) => emit({ kind: 'second', second }),
      })
    } finally {
      loadOver.abort()
      await perturbing
    }
    const point = resultPoint(spec.validators, load, env)
    const perturbations = await perturbing
    await hooks.onMeasured?.(env, point, { acknowledged: load.acknowledged, perturbations })
    return { env, point, acknowledged: load.acknowledged, perturbations }
  } finally {
    await testnet.stop()
    if (spec.keep || spec.dir !== undefined) emit({ kind: 'kept', dir: testnet.dir })
    else await testnet.remove()
  }
}

/** `bftlab testnet` sends plain transfers. */
const TRANSFERS = { kind: 'transfer', computeUnits: 0 } as const

/**
 * `bftlab testnet`: measures this machine's verify rate, starts `validators` node processes on
 * 127.0.0.1, drives them with open-loop load while printing one line per second, then stops
 * them and prints (and optionally writes) the result. Aborting `signal` (Ctrl-C) ends the load
 * early and still stops everything and reports what was measured.
 */
export async function runTestnet(config: TestnetRunConfig, io: { out: (line: string) => void; signal: AbortSignal }): Promise<ResultDocument<TestnetRunConfig>> {
  const { out, signal } = io
  const document = (env: RunEnvironment, point: ResultPoint, perturbations: readonly PerturbationEvent[]): ResultDocument<TestnetRunConfig> => ({
    config,
    env,
    points: [point],
    ...(config.perturbations !== undefined ? { perturbations } : {}),
  })
  const outcome = await runTestnetLoad(
    {
      validators: config.validators,
      crashed: 0,
      accounts: config.accounts,
      params: { payloadMode: config.payload },
      node: {},
      logLevel: config.logLevel,
      keep: config.keep,
      rate: config.rate,
      durationS: config.durationS,
      warmupS: config.warmupS,
      tx: TRANSFERS,
      ...(config.perturbations !== undefined ? { perturbations: config.perturbations } : {}),
      ...(config.rebroadcastS !== undefined ? { rebroadcastS: config.rebroadcastS } : {}),
      ...(config.dir !== undefined ? { dir: config.dir } : {}),
      ...(config.basePort !== undefined ? { basePort: config.basePort } : {}),
      ...(config.seed !== undefined ? { seed: config.seed } : {}),
    },
    {
      signal,
      onEvent: (e) => describeTestnetEvent(e).forEach(out),
      onMeasured: async (measuredEnv, measured, run) => {
        const doc = document(measuredEnv, measured, run.perturbations)
        out(formatSummary(doc, measured))
        if (config.perturbations !== undefined) {
          out(`  perturbations ${survivedSteps(run.perturbations)} of ${config.perturbations.length} steps applied and undone without error`)
        }
        if (config.json !== undefined) {
          await writeResultJson(config.json, doc)
          out(`result written to ${config.json}`)
        }
        if (config.acks !== undefined) {
          await writeAcks(config.acks, run.acknowledged)
          out(`${run.acknowledged.length} acknowledged tx hashes written to ${config.acks} (bftlab check --dir D --acks ${config.acks}; D needs --dir or --keep)`)
        }
      },
    },
  )
  return document(outcome.env, outcome.point, outcome.perturbations)
}
