import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Prng } from '../../src/core/prng.ts'
import { CommittedTxFilter } from '../../src/storage/committed-txs.ts'

function randomHash(rng: Prng): Uint8Array {
  const h = new Uint8Array(32)
  for (let i = 0; i < 32; i += 4) new DataView(h.buffer).setUint32(i, rng.nextU32())
  return h
}

test('committed-tx filter: every added hash is found, across segment growth, and few others are', () => {
  const seed = 0xc0117
  const rng = new Prng(seed)
  const filter = new CommittedTxFilter(256)
  const added = Array.from({ length: 5_000 }, () => randomHash(rng))
  for (const h of added) filter.add(h)
  assert.equal(filter.size, 5_000)
  assert.equal(added.filter((h) => !filter.mightContain(h)).length, 0, `seed ${seed}: no false negatives`)
  // Five segments (256 … 4096 entries), each at most full: ≈ 0.07 % false positives apiece.
  const falsePositives = Array.from({ length: 20_000 }, () => randomHash(rng)).filter((h) => filter.mightContain(h)).length
  assert.ok(falsePositives < 100, `seed ${seed}: ${falsePositives} false positives in 20,000`)
})

test('committed-tx filter: refuses anything but a 32-byte hash and a bad segment size', () => {
  const filter = new CommittedTxFilter(2)
  assert.throws(() => filter.add(new Uint8Array(31)), /32-byte hashes, got 31/)
  assert.throws(() => filter.mightContain(new Uint8Array(33)), /32-byte hashes, got 33/)
  assert.throws(() => new CommittedTxFilter(3), /power of two/)
  assert.throws(() => new CommittedTxFilter(1), /power of two/)
})
