import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../core/logger.ts'
import type { InboundAdmission } from './admission.ts'
import type { FaultTable } from './faults.ts'
import { FrameError } from './framing.ts'
import { GOSSIP_RPC_OVERHEAD_BYTES, gossipMessageId, type Libp2pNode } from './libp2p.ts'
import { countTraffic, gossipKey, type NetworkStats } from './stats.ts'
import type { StreamProtocols } from './streams.ts'

export type GossipHandler = (data: Uint8Array, fromPeerId: string) => void

/**
 * Internal protocol used instead of gossipsub while any link fault is configured: the publisher
 * sends the payload to every validator directly, so each copy goes through that link's
 * delay/loss/down emulation. Gossipsub relaying would let a message cross a partition through a
 * third peer and would apply only the first hop's delay. Validators are fully connected, so
 * direct fan-out reaches the same set of peers gossipsub's flood publish would.
 */
const GOSSIP_DIRECT_PROTOCOL = '/bftlab/gossip-direct/1'

/** Direct-gossip de-duplication memory; at 10k msgs/s this still covers several seconds. */
const SEEN_CACHE_ENTRIES = 65_536

function encodeDirectGossip(topic: string, data: Uint8Array): Uint8Array {
  const topicBytes = new TextEncoder().encode(topic)
  const out = new Uint8Array(2 + topicBytes.length + data.length)
  new DataView(out.buffer).setUint16(0, topicBytes.length)
  out.set(topicBytes, 2)
  out.set(data, 2 + topicBytes.length)
  return out
}

function decodeDirectGossip(frame: Uint8Array): { topic: string; data: Uint8Array } {
  if (frame.length < 2) throw new FrameError('malformed', `direct gossip frame of ${frame.length} bytes has no topic`)
  const topicLength = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint16(0)
  if (frame.length < 2 + topicLength) throw new FrameError('malformed', `direct gossip topic length ${topicLength} exceeds frame`)
  const topic = new TextDecoder().decode(frame.subarray(2, 2 + topicLength))
  return { topic, data: frame.subarray(2 + topicLength) }
}

export interface GossipParts {
  readonly node: Libp2pNode
  readonly topics: readonly string[]
  /** Every other validator: the direct fan-out's recipients. */
  readonly others: readonly string[]
  readonly maxMessageBytes: number
  readonly streams: StreamProtocols
  readonly admission: InboundAdmission
  readonly faults: FaultTable
  readonly stats: NetworkStats
  readonly log: Logger
}

/**
 * Gossip topics: published by gossipsub flood, or, while link faults are emulated, by direct
 * fan-out on a stream to each validator (so every copy crosses its own emulated link). Inbound
 * messages of either path pass the same admission and reach the same handlers.
 */
export class Gossip {
  readonly #p: GossipParts
  readonly #handlers = new Map<string, GossipHandler[]>()
  readonly #seen = new Set<string>()

  /** Registers the direct fan-out protocol on `streams` (before it starts). */
  constructor(parts: GossipParts) {
    this.#p = parts
    parts.streams.addRawProtocol(GOSSIP_DIRECT_PROTOCOL, {
      maxFrameBytes: parts.maxMessageBytes + GOSSIP_RPC_OVERHEAD_BYTES,
      onFrame: (frame, from) => this.#onDirectGossip(frame, from),
    })
  }

  /** Subscribes to every topic. */
  start(): void {
    const pubsub = this.#p.node.services.pubsub
    for (const topic of this.#p.topics) {
      pubsub.topicValidators.set(topic, (source, msg) => this.#validate(source, msg))
      pubsub.subscribe(topic)
    }
    pubsub.addEventListener('gossipsub:message', (evt) => {
      const { msg, propagationSource } = evt.detail
      this.#deliver(msg.topic, msg.data, propagationSource.toString())
    })
  }

  on(topic: string, handler: GossipHandler): void {
    this.#requireTopic(topic)
    const list = this.#handlers.get(topic) ?? []
    list.push(handler)
    this.#handlers.set(topic, list)
  }

  async publish(topic: string, data: Uint8Array): Promise<void> {
    this.#requireTopic(topic)
    if (data.length > this.#p.maxMessageBytes) {
      throw new RangeError(`gossip topic ${topic}: payload of ${data.length} bytes exceeds maxMessageBytes ${this.#p.maxMessageBytes}`)
    }
    countTraffic(this.#p.stats.outbound, gossipKey(topic), data.length)
    if (!this.#p.faults.active) {
      await this.#p.node.services.pubsub.publish(topic, data)
      return
    }
    const frame = encodeDirectGossip(topic, data)
    for (const peer of this.#p.others) this.#p.streams.sendWithFaults(peer, GOSSIP_DIRECT_PROTOCOL, frame)
  }

  /** Validators currently known to be subscribed to `topic` (gossip readiness). */
  subscribers(topic: string): string[] {
    return this.#p.node.services.pubsub.getSubscribers(topic).map(String)
  }

  #validate(source: PeerId, msg: Message): TopicValidatorResult {
    // Gossip is unsigned, so the relay is the only sender we know.
    const relay = source.toString()
    if (msg.data.length > this.#p.maxMessageBytes) {
      this.#p.stats.droppedOversized++
      this.#p.log.warn({ peer: relay, topic: msg.topic, bytes: msg.data.length, limit: this.#p.maxMessageBytes }, 'oversized gossip')
      return TopicValidatorResult.Reject
    }
    // Ignore (not Reject) for faults and rate limits: the sender did nothing invalid, and Reject
    // would lower its gossipsub score for what is our own local policy.
    return this.#p.admission.admit(relay, msg.data.length) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
  }

  #deliver(topic: string, data: Uint8Array, from: string): void {
    countTraffic(this.#p.stats.inbound, gossipKey(topic), data.length)
    for (const handler of this.#handlers.get(topic) ?? []) {
      this.#p.streams.runHandler(() => handler(data, from), { topic, peer: from })
    }
  }

  #onDirectGossip(frame: Uint8Array, from: string): void {
    const { topic, data } = decodeDirectGossip(frame)
    if (!this.#p.topics.includes(topic)) return
    const id = Buffer.from(gossipMessageId(topic, data)).toString('base64')
    if (this.#seen.has(id)) return
    this.#seen.add(id)
    // Set iteration order is insertion order, so the first key is the oldest.
    if (this.#seen.size > SEEN_CACHE_ENTRIES) this.#seen.delete(this.#seen.values().next().value!)
    this.#deliver(topic, data, from)
  }

  #requireTopic(topic: string): void {
    if (!this.#p.topics.includes(topic)) {
      throw new Error(`gossip topic ${topic} is not configured (configured: ${this.#p.topics.join(', ')})`)
    }
  }
}
