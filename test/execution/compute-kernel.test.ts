import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { iterateSha256 } from '../../src/execution/compute-kernel.ts'
import { SHA256_ITERATIONS_PER_COMPUTE_UNIT, burnCompute } from '../../src/execution/transition.ts'

/** The reference: node:crypto's SHA-256, applied to the previous binary digest. */
function referenceChain(seed: Uint8Array, iterations: number): Uint8Array {
  let digest = Buffer.from(seed)
  for (let i = 0; i < iterations; i++) digest = createHash('sha256').update(digest).digest()
  return new Uint8Array(digest)
}

describe('compute kernel (iterated SHA-256)', () => {
  it('equals node:crypto SHA-256 iterated over the binary digest, for random seeds and lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 40 }), (seed, iterations) => {
        assert.deepEqual(iterateSha256(seed, iterations), referenceChain(seed, iterations))
      }),
      { numRuns: 200 },
    )
  })

  it('matches the SHA-256 test vector of 32 zero bytes', () => {
    assert.equal(Buffer.from(iterateSha256(new Uint8Array(32), 1)).toString('hex'), '66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925')
  })

  it('reads the seed through its view (offset into a larger buffer) and leaves it unchanged', () => {
    const backing = new Uint8Array(100).map((_, i) => i)
    const seed = backing.subarray(7, 39)
    const copy = seed.slice()
    assert.deepEqual(iterateSha256(seed, 5), referenceChain(copy, 5))
    assert.deepEqual(seed, copy)
  })

  it('burns SHA256_ITERATIONS_PER_COMPUTE_UNIT iterations per compute unit', () => {
    const seed = new Uint8Array(32).fill(9)
    assert.deepEqual(burnCompute(seed, 7), referenceChain(seed, 7 * SHA256_ITERATIONS_PER_COMPUTE_UNIT))
  })

  it('refuses a seed that is not 32 bytes and a bad iteration count', () => {
    assert.throws(() => iterateSha256(new Uint8Array(31), 1), /32-byte seed, got 31 bytes/)
    assert.throws(() => iterateSha256(new Uint8Array(32), -1), /non-negative integer, got -1/)
    assert.throws(() => iterateSha256(new Uint8Array(32), 1.5), /non-negative integer, got 1.5/)
  })
})
