import assert from 'node:assert/strict'
import { test } from 'node:test'
import { VerifiedTxs } from '../../src/mempool/verified-txs.ts'

const hash = (i: number): Uint8Array => new Uint8Array(32).fill(i)
const sig = (i: number): Uint8Array => new Uint8Array(64).fill(i)

test('remembers (hash, signature) pairs; another signature for the same body is not verified', () => {
  const v = new VerifiedTxs(4)
  v.add(hash(1), sig(1))
  assert.equal(v.has(hash(1), sig(1)), true)
  assert.equal(v.has(hash(1), sig(2)), false)
  assert.equal(v.has(hash(2), sig(1)), false)
})

test('evicts the oldest entry first and stays at capacity over many evictions', () => {
  const v = new VerifiedTxs(3)
  for (let i = 0; i < 3; i++) v.add(hash(i), sig(i))
  v.add(hash(3), sig(3))
  assert.equal(v.has(hash(0), sig(0)), false, 'oldest evicted')
  assert.deepEqual([1, 2, 3].map((i) => v.has(hash(i), sig(i))), [true, true, true])
  for (let i = 4; i < 200; i++) v.add(hash(i), sig(i))
  assert.equal(v.size, 3)
  assert.deepEqual([196, 197, 198, 199].map((i) => v.has(hash(i), sig(i))), [false, true, true, true])
})

test('re-adding a held hash updates its signature without growing the set', () => {
  const v = new VerifiedTxs(2)
  v.add(hash(1), sig(1))
  v.add(hash(1), sig(9))
  assert.equal(v.size, 1)
  assert.equal(v.has(hash(1), sig(9)), true)
  assert.equal(v.has(hash(1), sig(1)), false)
  v.add(hash(2), sig(2))
  v.add(hash(3), sig(3))
  assert.equal(v.has(hash(1), sig(9)), false, 'still evicted in its original insertion order')
  assert.equal(v.size, 2)
})

test('hashes that share the 31-bit key: the newer is kept, the older is checked again, neither is confused', () => {
  const v = new VerifiedTxs(4)
  const a = hash(5)
  const b = hash(5)
  b[3] ^= 1 // the key drops the 32nd bit
  b[31] = 0
  v.add(a, sig(1))
  assert.equal(v.has(b, sig(1)), false, 'same key, different hash: not verified')
  v.add(b, sig(2))
  assert.equal(v.size, 1)
  assert.equal(v.has(b, sig(2)), true)
  assert.equal(v.has(a, sig(1)), false, 'the older one left')
  assert.equal(v.has(a, sig(2)), false)
})

test('entries are copies: changing the caller\'s arrays afterwards changes nothing', () => {
  const v = new VerifiedTxs(2)
  const h = hash(7)
  const s = sig(7)
  v.add(h, s)
  h.fill(0)
  s.fill(0)
  assert.equal(v.has(hash(7), sig(7)), true)
  assert.equal(v.has(h, s), false)
  assert.throws(() => v.add(hash(1).subarray(1), sig(1)), /32-byte hash and a 64-byte signature, got 31 and 64/)
})
