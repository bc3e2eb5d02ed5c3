import fc from 'fast-check'
import { LIMITS, Writer, toHex } from '../../src/core/index.ts'

/**
 * Structure-aware byte mutations of valid encodings. Random bytes almost never get past a
 * decoder's first length check; a valid message with one field inflated, one byte flipped or
 * its tail cut off reaches every branch behind it.
 */

/** Where a fixed-width integer sits in an encoding: the fields worth inflating. */
export interface IntField {
  readonly offset: number
  readonly width: IntWidth
}
export type IntWidth = 1 | 2 | 4 | 8

/** A valid encoding plus the positions of its integer fields (lengths, counts, tags, rounds). */
export interface SeedEncoding {
  readonly bytes: Uint8Array
  readonly intFields: readonly IntField[]
}

/** A Writer that records the offset of every integer it writes, so mutations can target fields. */
export class FieldMapWriter extends Writer {
  readonly intFields: IntField[] = []

  #mark(width: IntWidth): void {
    this.intFields.push({ offset: this.finish().length, width })
  }

  override u8(v: number): this {
    this.#mark(1)
    return super.u8(v)
  }

  override u16(v: number): this {
    this.#mark(2)
    return super.u16(v)
  }

  override u32(v: number): this {
    this.#mark(4)
    return super.u32(v)
  }

  override u64(v: bigint): this {
    this.#mark(8)
    return super.u64(v)
  }
}

/** Encodes `value` with `write` and maps its integer fields. */
export function seedEncoding<T>(write: (w: Writer, value: T) => void, value: T): SeedEncoding {
  const w = new FieldMapWriter()
  write(w, value)
  return { bytes: w.finish().slice(), intFields: w.intFields }
}

/** Encoding limits ±1: the boundary every bounded count or length must be checked at. */
const LIMIT_EDGES = Object.values(LIMITS).flatMap((v) => [v, v + 1])

/** Values that sit on the edges decoders branch on, per field width (big-endian when written). */
export const INTERESTING: Readonly<Record<IntWidth, readonly bigint[]>> = {
  1: [0n, 1n, 2n, 0x7fn, 0x80n, 0xfen, 0xffn],
  2: [0n, 1n, 0x7fffn, 0x8000n, 0xffffn, ...LIMIT_EDGES.filter((v) => v <= 0xffff).map(BigInt)],
  4: [0n, 1n, 0x7fff_ffffn, 0x8000_0000n, 0xffff_fffen, 0xffff_ffffn, 0x1_0000n, ...LIMIT_EDGES.map(BigInt)],
  8: [0n, 1n, 1n << 32n, (1n << 53n) - 1n, 1n << 53n, 1n << 63n, (1n << 64n) - 1n],
}

