import { setTimeout as sleep } from 'node:timers/promises'
import type { LinkFaults } from '../network/faults.ts'
import type { LocalTestnet } from './local-testnet.ts'
import { postJson } from './node-client.ts'
import type { PerturbationStep } from './perturbation-schedule.ts'

/** The steps that act on links rather than processes. */
export type LinkStep = Extract<PerturbationStep, { action: 'disconnect' | 'delay' | 'loss' | 'partition' }>

/** One admin request must not hold the schedule up: a healthy node answers in milliseconds. */
const ADMIN_TIMEOUT_MS = 3_000
/** How long a restarted node gets to open its HTTP API before its links are left as they are. */
const RESTART_READY_MS = 60_000
const READY_POLL_MS = 200

/**
 * What every validator's link emulation should be, given the link steps in force, and the
 * machinery that makes each node match it through `POST /admin/faults`.
 *
 * The controller keeps the desired state rather than replaying individual steps, because
 * steps overlap and nodes come and go: a validator that restarts comes back with clean links,
 * one that is paused cannot be told anything, and when a step ends the links must fall back to
 * whatever the remaining steps (and the node's configured baseline) say, not to "no faults".
 * Each node is sent only the links that differ from what it was last told.
 */
export class LinkFaultController {
  readonly #testnet: LocalTestnet
  /** Each node's configured outbound faults (benchmark network profiles), which steps add to. */
  readonly #baseline: readonly LinkFaults[]
  readonly #active = new Set<LinkStep>()
  /** What node i's links to each peer are known to be; undefined after a failed push (unknown). */
  readonly #applied: (Map<number, LinkFaults> | undefined)[]
  /** Pushes are serialized so a node never receives an older state after a newer one. */
  #queue: Promise<void> = Promise.resolve()
  readonly #pendingRestarts = new Set<Promise<void>>()
  /** Nodes being stopped or not yet serving after a start: skipped, not counted as failures. */
  readonly #offline = new Set<number>()

