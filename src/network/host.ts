import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { DelayLine, FaultTable } from './faults.ts'
import type { LinkFaults } from './faults.ts'
import { encodeFrame, FrameDecoder, FrameError, isStreamMode, STREAM_MODE_MESSAGES, STREAM_MODE_REQUEST } from './framing.ts'
import type { StreamMode } from './framing.ts'
import { ValidatorGater } from './gater.ts'
import { libp2pKeyFromSeed, peerIdOfKey } from './identity.ts'
import { SILENT_LOGGER } from './logger.ts'
import type { NetworkLogger } from './logger.ts'
import { StreamOutbox } from './outbox.ts'
import { DEFAULT_RATE_LIMITS, PeerRateLimiter } from './ratelimit.ts'
import type { RateLimitOptions } from './ratelimit.ts'
import { DEFAULT_RECONNECT, PeerKeeper } from './reconnect.ts'
import type { ReconnectOptions } from './reconnect.ts'
import { countTraffic, emptyStats, gossipKey } from './stats.ts'
import type { NetworkStats } from './stats.ts'

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
  logger?: NetworkLogger
  rateLimits?: Partial<RateLimitOptions>
  reconnect?: Partial<ReconnectOptions>
  /** Seed of the PRNG behind emulated loss and jitter, so fault runs replay. */
  faultSeed?: number
  /** Bound on bytes queued per (peer, protocol) one-way stream; default max(64 MiB, 4 messages). */
  maxQueuedBytesPerPeer?: number
  /** Timeout for opening a stream (including dialing the connection). */
  dialTimeoutMs?: number
}

export type GossipHandler = (data: Uint8Array, fromPeerId: string) => void
export type MessageHandler = (data: Uint8Array, fromPeerId: string) => void
export type RequestHandler = (data: Uint8Array, fromPeerId: string) => Promise<Uint8Array | undefined>

export class NetworkError extends Error {
  readonly peerId: string
  readonly protocol: string
  constructor(peerId: string, protocol: string, message: string) {
    super(`${protocol} with ${peerId}: ${message}`)
    this.name = 'NetworkError'
    this.peerId = peerId
    this.protocol = protocol
  }
}

/**
 * Internal protocol used instead of gossipsub while any link fault is configured: the publisher
 * sends the payload to every validator directly, so each copy goes through that link's
 * delay/loss/down emulation. Gossipsub relaying would let a message cross a partition through a
 * third peer and would apply only the first hop's delay. Validators are fully connected, so
 * direct fan-out reaches the same set of peers gossipsub's flood publish would.
 */
const GOSSIP_DIRECT_PROTOCOL = '/bftlab/gossip-direct/1'

/**
 * A gossipsub RPC carries the payload plus topic and any piggybacked control messages; 64 KiB
 * covers that with room to spare while keeping the decoder's allocation bounded by roughly one
 * maximum message.
 */
const GOSSIP_RPC_OVERHEAD_BYTES = 64 * 1024

/**
 * Concurrent streams per protocol per connection. One-way traffic uses one long-lived stream
 * (two while a dead one is replaced); the rest is headroom for concurrent requests, e.g. sync
 * fetching many batches from one peer. Excess inbound streams are reset by libp2p.
 */
const MAX_STREAMS_PER_PROTOCOL = 64

/** Direct-gossip de-duplication memory; at 10k msgs/s this still covers several seconds. */
const SEEN_CACHE_ENTRIES = 65_536

const DEFAULT_DIAL_TIMEOUT_MS = 5_000

type Node = Libp2p<{ identify: Identify; pubsub: GossipSub }>

function gossipMessageId(topic: string, data: Uint8Array): Uint8Array {
  return createHash('sha256').update(topic).update(data).digest()
}

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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The validator-to-validator transport. Payloads are opaque bytes; consensus decides what they
 * mean. Delivery is at-most-once on every path, and one-way sends to one peer on one protocol
 * arrive in order.
 */
export class NetworkHost {
  readonly peerId: string
  readonly #node: Node
  readonly #opts: NetworkHostOptions
  readonly #log: NetworkLogger
  readonly #validators: readonly string[]
  readonly #others: readonly string[]
  readonly #gater: ValidatorGater
  readonly #limiter: PeerRateLimiter
  readonly #keeper: PeerKeeper
  readonly #faults: FaultTable
  readonly #stats = emptyStats()
  readonly #gossipHandlers = new Map<string, GossipHandler[]>()
  readonly #messageHandlers = new Map<string, MessageHandler>()
  readonly #requestHandlers = new Map<string, RequestHandler>()
  readonly #outboxes = new Map<string, StreamOutbox>()
  readonly #delayLines = new Map<string, DelayLine>()
  readonly #seen = new Set<string>()
  readonly #maxQueuedBytes: number
  readonly #dialTimeoutMs: number
  #stopped = false

