import { setTimeout as sleep } from 'node:timers/promises'
import type { TxKind } from '../core/tx.ts'
import { loadGenesis, type ChainParams, type LogLevel, type PayloadMode } from '../node/config.ts'
import type { CommitTrace } from '../sim/result-point.ts'
import { genesisAccounts, withChainNonces } from './accounts.ts'
import { describeEnvironment, measureVerifiesPerSec, type RunEnvironment } from '../core/environment.ts'
import { writeAcks } from './check.ts'
import { runLoad, type LiveSecond, type LoadResult } from './load.ts'
import { LocalTestnet, type LocalTestnetOptions } from './local-testnet.ts'
import type { PerturbationSchedule } from './perturbation-schedule.ts'
import { runPerturbations, survivedSteps, type PerturbationEvent } from './perturbations.ts'
import { presignTransfers, type LoadAccount } from './presign.ts'
import type { NodeExit } from './processes.ts'
import { CpuWindow } from './proc-cpu.ts'
import { formatLiveSecond, formatSummary, liveHeader, loadPoint, writeResultJson, type ResultDocument, type ResultPoint } from './report.ts'

export interface TestnetRunConfig {
  readonly validators: number
  readonly durationS: number
  readonly offeredTps: number
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

/** The validators of a local testnet: what stays the same across the load steps run on it. */
export interface TestnetSessionSpec {
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
  /** This machine, measured once by a caller running many points; measured here when absent. */
  readonly env?: RunEnvironment
  /** Steps will apply perturbations: the chain must be a test network (admin endpoints). */
  readonly perturbable?: boolean
  /** Seed of the validators' emulated-fault draws (loss, jitter); absent: each node's default. */
  readonly seed?: number
}

/** One load run on a running session. */
export interface LoadStep {
  readonly offeredTps: number
  /** Seconds of load, warm-up included. */
  readonly durationS: number
  readonly warmupS: number
  readonly tx: { readonly kind: TxKind; readonly computeUnits: number }
  /** Faults applied during the load, times from its start (needs a `perturbable` session). */
  readonly perturbations?: PerturbationSchedule
  /** Resubmit acknowledged txs not committed after this many seconds (LoadOptions.rebroadcastAfterS). */
  readonly rebroadcastS?: number
  /** Longest wait after submission for the window's txs to commit (LoadOptions.drainS). */
  readonly drainS?: number
}

/** One load run on a fresh local testnet: the path `bftlab testnet` takes. */
export type TestnetLoadSpec = Omit<TestnetSessionSpec, 'perturbable'> & LoadStep

/** What one run measured, and what it did to the testnet. */
export interface TestnetLoadOutcome {
  readonly env: RunEnvironment
  /** The §12 point, with how its step started. */
  readonly point: ResultPoint & { readonly start: StepStart }
  /** Hashes of every tx a validator accepted (`bftlab check --acks`). */
  readonly acknowledged: readonly string[]
  /** Every perturbation step as it took effect and was undone; empty without a schedule. */
  readonly perturbations: readonly PerturbationEvent[]
}

/** What happens during a run, for a caller to print (the live table) or log. */
export type TestnetEvent =
  | { readonly kind: 'starting'; readonly dir: string; readonly validators: number; readonly crashed: number; readonly firstUrl: string }
  | { readonly kind: 'loading'; readonly offeredTps: number; readonly durationS: number; readonly warmupS: number }
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
      return [`all validators connected; offering ${e.offeredTps} tx/s for ${e.durationS} s (first ${e.warmupS} s are warm-up)`, liveHeader()]
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
 * Longest wait for the chain to be drained and live before a step: every validator answers, no
 * admitted tx is left uncommitted, and the height moves. After a step past capacity the backlog
 * (at most warm-up + window of excess txs, less what the load's own drain committed) clears in
 * seconds; a chain still busy after this long is not a healthy start for any measurement.
 */
const SETTLE_TIMEOUT_MS = 60_000
const SETTLE_POLL_MS = 200

/** How a step's chain looked when its load began (the point carries it: "started drained and live"). */
export interface StepStart {
  /** Every validator answered, mempools summed to 0 and the committed height advanced. */
  readonly drained: true
  /** How long the wait for that took. */
  readonly settleMs: number
  /** Each sender's next nonce (carried over from the last step, or read) and signing the step's txs, after the settle. */
  readonly prepareMs: number
  /** 1 for the session's first step, 2 for the next … */
  readonly step: number
}

/** A chain that did not drain or stopped committing between steps: its next step would measure the previous one's backlog. */
export class TestnetNotSettledError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TestnetNotSettledError'
  }
}

/**
 * A local testnet whose validators stay up across load steps: a benchmark series steps the
 * offered rate on one set of processes instead of starting n new ones per point (start-up is
 * most of a fresh point's wall time: docs/decisions.md, "Capacity search"). Each step starts
 * from a drained, live chain and signs its txs from the chain's current nonces.
 */
