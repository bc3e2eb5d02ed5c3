import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashKey31 } from '../../src/core/hash.ts'
import { Prng } from '../../src/core/prng.ts'
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

test('against a Map-keyed model: random adds over crowded probe runs keep exactly the model\'s entries (seeded)', () => {
  for (const seed of [1, 2, 3]) {
    const random = new Prng(seed)
    const capacity = 5 + (seed % 3)
    const v = new VerifiedTxs(capacity)
    // The model is the earlier Map-based design: key → slot, slots reused oldest first.
    const slotOf = new Map<number, number>()
    const heldAt: { hash: Uint8Array; sig: Uint8Array; key: number }[] = []
    let next = 0
    const seen: { hash: Uint8Array; sig: Uint8Array }[] = []
    for (let step = 0; step < 2_000; step++) {
      const h = new Uint8Array(32)
      // Byte 3 gives the key's low bits: five values crowd the index's 16 positions at homes
      // 0, 1, 13, 14 and 15, so probe runs wrap around its end; three values of byte 0 make
      // 15 keys in all, each repeating with other hashes (byte 31).
      h[0] = random.int(0, 2)
      h[3] = [0x00, 0x02, 0x1a, 0x1c, 0x1e][random.int(0, 4)]!
      h[31] = random.int(0, 255)
      const s = sig(random.int(0, 2))
      const key = hashKey31(h)
      let slot = slotOf.get(key)
      if (slot === undefined) {
        if (heldAt.length < capacity) slot = heldAt.length
        else {
          slot = next
          slotOf.delete(heldAt[slot]!.key)
          next = (slot + 1) % capacity
        }
        slotOf.set(key, slot)
      }
      heldAt[slot] = { hash: h, sig: s, key }
      v.add(h, s)
      seen.push({ hash: h, sig: s })
      const model = (q: { hash: Uint8Array; sig: Uint8Array }): boolean =>
        heldAt.some((e) => Buffer.compare(e.hash, q.hash) === 0 && Buffer.compare(e.sig, q.sig) === 0)
      for (const q of seen.slice(-40)) assert.equal(v.has(q.hash, q.sig), model(q), `seed ${seed}, step ${step}`)
      assert.equal(v.size, heldAt.length)
    }
  }
})
