/**
 * Wire framing for bftlab request/response and one-way streams.
 *
 * A stream starts with one mode byte chosen by the opener, followed by frames. A frame is an
 * unsigned LEB128 varint length followed by that many payload bytes. The length is checked
 * against the bound as soon as the prefix is complete, before any payload is buffered, so a peer
 * cannot make us allocate more than `maxFrameBytes` + one chunk per stream.
 */

export const STREAM_MODE_MESSAGES = 0x01
export const STREAM_MODE_REQUEST = 0x02
export type StreamMode = typeof STREAM_MODE_MESSAGES | typeof STREAM_MODE_REQUEST

/** 5 varint bytes carry 35 bits, enough for any 32-bit length; a longer prefix is malformed. */
const MAX_PREFIX_BYTES = 5
const MAX_FRAME_LENGTH = 2 ** 32 - 1

export type FrameErrorKind = 'oversized' | 'malformed'

export class FrameError extends Error {
  readonly kind: FrameErrorKind
  constructor(kind: FrameErrorKind, message: string) {
    super(message)
    this.name = 'FrameError'
    this.kind = kind
  }
}

export function isStreamMode(byte: number): byte is StreamMode {
  return byte === STREAM_MODE_MESSAGES || byte === STREAM_MODE_REQUEST
}

function varintLength(value: number): number {
  let n = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    n++
  }
  return n
}

/** Encodes one frame, optionally preceded by the stream mode byte (first frame of a stream). */
export function encodeFrame(payload: Uint8Array, mode?: StreamMode): Uint8Array {
  const head = mode === undefined ? 0 : 1
  const prefix = varintLength(payload.length)
  const out = new Uint8Array(head + prefix + payload.length)
  if (mode !== undefined) out[0] = mode
  let value = payload.length
  let i = head
  while (value >= 0x80) {
    out[i++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 128)
  }
  out[i++] = value
  out.set(payload, i)
  return out
}

/**
 * Incremental frame decoder. `push` returns every frame completed by the chunk and throws a
 * FrameError on an oversized or malformed prefix; after a throw the decoder must be discarded
 * (the stream is reset), since the byte position is no longer trustworthy.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number
  #chunks: Uint8Array[] = []
  #buffered = 0
  /** Payload length of the frame being assembled, or -1 while the prefix is still incomplete. */
  #frameLength = -1

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes
  }

  get bufferedBytes(): number {
    return this.#buffered
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk)
      this.#buffered += chunk.length
    }
    const frames: Uint8Array[] = []
    for (;;) {
      if (this.#frameLength < 0 && !this.#readPrefix()) break
      if (this.#buffered < this.#frameLength) break
      frames.push(this.#take(this.#frameLength))
      this.#frameLength = -1
    }
    return frames
  }

  #readPrefix(): boolean {
    let value = 0
    let scale = 1
    let index = 0
    for (const chunk of this.#chunks) {
      for (const byte of chunk) {
        value += (byte & 0x7f) * scale
        index++
        if ((byte & 0x80) === 0) {
          if (value > MAX_FRAME_LENGTH) throw new FrameError('malformed', `frame length prefix ${value} exceeds 32 bits`)
          if (value > this.maxFrameBytes) {
            throw new FrameError('oversized', `frame of ${value} bytes exceeds limit of ${this.maxFrameBytes} bytes`)
          }
          this.#take(index)
          this.#frameLength = value
          return true
        }
        if (index >= MAX_PREFIX_BYTES) {
          throw new FrameError('malformed', `frame length prefix longer than ${MAX_PREFIX_BYTES} bytes`)
        }
        scale *= 128
      }
    }
    return false
  }

  /** Removes and returns the first `n` buffered bytes; zero-copy when they sit in one chunk. */
  #take(n: number): Uint8Array {
    this.#buffered -= n
    const first = this.#chunks[0]
    if (n === 0) return new Uint8Array(0)
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    // Consumed chunks are dropped with one splice: shifting them one by one is O(chunks) each,
    // quadratic for a frame that arrives in many small chunks (a peer-triggerable CPU sink).
    const out = new Uint8Array(n)
    let offset = 0
    let consumed = 0
    while (offset < n) {
      const chunk = this.#chunks[consumed]!
      const want = n - offset
      if (chunk.length <= want) {
        out.set(chunk, offset)
        offset += chunk.length
        consumed++
      } else {
        out.set(chunk.subarray(0, want), offset)
        this.#chunks[consumed] = chunk.subarray(want)
        offset += want
      }
    }
    this.#chunks.splice(0, consumed)
    return out
  }
}
