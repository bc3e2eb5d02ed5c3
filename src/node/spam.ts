import { randomBytes, randomInt } from 'node:crypto'
import { Writer } from '../core/codec.ts'
import { LIMITS } from '../core/limits.ts'
import type { Logger } from '../core/logger.ts'
import { encodeConsensusMessage } from '../consensus/messages.ts'
import { SYNC_BATCHES_PROTOCOL } from '../mempool/availability.ts'
import type { NetworkHost } from '../network/host.ts'
import { BATCHES_TOPIC, CONSENSUS_PROTOCOL, PROPOSALS_TOPIC } from './protocols.ts'
import { MAX_SYNC_RANGE, SYNC_BLOCKS_PROTOCOL, encodeSyncRequest } from './sync.ts'

/**
 * The `spam` byzantine mode's flood (loopback testnets only, config.ts checkByzantineOptIn): on
 * every gossip topic and stream protocol validators speak, at a fixed bounded rate, messages a
 * receiver must survive and drop — random bytes, messages whose list length exceeds the decoder's
 * bounds, and now and then one of the largest size the transport accepts. Frames above
 * maxMessageBytes cannot be produced through NetworkHost (it refuses them at send); the network's
 * own tests cover those.
 */

/**
 * One volley per 100 ms: 10 messages per peer and volley (two per channel), ~100/s per peer —
 * conspicuous garbage, yet two orders of magnitude under the receivers' rate limits (20k msgs/s),
 * so they keep processing and counting it instead of disconnecting us, and a loaded 2-core test
 * machine keeps up.
 */
const VOLLEY_INTERVAL_MS = 100
/** Every 20th volley (every 2 s) one maximum-size message, rotating over the channels. */
const MAX_SIZE_EVERY = 20
/** Random garbage is 1 B .. 2 KiB: the size range of real votes, timeouts and small proposals. */
const GARBAGE_MAX_BYTES = 2_048
/** Random suffix appended to fixed spam: gossip de-duplicates identical bytes by message id. */
const NONCE_BYTES = 8
/** Spam requests get no answer (the receiver closes the stream); don't hold streams open long. */
const REQUEST_TIMEOUT_MS = 1_000

type Delivery = 'gossip' | 'one-way' | 'request'
type SpamKind = 'random' | 'oversized-list' | 'max-size'

interface SpamChannel {
  /** Gossip topic or stream protocol id. */
  readonly name: string
  readonly delivery: Delivery
  /** A message whose list length prefix exceeds what the receiver's decoder accepts for it. */
  readonly oversizedList: Uint8Array
}

/** A consensus message (a TC, tag and round intact) whose entry count exceeds LIMITS.maxValidators. */
function oversizedConsensusMessage(): Uint8Array {
  const bytes = encodeConsensusMessage({ type: 'tc', tc: { round: 1, entries: [] } })
  // An empty list ends the encoding with its u32 count (codec.ts: list<T> = u32 count + items).
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(bytes.length - 4, LIMITS.maxValidators + 1)
  return bytes
}

/** Every channel of the validator protocol, each with a message its decoder must refuse by size. */
export function spamChannels(author: number): SpamChannel[] {
  const consensus = oversizedConsensusMessage()
  return [
    // Batch layout u16 author | u64 seq | list<Tx>: a count above LIMITS.maxBatchTxs.
    { name: BATCHES_TOPIC, delivery: 'gossip', oversizedList: new Writer(16).u16(author).u64(0n).u32(LIMITS.maxBatchTxs + 1).finish() },
    { name: PROPOSALS_TOPIC, delivery: 'gossip', oversizedList: consensus },
    { name: CONSENSUS_PROTOCOL, delivery: 'one-way', oversizedList: consensus },
    { name: SYNC_BLOCKS_PROTOCOL, delivery: 'request', oversizedList: encodeSyncRequest({ kind: 'range', fromHeight: 1, count: MAX_SYNC_RANGE + 1 }) },
    // Batch request layout list<fixed32 digest>, bounded by one block's LIMITS.maxBlockBatches.
    { name: SYNC_BATCHES_PROTOCOL, delivery: 'request', oversizedList: new Writer(8).u32(LIMITS.maxBlockBatches + 1).finish() },
  ]
}

export interface SpammerOptions {
  readonly channels: readonly SpamChannel[]
  /** Peer ids of the other validators. */
  readonly peers: readonly string[]
  readonly maxMessageBytes: number
}

export class Spammer {
  readonly #opts: SpammerOptions
  readonly #network: Pick<NetworkHost, 'publish' | 'send' | 'request'>
  readonly #log: Logger
  /** (peer, protocol, kind) with a spam request outstanding: at most one each. */
  readonly #inFlight = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  #volleys = 0
  #sent = 0

  constructor(opts: SpammerOptions, network: Pick<NetworkHost, 'publish' | 'send' | 'request'>, log: Logger) {
    this.#opts = opts
    this.#network = network
    this.#log = log
  }

  /** Messages handed to the network so far. */
  get sent(): number {
    return this.#sent
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#log.warn({ intervalMs: VOLLEY_INTERVAL_MS, peers: this.#opts.peers.length }, 'byzantine mode spam: flooding every protocol and topic')
    this.#timer = setInterval(() => this.#volley(), VOLLEY_INTERVAL_MS)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  #volley(): void {
    this.#volleys++
    const { channels, maxMessageBytes } = this.#opts
    for (const channel of channels) {
      this.#deliver(channel, 'random', randomBytes(randomInt(1, GARBAGE_MAX_BYTES + 1)))
      this.#deliver(channel, 'oversized-list', Buffer.concat([channel.oversizedList, randomBytes(NONCE_BYTES)]))
    }
    if (this.#volleys % MAX_SIZE_EVERY === 0) {
      const channel = channels[(this.#volleys / MAX_SIZE_EVERY) % channels.length]!
      this.#deliver(channel, 'max-size', randomBytes(maxMessageBytes))
    }
  }

  #deliver(channel: SpamChannel, kind: SpamKind, data: Uint8Array): void {
    const failed = (err: unknown): void => this.#log.debug({ channel: channel.name, err: (err as Error).message }, 'spam not sent')
    if (channel.delivery === 'gossip') {
      this.#sent++
      this.#network.publish(channel.name, data).catch(failed)
      return
    }
    for (const peer of this.#opts.peers) {
      try {
        if (channel.delivery === 'one-way') {
          this.#network.send(peer, channel.name, data)
          this.#sent++
          continue
        }
        const key = `${peer} ${channel.name} ${kind}`
        if (this.#inFlight.has(key)) continue
        this.#inFlight.add(key)
        this.#sent++
        this.#network
          .request(peer, channel.name, data, REQUEST_TIMEOUT_MS)
          // No answer is the expected outcome: the receiver refuses the request.
          .catch(() => undefined)
          .finally(() => this.#inFlight.delete(key))
      } catch (err) {
        failed(err)
      }
    }
  }
}
