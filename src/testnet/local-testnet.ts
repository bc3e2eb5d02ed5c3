import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { makeTestnetConfigs, type ChainParams, type LogLevel, type NodeConfigFile, type TestnetConfigs } from '../node/config.ts'
import type { StatusView } from '../node/http.ts'
import { fetchJson } from './node-client.ts'
import { findFreePortRange } from './ports.ts'
import { NodeProcesses, type NodeExit } from './processes.ts'

export interface LocalTestnetOptions {
  readonly validators: number
  readonly accounts: number
  /** Configs, data and logs go here; default a fresh temp dir (removed by `remove()`). */
  readonly dir?: string
  /** p2p ports base … base+n−1, HTTP ports base+n … base+2n−1; default a free range. */
  readonly basePort?: number
  readonly params?: Partial<ChainParams>
  readonly logLevel?: LogLevel
  /** Merged into every node config (worker counts, faults …). */
  readonly node?: Partial<NodeConfigFile>
  /** The run's seed for the validators' emulated-fault draws (TestnetOptions.faultSeed). */
  readonly faultSeed?: number
  readonly onUnexpectedExit?: (exit: NodeExit) => void
}

/** How often readiness is polled while nodes start: fast enough to not dominate test time. */
const READY_POLL_MS = 200
/** Lines of a node's log quoted when it fails, usually enough to include the error and its cause. */
const LOG_TAIL_LINES = 15

/**
 * N validator processes on 127.0.0.1 sharing one generated genesis: what `bftlab testnet` runs
 * load against and what the multi-process tests crash and restart.
 */
export class LocalTestnet {
  readonly dir: string
  readonly configs: TestnetConfigs
  readonly processes: NodeProcesses
  /** HTTP base URL of validator i. */
  readonly urls: readonly string[]
  readonly #temporary: boolean

  private constructor(dir: string, temporary: boolean, configs: TestnetConfigs, processes: NodeProcesses) {
    this.dir = dir
    this.#temporary = temporary
    this.configs = configs
    this.processes = processes
    this.urls = configs.genesis.validators.map((v) => v.http)
  }

  static async create(opts: LocalTestnetOptions): Promise<LocalTestnet> {
    const temporary = opts.dir === undefined
    const dir = opts.dir === undefined ? await mkdtemp(join(tmpdir(), 'bftlab-testnet-')) : resolve(opts.dir)
    const basePort = opts.basePort ?? (await findFreePortRange(2 * opts.validators))
    const configs = await makeTestnetConfigs({
      validators: opts.validators,
      accounts: opts.accounts,
      basePort,
      baseHttpPort: basePort + opts.validators,
      dir,
      ...(opts.params !== undefined ? { params: opts.params } : {}),
      ...(opts.faultSeed !== undefined ? { faultSeed: opts.faultSeed } : {}),
      node: { ...opts.node, ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}) },
    })
    const processes = new NodeProcesses({
      specs: configs.nodeConfigPaths.map((configPath, index) => ({ index, configPath, logPath: join(dir, `node-${index}.log`) })),
      ...(opts.onUnexpectedExit !== undefined ? { onUnexpectedExit: opts.onUnexpectedExit } : {}),
    })
    return new LocalTestnet(dir, temporary, configs, processes)
  }

  get size(): number {
    return this.urls.length
  }

  get genesisPath(): string {
    return this.configs.genesisPath
  }

  logPath(index: number): string {
    return join(this.dir, `node-${index}.log`)
  }

  start(): void {
    this.processes.startAll()
  }

  status(index: number, signal?: AbortSignal): Promise<StatusView> {
    return fetchJson<StatusView>(this.urls[index]!, '/status', signal)
  }

  /**
   * Resolves once each given node (default all) answers `/status` and sees `peers` peers
   * (default all n−1; fewer when some validators are deliberately not running).
   * Fails fast, quoting the node's log, if one of them is not running any more.
   */
  async waitReady(opts: { timeoutMs: number; nodes?: readonly number[]; peers?: number; signal?: AbortSignal }): Promise<void> {
    const nodes = opts.nodes ?? this.urls.map((_, i) => i)
    const peers = opts.peers ?? this.size - 1
    const deadline = Date.now() + opts.timeoutMs
    const pending = new Set(nodes)
    const seen = new Map<number, string>()
    while (pending.size > 0) {
      opts.signal?.throwIfAborted()
      for (const i of pending) {
        if (this.processes.state(i) === 'stopped') {
          throw new Error(`node ${i} exited while starting; ${this.logPath(i)} ends with:\n${await this.logTail(i)}`)
        }
        try {
          const s = await this.status(i, AbortSignal.timeout(READY_POLL_MS * 5))
          seen.set(i, `${s.peers}/${peers} peers`)
          if (s.peers >= peers) pending.delete(i)
        } catch (err) {
          seen.set(i, `no /status answer (${(err as Error).message})`)
        }
      }
      if (pending.size === 0) return
      if (Date.now() > deadline) {
        const detail = [...pending].map((i) => `node ${i}: ${seen.get(i) ?? 'not polled'}`).join('; ')
        // The directory may be removed when the caller stops the testnet: quote the logs here.
        const tails = await Promise.all([...pending].map(async (i) => `${this.logPath(i)} ends with:\n${await this.logTail(i)}`))
        throw new Error(`testnet not ready after ${opts.timeoutMs} ms: ${detail}\n${tails.join('\n')}`)
      }
      await sleep(READY_POLL_MS, undefined, opts.signal ? { signal: opts.signal } : undefined)
    }
  }

  async logTail(index: number, lines = LOG_TAIL_LINES): Promise<string> {
    try {
      const text = await readFile(this.logPath(index), 'utf8')
      return text.trimEnd().split('\n').slice(-lines).join('\n')
    } catch (err) {
      return `(cannot read log: ${(err as Error).message})`
    }
  }

  /** Stops every node (SIGTERM, SIGKILL after the grace period). */
  async stop(): Promise<NodeExit[]> {
    return this.processes.stopAll()
  }

  /** Deletes the directory if this testnet created it (a user-given `--dir` is kept). */
  async remove(): Promise<void> {
    if (this.#temporary) await rm(this.dir, { recursive: true, force: true })
  }
}
