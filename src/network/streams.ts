import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../core/logger.ts'
import type { InboundAdmission } from './admission.ts'
import { DelayLine, type FaultTable } from './faults.ts'
import { encodeFrame, FrameDecoder, FrameError, isStreamMode, STREAM_MODE_MESSAGES, STREAM_MODE_REQUEST } from './framing.ts'
import type { StreamMode } from './framing.ts'
import type { Libp2pNode } from './libp2p.ts'
import { StreamOutbox } from './outbox.ts'
import { countTraffic, type NetworkStats } from './stats.ts'

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
 * Concurrent streams per protocol per connection. One-way traffic uses one long-lived stream
 * (two while a dead one is replaced); the rest is headroom for concurrent requests, e.g. sync
 * fetching many batches from one peer. Excess inbound streams are reset by libp2p.
 */
const MAX_STREAMS_PER_PROTOCOL = 64

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A one-way protocol of the network layer itself, whose frames go to `onFrame` unmetered. */
interface RawProtocol {
  readonly maxFrameBytes: number
  /** Throwing (e.g. a FrameError) resets the stream like any malformed frame. */
  readonly onFrame: (frame: Uint8Array, from: string) => void
}

export interface StreamProtocolsParts {
  readonly node: Libp2pNode
  readonly self: string
  /** The whole validator set, self included: the only peers anything is sent to. */
  readonly validators: readonly string[]
  /** Request/response and one-way protocol ids the application may use. */
  readonly protocols: readonly string[]
  readonly maxMessageBytes: number
  readonly maxQueuedBytes: number
  readonly dialTimeoutMs: number
  readonly admission: InboundAdmission
  readonly faults: FaultTable
  readonly stats: NetworkStats
  readonly log: Logger
}

/**
 * The validator's stream protocols: one-way messages (ordered per peer and protocol, on one
 * long-lived stream each) and request/response (one fresh stream per request). Outbound traffic
 * passes the emulated link's faults here (drop, or delay in order); inbound frames pass the
 * shared admission.
 */
export class StreamProtocols {
  readonly #p: StreamProtocolsParts
  readonly #messageHandlers = new Map<string, MessageHandler>()
  readonly #requestHandlers = new Map<string, RequestHandler>()
  readonly #raw = new Map<string, RawProtocol>()
  readonly #outboxes = new Map<string, StreamOutbox>()
  readonly #delayLines = new Map<string, DelayLine>()

  constructor(parts: StreamProtocolsParts) {
    this.#p = parts
  }

  /** Registers a protocol of the network layer itself (not in `protocols`); call before `start`. */
  addRawProtocol(protocol: string, raw: RawProtocol): void {
    this.#raw.set(protocol, raw)
  }