  private constructor(node: Node, peerId: string, opts: NetworkHostOptions, gater: ValidatorGater, log: NetworkLogger) {
    this.#node = node
    this.peerId = peerId
    this.#opts = opts
    this.#log = log
    this.#gater = gater
    this.#validators = opts.peers.map((p) => p.peerId)
    this.#others = this.#validators.filter((id) => id !== peerId)
    this.#limiter = new PeerRateLimiter({ ...DEFAULT_RATE_LIMITS, ...opts.rateLimits })
    this.#faults = new FaultTable(opts.faultSeed ?? 1)
    this.#maxQueuedBytes = opts.maxQueuedBytesPerPeer ?? Math.max(64 * 1024 * 1024, 4 * opts.maxMessageBytes)
    this.#dialTimeoutMs = opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
    this.#keeper = new PeerKeeper(
      this.#others,
      { ...DEFAULT_RECONNECT, ...opts.reconnect },
      {
        dial: async (peer) => {
          await this.#node.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(this.#dialTimeoutMs) })
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
    const node: Node = await createLibp2p({
      privateKey,
      addresses: { listen: [opts.listen] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: gater.connectionGater(),
      connectionManager: {
        // Every validator connects from 127.0.0.1 in local testnets; the default of 5 inbound
        // attempts/s per host would throttle a restarting committee. The gater does admission.
        inboundConnectionThreshold: 10_000,
        maxIncomingPendingConnections: 1_000,
        dialTimeout: opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
      },
      services: {
        identify: identify(),
        pubsub: gossipsub({
          emitSelf: false,
          // Unsigned gossip: only validators can connect (gater, peer ids authenticated by the
          // noise handshake), and every payload carries its own proof — proposals are signed by
          // validator keys, batches are checked tx by tx. A libp2p signature per message added
          // an ed25519 sign per publish and a verify per receipt on the main thread (~10% of a
          // loaded node's CPU, docs/decisions.md "Where the CPU goes") and proved nothing more.
          // The sender a handler sees is the peer that relayed the message to us.
          globalSignaturePolicy: 'StrictNoSign',
          allowPublishToZeroTopicPeers: true,
          // The message id is a hash of the data, so republishing identical bytes is a no-op.
          ignoreDuplicatePublishError: true,
          // Validators are fully connected, so the publisher's flood reaches every one of them
          // and relaying adds only copies: with all validators as gossipsub direct peers (or in a
          // mesh) each receiver forwarded every message to the others, three copies per receiver
          // at n = 4 (loopback traffic at 5,000 tx/s fell from 10.8 to 6.0 MB/s without them,
          // docs/decisions.md). So no mesh: a validator that missed a message over a broken link
          // pulls it through gossipsub's IHAVE/IWANT at the next heartbeat, and a batch a
          // proposal names is fetched by digest (DESIGN §5); reconnection is the keeper's job.
          floodPublish: true,
          D: 0,
          Dlo: 0,
          Dhi: 0,
          Dout: 0,
          Dscore: 0,
          fallbackToFloodsub: false,
          doPX: false,
          msgIdFn: (msg: Message) => gossipMessageId(msg.topic, msg.data),
          maxInboundDataLength: opts.maxMessageBytes + GOSSIP_RPC_OVERHEAD_BYTES,
          allowedTopics: opts.topics,
          // All validators of a local testnet share one IP; colocation scoring would penalise them.
          scoreParams: { IPColocationFactorWeight: 0 },
        }),
      },
    })
    const host = new NetworkHost(node, self, opts, gater, log)
    await host.#wire()
    return host
  }

  async #wire(): Promise<void> {
    const node = this.#node
    for (const p of this.#opts.peers) {
      if (p.peerId === this.peerId) continue
      await node.peerStore.merge(peerIdFromString(p.peerId), { multiaddrs: [multiaddr(p.addr)] })
    }
    node.addEventListener('peer:connect', (evt) => this.#keeper.onConnected(evt.detail.toString()))
    node.addEventListener('peer:disconnect', (evt) => {
      const peer = evt.detail.toString()
      this.#log.debug({ peer }, 'peer disconnected')
      this.#keeper.onDisconnected(peer)
    })

    const pubsub = node.services.pubsub
    for (const topic of this.#opts.topics) {
      pubsub.topicValidators.set(topic, (source, msg) => this.#validateGossip(source, msg))
      pubsub.subscribe(topic)
    }
    pubsub.addEventListener('gossipsub:message', (evt) => {
      const { msg, propagationSource } = evt.detail
      this.#deliverGossip(msg.topic, msg.data, propagationSource.toString())
    })

    const streamLimits = { maxInboundStreams: MAX_STREAMS_PER_PROTOCOL, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL }
    for (const protocol of [...this.#opts.protocols, GOSSIP_DIRECT_PROTOCOL]) {
      await node.handle(protocol, (stream, connection) => this.#onInboundStream(protocol, stream, connection), streamLimits)
    }
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
    return this.#node.services.pubsub.getSubscribers(topic).map(String)
  }

  // ---------------------------------------------------------------- gossip

  onGossip(topic: string, handler: GossipHandler): void {
    this.#requireTopic(topic)
    const list = this.#gossipHandlers.get(topic) ?? []
    list.push(handler)
    this.#gossipHandlers.set(topic, list)
  }

  async publish(topic: string, data: Uint8Array): Promise<void> {
    this.#requireTopic(topic)
    this.#requireSize(data, `gossip topic ${topic}`)
    countTraffic(this.#stats.outbound, gossipKey(topic), data.length)
    if (!this.#faults.active) {
      await this.#node.services.pubsub.publish(topic, data)
      return
    }
    const frame = encodeDirectGossip(topic, data)
    for (const peer of this.#others) this.#sendWithFaults(peer, GOSSIP_DIRECT_PROTOCOL, frame)
  }

  #validateGossip(source: PeerId, msg: Message): TopicValidatorResult {
    // Gossip is unsigned, so the relay is the only sender we know.
    const relay = source.toString()
    if (msg.data.length > this.#opts.maxMessageBytes) {
      this.#stats.droppedOversized++
      this.#log.warn({ peer: relay, topic: msg.topic, bytes: msg.data.length, limit: this.#opts.maxMessageBytes }, 'oversized gossip')
      return TopicValidatorResult.Reject
    }
    // Ignore (not Reject) for faults and rate limits: the sender did nothing invalid, and Reject
    // would lower its gossipsub score for what is our own local policy.
    if (this.#faults.isDown(relay)) {
      this.#stats.faultDropped++
      return TopicValidatorResult.Ignore
    }
    if (!this.#admit(relay, msg.data.length)) return TopicValidatorResult.Ignore
    return TopicValidatorResult.Accept
  }

  #deliverGossip(topic: string, data: Uint8Array, from: string): void {
    countTraffic(this.#stats.inbound, gossipKey(topic), data.length)
    for (const handler of this.#gossipHandlers.get(topic) ?? []) {
      this.#runHandler(() => handler(data, from), { topic, peer: from })
    }
  }

  #onDirectGossip(frame: Uint8Array, from: string): void {
    const { topic, data } = decodeDirectGossip(frame)
    if (!this.#opts.topics.includes(topic)) return
    const id = Buffer.from(gossipMessageId(topic, data)).toString('base64')
    if (this.#seen.has(id)) return
    this.#seen.add(id)
    // Set iteration order is insertion order, so the first key is the oldest.
    if (this.#seen.size > SEEN_CACHE_ENTRIES) this.#seen.delete(this.#seen.values().next().value!)
    this.#deliverGossip(topic, data, from)
  }

  // ---------------------------------------------------------------- direct messages

  /** Handler for one-way `send`s; without one, sends on `protocol` go to its request handler. */
  onMessage(protocol: string, handler: MessageHandler): void {
    this.#requireProtocol(protocol)
    this.#messageHandlers.set(protocol, handler)
  }

  onRequest(protocol: string, handler: RequestHandler): void {
    this.#requireProtocol(protocol)
    this.#requestHandlers.set(protocol, handler)
  }

  /**
   * One-way, ordered per (peer, protocol), at-most-once. Sending to ourselves is delivered
   * locally on a later tick, so consensus code need not special-case "the leader is me".
   */
  send(peerId: string, protocol: string, data: Uint8Array): void {
    this.#requireProtocol(protocol)
    this.#requireSize(data, `${protocol} to ${peerId}`)
    this.#requireValidator(peerId, protocol)
    countTraffic(this.#stats.outbound, protocol, data.length)
    if (peerId === this.peerId) {
      setImmediate(() => this.#onMessageFrame(protocol, data, this.peerId))
      return
    }
    this.#sendWithFaults(peerId, protocol, data)
  }

  /**
   * Request/response over a fresh stream. Across a down or lossy emulated link the request fails
   * immediately instead of timing out, which is indistinguishable to callers that use their own
   * round timers and keeps fault tests fast.
   */
  async request(peerId: string, protocol: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.#requireProtocol(protocol)
    this.#requireSize(data, `${protocol} request to ${peerId}`)
    this.#requireValidator(peerId, protocol)
    countTraffic(this.#stats.outbound, protocol, data.length)
    if (peerId === this.peerId) return this.#requestSelf(protocol, data)
    const verdict = this.#faults.outbound(peerId)
    if (verdict.kind === 'drop') {
      this.#stats.faultDropped++
      throw new NetworkError(peerId, protocol, `request dropped by fault emulation (${verdict.reason})`)
    }
    const deadline = Date.now() + timeoutMs
    if (verdict.delayMs > 0) await sleep(verdict.delayMs)
    const remaining = deadline - Date.now()
    if (remaining <= 0) throw new NetworkError(peerId, protocol, `request timed out after ${timeoutMs} ms (emulated delay)`)
    let stream: Stream
    try {
      stream = await this.#node.dialProtocol(peerIdFromString(peerId), protocol, { signal: AbortSignal.timeout(remaining) })
    } catch (err) {
      throw new NetworkError(peerId, protocol, `cannot open stream: ${(err as Error).message}`)
    }
    return this.#exchange(stream, peerId, protocol, data, deadline, timeoutMs)
  }

  #exchange(stream: Stream, peerId: string, protocol: string, data: Uint8Array, deadline: number, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const decoder = new FrameDecoder(this.#opts.maxMessageBytes)
      let settled = false
      const settle = (result: Uint8Array | Error): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (result instanceof Error) {
          stream.abort(result)
          reject(result)
        } else {
          stream.close().catch((err: Error) => stream.abort(err))
          countTraffic(this.#stats.inbound, protocol, result.length)
          resolve(result)
        }
      }
      const timer = setTimeout(
        () => settle(new NetworkError(peerId, protocol, `no response within ${timeoutMs} ms`)),
        Math.max(0, deadline - Date.now()),
      )
      stream.addEventListener('message', (evt) => {
        try {
          const frames = decoder.push(evt.data.subarray())
          if (frames.length > 0) settle(frames[0]!)
        } catch (err) {
          if (err instanceof FrameError) this.#countFrameError(err)
          settle(new NetworkError(peerId, protocol, `bad response: ${(err as Error).message}`))
        }
      })
      stream.addEventListener('remoteCloseWrite', () => settle(new NetworkError(peerId, protocol, 'peer closed the stream without a response')))
      stream.addEventListener('close', (evt) =>
        settle(new NetworkError(peerId, protocol, `stream closed before a response${evt.error ? `: ${evt.error.message}` : ''}`)),
      )
      try {
        stream.send(encodeFrame(data, STREAM_MODE_REQUEST))
        // Half-close: the responder learns the request is complete; we keep reading.
        stream.close().catch((err: Error) => settle(new NetworkError(peerId, protocol, `write failed: ${err.message}`)))
      } catch (err) {
        settle(new NetworkError(peerId, protocol, `write failed: ${(err as Error).message}`))
      }
    })
  }

  async #requestSelf(protocol: string, data: Uint8Array): Promise<Uint8Array> {
    const handler = this.#requestHandlers.get(protocol)
    if (handler === undefined) throw new NetworkError(this.peerId, protocol, 'no request handler registered')
    const response = await handler(data, this.peerId)
    if (response === undefined) throw new NetworkError(this.peerId, protocol, 'handler returned no response')
    return response
  }

  #sendWithFaults(peerId: string, protocol: string, payload: Uint8Array): void {
    const verdict = this.#faults.outbound(peerId)
    if (verdict.kind === 'drop') {
      this.#stats.faultDropped++
      return
    }
    const outbox = this.#outbox(peerId, protocol)
    if (verdict.delayMs <= 0 && !this.#delayLines.has(peerId)) {
      outbox.enqueue(payload)
      return
    }
    // Once a link has a delay line, everything to that peer goes through it, so a message sent
    // after faults are cleared cannot overtake one still being delayed.
    let line = this.#delayLines.get(peerId)
    if (line === undefined) {
      line = new DelayLine()
      this.#delayLines.set(peerId, line)
    }
    line.push(verdict.delayMs, () => outbox.enqueue(payload))
  }

  #outbox(peerId: string, protocol: string): StreamOutbox {
    const key = `${peerId} ${protocol}`
    let outbox = this.#outboxes.get(key)
    if (outbox === undefined) {
      outbox = new StreamOutbox({
        peerId,
        protocol,
        maxQueuedBytes: this.#maxQueuedBytes,
        log: this.#log,
        openStream: () =>
          this.#node.dialProtocol(peerIdFromString(peerId), protocol, { signal: AbortSignal.timeout(this.#dialTimeoutMs) }),
        onDropped: (reason, count) => {
          this.#stats.queueDropped += count
          if (reason === 'queue-full') this.#log.warn({ peer: peerId, protocol, limitBytes: this.#maxQueuedBytes }, 'outbound queue full; message dropped')
        },
      })
      this.#outboxes.set(key, outbox)
    }
    return outbox
  }

  // ---------------------------------------------------------------- inbound streams

  #onInboundStream(protocol: string, stream: Stream, connection: Connection): void {
    const from = connection.remotePeer.toString()
    const decoder = new FrameDecoder(
      protocol === GOSSIP_DIRECT_PROTOCOL ? this.#opts.maxMessageBytes + GOSSIP_RPC_OVERHEAD_BYTES : this.#opts.maxMessageBytes,
    )
    let mode: StreamMode | undefined
    let requestReceived = false
    stream.addEventListener('message', (evt) => {
      try {
        let chunk = evt.data.subarray()
        if (mode === undefined) {
          if (chunk.length === 0) return
          const byte = chunk[0]!
          if (!isStreamMode(byte) || (byte === STREAM_MODE_REQUEST && protocol === GOSSIP_DIRECT_PROTOCOL)) {
            throw new FrameError('malformed', `unexpected stream mode byte 0x${byte.toString(16)}`)
          }
          mode = byte
          chunk = chunk.subarray(1)
        }
        for (const frame of decoder.push(chunk)) {
          if (mode === STREAM_MODE_MESSAGES) {
            if (!this.#admitFrame(from, frame.length)) continue
            if (protocol === GOSSIP_DIRECT_PROTOCOL) this.#onDirectGossip(frame, from)
            else {
              countTraffic(this.#stats.inbound, protocol, frame.length)
              this.#onMessageFrame(protocol, frame, from)
            }
          } else {
            if (requestReceived) throw new FrameError('malformed', 'second frame on a request stream')
            requestReceived = true
            void this.#answer(protocol, frame, from, stream)
          }
        }
      } catch (err) {
        if (err instanceof FrameError) this.#countFrameError(err)
        this.#log.warn({ peer: from, protocol, err: (err as Error).message }, 'inbound stream reset')
        stream.abort(err as Error)
      }
    })
    stream.addEventListener('remoteCloseWrite', () => {
      // A one-way stream that ends is done; a request stream is closed by #answer after replying.
      if (mode !== STREAM_MODE_REQUEST) stream.close().catch((err: Error) => stream.abort(err))
    })
  }

  /** Inbound admission shared by every path: emulated link state, then the peer's rate budget. */
  #admitFrame(from: string, bytes: number): boolean {
    if (this.#faults.isDown(from)) {
      this.#stats.faultDropped++
      return false
    }
    return this.#admit(from, bytes)
  }

  #admit(from: string, bytes: number): boolean {
    // Frames already buffered when we hung up on a peer must not refill its fresh budget.
    if (this.#gater.bannedForMs(from) > 0) {
      this.#stats.rateLimited++
      return false
    }
    const verdict = this.#limiter.admit(from, bytes)
    if (verdict === 'accept') return true
    this.#stats.rateLimited++
    if (verdict === 'disconnect') {
      const coolOffMs = this.#limiter.options.coolOffMs
      this.#stats.rateLimitDisconnects++
      this.#log.warn(
        {
          peer: from,
          limitMessagesPerSecond: this.#limiter.options.messagesPerSecond,
          limitBytesPerSecond: this.#limiter.options.bytesPerSecond,
          coolOffMs,
        },
        'peer exceeded inbound rate limit repeatedly; disconnecting',
      )
      this.#gater.ban(from, coolOffMs)
      this.#node.hangUp(peerIdFromString(from)).catch((err: Error) => this.#log.debug({ peer: from, err: err.message }, 'hang up failed'))
    }
    return false
  }

  #onMessageFrame(protocol: string, data: Uint8Array, from: string): void {
    const handler = this.#messageHandlers.get(protocol)
    if (handler !== undefined) {
      this.#runHandler(() => handler(data, from), { protocol, peer: from })
      return
    }
    const fallback = this.#requestHandlers.get(protocol)
    if (fallback !== undefined) this.#runHandler(() => fallback(data, from), { protocol, peer: from })
  }

  async #answer(protocol: string, request: Uint8Array, from: string, stream: Stream): Promise<void> {
    if (!this.#admitFrame(from, request.length)) {
      stream.abort(new NetworkError(from, protocol, 'request not admitted'))
      return
    }
    countTraffic(this.#stats.inbound, protocol, request.length)
    const handler = this.#requestHandlers.get(protocol)
    let response: Uint8Array | undefined
    try {
      response = handler === undefined ? undefined : await handler(request, from)
    } catch (err) {
      this.#stats.handlerErrors++
      this.#log.error({ peer: from, protocol, err: (err as Error).message }, 'request handler failed')
      stream.abort(err as Error)
      return
    }
    if (response !== undefined && response.length > this.#opts.maxMessageBytes) {
      this.#log.error({ peer: from, protocol, bytes: response.length, limit: this.#opts.maxMessageBytes }, 'response exceeds maxMessageBytes; not sent')
      stream.abort(new NetworkError(from, protocol, 'response too large'))
      return
    }
    if (response !== undefined) {
      const verdict = this.#faults.outbound(from)
      if (verdict.kind === 'drop') {
        this.#stats.faultDropped++
        stream.abort(new NetworkError(from, protocol, `response dropped by fault emulation (${verdict.reason})`))
        return
      }
      if (verdict.delayMs > 0) await sleep(verdict.delayMs)
      try {
        stream.send(encodeFrame(response))
        countTraffic(this.#stats.outbound, protocol, response.length)
      } catch (err) {
        this.#log.debug({ peer: from, protocol, err: (err as Error).message }, 'response write failed')
        return
      }
    }
    await stream.close().catch((err: Error) => stream.abort(err))
  }

  #runHandler(fn: () => unknown, context: object): void {
    const fail = (err: unknown): void => {
      this.#stats.handlerErrors++
      this.#log.error({ ...context, err: (err as Error)?.message }, 'network handler threw')
    }
    try {
      const result = fn()
      if (result instanceof Promise) result.catch(fail)
    } catch (err) {
      fail(err)
    }
  }

  #countFrameError(err: FrameError): void {
    if (err.kind === 'oversized') this.#stats.droppedOversized++
    else this.#stats.droppedMalformed++
  }

  // ---------------------------------------------------------------- faults

  setLinkFaults(peerId: string, faults: Partial<LinkFaults>): void {
    if (peerId !== '*') this.#requireValidator(peerId, 'fault emulation')
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
    for (const line of this.#delayLines.values()) line.clear()
    await Promise.all([...this.#outboxes.values()].map((o) => o.close()))
    await this.#node.stop()
    this.#log.info({ peer: this.peerId }, 'network host stopped')
  }

  #requireTopic(topic: string): void {
    if (!this.#opts.topics.includes(topic)) {
      throw new Error(`gossip topic ${topic} is not configured (configured: ${this.#opts.topics.join(', ')})`)
    }
  }

  #requireProtocol(protocol: string): void {
    if (!this.#opts.protocols.includes(protocol)) {
      throw new Error(`protocol ${protocol} is not configured (configured: ${this.#opts.protocols.join(', ')})`)
    }
  }

  #requireValidator(peerId: string, protocol: string): void {
    if (!this.#validators.includes(peerId)) throw new NetworkError(peerId, protocol, 'peer is not in the validator set')
  }

  #requireSize(data: Uint8Array, what: string): void {
    if (data.length > this.#opts.maxMessageBytes) {
      throw new RangeError(`${what}: payload of ${data.length} bytes exceeds maxMessageBytes ${this.#opts.maxMessageBytes}`)
    }
  }
}
