import fc from 'fast-check'
import {
  HASH_BYTES, LIMITS, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, blockId,
  type Batch, type Block, type BlockBody, type Payload, type QuorumCert, type Timeout, type TimeoutCert, type Tx, type Vote,
} from '../../src/core/index.ts'

/**
 * Generators of valid core values: the corpus the mutators start from. Signatures and keys are
 * random bytes (decoders do not verify), and every field ranges over its whole domain, so
 * boundary values (u64 max, 2^53-1, empty and full lists) appear in the corpus itself.
 */

const fixedBytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(0n, (1n << 64n) - 1n))
const u16 = fc.nat({ max: 0xffff })
/** Rounds, heights, timestamps: u64 on the wire, JS-safe numbers in memory. */
const safeU64 = fc.oneof(fc.nat({ max: 10_000 }), fc.maxSafeNat())

export const txArbitrary: fc.Arbitrary<Tx> = fc.record({
  kind: fc.constantFrom('transfer' as const, 'compute' as const),
  from: fixedBytes(PUBLIC_KEY_BYTES),
  to: fixedBytes(PUBLIC_KEY_BYTES),
  amount: u64,
  nonce: u64,
  fee: u64,
  computeUnits: fc.nat({ max: 0xffff_ffff }),
  accessList: fc.array(fixedBytes(HASH_BYTES), { maxLength: LIMITS.maxAccessList, size: 'max' }),
  payload: fc.uint8Array({ maxLength: 96 }),
  signature: fixedBytes(SIGNATURE_BYTES),
})

export function batchArbitrary(maxTxs: number, minTxs = 0): fc.Arbitrary<Batch> {
  return fc.record({ author: u16, seq: safeU64, txs: fc.array(txArbitrary, { minLength: minTxs, maxLength: maxTxs }) })
}

export const voteArbitrary: fc.Arbitrary<Vote> = fc.record({
  blockId: fixedBytes(HASH_BYTES),
  round: safeU64,
  voter: u16,
  signature: fixedBytes(SIGNATURE_BYTES),
})

/** Signer and signature counts are independent: agreeing is verifyQc's job, not the decoder's. */
export function qcArbitrary(maxSigners: number, minSigners = 0): fc.Arbitrary<QuorumCert> {
  return fc.record({
    blockId: fixedBytes(HASH_BYTES),
    round: safeU64,
    signers: fc.array(u16, { minLength: minSigners, maxLength: maxSigners }),
    signatures: fc.array(fixedBytes(SIGNATURE_BYTES), { minLength: minSigners, maxLength: maxSigners }),
  })
}

export function tcArbitrary(maxEntries: number, minEntries = 0): fc.Arbitrary<TimeoutCert> {
  const entry = fc.record({ signer: u16, highQcRound: safeU64, signature: fixedBytes(SIGNATURE_BYTES) })
  return fc.record({
    round: safeU64,
    entries: fc.array(entry, { minLength: minEntries, maxLength: maxEntries }),
  })
}

export const timeoutArbitrary: fc.Arbitrary<Timeout> = fc.record({
  round: safeU64,
  highQc: qcArbitrary(7),
  author: u16,
  signature: fixedBytes(SIGNATURE_BYTES),
})

/** Inline txs are ~200 bytes each: capped so a large block stays below the 64 KiB hang bound. */
const MAX_INLINE_TXS = 40

export function payloadArbitrary(maxItems: number, minItems = 0): fc.Arbitrary<Payload> {
  const txCount = { minLength: Math.min(minItems, MAX_INLINE_TXS), maxLength: Math.min(maxItems, MAX_INLINE_TXS) }
  return fc.oneof(
    fc.record({ kind: fc.constant('batches' as const), digests: fc.array(fixedBytes(HASH_BYTES), { minLength: minItems, maxLength: maxItems }) }),
    fc.record({ kind: fc.constant('txs' as const), txs: fc.array(txArbitrary, txCount) }),
  )
}

export function blockArbitrary(payload: fc.Arbitrary<Payload>): fc.Arbitrary<Block> {
  return fc
    .record({
      height: safeU64,
      round: safeU64,
      author: u16,
      timestamp: safeU64,
      parentQc: qcArbitrary(7),
      tc: fc.option(tcArbitrary(7), { nil: undefined }),
      payload,
      executedRoot: fixedBytes(HASH_BYTES),
      executedHeight: safeU64,
      signature: fixedBytes(SIGNATURE_BYTES),
    })
    .map(({ tc, signature, ...rest }) => {
      const body: BlockBody = { ...rest, ...(tc !== undefined ? { tc } : {}) }
      return { ...body, id: blockId(body), signature }
    })
}

/**
 * `count` values from `arbitrary`, reproducible from `seed`: small ones to mutate quickly plus
 * `large` ones (long lists) so truncation and count inflation hit deep offsets too.
 */
export function sampleCorpus<T>(seed: number, small: fc.Arbitrary<T>, large: fc.Arbitrary<T> | undefined, count = 12): T[] {
  const values = fc.sample(small, { seed, numRuns: count })
  if (large !== undefined) values.push(...fc.sample(large, { seed: seed ^ 0x5eed, numRuns: 2 }))
  return values
}
