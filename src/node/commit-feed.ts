import type { ServerResponse } from 'node:http'

/** What `GET /events` streams, one per committed block, in commit order. */
export interface CommitEvent {
  readonly height: number
  readonly round: number
  /** Block id, hex. */
  readonly id: string
  /** The block's timestamp: the proposer's clock when it proposed (ms since epoch). */
  readonly proposedAt: number
  /** This validator's clock when the block was durably committed (ms since epoch). */
  readonly committedAt: number
  /** Hashes (hex) of the block's txs in execution order. */
  readonly txs: readonly string[]
}

/**
 * Bytes a subscriber may have queued in its socket before it is dropped. A load generator that
 * stops reading must not make the validator buffer every block forever; 8 MiB is several
 * seconds of events at 50k tx/s (≈ 65 bytes per tx hash).
 */
export const DEFAULT_MAX_SUBSCRIBER_BUFFER_BYTES = 8 * 1024 * 1024

/** Fan-out of commit events to Server-Sent-Events subscribers, dropping slow ones. */
export class CommitFeed {
  readonly #subscribers = new Set<ServerResponse>()
  readonly #maxBufferedBytes: number
  #dropped = 0

  constructor(maxBufferedBytes = DEFAULT_MAX_SUBSCRIBER_BUFFER_BYTES) {
    this.#maxBufferedBytes = maxBufferedBytes
  }

  get subscribers(): number {
    return this.#subscribers.size
  }

  /** Subscribers disconnected because they fell too far behind. */
  get dropped(): number {
    return this.#dropped
  }

  /** Takes over a raw HTTP response and streams events to it until either side closes. */
  subscribe(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
    // An initial comment flushes the headers so clients see the stream open before any commit.
    res.write(': bftlab commit events\n\n')
    this.#subscribers.add(res)
    res.on('close', () => this.#subscribers.delete(res))
  }

  /**
   * The frame's `id:` line (`<height> <block id>`, the SSE event id) lets a client that follows
   * several validators recognise a block it already has without parsing its tx list.
   */
  publish(event: CommitEvent): void {
    if (this.#subscribers.size === 0) return
    const frame = `id: ${event.height} ${event.id}\ndata: ${JSON.stringify(event)}\n\n`
    for (const res of this.#subscribers) {
      if (res.writableLength > this.#maxBufferedBytes) {
        this.#dropped++
        this.#subscribers.delete(res)
        res.destroy()
        continue
      }
      res.write(frame)
    }
  }

  close(): void {
    for (const res of this.#subscribers) res.end()
    this.#subscribers.clear()
  }
}
