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
    // First a carry out of every lane (0xffff + 1) and a borrow into every lane (1 − 0xffff), then random operands.
    const cases = [
      { dst: 0, src: 3, op: 'add' as const },
      { dst: 3, src: 0, op: 'sub' as const },
      ...Array.from({ length: 20 }, () => ({ dst: rng.int(0, 7), src: rng.int(0, 7), op: rng.int(0, 1) === 0 ? ('add' as const) : ('sub' as const) })),
    ]
    for (const [round, { dst, src, op }] of cases.entries()) {
      for (let i = 0; i < lanes.length; i++) lanes[i] = rng.int(0, 0xffff)
      if (round < 2) lanes.fill(0xffff, 0, LANES).fill(1, 3 * LANES, 4 * LANES)
      const before = lanes.slice()
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
