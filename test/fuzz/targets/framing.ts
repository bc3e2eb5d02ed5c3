import fc from 'fast-check'
import { toHex } from '../../../src/core/index.ts'
import { FrameDecoder, FrameError, encodeFrame } from '../../../src/network/framing.ts'
import { FuzzViolation, defineTarget, type FuzzTarget, type Outcome } from '../engine.ts'
import { concatBytes, describeBytes, mutatedInputs, type SeedEncoding } from '../mutations.ts'

/** A byte stream as a peer might deliver it: split into chunks, read under a frame bound. */
interface ChunkedStream {
  readonly stream: Uint8Array
  /** Chunk sizes, used cyclically; 0 pushes an empty chunk. */
  readonly chunkSizes: readonly number[]
  readonly maxFrameBytes: number
}

type DecodeResult =
  | { readonly ok: true; readonly frames: readonly Uint8Array[]; readonly bufferedBytes: number }
  | { readonly ok: false; readonly error: FrameError }

/**
 * Feeds the chunks and checks, after every push, the decoder's memory bound: a complete frame
 * is never held back, so what stays buffered is an unfinished prefix (< 5 bytes) or part of a
 * frame within the bound.
 */
function feed(chunks: Iterable<Uint8Array>, maxFrameBytes: number): DecodeResult {
  const decoder = new FrameDecoder(maxFrameBytes)
  const frames: Uint8Array[] = []
  try {
    for (const chunk of chunks) {
      frames.push(...decoder.push(chunk))
      if (decoder.bufferedBytes > Math.max(maxFrameBytes, 4)) {
        throw new FuzzViolation('bounded-buffer', `${decoder.bufferedBytes} bytes buffered with maxFrameBytes ${maxFrameBytes}`)
      }
    }
  } catch (err) {
    if (err instanceof FrameError) return { ok: false, error: err }
    if (err instanceof FuzzViolation) throw err
    throw new FuzzViolation('typed-error', `FrameDecoder.push threw ${(err as Error).name}: ${(err as Error).message} instead of FrameError`)
  }
  return { ok: true, frames, bufferedBytes: decoder.bufferedBytes }
}

function* split(input: ChunkedStream): Generator<Uint8Array> {
  const { stream, chunkSizes } = input
  let offset = 0
  for (let i = 0; offset < stream.length; i++) {
    const size = chunkSizes[i % chunkSizes.length]!
    yield stream.subarray(offset, offset + size)
    offset += size
  }
}

function framesHex(frames: readonly Uint8Array[]): string {
  return frames.map(toHex).join(',')
}

/**
 * Properties: only FrameError escapes; the outcome does not depend on how the stream is chunked
 * (frames and leftover when it decodes, the same error when it does not); the buffer stays
 * bounded; and decoded frames re-encode into a stream that decodes to the same frames.
 */
function check(input: ChunkedStream): Outcome {
  const whole = feed([input.stream], input.maxFrameBytes)
  const chunked = feed(split(input), input.maxFrameBytes)
  if (!whole.ok || !chunked.ok) {
    const wholeError = whole.ok ? 'no error' : `${whole.error.kind}: ${whole.error.message}`
    const chunkedError = chunked.ok ? 'no error' : `${chunked.error.kind}: ${chunked.error.message}`
    if (wholeError !== chunkedError) {
      throw new FuzzViolation('chunking', `one push gave "${wholeError}", chunks [${input.chunkSizes}] gave "${chunkedError}"`)
    }
    return 'rejected'
  }
  if (framesHex(whole.frames) !== framesHex(chunked.frames) || whole.bufferedBytes !== chunked.bufferedBytes) {
    throw new FuzzViolation('chunking', `chunks [${input.chunkSizes}] decoded differently from one push`)
  }
  const again = feed([concatBytes(...whole.frames.map((f) => encodeFrame(f)))], input.maxFrameBytes)
  if (!again.ok || framesHex(again.frames) !== framesHex(whole.frames) || again.bufferedBytes !== 0) {
    throw new FuzzViolation('round-trip', 're-encoded frames did not decode to the same frames')
  }
  return 'accepted'
}

/** Streams of valid frames; the large arm reaches the 64 KiB hang bound with one frame. */
const framedStream = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }).map((ps) => concatBytes(...ps.map((p) => encodeFrame(p)))) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 1024, max: 64 * 1024 - 8 }), fc.nat({ max: 255 })).map(([n, fill]) => encodeFrame(new Uint8Array(n).fill(fill))),
  },
)

/** Prefixes at the edges of the varint rules: 2^32-1, 2^32, six bytes, non-minimal zero. */
const EDGE_PREFIXES = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80, 0x80, 0x80, 0x80, 0x10],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
  [0x80, 0x00],
  [0x80, 0x80, 0x80, 0x80],
].map((p) => new Uint8Array(p))

function streamArbitrary(corpus: readonly SeedEncoding[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512, size: 'max' }) },
    { weight: 3, arbitrary: framedStream },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...EDGE_PREFIXES), framedStream).map(([p, s]) => concatBytes(s, p)) },
    { weight: 4, arbitrary: mutatedInputs(corpus, corpus.map((s) => s.bytes)) },
  )
}

const chunkSizesArbitrary = fc.oneof(
  fc.constant([1]),
  fc.array(fc.nat({ max: 64 }), { minLength: 1, maxLength: 8 }).filter((sizes) => sizes.some((s) => s > 0)),
  fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 3 }),
)

const maxFrameBytesArbitrary = fc.oneof(
  fc.constantFrom(0, 1, 127, 128, 16_384, 65_536, 4 * 1024 * 1024, 2 ** 32 - 1, 2 ** 32),
  fc.nat({ max: 70_000 }),
)

const target: FuzzTarget<ChunkedStream> = {
  name: 'network/FrameDecoder',
  inputs(seed) {
    const corpus = fc.sample(framedStream, { seed, numRuns: 12 }).map((bytes) => ({ bytes, intFields: [] }))
    const arbitrary = fc.record({ stream: streamArbitrary(corpus), chunkSizes: chunkSizesArbitrary, maxFrameBytes: maxFrameBytesArbitrary })
    // Sweep: every seed cut at every offset and delivered a byte at a time under its own size bound.
    function* sweep(): Generator<ChunkedStream> {
      for (const { bytes } of corpus) {
        for (let n = 0; n <= Math.min(bytes.length, 1024); n++) {
          yield { stream: bytes.subarray(0, n), chunkSizes: [1], maxFrameBytes: 65_536 }
        }
      }
    }
    return { arbitrary, sweep: sweep() }
  },
  check,
  describe: (input) => `FrameDecoder(${input.maxFrameBytes}) chunks [${input.chunkSizes}] stream ${describeBytes(input.stream)}`,
  size: (input) => input.stream.length,
}

export const framingTargets = [defineTarget(target)]
