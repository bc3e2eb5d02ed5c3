import { DecodeError } from '../core/codec.ts'
import type { Logger } from '../core/logger.ts'
import { decodeConsensusMessage, encodeConsensusMessage } from '../consensus/messages.ts'
import type { ConsensusEvent, ConsensusMessage, SendAction } from '../consensus/types.ts'
import type { NetworkHost } from '../network/host.ts'
import type { NodeMetrics } from './metrics.ts'
import type { ValidatorPeers } from './peers.ts'
import { CONSENSUS_PROTOCOL, PROPOSALS_TOPIC } from './protocols.ts'
import type { RecentBlocks } from './recent-blocks.ts'
import type { BlockSync } from './sync.ts'

export interface ConsensusNetworkModules {
  readonly network: Pick<NetworkHost, 'onGossip' | 'onMessage' | 'publish' | 'send'>
  readonly peers: ValidatorPeers
  /** Every proposal, sent or received, backs block fetches and sync answers. */
  readonly recent: RecentBlocks
  readonly sync: Pick<BlockSync, 'proposalSeen'>
  readonly metrics: NodeMetrics
  readonly log: Logger
  /** Where received messages go: the consensus driver's queue. */
  readonly deliver: (event: ConsensusEvent) => void
}

/**
 * Consensus messages on the wire: proposals by gossip (a leader may also send one directly, and
 * an equivocating one sends each version to different validators: both paths are the same),
 * votes to one validator, timeouts and TCs directly to each. Untrusted bytes become a message or
 * a counted, logged drop, never an exception; signatures are checked by the core (with its QC
 * cache), which reports failures as `rejected`.
 */
export class ConsensusNetwork {
  readonly #m: ConsensusNetworkModules

  constructor(modules: ConsensusNetworkModules) {
    this.#m = modules
  }

  /** Registers the inbound handlers. */
  listen(): void {
    this.#m.network.onGossip(PROPOSALS_TOPIC, (data, from) => {
      const message = this.#decode(data, from)
      if (message === undefined) return
      if (message.type !== 'proposal') {
        this.#m.metrics.droppedMessages.inc({ reason: 'wrong topic' })
        return
      }
      this.#receive(message, from)
    })
    this.#m.network.onMessage(CONSENSUS_PROTOCOL, (data, from) => {
      const message = this.#decode(data, from)
      if (message !== undefined) this.#receive(message, from)
    })
  }

  /** What an honest validator does with a send or broadcast of its core. */
  transmit(action: SendAction): void {
    const { message } = action
    const { network, peers, log } = this.#m
    const bytes = encodeConsensusMessage(message)
    this.#m.metrics.messagesOut.inc({ type: message.type })
    // Our own proposals back fetchBlock and sync answers, however they were sent.
    if (message.type === 'proposal') this.#m.recent.add(message.block)
    try {
      if (action.type === 'send') {
        network.send(peers.ids[action.to]!, CONSENSUS_PROTOCOL, bytes)
      } else if (message.type === 'proposal') {
        network.publish(PROPOSALS_TOPIC, bytes).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'proposal gossip failed'))
      } else {
        // Timeouts and TCs go directly to each validator: ordered, and not subject to gossip scoring.
        for (const [i, peer] of peers.ids.entries()) if (i !== peers.self) network.send(peer, CONSENSUS_PROTOCOL, bytes)
      }
    } catch (err) {
      log.warn({ err: (err as Error).message, type: message.type }, 'consensus message not sent')
    }
  }

  #receive(message: ConsensusMessage, fromPeer: string): void {
    const from = this.#m.peers.indexOf(fromPeer)
    if (message.type === 'proposal') {
      this.#m.recent.add(message.block)
      this.#m.sync.proposalSeen(message.block.height, from ?? message.block.author)
    }
    if (from === undefined) {
      this.#m.metrics.droppedMessages.inc({ reason: 'unknown peer' })
      return
    }
    this.#m.metrics.messagesIn.inc({ type: message.type })
    this.#m.deliver({ type: 'message', from, message })
  }

  #decode(data: Uint8Array, from: string): ConsensusMessage | undefined {
    try {
      return decodeConsensusMessage(data)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      this.#m.metrics.droppedMessages.inc({ reason: 'decode' })
      this.#m.log.debug({ peer: from, err: err.message }, 'undecodable consensus message dropped')
      return undefined
    }
  }
}
