import { DecodeError, bytesEqual, toHex } from '../../../src/core/index.ts'
import { FuzzViolation, decodeTyped, defineTarget, mustSucceed, type FuzzTarget, type Outcome } from '../engine.ts'
import { byteInputs, describeBytes, sweepInputs, type SeedEncoding } from '../mutations.ts'

/** A decoder of the canonical binary codec (src/core layouts, or a tag + one of them). */
export interface CanonicalCodec<T> {
  readonly name: string
  readonly decode: (bytes: Uint8Array) => T
  readonly encode: (value: T) => Uint8Array
  /** Valid values to mutate, as encodings with their integer fields mapped. */
  readonly corpus: (seed: number) => SeedEncoding[]
}

/**
 * Properties: the decoder returns a value or throws DecodeError, nothing else; and whatever it
 * accepts re-encodes to exactly the input bytes. The second is what makes hashes and signatures
 * over decoded values sound: a value with two accepted encodings would have two ids.
 */
export function canonicalDecoderTarget<T>(codec: CanonicalCodec<T>): FuzzTarget<unknown> {
  const target: FuzzTarget<Uint8Array> = {
    name: codec.name,
    inputs(seed) {
      // Small seeds first, so a capped sweep still covers several whole seeds.
      const corpus = codec.corpus(seed).sort((a, b) => a.bytes.length - b.bytes.length)
      const donors = corpus.map((s) => s.bytes)
      return { arbitrary: byteInputs(corpus, donors), sweep: sweepInputs(corpus) }
    },
    check(bytes): Outcome {
      const decoded = decodeTyped(codec.decode, bytes, DecodeError)
      if (!decoded.ok) return 'rejected'
      const again = mustSucceed('round-trip', `re-encoding the value ${codec.name} accepted`, () => codec.encode(decoded.value))
      if (!bytesEqual(again, bytes)) {
        throw new FuzzViolation('canonical', `${codec.name} accepted bytes that re-encode differently: ${toHex(again)}`)
      }
      return 'accepted'
    },
    describe: describeBytes,
    size: (bytes) => bytes.length,
  }
  return defineTarget(target)
}
