import type { ConsensusEvent, ConsensusMessage } from '../consensus/types.ts'
import { signBlock, type Block } from '../core/block.ts'
import { toHex } from '../core/hash.ts'
import { signVote } from '../core/vote.ts'

export const BYZANTINE_STRATEGIES = ['silent', 'equivocate', 'double-vote', 'withhold-votes', 'fork'] as const
export type ByzantineStrategy = (typeof BYZANTINE_STRATEGIES)[number]

export function isByzantineStrategy(s: string): s is ByzantineStrategy {
  return (BYZANTINE_STRATEGIES as readonly string[]).includes(s)
}

/** One message leaving a validator, already addressed (a broadcast lists every other validator). */
export interface Transmission {
  readonly to: readonly number[]
  readonly message: ConsensusMessage
}

/**
 * A Byzantine validator is an honest ConsensusCore whose outbound traffic is rewritten here:
 * strategies are wrappers, never forks of the protocol code (STYLE: Bamboo's named strategies).
 * `double-vote` (Twins) needs no rewriting — it is two honest cores sharing one key, wired to
 * different peers by the simulation's topology.
 */
export interface ByzantineBehaviour {
  readonly strategy: ByzantineStrategy
  /** Sees every event the wrapped core handles (e.g. to learn blocks it may fork from). */
  observe(event: ConsensusEvent): void
  /** What actually leaves instead of `t` (possibly nothing, possibly several messages). */
  rewrite(t: Transmission): Transmission[]
}

export interface ByzantineContext {
  readonly index: number
  readonly secretKey: Uint8Array
  readonly genesis: Block
  /** Vote collector of a round (the leader of round + 1). */
  readonly voteCollector: (round: number) => number
}

const passThrough = (t: Transmission): Transmission[] => [t]

export function createBehaviour(strategy: ByzantineStrategy, ctx: ByzantineContext): ByzantineBehaviour {
  switch (strategy) {
    case 'silent':
      return { strategy, observe: () => {}, rewrite: () => [] }
    case 'withhold-votes':
      return { strategy, observe: () => {}, rewrite: (t) => (t.message.type === 'vote' ? [] : [t]) }
    case 'double-vote':
      return { strategy, observe: () => {}, rewrite: passThrough }
    case 'equivocate':
      return { strategy, observe: () => {}, rewrite: (t) => equivocate(t, ctx) }
    case 'fork':
      return new ForkingLeader(ctx)
  }
}

function ownProposal(t: Transmission, ctx: ByzantineContext): Block | undefined {
  return t.message.type === 'proposal' && t.message.block.author === ctx.index ? t.message.block : undefined
}

/**
 * As leader, signs a second block for the same round (same parent, different timestamp, so a
 * different id) with its real key, and sends each version to a different half of the peers.
 * Protects nothing — it attacks: honest validators must never certify both.
 */
function equivocate(t: Transmission, ctx: ByzantineContext): Transmission[] {
  const block = ownProposal(t, ctx)
  if (block === undefined || t.to.length < 2) return [t]
  const { id: _id, signature: _signature, ...body } = block
  const twin = signBlock({ ...body, timestamp: block.timestamp + 1 }, ctx.secretKey)
  const half = Math.ceil(t.to.length / 2)
  return [
    { to: t.to.slice(0, half), message: t.message },
    { to: t.to.slice(half), message: { type: 'proposal', block: twin } },
  ]
}

/**
 * As leader, proposes a block extending an older QC than its highest: the parent QC of its
 * high-QC block, so the new block is a sibling of a certified (locked-on) block. Honest
 * validators must refuse it — with a TC the lock rule (`qc.round ≥ max TC high-QC round`) does,
 * without one the round gap does. Its own vote goes to the forked block, not the honest one.
 */
class ForkingLeader implements ByzantineBehaviour {
  readonly strategy = 'fork'
  readonly #ctx: ByzantineContext
  readonly #blocks = new Map<string, Block>()
  /** Original proposal id (hex) → the forked block sent in its place. */
  readonly #forks = new Map<string, Block>()

  constructor(ctx: ByzantineContext) {
    this.#ctx = ctx
    this.#blocks.set(toHex(ctx.genesis.id), ctx.genesis)
  }

  observe(event: ConsensusEvent): void {
    if (event.type === 'message' && event.message.type === 'proposal') this.#learn(event.message.block)
    else if (event.type === 'blockFetched') this.#learn(event.block)
  }

  #learn(block: Block): void {
    this.#blocks.set(toHex(block.id), block)
  }

  rewrite(t: Transmission): Transmission[] {
    const block = ownProposal(t, this.#ctx)
    if (block !== undefined) {
      this.#learn(block)
      const fork = this.#fork(block)
      if (fork === undefined) return [t]
      this.#forks.set(toHex(block.id), fork)
      return [{ to: t.to, message: { type: 'proposal', block: fork } }]
    }
    if (t.message.type === 'vote') {
      const fork = this.#forks.get(toHex(t.message.vote.blockId))
      if (fork !== undefined) {
        const vote = signVote(fork.id, fork.round, this.#ctx.index, this.#ctx.secretKey)
        return [{ to: [this.#ctx.voteCollector(fork.round)], message: { type: 'vote', vote } }]
      }
    }
    return [t]
  }

  #fork(block: Block): Block | undefined {
    const certified = this.#blocks.get(toHex(block.parentQc.blockId))
    if (certified === undefined || certified.height === 0) return undefined
    const { id: _id, signature: _signature, ...body } = block
    return signBlock({ ...body, parentQc: certified.parentQc, height: certified.height }, this.#ctx.secretKey)
  }
}