export function withInt(bytes: Uint8Array, offset: number, width: IntWidth, value: bigint): Uint8Array {
  const out = bytes.slice()
  const end = Math.min(offset + width, out.length)
  for (let i = end - 1, v = value; i >= offset; i--, v >>= 8n) out[i] = Number(v & 0xffn)
  return out
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/**
 * One mutation step. Positions are unbounded naturals reduced modulo the current length when
 * applied, so a step stays meaningful after earlier steps changed the length.
 */
export type Mutation =
  | { readonly op: 'flipBit'; readonly at: number; readonly bit: number }
  | { readonly op: 'setByte'; readonly at: number; readonly value: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly length: number }
  | { readonly op: 'truncate'; readonly at: number }
  /** Repeats a range in place: grows lists without touching their counts. */
  | { readonly op: 'duplicate'; readonly at: number; readonly length: number }
  /** An interesting integer at an arbitrary (possibly misaligned) offset. */
  | { readonly op: 'overwriteInt'; readonly at: number; readonly width: IntWidth; readonly choice: number }
  /** An interesting integer in a real field of the seed: length inflation, huge counts, bad tags. */
  | { readonly op: 'fieldInt'; readonly field: number; readonly choice: number }
  /** Head of this message + tail of another valid one. */
  | { readonly op: 'splice'; readonly donor: number; readonly cut: number; readonly donorCut: number }

const position = fc.nat({ max: 1 << 20 })
const width = fc.constantFrom<IntWidth>(1, 2, 4, 8)

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('flipBit' as const), at: position, bit: fc.nat({ max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('setByte' as const), at: position, value: fc.nat({ max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 1, max: 256 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('overwriteInt' as const), at: position, width, choice: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('fieldInt' as const), field: fc.nat(), choice: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('splice' as const), donor: fc.nat(), cut: position, donorCut: position }) },
)

function pick<T>(items: readonly T[], choice: number): T {
  return items[choice % items.length]!
}

export function applyMutation(bytes: Uint8Array, m: Mutation, seed: SeedEncoding, donors: readonly Uint8Array[]): Uint8Array {
  const len = bytes.length
  const at = 'at' in m ? m.at % (len + 1) : 0
  switch (m.op) {
    case 'flipBit': {
      if (len === 0) return bytes
      const out = bytes.slice()
      out[at % len]! ^= 1 << m.bit
      return out
    }
    case 'setByte': {
      if (len === 0) return bytes
      const out = bytes.slice()
      out[at % len] = m.value
      return out
    }
    case 'insert':
      return concatBytes(bytes.subarray(0, at), m.bytes, bytes.subarray(at))
    case 'delete':
      return concatBytes(bytes.subarray(0, at), bytes.subarray(at + m.length))
    case 'truncate':
      return bytes.slice(0, at)
    case 'duplicate':
      return concatBytes(bytes.subarray(0, at + m.length), bytes.subarray(at))
    case 'overwriteInt':
      return withInt(bytes, at, m.width, pick(INTERESTING[m.width], m.choice))
    case 'fieldInt': {
      if (seed.intFields.length === 0) return bytes
      const field = pick(seed.intFields, m.field)
      return withInt(bytes, field.offset, field.width, pick(INTERESTING[field.width], m.choice))
    }
    case 'splice': {
      if (donors.length === 0) return bytes
      const donor = pick(donors, m.donor)
      return concatBytes(bytes.subarray(0, at), donor.subarray(m.donorCut % (donor.length + 1)))
    }
  }
}

/** A corpus entry with one to four stacked mutations (AFL's "havoc" stage). */
export function mutatedInputs(corpus: readonly SeedEncoding[], donors: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: corpus.length - 1 }), fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }))
    .map(([index, steps]) => {
      const seed = corpus[index]!
      return steps.reduce((bytes, step) => applyMutation(bytes, step, seed, donors), seed.bytes)
    })
}

/**
 * Inputs for a byte decoder: mostly stacked mutations of the corpus, some corpus entries as they
 * are (they must decode), some pure random bytes.
 */
export function byteInputs(corpus: readonly SeedEncoding[], donors: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512, size: 'max' }) },
    { weight: 1, arbitrary: fc.constantFrom(...corpus.map((s) => s.bytes)) },
    { weight: 8, arbitrary: mutatedInputs(corpus, donors) },
  )
}

/** Above this, truncating at every offset costs quadratic time; cut at every field instead. */
const FULL_TRUNCATION_MAX_BYTES = 8 * 1024
/** Above this, flipping every bit is too many inputs for what it adds. */
const BIT_SWEEP_MAX_BYTES = 512

/**
 * The deterministic part: every seed truncated at every offset, every integer field set to every
 * interesting value, every bit of small seeds flipped, and one trailing byte appended.
 */
export function* sweepInputs(corpus: readonly SeedEncoding[]): Generator<Uint8Array> {
  for (const seed of corpus) {
    const { bytes, intFields } = seed
    if (bytes.length <= FULL_TRUNCATION_MAX_BYTES) {
      for (let n = 0; n < bytes.length; n++) yield bytes.subarray(0, n)
    } else {
      for (const f of intFields) yield bytes.subarray(0, f.offset + 1)
    }
    for (const f of intFields) for (const v of INTERESTING[f.width]) yield withInt(bytes, f.offset, f.width, v)
    yield concatBytes(bytes, new Uint8Array([0]))
    if (bytes.length <= BIT_SWEEP_MAX_BYTES) {
      for (let bit = 0; bit < bytes.length * 8; bit++) yield applyMutation(bytes, { op: 'flipBit', at: bit >> 3, bit: bit & 7 }, seed, [])
    }
  }
}

/** Hex for reports; long inputs are shortened (the printed seed replays them exactly). */
export function describeBytes(bytes: Uint8Array): string {
  const FULL_HEX_MAX_BYTES = 4096
  if (bytes.length <= FULL_HEX_MAX_BYTES) return `hex ${toHex(bytes)} (${bytes.length} bytes)`
  return `hex ${toHex(bytes.subarray(0, 256))}… (${bytes.length} bytes; replay the seed for all of them)`
}
