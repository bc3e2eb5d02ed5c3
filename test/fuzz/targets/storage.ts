import { deepStrictEqual } from 'node:assert/strict'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { HASH_BYTES } from '../../../src/core/index.ts'
import {
  ValueShapeError,
  decodeAccount, decodeChainMeta, decodeComputeValue, decodeReceipts, decodeSafety, decodeTxRecord,
  encodeAccount, encodeChainMeta, encodeComputeValue, encodeReceipts, encodeSafety, encodeTxRecord,
} from '../../../src/storage/values.ts'
import { FuzzViolation, decodeTyped, defineTarget, mustSucceed, type FuzzTarget, type Outcome } from '../engine.ts'
import { byteInputs, describeBytes, sweepInputs } from '../mutations.ts'

/**
 * Stored values (msgpack maps). They are read from this node's own disk, so a damaged one is
 * corruption rather than an attack, but the contract is the same: ValueShapeError, never a
 * crash that hides what is damaged.
 */
interface ShapeCodec<T> {
  readonly name: string
  readonly decode: (bytes: Uint8Array) => T
  readonly encode: (value: T) => Uint8Array
  readonly values: fc.Arbitrary<T>
}

/** Packs maps with wrong-typed fields: valid msgpack that only the shape checks can refuse. */
const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true })

const wrongTyped: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, -1, 1.5, 2 ** 53, -(2 ** 53), '', 'ok', 'failed', [], {}),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
  fc.integer(),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }),
  fc.array(fc.nat(), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.nat(), { maxKeys: 3 }),
)

function shapeMutations(valid: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const maps = valid.map((bytes) => packr.unpack(bytes) as Record<string, unknown>)
  return fc
    .tuple(fc.constantFrom(...maps), fc.array(fc.tuple(fc.nat(), wrongTyped, fc.boolean()), { minLength: 1, maxLength: 3 }))
    .map(([map, edits]) => {
      const out: Record<string, unknown> = { ...map }
      const keys = Object.keys(map)
      for (const [choice, value, remove] of edits) {
        const key = keys[choice % keys.length]!
        if (remove) delete out[key]
        else out[key] = value
      }
      return packr.pack(out)
    })
}

/** Properties: only ValueShapeError escapes, and an accepted value re-encodes to one that decodes equal. */
function shapeDecoderTarget<T>(codec: ShapeCodec<T>): FuzzTarget<unknown> {
  const target: FuzzTarget<Uint8Array> = {
    name: codec.name,
    inputs(seed) {
      const valid = fc.sample(codec.values, { seed, numRuns: 12 }).map((v) => codec.encode(v).slice())
      const corpus = valid.map((bytes) => ({ bytes, intFields: [] }))
      const arbitrary = fc.oneof({ weight: 3, arbitrary: byteInputs(corpus, valid) }, { weight: 1, arbitrary: shapeMutations(valid) })
      return { arbitrary, sweep: sweepInputs(corpus) }
    },
    check(bytes): Outcome {
      const decoded = decodeTyped(codec.decode, bytes, ValueShapeError)
      if (!decoded.ok) return 'rejected'
      const again = mustSucceed('round-trip', `re-encoding the value ${codec.name} accepted`, () => codec.encode(decoded.value))
      const redecoded = mustSucceed('round-trip', 'decoding the re-encoded value', () => codec.decode(again))
      try {
        deepStrictEqual(redecoded, decoded.value)
      } catch {
        throw new FuzzViolation('round-trip', `${codec.name}: decode(encode(value)) differs from the value`)
      }
      return 'accepted'
    },
    describe: describeBytes,
    size: (bytes) => bytes.length,
  }
  return defineTarget(target)
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
const count = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat())
const hash = fc.uint8Array({ minLength: HASH_BYTES, maxLength: HASH_BYTES })
const status = fc.constantFrom('ok' as const, 'failed' as const)
const reason = fc.option(fc.string({ maxLength: 40 }), { nil: undefined })

/** Drops undefined optional fields, as the stored form has no key for them. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}

export const storageTargets = [
  shapeDecoderTarget({ name: 'storage/decodeAccount', decode: decodeAccount, encode: encodeAccount, values: fc.record({ balance: u64, nonce: u64 }) }),
  shapeDecoderTarget({
    name: 'storage/decodeComputeValue', decode: decodeComputeValue, encode: encodeComputeValue,
    values: fc.oneof(u64, fc.uint8Array({ maxLength: 64 })),
  }),
  shapeDecoderTarget({
    name: 'storage/decodeTxRecord', decode: decodeTxRecord, encode: encodeTxRecord,
    values: fc.record({ height: count, index: count, status, reason }).map(withoutUndefined),
  }),
  shapeDecoderTarget({
    name: 'storage/decodeReceipts', decode: decodeReceipts, encode: encodeReceipts,
    values: fc.array(fc.record({ txHash: hash, status, reason, gasUsed: fc.option(count, { nil: undefined }) }).map(withoutUndefined), { maxLength: 5 }),
  }),
  shapeDecoderTarget({
    name: 'storage/decodeChainMeta', decode: decodeChainMeta, encode: encodeChainMeta,
    values: fc.record({ committedHeight: count, committedBlockId: hash, executedHeight: count, stateRoot: hash }),
  }),
  shapeDecoderTarget({
    name: 'storage/decodeSafety', decode: decodeSafety, encode: encodeSafety,
    values: fc.record({ highestVotedRound: count, highestQcRound: count }),
  }),
]