  /** Starts answering inbound streams on every protocol. */
  async start(): Promise<void> {
    const streamLimits = { maxInboundStreams: MAX_STREAMS_PER_PROTOCOL, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL }
    for (const protocol of [...this.#p.protocols, ...this.#raw.keys()]) {
      await this.#p.node.handle(protocol, (stream, connection) => this.#onInboundStream(protocol, stream, connection), streamLimits)
    }
  }

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
    this.requireValidator(peerId, protocol)
    countTraffic(this.#p.stats.outbound, protocol, data.length)
    if (peerId === this.#p.self) {
      setImmediate(() => this.#onMessageFrame(protocol, data, this.#p.self))
      return
    }
    this.sendWithFaults(peerId, protocol, data)
  }

  /**
   * Request/response over a fresh stream. Across a down or lossy emulated link the request fails
   * immediately instead of timing out, which is indistinguishable to callers that use their own
   * round timers and keeps fault tests fast.
   */
  async request(peerId: string, protocol: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.#requireProtocol(protocol)
    this.#requireSize(data, `${protocol} request to ${peerId}`)
    this.requireValidator(peerId, protocol)
    countTraffic(this.#p.stats.outbound, protocol, data.length)
    if (peerId === this.#p.self) return this.#requestSelf(protocol, data)
    const verdict = this.#p.faults.outbound(peerId)
    if (verdict.kind === 'drop') {
      this.#p.stats.faultDropped++
      throw new NetworkError(peerId, protocol, `request dropped by fault emulation (${verdict.reason})`)
    }
    const deadline = Date.now() + timeoutMs
    if (verdict.delayMs > 0) await sleep(verdict.delayMs)
    const remaining = deadline - Date.now()
    if (remaining <= 0) throw new NetworkError(peerId, protocol, `request timed out after ${timeoutMs} ms (emulated delay)`)
    let stream: Stream
    try {
      stream = await this.#p.node.dialProtocol(peerIdFromString(peerId), protocol, { signal: AbortSignal.timeout(remaining) })
    } catch (err) {
      throw new NetworkError(peerId, protocol, `cannot open stream: ${(err as Error).message}`)
    }
    return this.#exchange(stream, peerId, protocol, data, deadline, timeoutMs)
  }

  /** A one-way frame through the emulated link to `peerId`: dropped, delayed in order, or queued. */
  sendWithFaults(peerId: string, protocol: string, payload: Uint8Array): void {
    const verdict = this.#p.faults.outbound(peerId)
    if (verdict.kind === 'drop') {
      this.#p.stats.faultDropped++
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

  /** Drops what waits in delay lines and closes every outbound stream. */
  async stop(): Promise<void> {
    for (const line of this.#delayLines.values()) line.clear()
    await Promise.all([...this.#outboxes.values()].map((o) => o.close()))
  }

  /** Counts a frame error by kind (the stream that carried it is reset by whoever caught it). */
  countFrameError(err: FrameError): void {
    if (err.kind === 'oversized') this.#p.stats.droppedOversized++
    else this.#p.stats.droppedMalformed++
  }

  /** Runs an application handler so that its failure is counted and logged, never thrown at the stream. */
  runHandler(fn: () => unknown, context: object): void {
    const fail = (err: unknown): void => {
      this.#p.stats.handlerErrors++
      this.#p.log.error({ ...context, err: (err as Error)?.message }, 'network handler threw')
    }
    try {
      const result = fn()
      if (result instanceof Promise) result.catch(fail)
    } catch (err) {
      fail(err)
    }
  }

  #exchange(stream: Stream, peerId: string, protocol: string, data: Uint8Array, deadline: number, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const decoder = new FrameDecoder(this.#p.maxMessageBytes)
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
          countTraffic(this.#p.stats.inbound, protocol, result.length)
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
          if (err instanceof FrameError) this.countFrameError(err)
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
    if (handler === undefined) throw new NetworkError(this.#p.self, protocol, 'no request handler registered')
    const response = await handler(data, this.#p.self)
    if (response === undefined) throw new NetworkError(this.#p.self, protocol, 'handler returned no response')
    return response
  }

  #outbox(peerId: string, protocol: string): StreamOutbox {
    const key = `${peerId} ${protocol}`
    let outbox = this.#outboxes.get(key)
    if (outbox === undefined) {
      const { maxQueuedBytes, dialTimeoutMs, node, stats, log } = this.#p
      outbox = new StreamOutbox({
        peerId,
        protocol,
        maxQueuedBytes,
        log,
        openStream: () => node.dialProtocol(peerIdFromString(peerId), protocol, { signal: AbortSignal.timeout(dialTimeoutMs) }),
        onDropped: (reason, count) => {
          stats.queueDropped += count
          if (reason === 'queue-full') log.warn({ peer: peerId, protocol, limitBytes: maxQueuedBytes }, 'outbound queue full; message dropped')
        },
      })
      this.#outboxes.set(key, outbox)
    }
    return outbox
  }

  #onInboundStream(protocol: string, stream: Stream, connection: Connection): void {
    const from = connection.remotePeer.toString()
    const raw = this.#raw.get(protocol)
    const decoder = new FrameDecoder(raw?.maxFrameBytes ?? this.#p.maxMessageBytes)
    let mode: StreamMode | undefined
    let requestReceived = false
    stream.addEventListener('message', (evt) => {
      try {
        let chunk = evt.data.subarray()
        if (mode === undefined) {
          if (chunk.length === 0) return
          const byte = chunk[0]!
          if (!isStreamMode(byte) || (byte === STREAM_MODE_REQUEST && raw !== undefined)) {
            throw new FrameError('malformed', `unexpected stream mode byte 0x${byte.toString(16)}`)
          }
          mode = byte
          chunk = chunk.subarray(1)
        }
        for (const frame of decoder.push(chunk)) {
          if (mode === STREAM_MODE_MESSAGES) {
            if (!this.#p.admission.admit(from, frame.length)) continue
            if (raw !== undefined) raw.onFrame(frame, from)
            else {
              countTraffic(this.#p.stats.inbound, protocol, frame.length)
              this.#onMessageFrame(protocol, frame, from)
            }
          } else {
            if (requestReceived) throw new FrameError('malformed', 'second frame on a request stream')
            requestReceived = true
            void this.#answer(protocol, frame, from, stream)
          }
        }
      } catch (err) {
        if (err instanceof FrameError) this.countFrameError(err)
        this.#p.log.warn({ peer: from, protocol, err: (err as Error).message }, 'inbound stream reset')
        stream.abort(err as Error)
      }
    })
    stream.addEventListener('remoteCloseWrite', () => {
      // A one-way stream that ends is done; a request stream is closed by #answer after replying.
      if (mode !== STREAM_MODE_REQUEST) stream.close().catch((err: Error) => stream.abort(err))
    })
  }

  #onMessageFrame(protocol: string, data: Uint8Array, from: string): void {
    const handler = this.#messageHandlers.get(protocol)
    if (handler !== undefined) {
      this.runHandler(() => handler(data, from), { protocol, peer: from })
      return
    }
    const fallback = this.#requestHandlers.get(protocol)
    if (fallback !== undefined) this.runHandler(() => fallback(data, from), { protocol, peer: from })
  }

  async #answer(protocol: string, request: Uint8Array, from: string, stream: Stream): Promise<void> {
    if (!this.#p.admission.admit(from, request.length)) {
      stream.abort(new NetworkError(from, protocol, 'request not admitted'))
      return
    }
    const { stats, log, maxMessageBytes } = this.#p
    countTraffic(stats.inbound, protocol, request.length)
    const handler = this.#requestHandlers.get(protocol)
    let response: Uint8Array | undefined
    try {
      response = handler === undefined ? undefined : await handler(request, from)
    } catch (err) {
      stats.handlerErrors++
      log.error({ peer: from, protocol, err: (err as Error).message }, 'request handler failed')
      stream.abort(err as Error)
      return
    }
    if (response !== undefined && response.length > maxMessageBytes) {
      log.error({ peer: from, protocol, bytes: response.length, limit: maxMessageBytes }, 'response exceeds maxMessageBytes; not sent')
      stream.abort(new NetworkError(from, protocol, 'response too large'))
      return
    }
    if (response !== undefined) {
      const verdict = this.#p.faults.outbound(from)
      if (verdict.kind === 'drop') {
        stats.faultDropped++
        stream.abort(new NetworkError(from, protocol, `response dropped by fault emulation (${verdict.reason})`))
        return
      }
      if (verdict.delayMs > 0) await sleep(verdict.delayMs)
      try {
        stream.send(encodeFrame(response))
        countTraffic(stats.outbound, protocol, response.length)
      } catch (err) {
        log.debug({ peer: from, protocol, err: (err as Error).message }, 'response write failed')
        return
      }
    }
    await stream.close().catch((err: Error) => stream.abort(err))
  }

  #requireProtocol(protocol: string): void {
    if (!this.#p.protocols.includes(protocol)) {
      throw new Error(`protocol ${protocol} is not configured (configured: ${this.#p.protocols.join(', ')})`)
    }
  }

  requireValidator(peerId: string, protocol: string): void {
    if (!this.#p.validators.includes(peerId)) throw new NetworkError(peerId, protocol, 'peer is not in the validator set')
  }

  #requireSize(data: Uint8Array, what: string): void {
    if (data.length > this.#p.maxMessageBytes) {
      throw new RangeError(`${what}: payload of ${data.length} bytes exceeds maxMessageBytes ${this.#p.maxMessageBytes}`)
    }
  }
}
