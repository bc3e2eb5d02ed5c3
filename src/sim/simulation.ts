import { applyActions, type ActionEffects } from '../consensus/apply-actions.ts'
import { ConsensusCore } from '../consensus/core.ts'
import { RoundRobin } from '../consensus/leader.ts'
import { decodeConsensusMessage, encodeConsensusMessage } from '../consensus/messages.ts'
import type { ConsensusAction, ConsensusEvent, ConsensusMessage, PersistSafety } from '../consensus/types.ts'
import { encodeBlock, genesisBlock, type Block } from '../core/block.ts'
import { Committee } from '../core/committee.ts'
import { HASH_BYTES, sha256, toHex } from '../core/hash.ts'
import { deriveSeed, keyPairFromSeed, type KeyPair } from '../core/keys.ts'
import { createBehaviour, type Transmission } from './byzantine.ts'
import { LivenessChecker, SafetyChecker, type LivenessViolation, type SafetyViolation } from './checkers.ts'
import { validateSimConfig, type SimConfig } from './config.ts'
import { ProcessorQueue } from './cpu.ts'
import { SimEndpoint } from './endpoint.ts'
import { EventQueue } from './event-queue.ts'
import { LoadModel } from './load.ts'
import { SimMetrics, type SimStats } from './metrics.ts'
import { NetworkModel } from './network.ts'
import { Prng } from '../core/prng.ts'
import { TraceHash } from './trace.ts'

export interface SimResult {
  readonly seed: number
  readonly validators: number
  /** SHA-256 over every delivery, timer and commit: equal for equal (seed, config). */
  readonly traceHash: string
  readonly stats: SimStats
  readonly safetyViolations: readonly SafetyViolation[]
  /** Undefined when liveness was not checked (not requested, or more than f faulty validators). */
  readonly livenessViolations: readonly LivenessViolation[] | undefined
}

/** A ConsensusCore threw while handling an event: a bug in the core (or the driver), with replay data. */
export class SimulationError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
    this.name = 'SimulationError'
  }
}

/** Trace record kinds (one byte in the trace hash). */
const TRACE = { start: 0, message: 1, timer: 2, payload: 3, fetched: 4, proposalPayload: 5, commit: 6 } as const

/** Block-sync request: a block id plus an 8-byte request envelope. */
const BLOCK_REQUEST_BYTES = HASH_BYTES + 8

/** Added to a sync round trip before retrying elsewhere: covers CPU queueing at the peer. */
const SYNC_RETRY_SLACK_MS = 50

/** Genesis state root of the simulated chain (the simulator models execution, it does not run it). */
const SIM_STATE_ROOT = sha256(new TextEncoder().encode('bftlab/sim/genesis-state'))

/**
 * A deterministic discrete-event simulation of n validators running the real ConsensusCore over a
 * modelled network, CPU and workload. Everything random comes from the seed; virtual time only
 * advances through the event queue, so a run is reproducible bit for bit (see `traceHash`).
 */
export class Simulation {
  readonly config: SimConfig
  readonly committee: Committee
  readonly genesis: Block
  readonly #queue = new EventQueue()
  readonly #network: NetworkModel
  readonly #load: LoadModel
  readonly #metrics: SimMetrics
  readonly #safety: SafetyChecker
  readonly #liveness: LivenessChecker | undefined
  readonly #trace = new TraceHash()
  readonly #keys: readonly KeyPair[]
  readonly #election: RoundRobin
  readonly #endpoints: SimEndpoint[] = []
  readonly #endpointsOf = new Map<number, SimEndpoint[]>()
  readonly #effects = new Map<SimEndpoint, ActionEffects>()
  /** How long block sync waits for a peer's answer before asking the next one: a round trip after GST, plus slack. */
  readonly #syncRetryMs: number
  /** Every honest running validator has committed since the network became stable. */
  #livenessDecided = false

