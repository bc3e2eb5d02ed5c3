import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { SILENT_LOGGER, type Logger } from '../core/logger.ts'
import { InboundAdmission } from './admission.ts'
import { FaultTable } from './faults.ts'
import type { LinkFaults } from './faults.ts'
import { ValidatorGater } from './gater.ts'
import { Gossip, type GossipHandler } from './gossip.ts'
import { libp2pKeyFromSeed, peerIdOfKey } from './identity.ts'
import { createLibp2pNode, DEFAULT_DIAL_TIMEOUT_MS, type Libp2pNode } from './libp2p.ts'
import { DEFAULT_RATE_LIMITS, PeerRateLimiter } from './ratelimit.ts'
import type { RateLimitOptions } from './ratelimit.ts'
import { DEFAULT_RECONNECT, PeerKeeper } from './reconnect.ts'
import type { ReconnectOptions } from './reconnect.ts'
import { emptyStats } from './stats.ts'
import type { NetworkStats } from './stats.ts'
import { StreamProtocols, type MessageHandler, type RequestHandler } from './streams.ts'

export type { GossipHandler } from './gossip.ts'
export { NetworkError, type MessageHandler, type RequestHandler } from './streams.ts'

export interface PeerAddress {
  peerId: string
  /** Multiaddr without /p2p, e.g. /ip4/127.0.0.1/tcp/9000 */
  addr: string
}

export interface NetworkHostOptions {
  seed: Uint8Array
  listen: string
  /** The whole validator set, self included; nobody else may connect. */
  peers: PeerAddress[]
  topics: string[]
  /** Request/response and one-way protocol ids, e.g. '/bftlab/vote/1'. */
  protocols: string[]
  maxMessageBytes: number
  logger?: Logger
  rateLimits?: Partial<RateLimitOptions>
  reconnect?: Partial<ReconnectOptions>
  /** Seed of the PRNG behind emulated loss and jitter, so fault runs replay. */
  faultSeed?: number
  /** Bound on bytes queued per (peer, protocol) one-way stream; default max(64 MiB, 4 messages). */
  maxQueuedBytesPerPeer?: number
  /** Timeout for opening a stream (including dialing the connection). */
  dialTimeoutMs?: number
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The validator-to-validator transport. Payloads are opaque bytes; consensus decides what they
 * mean. Delivery is at-most-once on every path, and one-way sends to one peer on one protocol
 * arrive in order. The host holds the parts together: the libp2p node (libp2p.ts), gossip
 * topics (gossip.ts), stream protocols (streams.ts), inbound admission (admission.ts), the
 * validator gater and reconnection; here are the peer set, link-fault controls and lifecycle.
 */
export class NetworkHost {
  readonly peerId: string
  readonly #node: Libp2pNode
  readonly #log: Logger
  readonly #peers: readonly PeerAddress[]
  readonly #others: readonly string[]
  readonly #gater: ValidatorGater
  readonly #keeper: PeerKeeper
  readonly #faults: FaultTable
  readonly #stats: NetworkStats
  readonly #gossip: Gossip
  readonly #streams: StreamProtocols
  #stopped = false

