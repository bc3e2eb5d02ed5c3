import type { Stream } from '@libp2p/interface'
import type { Logger } from '../core/logger.ts'
import { encodeFrame, STREAM_MODE_MESSAGES } from './framing.ts'

export interface OutboxOptions {
  peerId: string
  protocol: string
  openStream: () => Promise<Stream>
  /** Bound on bytes waiting for the stream; beyond it new messages are dropped (tail drop). */
  maxQueuedBytes: number
  onDropped: (reason: 'queue-full' | 'undeliverable', count: number) => void
  log: Logger
}

/**
 * One long-lived outbound stream per (peer, protocol) for one-way messages. Messages are written
 * in enqueue order on a single stream, so the receiver sees them in order. Delivery is
 * at-most-once: if the stream dies, frames already handed to it may be lost, and messages queued
 * while a stream cannot be opened are dropped rather than replayed late (consensus retransmits
 * by itself via timeouts/sync; stale bursts after a reconnect would only add load).
 */
export class StreamOutbox {
  readonly #o: OutboxOptions
  #queue: Uint8Array[] = []
  #queuedBytes = 0
  #stream: Stream | undefined
  #pumping = false
  #closed = false

  constructor(options: OutboxOptions) {
    this.#o = options
  }

  enqueue(payload: Uint8Array): void {
    if (this.#closed) return
    if (this.#queuedBytes + payload.length > this.#o.maxQueuedBytes) {
      this.#o.onDropped('queue-full', 1)
      return
    }
    this.#queue.push(payload)
    this.#queuedBytes += payload.length
    if (!this.#pumping) void this.#pump()
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#dropQueued('undeliverable')
    const stream = this.#stream
    this.#stream = undefined
    if (stream !== undefined) await stream.close().catch((err: Error) => stream.abort(err))
  }

  /** Forgets the current stream (its connection went away); the next message opens a new one. */
  reset(): void {
    const stream = this.#stream
    this.#stream = undefined
    stream?.abort(new Error(`outbox to ${this.#o.peerId} ${this.#o.protocol} reset`))
  }

  async #pump(): Promise<void> {
    this.#pumping = true
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        let stream = this.#usableStream()
        let first = false
        if (stream === undefined) {
          try {
            stream = await this.#open()
            first = true
          } catch (err) {
            this.#o.log.debug(
              { peer: this.#o.peerId, protocol: this.#o.protocol, err: (err as Error).message, dropped: this.#queue.length },
              'one-way stream open failed; dropping queued messages',
            )
            this.#dropQueued('undeliverable')
            return
          }
          if (this.#closed) return
        }
        const payload = this.#queue.shift()!
        this.#queuedBytes -= payload.length
        const frame = encodeFrame(payload, first ? STREAM_MODE_MESSAGES : undefined)
        let writable: boolean
        try {
          writable = stream.send(frame)
        } catch (err) {
          this.#o.log.debug({ peer: this.#o.peerId, protocol: this.#o.protocol, err: (err as Error).message }, 'one-way send failed')
          this.#o.onDropped('undeliverable', 1)
          this.#stream = undefined
          continue
        }
        if (!writable) {
          // Backpressure from yamux: wait rather than growing the stream's own buffer unbounded.
          await stream.onDrain().catch(() => {
            if (this.#stream === stream) this.#stream = undefined
          })
        }
      }
    } finally {
      this.#pumping = false
    }
  }

  #usableStream(): Stream | undefined {
    const s = this.#stream
    if (s !== undefined && s.status === 'open' && s.writeStatus === 'writable') return s
    this.#stream = undefined
    return undefined
  }

  async #open(): Promise<Stream> {
    const stream = await this.#o.openStream()
    // The receiver never writes on a one-way stream; anything it sends is ignored.
    stream.addEventListener('message', () => {})
    stream.addEventListener('close', () => {
      if (this.#stream === stream) this.#stream = undefined
    })
    this.#stream = stream
    return stream
  }

  #dropQueued(reason: 'undeliverable' | 'queue-full'): void {
    if (this.#queue.length > 0) this.#o.onDropped(reason, this.#queue.length)
    this.#queue = []
    this.#queuedBytes = 0
  }
}
