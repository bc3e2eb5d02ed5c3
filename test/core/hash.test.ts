import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { bytesEqual, bytesEqualAt, sha256 } from '../../src/core/hash.ts'

test('bytesEqual agrees with Buffer.equals on both sides of the loop/memcmp threshold, views included', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 130 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3 }), (a, at, value, offset) => {
      // A copy differing in at most one byte, seen through a view at an offset into a larger buffer.
      const backing = new Uint8Array(a.length + offset)
      backing.set(a, offset)
      const b = backing.subarray(offset)
      if (a.length > 0) b[at % a.length] = value
      assert.equal(bytesEqual(a, b), Buffer.from(a).equals(Buffer.from(b)))
      assert.equal(bytesEqual(a, a.subarray(0, Math.max(0, a.length - 1))), a.length === 0)
    }),
    { numRuns: 400 },
  )
})

test('bytesEqualAt(bytes, offset, other) is bytesEqual of the same-length slice at offset, false past the end', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 90 }), fc.boolean(), (bytes, other, offset, plant) => {
      // Half the cases plant `other` at `offset` (when it fits), so true answers are exercised too.
      if (plant && offset + other.length <= bytes.length) bytes.set(other, offset)
      const slice = bytes.subarray(offset, offset + other.length)
      assert.equal(bytesEqualAt(bytes, offset, other), offset + other.length <= bytes.length && bytesEqual(slice, other))
    }),
    { numRuns: 400 },
  )
})

test('sha256 of several parts equals the hash of their concatenation', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 }), (parts) => {
      const expected = createHash('sha256').update(Buffer.concat(parts)).digest()
      assert.deepEqual(Buffer.from(sha256(...parts)), expected)
    }),
    { numRuns: 200 },
  )
})
