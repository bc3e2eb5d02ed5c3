import { signBlock, type Block, type BlockBody, type Payload } from '../core/block.ts'
import { sha256 } from '../core/hash.ts'
import { signVote, type Vote } from '../core/vote.ts'
import type { ConsensusMessage, SendAction } from '../consensus/types.ts'
import type { ByzantineMode } from './config.ts'

/**
 * Byzantine test behaviours as a filter on the honest driver's outbound path: the consensus core
 * and its safety rules stay exactly the honest ones, and each mode only drops, rewrites or
 * duplicates what the core asked to send, signing with the validator's own key where the
 * misbehaviour needs a fresh signature (Bamboo-style named strategies, not forks of the protocol).
 * Enabled only on chains whose genesis sets `params.testing` (config.ts checkByzantineOptIn).
 */

export interface ByzantineIdentity {
  /** This validator's index in genesis order. */
  readonly index: number
  readonly secretKey: Uint8Array
  /** Committee size n. */
  readonly validators: number
}

/** Derivation label of the block id a `double-vote` validator's second vote names. */
const CONFLICTING_VOTE_LABEL = new TextEncoder().encode('bftlab/byzantine/conflicting-vote')

export class ByzantineTransmitter {
  readonly mode: ByzantineMode
  readonly #id: ByzantineIdentity
  readonly #honest: (action: SendAction) => void

  /** `honest` is the node's own transmit: what an honest validator would do with an action. */
  constructor(mode: ByzantineMode, identity: ByzantineIdentity, honest: (action: SendAction) => void) {
    this.mode = mode
    this.#id = identity
    this.#honest = honest
  }

  transmit(action: SendAction): void {
    const { message } = action
    switch (this.mode) {
      case 'silent':
        return
      case 'withhold-votes':
        if (message.type !== 'vote') this.#honest(action)
        return
      case 'double-vote':
        this.#honest(action)
        if (message.type === 'vote') this.#honest({ ...action, message: { type: 'vote', vote: this.#conflictingVote(message.vote) } })
        return
      case 'equivocate':
        if (action.type === 'broadcast' && message.type === 'proposal') this.#equivocate(message.block)
        else this.#honest(action)
        return
      case 'invalid-signatures':
        this.#honest({ ...action, message: withCorruptSignatures(message) })
        return
      case 'spam':
        // Honest consensus traffic; the flood comes from the Spammer (spam.ts) beside it.
        this.#honest(action)
        return
    }
  }

  /** A second, validly signed vote for the same round, for a block id nobody proposed. */
  #conflictingVote(vote: Vote): Vote {
    return signVote(sha256(CONFLICTING_VOTE_LABEL, vote.blockId), vote.round, this.#id.index, this.#id.secretKey)
  }

  /**
   * The block the core signed goes to the larger half of the other validators, a conflicting one
   * to the rest. The split rotates with the round so that, over successive rounds it leads, every
   * validator is once in the smaller half: that half votes for the version that loses, then
   * fetches the certified one and holds both signed blocks — the proof of equivocation.
   */
  #equivocate(block: Block): void {
    const { index, validators } = this.#id
    const peers = Array.from({ length: validators - 1 }, (_, i) => (index + 1 + i) % validators)
    const shift = block.round % peers.length
    const rotated = [...peers.slice(shift), ...peers.slice(0, shift)]
    const majority = Math.ceil(rotated.length / 2)
    const other = conflictingBlock(block, this.#id.secretKey)
    rotated.forEach((to, i) => this.#honest({ type: 'send', to, message: { type: 'proposal', block: i < majority ? block : other } }))
  }
}

/** Same slot (height, round, parent, author), different payload and timestamp, signed again. */
export function conflictingBlock(block: Block, secretKey: Uint8Array): Block {
  const payload: Payload = block.payload.kind === 'batches' ? { kind: 'batches', digests: [] } : { kind: 'txs', txs: [] }
  const body: BlockBody = {
    height: block.height,
    round: block.round,
    author: block.author,
    timestamp: block.timestamp + 1,
    parentQc: block.parentQc,
    ...(block.tc !== undefined ? { tc: block.tc } : {}),
    payload,
    executedRoot: block.executedRoot,
    executedHeight: block.executedHeight,
  }
  return signBlock(body, secretKey)
}

/** A copy of the signature that no longer verifies (one bit of R flipped). */
function corrupt(signature: Uint8Array): Uint8Array {
  const bad = new Uint8Array(signature)
  bad[0]! ^= 0x01
  return bad
}

/**
 * The message with every signature it carries as its own statement corrupted: the author's on a
 * proposal, vote or timeout, every entry of a TC it forwards. Certificates nested inside (a
 * block's parent QC, a timeout's high QC) are left intact: they are others' signatures.
 */
export function withCorruptSignatures(message: ConsensusMessage): ConsensusMessage {
  switch (message.type) {
    case 'proposal':
      return { type: 'proposal', block: { ...message.block, signature: corrupt(message.block.signature) } }
    case 'vote':
      return { type: 'vote', vote: { ...message.vote, signature: corrupt(message.vote.signature) } }
    case 'timeout':
      return { type: 'timeout', timeout: { ...message.timeout, signature: corrupt(message.timeout.signature) } }
    case 'tc':
      return { type: 'tc', tc: { ...message.tc, entries: message.tc.entries.map((e) => ({ ...e, signature: corrupt(e.signature) })) } }
  }
}