  constructor(testnet: LocalTestnet) {
    this.#testnet = testnet
    this.#baseline = testnet.configs.nodes.map((n) => ({
      delayMs: n.faults?.delayMs ?? 0,
      jitterMs: n.faults?.jitterMs ?? 0,
      lossRate: n.faults?.lossRate ?? 0,
      down: false,
    }))
    this.#applied = this.#baseline.map((_, i) => this.#baselineLinks(i))
  }

  get activeSteps(): number {
    return this.#active.size
  }

  /** Puts a step in force and pushes the result; resolves with the push errors (none: all applied). */
  add(step: LinkStep): Promise<string[]> {
    this.#active.add(step)
    return this.sync()
  }

  remove(step: LinkStep): Promise<string[]> {
    this.#active.delete(step)
    return this.sync()
  }

  /** Ends every partition and disconnect in force (the `heal` step); delay and loss stay. */
  heal(): Promise<string[]> {
    for (const step of this.#active) if (step.action === 'partition' || step.action === 'disconnect') this.#active.delete(step)
    return this.sync()
  }

  /** Ends every step in force (end of the schedule). */
  clear(): Promise<string[]> {
    this.#active.clear()
    return this.sync()
  }

  /**
   * Pushes the desired state to every running node. A stopped or paused node is skipped and
   * keeps its recorded state: it is brought up to date when it restarts or resumes.
   */
  sync(): Promise<string[]> {
    const run = this.#queue.then(async () => {
      const errors: string[] = []
      await Promise.all(
        this.#testnet.urls.map(async (_, i) => {
          if (this.#offline.has(i) || this.#testnet.processes.state(i) !== 'running') return
          const error = await this.#push(i)
          if (error !== undefined) errors.push(error)
        }),
      )
      return errors
    })
    this.#queue = run.then(() => undefined)
    return run
  }

  /** Node i is about to be stopped or killed: it is left alone until it has been started again. */
  nodeGoingDown(i: number): void {
    this.#offline.add(i)
  }

  /**
   * Node i was just started again: it runs with its configured links only. Once its API
   * answers, it is given the links the steps in force require.
   */
  nodeRestarted(i: number): void {
    this.#applied[i] = this.#baselineLinks(i)
    const pending = this.#whenReady(i)
      .then((ready) => {
        if (!ready) return undefined
        this.#offline.delete(i)
        return this.sync()
      })
      .then(() => undefined)
    this.#pendingRestarts.add(pending)
    void pending.finally(() => this.#pendingRestarts.delete(pending))
  }

  /** Waits for every restarted node to have been brought up to date. */
  async settled(): Promise<void> {
    while (this.#pendingRestarts.size > 0) await Promise.all(this.#pendingRestarts)
    await this.#queue
  }

  /** The faults node i should apply on its outbound link to peer j. */
  desired(i: number, j: number): LinkFaults {
    const base = this.#baseline[i]!
    let down = false
    let delayMs = base.delayMs
    let jitterMs = base.jitterMs
    let delivered = 1 - base.lossRate
    const touches = (nodes: readonly number[] | '*'): boolean => nodes === '*' || nodes.includes(i) || nodes.includes(j)
    for (const step of this.#active) {
      switch (step.action) {
        case 'disconnect':
          down ||= touches(step.nodes)
          break
        case 'partition': {
          const group = step.groups.find((g) => g.includes(i))
          down ||= group === undefined || !group.includes(j)
          break
        }
        case 'delay':
          // Both ends of a link carry the step: each direction is delayed once, by its sender.
          if (touches(step.nodes)) {
            delayMs += step.delayMs
            jitterMs += step.jitterMs
          }
          break
        case 'loss':
          if (touches(step.nodes)) delivered *= 1 - step.lossRate
          break
      }
    }
    return { delayMs, jitterMs, lossRate: 1 - delivered, down }
  }

  #baselineLinks(i: number): Map<number, LinkFaults> {
    const links = new Map<number, LinkFaults>()
    for (let j = 0; j < this.#testnet.size; j++) if (j !== i) links.set(j, this.#baseline[i]!)
    return links
  }

  /** Sends node i the links that differ from what it has, grouped by value (one request per group). */
  async #push(i: number): Promise<string | undefined> {
    const known = this.#applied[i]
    const groups = new Map<string, { faults: LinkFaults; peers: number[] }>()
    const next = new Map<number, LinkFaults>()
    for (let j = 0; j < this.#testnet.size; j++) {
      if (j === i) continue
      const want = this.desired(i, j)
      next.set(j, want)
      const have = known?.get(j)
      if (have !== undefined && sameFaults(have, want)) continue
      const key = JSON.stringify(want)
      const group = groups.get(key) ?? { faults: want, peers: [] }
      group.peers.push(j)
      groups.set(key, group)
    }
    if (groups.size === 0) return undefined
    try {
      for (const { faults, peers } of groups.values()) {
        await postJson(this.#testnet.urls[i]!, '/admin/faults', { peers, ...faults }, AbortSignal.timeout(ADMIN_TIMEOUT_MS))
      }
      this.#applied[i] = next
      return undefined
    } catch (err) {
      this.#applied[i] = undefined
      return `node ${i}: link faults not applied: ${(err as Error).message}`
    }
  }

  /** True once node i answers /status; false if it stops running or never answers in time. */
  async #whenReady(i: number): Promise<boolean> {
    const deadline = Date.now() + RESTART_READY_MS
    while (Date.now() < deadline && this.#testnet.processes.state(i) === 'running') {
      try {
        await this.#testnet.status(i, AbortSignal.timeout(ADMIN_TIMEOUT_MS))
        return true
      } catch {
        await sleep(READY_POLL_MS)
      }
    }
    return false
  }
}

function sameFaults(a: LinkFaults, b: LinkFaults): boolean {
  return a.delayMs === b.delayMs && a.jitterMs === b.jitterMs && a.lossRate === b.lossRate && a.down === b.down
}