  constructor(config: SimConfig) {
    validateSimConfig(config)
    this.config = config
    const prng = new Prng(config.seed)
    this.#network = new NetworkModel(config.network, prng.fork())
    this.#syncRetryMs = 2 * this.#network.maxDelayMs + SYNC_RETRY_SLACK_MS
    const topologyPrng = prng.fork()
    this.#load = new LoadModel(config.load)
    this.#metrics = new SimMetrics(this.#load)
    this.#keys = Array.from({ length: config.validators }, (_, i) => keyPairFromSeed(deriveSeed('bftlab/sim/validator', i)))
    this.committee = new Committee(this.#keys.map((k) => k.publicKey))
    this.#election = new RoundRobin(config.validators)
    this.genesis = genesisBlock('bftlab-sim', SIM_STATE_ROOT)
    this.#safety = new SafetyChecker(this.genesis)
    this.#liveness = this.#livenessChecker()
    for (let i = 0; i < config.validators; i++) this.#addValidator(i, topologyPrng)
  }

  /** Faulty validators: Byzantine ones and those that ever crash. */
  get faulty(): number {
    return this.config.byzantine.length + this.config.crashes.length
  }

  /**
   * Liveness is judged only where the model promises it: at most f faulty validators, and losses
   * that stop (after GST every message between correct validators arrives within Δ).
   */
  #livenessChecker(): LivenessChecker | undefined {
    const c = this.config
    if (c.liveness === undefined || this.faulty > this.committee.f) return undefined
    if (c.network.dropProbability > 0 && c.network.dropUntilMs === undefined) return undefined
    let stable = Math.max(c.network.gstMs, this.#network.lastHealMs, c.network.dropUntilMs ?? 0)
    for (const cr of c.crashes) stable = Math.max(stable, cr.recoverAtMs ?? cr.atMs)
    return new LivenessChecker(stable, c.liveness.boundMs)
  }

  #addValidator(index: number, topologyPrng: Prng): void {
    const spec = this.config.byzantine.find((b) => b.validator === index)
    let views: (ReadonlySet<number> | undefined)[] = [undefined]
    if (spec?.strategy === 'double-vote') {
      // Twins: two honest cores with one key, each wired to a different half of the others.
      const others = topologyPrng.shuffled(Array.from({ length: this.config.validators }, (_, i) => i).filter((i) => i !== index))
      const half = Math.ceil(others.length / 2)
      views = [new Set(others.slice(0, half)), new Set(others.slice(half))]
    }
    const list: SimEndpoint[] = []
    for (const visible of views) {
      const behaviour =
        spec === undefined
          ? undefined
          : createBehaviour(spec.strategy, {
              index,
              secretKey: this.#keys[index]!.secretKey,
              genesis: this.genesis,
              voteCollector: (round) => this.#election.leader(round + 1),
            })
      const ep = new SimEndpoint({
        id: this.#endpoints.length,
        index,
        behaviour,
        visible,
        cpu: new ProcessorQueue(this.config.cpu),
        core: this.#newCore(index, undefined, this.genesis),
        genesis: this.genesis,
      })
      this.#endpoints.push(ep)
      list.push(ep)
    }
    this.#endpointsOf.set(index, list)
  }