  private constructor(node: Libp2pNode, peerId: string, opts: NetworkHostOptions, gater: ValidatorGater, log: Logger) {
    this.#node = node
    this.peerId = peerId
    this.#log = log
    this.#gater = gater
    this.#peers = opts.peers
    const validators = opts.peers.map((p) => p.peerId)
    this.#others = validators.filter((id) => id !== peerId)
    this.#faults = new FaultTable(opts.faultSeed ?? 1)
    this.#stats = emptyStats()
    const dialTimeoutMs = opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
    const admission = new InboundAdmission({
      node,
      faults: this.#faults,
      gater,
      limiter: new PeerRateLimiter({ ...DEFAULT_RATE_LIMITS, ...opts.rateLimits }),
      stats: this.#stats,
      log,
    })
    this.#streams = new StreamProtocols({
      node,
      self: peerId,
      validators,
      protocols: opts.protocols,
      maxMessageBytes: opts.maxMessageBytes,
      maxQueuedBytes: opts.maxQueuedBytesPerPeer ?? Math.max(64 * 1024 * 1024, 4 * opts.maxMessageBytes),
      dialTimeoutMs,
      admission,
      faults: this.#faults,
      stats: this.#stats,
      log,
    })
    this.#gossip = new Gossip({
      node,
      topics: opts.topics,
      others: this.#others,
      maxMessageBytes: opts.maxMessageBytes,
      streams: this.#streams,
      admission,
      faults: this.#faults,
      stats: this.#stats,
      log,
    })
    this.#keeper = new PeerKeeper(
      this.#others,
      { ...DEFAULT_RECONNECT, ...opts.reconnect },
      {
        dial: async (peer) => {
          await this.#node.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(dialTimeoutMs) })
        },
        isConnected: (peer) => this.#node.getConnections(peerIdFromString(peer)).length > 0,
        bannedForMs: (peer) => this.#gater.bannedForMs(peer),
        onReconnect: (peer) => {
          this.#stats.reconnects++
          this.#log.info({ peer }, 'reconnected to validator')
        },
      },
      log,
    )
  }

  static async start(opts: NetworkHostOptions): Promise<NetworkHost> {
    const log = opts.logger ?? SILENT_LOGGER
    if (!(opts.maxMessageBytes > 0)) throw new RangeError(`maxMessageBytes must be positive, got ${opts.maxMessageBytes}`)
    const privateKey = await libp2pKeyFromSeed(opts.seed)
    const self = peerIdOfKey(privateKey)
    if (!opts.peers.some((p) => p.peerId === self)) {
      log.warn({ peer: self }, 'own peer id is not in the validator set; running as an outsider')
    }
    const gater = new ValidatorGater(
      opts.peers.map((p) => p.peerId),
      log,
    )
    const node = await createLibp2pNode({
      privateKey,
      listen: opts.listen,
      gater,
      topics: opts.topics,
      maxMessageBytes: opts.maxMessageBytes,
      dialTimeoutMs: opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    })
    const host = new NetworkHost(node, self, opts, gater, log)
    await host.#start()
    return host
  }

  async #start(): Promise<void> {
    const node = this.#node
    for (const p of this.#peers) {
      if (p.peerId === this.peerId) continue
      await node.peerStore.merge(peerIdFromString(p.peerId), { multiaddrs: [multiaddr(p.addr)] })
    }
    node.addEventListener('peer:connect', (evt) => this.#keeper.onConnected(evt.detail.toString()))
    node.addEventListener('peer:disconnect', (evt) => {
      const peer = evt.detail.toString()
      this.#log.debug({ peer }, 'peer disconnected')
      this.#keeper.onDisconnected(peer)
    })
    this.#gossip.start()
    await this.#streams.start()
    this.#keeper.start()
    this.#log.info({ peer: this.peerId, addrs: node.getMultiaddrs().map(String) }, 'network host started')
  }

  // ---------------------------------------------------------------- peers

  /** Listening addresses (with /p2p/<id>), useful when started on port 0. */
  listenAddrs(): string[] {
    return this.#node.getMultiaddrs().map(String)
  }

  connectedPeers(): string[] {
    const connected = new Set(this.#node.getPeers().map(String))
    return this.#others.filter((id) => connected.has(id))
  }

  async waitForPeers(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.connectedPeers().length < count) {
      if (Date.now() >= deadline) {
        const connected = new Set(this.connectedPeers())
        const missing = this.#others.filter((id) => !connected.has(id))
        throw new Error(
          `${this.peerId}: ${connected.size}/${count} validators connected after ${timeoutMs} ms; missing ${missing.join(', ')}`,
        )
      }
      await sleep(25)
    }
  }

  /** Validators currently known to be subscribed to `topic` (gossip readiness). */
  topicPeers(topic: string): string[] {
    return this.#gossip.subscribers(topic)
  }

  // ---------------------------------------------------------------- traffic (gossip.ts, streams.ts)

  onGossip(topic: string, handler: GossipHandler): void {
    this.#gossip.on(topic, handler)
  }

  publish(topic: string, data: Uint8Array): Promise<void> {
    return this.#gossip.publish(topic, data)
  }

  /** Handler for one-way `send`s; without one, sends on `protocol` go to its request handler. */
  onMessage(protocol: string, handler: MessageHandler): void {
    this.#streams.onMessage(protocol, handler)
  }

  onRequest(protocol: string, handler: RequestHandler): void {
    this.#streams.onRequest(protocol, handler)
  }

  /** One-way, ordered per (peer, protocol), at-most-once; to ourselves on a later tick. */
  send(peerId: string, protocol: string, data: Uint8Array): void {
    this.#streams.send(peerId, protocol, data)
  }

  /** Request/response over a fresh stream; fails at once across a down or lossy emulated link. */
  request(peerId: string, protocol: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return this.#streams.request(peerId, protocol, data, timeoutMs)
  }

  // ---------------------------------------------------------------- faults

  setLinkFaults(peerId: string, faults: Partial<LinkFaults>): void {
    if (peerId !== '*') this.#streams.requireValidator(peerId, 'fault emulation')
    this.#faults.set(peerId, faults)
  }

  clearLinkFaults(): void {
    this.#faults.clear()
  }

  /** Cuts every link from this host to validators outside its own group (call it on every host). */
  partition(groups: string[][]): void {
    const mine = groups.find((g) => g.includes(this.peerId))
    for (const peer of this.#others) {
      this.#faults.set(peer, { down: mine === undefined || !mine.includes(peer) })
    }
  }

  heal(): void {
    this.#faults.heal()
  }

  // ---------------------------------------------------------------- lifecycle

  stats(): NetworkStats {
    const s = this.#stats
    return {
      ...s,
      inbound: structuredClone(s.inbound),
      outbound: structuredClone(s.outbound),
      refusedConnections: this.#gater.refused,
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#keeper.stop()
    await this.#streams.stop()
    await this.#node.stop()
    this.#log.info({ peer: this.peerId }, 'network host stopped')
  }
}
