import type { Block } from '../../src/core/block.ts'
import { toHex } from '../../src/core/hash.ts'
import { applyActions, type ActionEffects } from '../../src/consensus/apply-actions.ts'
import type { ConsensusCore } from '../../src/consensus/core.ts'
import type { ConsensusAction, ConsensusEvent, RecoveryState, SafetyState } from '../../src/consensus/types.ts'
import { EMPTY_PAYLOAD, N, newCore } from './fixtures.ts'

/**
 * A minimal synchronous driver for N cores: events are queued and delivered FIFO, persistence
 * succeeds at once, payloads are always available, and time only moves when the test fires
 * timers. A `silent` validator neither receives nor sends anything (crashed).
 */
export class Harness {
  readonly cores: ConsensusCore[]
  readonly committed: Block[][] = Array.from({ length: N }, () => [])
  readonly persisted: (SafetyState | undefined)[] = Array.from({ length: N }, () => undefined)
  readonly recovery: (RecoveryState | undefined)[] = Array.from({ length: N }, () => undefined)
  readonly actions: ConsensusAction[][] = Array.from({ length: N }, () => [])
  readonly silent = new Set<number>()
  readonly #timers = new Map<number, number>()
  /** Every proposal broadcast so far, by block id (hex): answers `fetchBlock`. */
  readonly proposals = new Map<string, Block>()
  readonly #queue: { node: number; event: ConsensusEvent }[] = []

  constructor() {
    this.cores = Array.from({ length: N }, (_, i) => newCore(i))
  }

  start(): void {
    for (let i = 0; i < N; i++) this.enqueue(i, { type: 'start' })
  }

  /**
   * Delivers events until `done()` holds. When nothing is in flight, time passes: every live
   * validator's current round timer fires. Throws if `maxSteps` deliveries do not get there.
   */
  runUntil(done: () => boolean, maxSteps = 20_000): void {
    for (let step = 0; !done(); step++) {
      if (step >= maxSteps) throw new Error(`harness: condition not reached after ${maxSteps} deliveries`)
      if (this.#queue.length === 0) {
        for (const [node, round] of this.#timers) this.enqueue(node, { type: 'timerFired', round })
        if (this.#queue.length === 0) throw new Error('harness: nothing in flight and no timer armed')
      }
      const { node, event } = this.#queue.shift()!
      if (this.silent.has(node)) continue
      const actions = this.cores[node]!.handle(event)
      this.actions[node]!.push(...actions)
      applyActions(actions, node, this.#effectsOf(node))
    }
  }

  runUntilHeight(height: number): void {
    this.runUntil(() => this.cores.every((c, i) => this.silent.has(i) || c.committedHeight >= height))
  }

  enqueue(node: number, event: ConsensusEvent): void {
    if (!this.silent.has(node)) this.#queue.push({ node, event })
  }

  /** Persisting succeeds at once, every message goes straight into the FIFO queue. */
  #effectsOf(node: number): ActionEffects {
    return {
      persist: (action) => {
        this.persisted[node] = action.safety
        this.recovery[node] = action.recovery
      },
      transmit: (action) => {
        if (action.type === 'send') return this.enqueue(action.to, { type: 'message', from: node, message: action.message })
        if (action.message.type === 'proposal') this.proposals.set(toHex(action.message.block.id), action.message.block)
        for (let to = 0; to < N; to++) if (to !== node) this.enqueue(to, { type: 'message', from: node, message: action.message })
      },
      loopback: (event) => this.enqueue(node, event),
      setTimer: (round) => {
        this.#timers.set(node, round)
      },
      commit: (blocks) => {
        this.committed[node]!.push(...blocks)
      },
      fetchPayload: (block) => this.enqueue(node, { type: 'payloadAvailable', blockId: block.id }),
      fetchBlock: (blockId) => {
        const block = this.proposals.get(toHex(blockId))
        if (block !== undefined) this.enqueue(node, { type: 'blockFetched', block })
      },
      buildProposal: (round) => this.enqueue(node, { type: 'proposalPayload', round, payload: EMPTY_PAYLOAD, timestamp: round, executedRoot: new Uint8Array(32), executedHeight: 0 }),
      observe: () => {},
    }
  }

  /**
   * Crash and restart every validator at once: messages in flight and timers are lost, each
   * core is rebuilt from what it persisted (safety + recovery state unless `withRecovery` is
   * false) and its last committed block.
   */
  restartAll({ withRecovery = true } = {}): void {
    this.#queue.length = 0
    this.#timers.clear()
    for (let i = 0; i < N; i++) {
      const committed = this.committed[i]!.at(-1)
      const recovery = withRecovery ? this.recovery[i] : undefined
      this.cores[i] = newCore(i, {
        ...(this.persisted[i] ? { safety: this.persisted[i] } : {}),
        ...(committed ? { committed } : {}),
        ...(recovery ? { highQc: recovery.highQc, ...(recovery.lastTc ? { lastTc: recovery.lastTc } : {}) } : {}),
      })
    }
    this.start()
  }

  silence(node: number): void {
    this.silent.add(node)
    this.#timers.delete(node)
  }
}
