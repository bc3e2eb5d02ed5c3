import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { pack } from 'msgpackr'
import type { CommitEvent } from '../node/commit-feed.ts'

/**
 * Client side of a validator's HTTP API (docs/design.md §9, src/node/http.ts) as the load
 * generator and the testnet use it: binary tx submission, Prometheus metrics, commit events.
 */

export type { CommitEvent }

/** Per-tx answer of `POST /txs`. */
export interface AdmissionReply {
  readonly hash?: string
  readonly accepted: boolean
  readonly reason?: string
}

/** A validator answered something other than what its API promises. */
export class NodeApiError extends Error {
  readonly url: string
  constructor(url: string, message: string) {
    super(`${url}: ${message}`)
    this.name = 'NodeApiError'
    this.url = url
  }
}

/**
 * Connections kept open between submissions: the load generator sends a request per target up to
 * every 20 ms, and `fetch` (undici behind WHATWG streams, Headers and Response objects) cost it
 * 2.3–2.9× the CPU of a plain `node:http` request on a kept-alive socket (docs/decisions.md).
 */
const SUBMIT_AGENT = new http.Agent({ keepAlive: true })

/** Submits canonical tx bytes as one msgpack array; one reply per tx, in order. */
export async function submitTxs(base: string, txs: readonly Uint8Array[], signal?: AbortSignal): Promise<AdmissionReply[]> {
  const url = `${base}/txs`
  const body = pack(txs)
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: SUBMIT_AGENT,
      headers: { 'content-type': 'application/msgpack', 'content-length': body.length },
      signal,
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
  if (status < 200 || status >= 300) throw new NodeApiError(url, `HTTP ${status}: ${text.slice(0, 200)}`)
  const replies: unknown = JSON.parse(text)
  if (!Array.isArray(replies) || replies.length !== txs.length) {
    throw new NodeApiError(url, `expected ${txs.length} admission results, got ${Array.isArray(replies) ? replies.length : typeof replies}`)
  }
  return replies as AdmissionReply[]
}

/**
 * Prometheus text exposition → sample values keyed by `name` or `name{labels}` as written.
 * Only what the live line and the summary read; histograms come through as their series.
 */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    if (space <= 0) continue
    const value = Number(line.slice(space + 1))
    if (!Number.isNaN(value)) samples.set(line.slice(0, space), value)
  }
  return samples
}

export async function fetchMetrics(base: string, signal?: AbortSignal): Promise<Map<string, number>> {
  const url = `${base}/metrics`
  const res = await fetch(url, { signal })
  const text = await res.text()
  if (!res.ok) throw new NodeApiError(url, `HTTP ${res.status}: ${text.slice(0, 200)}`)
  return parseMetrics(text)
}

export async function fetchJson<T>(base: string, path: string, signal?: AbortSignal): Promise<T> {
  const url = `${base}${path}`
  const res = await fetch(url, { signal })
  const text = await res.text()
  if (!res.ok) throw new NodeApiError(url, `HTTP ${res.status}: ${text.slice(0, 200)}`)
  return JSON.parse(text) as T
}

/** Pause before re-subscribing to a validator whose event stream broke (it may be restarting). */
const RESUBSCRIBE_DELAY_MS = 250

const LF = 0x0a
const FRAME_END = Buffer.from('\n\n')

/**
 * Cuts an SSE byte stream into frames (the bytes before each blank line). Each byte is scanned
 * once and a frame is joined only when complete: a block's frame (≈ 67 bytes per tx) spans many
 * chunks, and appending each chunk to a string and searching it from the start copied and
 * scanned the whole frame again per chunk.
 */
export class SseFramer {
  #parts: Buffer[] = []

  /** The frames completed by `chunk`, in order; the chunk's bytes are kept, not copied, until framed. */
  push(chunk: Uint8Array): Buffer[] {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const frames: Buffer[] = []
    let start = 0
    const last = this.#parts.at(-1)
    if (last !== undefined && last[last.length - 1] === LF && bytes[0] === LF) {
      // The blank line straddles the chunks: the frame ends before the held bytes' final newline.
      const frame = Buffer.concat(this.#parts)
      frames.push(frame.subarray(0, frame.length - 1))
      this.#parts = []
      start = 1
    }
    let end: number
    while ((end = bytes.indexOf(FRAME_END, start)) >= 0) {
      const piece = bytes.subarray(start, end)
      frames.push(this.#parts.length === 0 ? piece : Buffer.concat([...this.#parts, piece]))
      this.#parts = []
      start = end + 2
    }
    if (start < bytes.length) this.#parts.push(bytes.subarray(start))
    return frames
  }
}

/**
 * Follows `GET /events` of one validator until `signal` aborts, re-subscribing whenever the
 * stream breaks (a killed or restarting node), and hands every commit event to `onEvent`.
 * Events are frames `id: <height> <block id>\ndata: <json>\n\n`; comment frames (`: …`) are
 * ignored. `alreadyHave(height, blockId)` true skips decoding the frame's data (a client following
 * several validators receives each block from all of them); the id line is optional.
 */
export async function followCommits(
  base: string,
  onEvent: (e: CommitEvent) => void,
  signal: AbortSignal,
  alreadyHave: (height: number, blockId: string) => boolean = () => false,
): Promise<void> {
  const onFrame = (frame: Buffer): void => {
    let skip = false
    for (let start = 0; start < frame.length; ) {
      let end = frame.indexOf(LF, start)
      if (end < 0) end = frame.length
      const field = frame.toString('latin1', start, Math.min(start + 5, end))
      if (field.startsWith('id:')) {
        const [height, blockId] = frame.toString('utf8', start + 3, end).trim().split(' ')
        skip = blockId !== undefined && alreadyHave(Number(height), blockId)
      } else if (field === 'data:' && !skip) {
        onEvent(JSON.parse(frame.toString('utf8', start + 5, end)) as CommitEvent)
      }
      start = end + 1
    }
  }
  while (!signal.aborted) {
    try {
      const res = await fetch(`${base}/events`, { signal, headers: { accept: 'text/event-stream' } })
      if (!res.ok || res.body === null) throw new NodeApiError(`${base}/events`, `HTTP ${res.status}`)
      const framer = new SseFramer()
      for await (const chunk of res.body) for (const frame of framer.push(chunk)) onFrame(frame)
    } catch (err) {
      if (signal.aborted) return
      if (err instanceof SyntaxError) throw new NodeApiError(`${base}/events`, `malformed event: ${err.message}`)
    }
    await sleep(RESUBSCRIBE_DELAY_MS, undefined, { signal }).catch(() => {})
  }
}

/** `POST path` with a JSON body (the admin endpoints); the JSON answer, or NodeApiError on a non-2xx. */
export async function postJson<T>(base: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const url = `${base}${path}`
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal })
  const text = await res.text()
  if (!res.ok) throw new NodeApiError(url, `HTTP ${res.status}: ${text.slice(0, 200)}`)
  return JSON.parse(text) as T
}
