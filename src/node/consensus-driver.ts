import type { Block, Payload } from '../core/block.ts'
import { toHex } from '../core/hash.ts'
import type { Logger } from '../core/logger.ts'
import type { QuorumCert } from '../core/vote.ts'
import { applyActions, type ActionEffects, type ObservedAction } from '../consensus/apply-actions.ts'
import type { ConsensusCore } from '../consensus/core.ts'
import type { ConsensusEvent, PersistSafety, RecoveryState, SafetyState, SendAction } from '../consensus/types.ts'

/** What a leader proposes with, gathered synchronously from local state. */
export interface ProposalContents {
  readonly payload: Payload
  readonly executedRoot: Uint8Array
  readonly executedHeight: number
}

/** The I/O the driver performs on the core's behalf; ValidatorNode supplies it. */
export interface DriverEffects {
  /** Durable (fsync) when it resolves. */
  persistSafety(safety: SafetyState, recovery: RecoveryState): Promise<void>
  /** A send to another validator, or a broadcast to all others. */
  transmit(action: SendAction): void
  /** Resolves true once every batch the block references is held locally. */
  fetchPayload(block: Block): Promise<boolean>
  /** Asks `from` (then others) for a block by id. */
  fetchBlock(blockId: Uint8Array, from: number): Promise<Block | undefined>
  /** May wait a little for a payload; the core ignores an answer for a round it has left. */
  buildProposal(round: number, height: number): Promise<ProposalContents>
  /** Hands committed blocks to the (ordered, asynchronous) commit pipeline. */
  commit(blocks: readonly Block[], proof: QuorumCert): void
  /** The round timer expired (before the core handles it). */
  timerExpired(round: number): void
  /** Informational actions: roundChanged, evidence, rejected. */
  observe(action: ObservedAction): void
}

/**
 * Runs the sans-I/O consensus core: feeds it one event at a time and carries out the returned
 * actions (consensus/apply-actions.ts: persist before release, sends to self come back as
 * messages) before the next event is handled, so the core never sees an event while its
 * previous action list is half applied (e.g. a vote not yet persisted). Slow work (fetching
 * payloads or blocks, building a proposal, execution) runs outside the queue and re-enters it
 * as an event.
 */
export class ConsensusDriver {
  readonly #core: ConsensusCore
  readonly #index: number
  readonly #effects: DriverEffects
  readonly #actions: ActionEffects
  readonly #log: Logger
  readonly #queue: ConsensusEvent[] = []
  #running = false
  #stopped = false
  #timer: NodeJS.Timeout | undefined
  /** Settles when the queue drains; lets callers (tests, shutdown) wait for quiescence. */
  #idleWaiters: (() => void)[] = []

  constructor(core: ConsensusCore, index: number, effects: DriverEffects, log: Logger) {
    this.#core = core
    this.#index = index
    this.#effects = effects
    this.#log = log
    this.#actions = {
      persist: (action) => this.#persist(action),
      transmit: (action) => effects.transmit(action),
      loopback: (event) => this.enqueue(event),
      setTimer: (round, durationMs) => this.#setTimer(round, durationMs),
      commit: (blocks, proof) => effects.commit(blocks, proof),
      fetchPayload: (block) => this.#fetchPayload(block),
      fetchBlock: (blockId, from) => this.#fetchBlock(blockId, from),
      buildProposal: (round, height) => this.#buildProposal(round, height),
      observe: (action) => effects.observe(action),
    }
  }

  get core(): ConsensusCore {
    return this.#core
  }

  start(): void {
    this.enqueue({ type: 'start' })
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#queue.length = 0
  }

  enqueue(event: ConsensusEvent): void {
    if (this.#stopped) return
    this.#queue.push(event)
    if (!this.#running) void this.#drain()
  }

  /** Resolves once every queued event has been handled and its actions applied. */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  async #drain(): Promise<void> {
    this.#running = true
    try {
      while (this.#queue.length > 0 && !this.#stopped) {
        const event = this.#queue.shift()!
        try {
          await applyActions(this.#core.handle(event), this.#index, this.#actions)
        } catch (err) {
          // A failed fsync must not release the votes that depended on it: the actions before it
          // were applied, the rest of the list is dropped. The core already counts the vote as
          // cast, so it never signs a second one for that round; the round timer moves it on.
          this.#log.error({ err, event: event.type }, 'consensus action failed')
        }
      }
    } finally {
      this.#running = false
      for (const resolve of this.#idleWaiters.splice(0)) resolve()
    }
  }

  async #persist(action: PersistSafety): Promise<void> {
    await this.#effects.persistSafety(action.safety, action.recovery)
    this.#logSigned(action.then)
  }

  /**
   * One debug line per vote or timeout released (a broadcast and its send-to-self carry the same
   * message, logged once): `bftlab check` scans these across restarts for double signing.
   */
  #logSigned(sends: readonly SendAction[]): void {
    for (const message of new Set(sends.map((s) => s.message))) {
      if (message.type === 'vote') this.#log.debug({ kind: 'vote', round: message.vote.round, blockId: toHex(message.vote.blockId) }, 'signed')
      else if (message.type === 'timeout') this.#log.debug({ kind: 'timeout', round: message.timeout.round, highQcRound: message.timeout.highQc.round }, 'signed')
    }
  }

  #setTimer(round: number, durationMs: number): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#effects.timerExpired(round)
      this.enqueue({ type: 'timerFired', round })
    }, durationMs)
  }

  #fetchPayload(block: Block): void {
    this.#effects.fetchPayload(block).then(
      (available) => {
        if (available) this.enqueue({ type: 'payloadAvailable', blockId: block.id })
      },
      (err: unknown) => this.#log.warn({ err, block: toHex(block.id), round: block.round }, 'payload fetch failed'),
    )
  }

  #buildProposal(round: number, height: number): void {
    this.#effects.buildProposal(round, height).then(
      (contents) => this.enqueue({ type: 'proposalPayload', round, timestamp: Date.now(), ...contents }),
      (err: unknown) => this.#log.error({ err, round }, 'building a proposal failed'),
    )
  }

  #fetchBlock(blockId: Uint8Array, from: number): void {
    this.#effects.fetchBlock(blockId, from).then(
      (block) => {
        if (block !== undefined) this.enqueue({ type: 'blockFetched', block })
      },
      (err: unknown) => this.#log.warn({ err, block: toHex(blockId), from }, 'block fetch failed'),
    )
  }
}