  #newCore(index: number, persisted: Pick<PersistSafety, 'safety' | 'recovery'> | undefined, committed: Block): ConsensusCore {
    return new ConsensusCore({
      index,
      committee: this.committee,
      secretKey: this.#keys[index]!.secretKey,
      genesis: this.genesis,
      leaderElection: this.#election,
      baseTimeoutMs: this.config.baseTimeoutMs,
      maxTimeoutMs: this.config.maxTimeoutMs,
      ...(persisted !== undefined
        ? { safety: persisted.safety, highQc: persisted.recovery.highQc, ...(persisted.recovery.lastTc ? { lastTc: persisted.recovery.lastTc } : {}) }
        : {}),
      committed,
      ...(this.config.testFaults !== undefined ? { testFaults: this.config.testFaults } : {}),
    })
  }

  /** Runs to the end (duration, or `rounds` reached and the liveness deadline passed). */
  run(): SimResult {
    const q = this.#queue
    for (const ep of this.#endpoints) this.#enqueue(ep, 0, 0, { type: 'start' }, TRACE.start)
    for (const cr of this.config.crashes) {
      q.at(cr.atMs, () => this.#crash(cr.validator))
      if (cr.recoverAtMs !== undefined) q.at(cr.recoverAtMs, () => this.#recover(cr.validator))
    }
    // The run's own goal is the duration or the round target; a pending liveness verdict
    // extends it up to the liveness deadline, and a decided one ends it early.
    const liveness = this.#liveness
    const endMs = Math.max(this.config.durationMs, liveness?.deadlineMs ?? 0)
    const roundsTarget = this.config.rounds ?? Infinity
    for (;;) {
      const next = q.peekTime()
      if (next === undefined || next > endMs) break
      const goalReached = next > this.config.durationMs || this.#metrics.maxRound >= roundsTarget
      if (goalReached && (liveness === undefined || this.#livenessDecided)) break
      q.step()
    }
    const virtualMs = Math.min(endMs, q.now)
    // The load runs until durationMs unless the rounds target ended the run first.
    const loadEndMs = this.#metrics.maxRound >= roundsTarget ? Math.min(virtualMs, this.config.durationMs) : this.config.durationMs
    let maxBusy = 0
    for (const ep of this.#endpoints) maxBusy = Math.max(maxBusy, ep.cpu.busyMs)
    return {
      seed: this.config.seed,
      validators: this.config.validators,
      traceHash: this.#trace.digestHex(),
      stats: this.#metrics.finish(virtualMs, maxBusy, loadEndMs, this.config.load.warmupMs),
      safetyViolations: this.#safety.violations,
      livenessViolations: this.#liveness?.check(this.#honestRunning()),
    }
  }

  #honestRunning(): number[] {
    return this.#endpoints.filter((ep) => ep.honest && ep.running).map((ep) => ep.index)
  }

  // ---- processes -------------------------------------------------------------------------

  /**
   * Queues `event` on the endpoint's processor at `arrival` (now or later); the core handles
   * it when the CPU model says the work is done. A crash in between voids it.
   */
  #enqueue(ep: SimEndpoint, arrival: number, costMs: number, event: ConsensusEvent, kind: number, bytes?: Uint8Array): void {
    const incarnation = ep.incarnation
    const done = ep.cpu.enqueue(arrival, costMs)
    this.#queue.at(done, () => {
      if (ep.incarnation === incarnation) this.#handle(ep, event, kind, bytes)
    })
  }

  #handle(ep: SimEndpoint, event: ConsensusEvent, kind: number, bytes?: Uint8Array): void {
    const now = this.#queue.now
    this.#trace.record(now, ep.id, kind, bytes)
    if (event.type === 'message' && event.message.type === 'proposal') ep.remember(event.message.block)
    else if (event.type === 'blockFetched') ep.remember(event.block)
    ep.behaviour?.observe(event)
    let actions: ConsensusAction[]
    try {
      actions = ep.core.handle(event)
    } catch (err) {
      throw new SimulationError(
        `seed ${this.config.seed}, n=${this.config.validators}: validator ${ep.index} (endpoint ${ep.id}) threw on ${event.type} at ${now.toFixed(3)} virtual ms: ${String(err)}`,
        { cause: err },
      )
    }
    const signMs = ep.cpu.signCostMs(actions)
    if (signMs === 0) return void applyActions(actions, ep.index, this.#effectsOf(ep))
    const releaseAt = ep.cpu.extend(now, signMs)
    const incarnation = ep.incarnation
    this.#queue.at(releaseAt, () => {
      if (ep.incarnation === incarnation) applyActions(actions, ep.index, this.#effectsOf(ep))
    })
  }

  /**
   * The simulated world of one endpoint: persisting is instant (and survives a crash), messages
   * cross the modelled network, time is virtual. A Byzantine behaviour rewrites everything the
   * core emits, its loopback included (a `silent` validator does not even hear its own vote).
   */
  #effectsOf(ep: SimEndpoint): ActionEffects {
    let effects = this.#effects.get(ep)
    if (effects !== undefined) return effects
    effects = {
      persist: (a) => {
        ep.persisted = { safety: a.safety, recovery: a.recovery }
      },
      transmit: (a) => this.#emit(ep, a.type === 'send' ? [a.to] : this.#everyoneBut(ep.index), a.message),
      loopback: (event) => this.#emit(ep, [ep.index], event.message),
      setTimer: (round, durationMs) => this.#setTimer(ep, round, durationMs),
      commit: (blocks) => this.#onCommit(ep, blocks),
      // Batches travel outside consensus and are assumed held by everyone (see LoadModel).
      fetchPayload: (block) => this.#enqueue(ep, this.#queue.now, 0, { type: 'payloadAvailable', blockId: block.id }, TRACE.payload, block.id),
      fetchBlock: (blockId, from) => this.#requestBlock(ep, blockId, from),
      buildProposal: (round) => {
        const now = this.#queue.now
        const event: ConsensusEvent = { type: 'proposalPayload', round, payload: this.#load.takePayload(now), timestamp: Math.floor(now), executedRoot: SIM_STATE_ROOT, executedHeight: 0 }
        this.#enqueue(ep, now, 0, event, TRACE.proposalPayload)
      },
      observe: (a) => {
        if (!ep.honest) return
        if (a.type === 'roundChanged') this.#metrics.onRoundChanged(a.round, a.reason)
        else if (a.type === 'evidence') this.#metrics.evidence++
        else this.#metrics.rejected++
      },
    }
    this.#effects.set(ep, effects)
    return effects
  }

  #setTimer(ep: SimEndpoint, round: number, durationMs: number): void {
    const generation = ++ep.timerGeneration
    const incarnation = ep.incarnation
    this.#queue.after(durationMs, () => {
      if (ep.incarnation === incarnation && ep.timerGeneration === generation) {
        this.#enqueue(ep, this.#queue.now, 0, { type: 'timerFired', round }, TRACE.timer)
      }
    })
  }

  #onCommit(ep: SimEndpoint, blocks: readonly Block[]): void {
    const now = this.#queue.now
    ep.onCommit(blocks)
    for (const b of blocks) this.#trace.record(now, ep.id, TRACE.commit, b.id)
    if (!ep.honest) return
    this.#safety.onCommit(ep.index, blocks, now)
    if (this.#liveness !== undefined) {
      this.#liveness.onCommit(ep.index, now)
      this.#livenessDecided ||= this.#liveness.allProgressed(this.#honestRunning())
    }
    this.#metrics.onCommit(blocks, now)
  }

  // ---- network ---------------------------------------------------------------------------

  /** The endpoint of validator `to` that `from` is connected to (Twins see different peers). */
  #route(from: SimEndpoint, to: number): SimEndpoint | undefined {
    if (from.visible !== undefined && !from.visible.has(to)) return undefined
    const candidates = this.#endpointsOf.get(to)
    if (candidates === undefined) return undefined
    if (candidates.length === 1) return candidates[0]
    return candidates.find((c) => c.visible?.has(from.index) === true)
  }

  /** What the core asked to send, after the endpoint's Byzantine behaviour (if any) rewrote it. */
  #emit(ep: SimEndpoint, to: readonly number[], message: ConsensusMessage): void {
    const wanted: Transmission = { to, message }
    for (const t of ep.behaviour?.rewrite(wanted) ?? [wanted]) this.#sendMessage(ep, t)
  }

  #everyoneBut(index: number): number[] {
    const out: number[] = []
    for (let i = 1; i < this.config.validators; i++) out.push((index + i) % this.config.validators)
    return out
  }

  #sendMessage(from: SimEndpoint, t: Transmission): void {
    const now = this.#queue.now
    const bytes = encodeConsensusMessage(t.message)
    // Receivers get what the bytes say, through the real decoder, as a remote node would.
    const message = decodeConsensusMessage(bytes)
    if (message.type === 'proposal' && message.block.author === from.index) {
      from.remember(message.block)
      this.#metrics.onProposalSent(message.block, now)
    }
    for (const to of t.to) {
      if (to === from.index) {
        this.#enqueue(from, now, from.cpu.receiveCostMs(message), { type: 'message', from: from.index, message }, TRACE.message, bytes)
        continue
      }
      const target = this.#route(from, to)
      if (target === undefined) continue
      this.#metrics.onTransmission(bytes.length)
      const verdict = this.#network.send(from, target, bytes.length, now)
      if (verdict.kind === 'drop') continue
      this.#queue.at(verdict.at, () => {
        if (!target.running) return
        this.#enqueue(target, verdict.at, target.cpu.receiveCostMs(message), { type: 'message', from: from.index, message }, TRACE.message, bytes)
      })
    }
  }

  /**
   * Block sync as a node's sync layer does it: ask `from` first; a peer that does not hold the
   * block (or a silent one) does not answer, and after `#syncRetryMs` the next validator in index
   * order is asked, until every peer was tried. Asking only `from` could stall a validator for
   * good when that peer lost the block in a crash, or is a Twin that never saw it.
   */
  #requestBlock(ep: SimEndpoint, blockId: Uint8Array, from: number, attempt = 0): void {
    const n = this.config.validators
    if (attempt >= n - 1) return
    const incarnation = ep.incarnation
    const now = this.#queue.now
    const target = (from + attempt) % n === ep.index ? (from + attempt + 1) % n : (from + attempt) % n
    let answered = false
    this.#queue.at(now + this.#syncRetryMs, () => {
      if (!answered && ep.incarnation === incarnation) this.#requestBlock(ep, blockId, from, attempt + 1)
    })
    const peer = this.#route(ep, target)
    if (peer === undefined) return
    this.#metrics.onTransmission(BLOCK_REQUEST_BYTES)
    const request = this.#network.send(ep, peer, BLOCK_REQUEST_BYTES, now)
    if (request.kind === 'drop') return
    this.#queue.at(request.at, () => {
      const block = peer.blocks.get(toHex(blockId))
      if (!peer.running || block === undefined || peer.behaviour?.strategy === 'silent') return
      const encoded = encodeBlock(block)
      this.#metrics.onTransmission(encoded.length)
      const reply = this.#network.send(peer, ep, encoded.length, request.at)
      if (reply.kind === 'drop') return
      this.#queue.at(reply.at, () => {
        if (ep.incarnation !== incarnation) return
        answered = true
        this.#enqueue(ep, reply.at, ep.cpu.receiveCostMs({ type: 'proposal', block }), { type: 'blockFetched', block }, TRACE.fetched, block.id)
      })
    })
  }

  // ---- faults ----------------------------------------------------------------------------

  #crash(validator: number): void {
    for (const ep of this.#endpointsOf.get(validator) ?? []) ep.crash(this.#queue.now)
  }

  /** Restart from disk: the persisted safety/recovery record and committed block, nothing else. */
  #recover(validator: number): void {
    for (const ep of this.#endpointsOf.get(validator) ?? []) {
      ep.core = this.#newCore(ep.index, ep.persisted, ep.committed)
      ep.running = true
      this.#enqueue(ep, this.#queue.now, 0, { type: 'start' }, TRACE.start)
    }
  }
}

/** Convenience: build and run one simulation. */
export function simulate(config: SimConfig): SimResult {
  return new Simulation(config).run()
}