export class TestnetSession {
  readonly env: RunEnvironment
  readonly testnet: LocalTestnet
  readonly #spec: TestnetSessionSpec
  readonly #running: readonly number[]
  readonly #emit: (e: TestnetEvent) => void
  #steps = 0
  /** Each sender's next nonce as the last step left it; undefined where only the chain knows (read before the next step). */
  #accounts: (LoadAccount | Omit<LoadAccount, 'nextNonce'>)[] | undefined

  private constructor(spec: TestnetSessionSpec, env: RunEnvironment, testnet: LocalTestnet, emit: (e: TestnetEvent) => void) {
    this.#spec = spec
    this.env = env
    this.testnet = testnet
    this.#emit = emit
    this.#running = Array.from({ length: spec.validators - spec.crashed }, (_, i) => i)
  }

  /** Creates the configs, starts validators 0 … n−crashed−1 on 127.0.0.1 and waits until each sees the others. */
  static async start(spec: TestnetSessionSpec, hooks: Pick<TestnetLoadHooks, 'signal' | 'onEvent'> = {}): Promise<TestnetSession> {
    const emit = hooks.onEvent ?? (() => {})
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
      params: spec.perturbable === true ? { ...spec.params, testing: true } : spec.params,
      node: spec.node,
      logLevel: spec.logLevel,
      ...(spec.dir !== undefined ? { dir: spec.dir } : {}),
      ...(spec.basePort !== undefined ? { basePort: spec.basePort } : {}),
      ...(spec.seed !== undefined ? { faultSeed: spec.seed } : {}),
      onUnexpectedExit: (exit) => emit({ kind: 'node-exit', exit, logPath: testnet.logPath(exit.index) }),
    })
    const session = new TestnetSession(spec, env, testnet, emit)
    try {
      emit({ kind: 'starting', dir: testnet.dir, validators: spec.validators, crashed: spec.crashed, firstUrl: session.urls[0]! })
      for (const i of session.#running) testnet.processes.start(i)
      const running = session.#running
      await testnet.waitReady({ timeoutMs: READY_TIMEOUT_MS, nodes: running, peers: running.length - 1, ...(hooks.signal !== undefined ? { signal: hooks.signal } : {}) })
    } catch (err) {
      await session.close()
      throw err
    }
    return session
  }

  /** HTTP base URLs of the running validators. */
  get urls(): string[] {
    return this.#running.map((i) => this.testnet.urls[i]!)
  }

  /**
   * Waits until the chain is drained and live (see SETTLE_TIMEOUT_MS). Reads `/status`, not the
   * `bftlab_mempool_txs` gauge: the gauge is refreshed only by submissions and status reads, so
   * after a step it keeps the last submission's count while the mempool empties.
   */
  async settle(signal?: AbortSignal): Promise<number> {
    const started = Date.now()
    let firstHeight: number | undefined
    let last = ''
    for (;;) {
      signal?.throwIfAborted()
      const answers = await Promise.allSettled(this.#running.map((i) => this.testnet.status(i, AbortSignal.timeout(2_000))))
      const views = answers.filter((a) => a.status === 'fulfilled').map((a) => a.value)
      const height = Math.max(0, ...views.map((v) => v.height))
      const mempool = views.reduce((sum, v) => sum + v.mempool, 0)
      if (views.length === this.#running.length) {
        firstHeight ??= height
        if (mempool === 0 && height > firstHeight) return Date.now() - started
      }
      last = `${views.length} of ${this.#running.length} validators answered, ${mempool} txs in mempools, height ${height}${firstHeight !== undefined ? ` (from ${firstHeight})` : ''}`
      if (Date.now() - started > SETTLE_TIMEOUT_MS) {
        throw new TestnetNotSettledError(`testnet in ${this.testnet.dir} did not drain and commit within ${SETTLE_TIMEOUT_MS / 1_000} s before step ${this.#steps + 1}: ${last}`)
      }
      await sleep(SETTLE_POLL_MS, undefined, signal !== undefined ? { signal } : undefined)
    }
  }

  /**
   * One load step: settle, sign txs from the chain's current nonces (the previous steps' txs
   * have all committed or failed by then), offer them, and measure the validators' CPU time
   * over the window.
   */
  async step(load: LoadStep, hooks: TestnetLoadHooks = {}): Promise<TestnetLoadOutcome> {
    const { signal } = hooks
    const emit = hooks.onEvent ?? this.#emit
    const settleMs = await this.settle(signal)
    const preparing = Date.now()
    this.#steps++
    const urls = this.urls
    const accounts = await this.#nextAccounts()
    const txs = await presignTransfers(accounts, Math.ceil(load.offeredTps * load.durationS), load.tx)
    const prepareMs = Date.now() - preparing
    emit({ kind: 'loading', offeredTps: load.offeredTps, durationS: load.durationS, warmupS: load.warmupS })
    const pids = this.#running.map((i) => this.testnet.processes.pid(i)).filter((pid) => pid !== undefined)
    const cpu = new CpuWindow(pids)
    // Ends with the load (drain included): steps not yet due are skipped, those in force undone.
    const loadOver = new AbortController()
    const perturbing = runPerturbations(this.testnet, load.perturbations ?? [], (line) => emit({ kind: 'perturbation', line }), {
      signal: signal === undefined ? loadOver.signal : AbortSignal.any([signal, loadOver.signal]),
    })
    let result: LoadResult
    let cpuMs: (number | undefined)[] = []
    try {
      result = await runLoad({
        targets: urls,
        offeredTps: load.offeredTps,
        durationS: load.durationS,
        warmupS: load.warmupS,
        txs,
        ...(signal !== undefined ? { signal } : {}),
        ...(load.rebroadcastS !== undefined ? { rebroadcastAfterS: load.rebroadcastS } : {}),
        ...(load.drainS !== undefined ? { drainS: load.drainS } : {}),
        onSecond: (second) => emit({ kind: 'second', second }),
        onWindowEdge: (edge) => {
          if (edge === 'start') cpu.start()
          else cpuMs = cpu.stop()
        },
      })
    } finally {
      loadOver.abort()
      await perturbing
    }
    const perturbations = await perturbing
    this.#accounts = nextNonces(accounts, result.trace)
    const start: StepStart = { drained: true, settleMs, prepareMs, step: this.#steps }
    const point = { ...loadPoint(this.#spec.validators, result, this.env, cpuCounters(cpuMs, result)), start }
    await hooks.onMeasured?.(this.env, point, { acknowledged: result.acknowledged, perturbations })
    return { env: this.env, point, acknowledged: result.acknowledged, perturbations }
  }

  /**
   * The accounts to sign the next step with. The first step reads every nonce from the chain;
   * later ones reuse what the previous step's trace proves (`nextNonces`) and read only the
   * senders it leaves open: 1,000 reads took 1.1–1.6 s a step on the shared 2-core machine.
   */
  async #nextAccounts(): Promise<LoadAccount[]> {
    if (this.#accounts === undefined) {
      const genesis = await loadGenesis(this.testnet.genesisPath)
      this.#accounts = genesisAccounts(genesis, this.testnet.genesisPath)
    }
    const known = this.#accounts
    const open = known.filter((a) => !('nextNonce' in a))
    const read = open.length === 0 ? [] : await withChainNonces(this.urls[0]!, open)
    let next = 0
    return known.map((a) => ('nextNonce' in a ? a : read[next++]!))
  }

  /** Stops the validators; the temp dir is removed unless `keep` or a `dir` was given. */
  async close(): Promise<void> {
    await this.testnet.stop()
    if (this.#spec.keep || this.#spec.dir !== undefined) this.#emit({ kind: 'kept', dir: this.testnet.dir })
    else await this.testnet.remove()
  }
}

/**
 * Each sender's next nonce after a step, from its trace: tx j was signed by sender j mod K with
 * nonce start + ⌊j / K⌋ (presign.ts). A sender's txs that the load saw committed in nonce order
 * from its first one advanced its nonce, one each; its first tx not seen committed stops that:
 * if it was refused or never sent, it and every later tx of the sender (failing on the gap)
 * leave the nonce there, so the next nonce is known. If it was admitted, it may have committed
 * after the load stopped following: only the chain knows, and the sender is left to be read.
 */
export function nextNonces(accounts: readonly LoadAccount[], trace: CommitTrace): (LoadAccount | Omit<LoadAccount, 'nextNonce'>)[] {
  const k = accounts.length
  return accounts.map((a, s) => {
    let committed = 0
    for (let j = s; j < trace.commitMs.length; j += k) {
      if (!Number.isNaN(trace.commitMs[j]!)) {
        committed++
        continue
      }
      const admitted = !Number.isNaN(trace.submitMs[j]!) && trace.rejected[j] === 0
      if (admitted) return { publicKey: a.publicKey, secretKey: a.secretKey }
      break
    }
    return { ...a, nextNonce: a.nextNonce + BigInt(committed) }
  })
}

/**
 * Per-validator CPU µs per tx: the validators' mean CPU time over the window divided by the txs
 * committed in it. Absent when a validator's time could not be read for the whole window (it
 * exited, or this is not Linux): a mean over the survivors would understate it.
 */
function cpuCounters(cpuMs: readonly (number | undefined)[], load: LoadResult): { validatorCpuUsPerTx?: number } {
  const committedInWindow = load.e2eTps * load.windowS
  if (cpuMs.length === 0 || cpuMs.some((ms) => ms === undefined) || !(committedInWindow > 0)) return {}
  const meanMs = (cpuMs as number[]).reduce((a, b) => a + b, 0) / cpuMs.length
  return { validatorCpuUsPerTx: (meanMs * 1_000) / committedInWindow }
}

/**
 * Starts validators 0 … n−crashed−1 on 127.0.0.1, drives them with one load step (signed
 * before the window opens), then stops them and returns the measured point. The temp dir is
 * removed unless `keep` or a `dir` was given.
 */
export async function runTestnetLoad(spec: TestnetLoadSpec, hooks: TestnetLoadHooks = {}): Promise<TestnetLoadOutcome> {
  const session = await TestnetSession.start({ ...spec, perturbable: spec.perturbations !== undefined }, hooks)
  try {
    return await session.step(spec, hooks)
  } finally {
    await session.close()
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
      offeredTps: config.offeredTps,
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
