import assert from 'node:assert/strict'
import { createCipheriv, createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Prng } from '../../src/core/prng.ts'
import { LANES, LANE_BYTES, accountEntry, changeDelta, expandEntry, slotEntry, type EntryChange } from '../../src/execution/commitment.ts'

/** The specification of an entry's lanes, on node:crypto: ChaCha20 keystream under SHA-256(domain || entry). */
function referenceLanes(entry: Uint8Array): Uint16Array {
  const key = createHash('sha256').update('bftlab/lthash-entry/v2').update(entry).digest()
  // OpenSSL's chacha20 IV is the 32-bit block counter (little-endian) followed by the 96-bit nonce.
  const stream = createCipheriv('chacha20', key, Buffer.alloc(16)).update(Buffer.alloc(LANE_BYTES))
  return new Uint16Array(stream.buffer.slice(stream.byteOffset, stream.byteOffset + LANE_BYTES))
}

/** Σ lanes(after) − Σ lanes(before) with plain Uint16Array arithmetic (wraps mod 2^16). */
function referenceDelta(changes: readonly EntryChange[]): Uint16Array {
  const delta = new Uint16Array(LANES)
  for (const { before, after } of changes) {
    if (before !== undefined) referenceLanes(before).forEach((lane, i) => (delta[i]! -= lane))
    referenceLanes(after).forEach((lane, i) => (delta[i]! += lane))
  }
  return delta
}

const entryArb = fc.oneof(
  fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })).map(([address, balance, nonce]) => accountEntry(address, { balance, nonce })),
  fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 })).map(([key, value]) => slotEntry(key, value)),
)

describe('LtHash entry expansion', () => {
  it('equals the ChaCha20 keystream under SHA-256(domain || entry), for account and slot entries', () => {
    const out = new Uint32Array(LANES / 2 + 7)
    fc.assert(
      fc.property(entryArb, fc.integer({ min: 0, max: 7 }), (entry, offset) => {
        expandEntry(entry, out, offset)
        assert.deepEqual(new Uint16Array(out.buffer, 4 * offset, LANES), referenceLanes(entry))
      }),
      { numRuns: 100 },
    )
  })

  it('changeDelta equals the plain mod-2^16 sum, whether a before is memoised or not', () => {
    // Chains of updates (each before is the previous after, so the memo serves it) mixed with
    // befores never seen (computed afresh), creations, and an entry written twice.
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 1, maxLength: 12, size: 'max' }), fc.array(fc.nat(), { minLength: 12, maxLength: 12 }), (entries, picks) => {
        const changes: EntryChange[] = entries.map((after, i) => {
          const pick = picks[i]! % 3
          return { before: pick === 0 || i === 0 ? undefined : pick === 1 ? entries[i - 1]! : entries[(i + 5) % entries.length], after }
        })
        assert.deepEqual(changeDelta(changes), referenceDelta(changes))
      }),
      { numRuns: 60 },
    )
  })

  it('changeDelta stays exact when more entries change than the memo holds (slots reused, the oldest evicted)', () => {
    // 9,000 accounts (the memo holds 8,192) created, then each updated twice over three blocks:
    // the first entries' lanes were evicted by the time they are `before`, the rest are served
    // from freed slots that the next entry's lanes then overwrite.
    const address = (i: number): Uint8Array => new Uint8Array(32).fill(i & 0xff).fill(i >> 8, 0, 1)
    const entry = (i: number, nonce: bigint): Uint8Array => accountEntry(address(i), { balance: 1_000n - nonce, nonce })
    const ids = Array.from({ length: 9_000 }, (_, i) => i)
    const blocks: EntryChange[][] = [
      ids.map((i) => ({ after: entry(i, 0n) })),
      ids.map((i) => ({ before: entry(i, 0n), after: entry(i, 1n) })),
      ids.map((i) => ({ before: entry(i, 1n), after: entry(i, 2n) })),
    ]
    const sum = new Uint16Array(LANES)
    for (const changes of blocks) changeDelta(changes).forEach((lane, i) => (sum[i]! += lane))
    assert.deepEqual(sum, referenceDelta(ids.map((i) => ({ after: entry(i, 2n) }))))
  })

  it('changeDelta stays exact when two entries share the memo\'s key and displace each other', () => {
    // The memo finds entries by a 32-bit FNV-1a of their bytes; a birthday search over one
    // account's random balances and nonces (seeded) finds two entries with the same key.
    const fnv1a = (bytes: Uint8Array): number => bytes.reduce((h, b) => Math.imul(h ^ b, 0x01000193), 0x811c9dc5) >>> 0
    const address = new Uint8Array(32).fill(3)
    const random = new Prng(7)
    const seen = new Map<number, Uint8Array>()
    let pair: [Uint8Array, Uint8Array] | undefined
    for (let tries = 0; pair === undefined && tries < 1_000_000; tries++) {
      const entry = accountEntry(address, { balance: BigInt(random.nextU32()), nonce: BigInt(random.nextU32()) })
      const key = fnv1a(entry)
      const earlier = seen.get(key)
      if (earlier !== undefined && Buffer.compare(earlier, entry) !== 0) pair = [earlier, entry]
      seen.set(key, entry)
    }
    assert.ok(pair !== undefined, 'no two of 10^6 entries share a key')
    const [a, b] = pair
    const a2 = accountEntry(address, { balance: 1n, nonce: 1n })
    const b2 = accountEntry(address, { balance: 2n, nonce: 2n })
    // b's lanes take the key's place in the memo, so a's `before` must be expanded afresh.
    const blocks: EntryChange[][] = [[{ after: a }, { after: b }], [{ before: a, after: a2 }, { before: b, after: b2 }]]
    const sum = new Uint16Array(LANES)
    for (const changes of blocks) changeDelta(changes).forEach((lane, i) => (sum[i]! += lane))
    assert.deepEqual(sum, referenceDelta([{ after: a2 }, { after: b2 }]))
  })

  it('refuses an entry longer than any entry kind', () => {
    assert.throws(() => expandEntry(new Uint8Array(66), new Uint32Array(LANES / 2), 0), /state entry of 66 bytes/)
  })
})
