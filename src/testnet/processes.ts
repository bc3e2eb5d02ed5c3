import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The CLI entry a node process runs (`bftlab node --config F`). */
export const CLI_ENTRY = fileURLToPath(new URL('../cli/bftlab.ts', import.meta.url))

/**
 * How long a node gets to shut down cleanly after SIGTERM before it is SIGKILLed. Closing
 * LevelDB, libp2p and the worker pools takes well under a second; 5 s covers a loaded machine.
 */
export const STOP_GRACE_MS = 5_000

/**
 * Node runtime flags for every validator process, from env `BFTLAB_NODE_ARGS` (space-separated),
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a testnet: Node refuses `--cpu-prof` in
 * NODE_OPTIONS, so it has to reach the command line.
 */
function nodeRuntimeArgs(env: NodeJS.ProcessEnv): string[] {
  return (env['BFTLAB_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '')
}

export interface NodeProcessSpec {
  readonly index: number
  readonly configPath: string
  /** stdout and stderr of every incarnation of the node are appended here. */
  readonly logPath: string
}

export type NodeProcessState = 'stopped' | 'running' | 'paused'

export interface NodeExit {
  readonly index: number
  readonly pid: number
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** False when the exit was not asked for (crash, or killed by someone else). */
  readonly expected: boolean
}

interface Incarnation {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<NodeExit>
  expectExit: boolean
  paused: boolean
}

/**
 * The validator processes of one local testnet: spawn, stop, kill, restart, pause and resume
 * them (the fault schedule's primitives), with every process's output captured in its log file.
 *
 * Children run in their own process group, so a terminal's Ctrl-C reaches only the orchestrator,
 * which then stops them in order. Each child also holds an IPC channel to this process: if the
 * orchestrator dies without cleaning up (even by SIGKILL), the channel closes and the node exits
 * (see src/cli/commands/node.ts), so no orphan keeps ports and data dirs busy.
 */
export class NodeProcesses {
  readonly specs: readonly NodeProcessSpec[]
  readonly #extraArgs: readonly string[]
  readonly #env: NodeJS.ProcessEnv
  readonly #graceMs: number
  readonly #onUnexpectedExit: (exit: NodeExit) => void
  readonly #running = new Map<number, Incarnation>()

  constructor(opts: {
    specs: readonly NodeProcessSpec[]
    /** Extra arguments after `node --config F` (e.g. a log level). */
    extraArgs?: readonly string[]
    env?: NodeJS.ProcessEnv
    graceMs?: number
    onUnexpectedExit?: (exit: NodeExit) => void
  }) {
    this.specs = opts.specs
    this.#extraArgs = opts.extraArgs ?? []
    this.#env = opts.env ?? process.env
    this.#graceMs = opts.graceMs ?? STOP_GRACE_MS
    this.#onUnexpectedExit = opts.onUnexpectedExit ?? (() => {})
  }

  get size(): number {
    return this.specs.length
  }

  state(index: number): NodeProcessState {
    const inc = this.#running.get(index)
    if (inc === undefined) return 'stopped'
    return inc.paused ? 'paused' : 'running'
  }

  pid(index: number): number | undefined {
    return this.#running.get(index)?.pid
  }

  /** Pids of every live incarnation (running or paused). */
  pids(): number[] {
    return [...this.#running.values()].map((inc) => inc.pid)
  }

  startAll(): void {
    for (const spec of this.specs) this.start(spec.index)
  }

  start(index: number): void {
    const spec = this.#spec(index)
    if (this.#running.has(index)) throw new Error(`node ${index} is already running (pid ${this.#running.get(index)!.pid})`)
    const log = openSync(spec.logPath, 'a')
    let child: ChildProcess
    try {
      writeSync(log, `--- bftlab testnet: starting node ${index} at ${new Date().toISOString()}\n`)
      child = spawn(process.execPath, [...nodeRuntimeArgs(this.#env), CLI_ENTRY, 'node', '--config', spec.configPath, ...this.#extraArgs], {
        stdio: ['ignore', log, log, 'ipc'],
        detached: true,
        env: this.#env,
      })
    } finally {
      // The child holds its own copy of the descriptor; ours is no longer needed.
      closeSync(log)
    }
    if (child.pid === undefined) {
      throw new Error(`node ${index}: could not spawn ${process.execPath} ${CLI_ENTRY} (see ${spec.logPath})`)
    }
    const pid = child.pid
    // The channel exists only so the child notices our death; it must not keep us alive.
    child.channel?.unref()
    const exited = new Promise<NodeExit>((resolve) => {
      child.once('exit', (code, signal) => {
        const inc = this.#running.get(index)
        const expected = inc?.child === child ? inc.expectExit : true
        if (inc?.child === child) this.#running.delete(index)
        const exit: NodeExit = { index, pid, code, signal, expected }
        if (!expected) this.#onUnexpectedExit(exit)
        resolve(exit)
      })
    })
    this.#running.set(index, { child, pid, exited, expectExit: false, paused: false })
  }

  /** Crash-stop: SIGKILL, no chance to flush anything. Resolves once the process is gone. */
  async kill(index: number): Promise<NodeExit | undefined> {
    const inc = this.#running.get(index)
    if (inc === undefined) return undefined
    inc.expectExit = true
    inc.child.kill('SIGKILL')
    return inc.exited
  }

  /** Clean stop: SIGTERM, then SIGKILL if the node has not exited within the grace period. */
  async stop(index: number): Promise<NodeExit | undefined> {
    const inc = this.#running.get(index)
    if (inc === undefined) return undefined
    inc.expectExit = true
    // A stopped process keeps SIGTERM pending until continued; wake it so it can shut down.
    if (inc.paused) inc.child.kill('SIGCONT')
    inc.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const escalate = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        inc.child.kill('SIGKILL')
        resolve()
      }, this.#graceMs)
    })
    await Promise.race([inc.exited, escalate])
    clearTimeout(timer)
    return inc.exited
  }

  async stopAll(): Promise<NodeExit[]> {
    const exits = await Promise.all(this.specs.map((s) => this.stop(s.index)))
    return exits.filter((e): e is NodeExit => e !== undefined)
  }

  async killAll(): Promise<NodeExit[]> {
    const exits = await Promise.all(this.specs.map((s) => this.kill(s.index)))
    return exits.filter((e): e is NodeExit => e !== undefined)
  }

  /** Crash and come back: the node recovers from its data dir and catches up from peers. */
  async restart(index: number, how: 'kill' | 'stop' = 'kill'): Promise<void> {
    await (how === 'kill' ? this.kill(index) : this.stop(index))
    this.start(index)
  }

  /** Freeze the process (SIGSTOP): to its peers it looks like a node that stopped answering. */
  pause(index: number): void {
    const inc = this.#live(index)
    inc.child.kill('SIGSTOP')
    inc.paused = true
  }

  resume(index: number): void {
    const inc = this.#live(index)
    inc.child.kill('SIGCONT')
    inc.paused = false
  }

  #live(index: number): Incarnation {
    const inc = this.#running.get(index)
    if (inc === undefined) throw new Error(`node ${index} is not running`)
    return inc
  }

  #spec(index: number): NodeProcessSpec {
    const spec = this.specs.find((s) => s.index === index)
    if (spec === undefined) throw new Error(`no node ${index} in this testnet (nodes 0..${this.specs.length - 1})`)
    return spec
  }
}
