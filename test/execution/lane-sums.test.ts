import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Prng } from '../../src/core/prng.ts'
import { laneSums } from '../../src/execution/lane-sums.ts'

const LANES = 1024
const SPAN = 2 * LANES

describe('LtHash lane sums (WebAssembly SIMD)', () => {
  it('adds and subtracts 1024 u16 lanes mod 2^16 at the given offsets, touching nothing else', () => {
    const seed = 0x1a2e
    const rng = new Prng(seed)
    const sums = laneSums(8 * SPAN)
    assert.ok(sums.memory.buffer.byteLength >= 8 * SPAN)
    const lanes = new Uint16Array(sums.memory.buffer, 0, 8 * LANES)
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < lanes.length; i++) lanes[i] = rng.int(0, 0xffff)
      // Carries and borrows at every lane boundary, not just random pairs.
      if (round === 0) lanes.fill(0xffff, 0, LANES).fill(1, 3 * LANES, 4 * LANES)
      const before = lanes.slice()
      const dst = rng.int(0, 7)
      const src = rng.int(0, 7)
      const op = rng.int(0, 1) === 0 ? 'add' : 'sub'
      sums[op](dst * SPAN, src * SPAN)
      const expected = before.slice()
      for (let i = 0; i < LANES; i++) {
        const a = before[dst * LANES + i]!
        const b = before[src * LANES + i]!
        expected[dst * LANES + i] = (op === 'add' ? a + b : a - b) & 0xffff
      }
      assert.deepEqual(lanes, expected, `seed ${seed}, round ${round}: ${op}(${dst}, ${src})`)
    }
  })
})
