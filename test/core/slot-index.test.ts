import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Prng } from '../../src/core/prng.ts'
import { SlotIndex } from '../../src/core/slot-index.ts'

test('against a Map: random sets and deletes over crowded, wrapping probe runs (seeded)', () => {
  for (const seed of [1, 2, 3]) {
    const random = new Prng(seed)
    const capacity = 6
    const index = new SlotIndex(capacity) // 16 positions
    const model = new Map<number, number>()
    // Keys whose low 4 bits (their home) are 0, 1, 14 or 15: every probe run is crowded and
    // the runs starting at 14–15 wrap around the end.
    const keys = Array.from({ length: 12 }, (_, i) => ((i >> 2) << 4) | [0, 1, 14, 15][i & 3]!)
    for (let step = 0; step < 3_000; step++) {
      const key = keys[random.int(0, keys.length - 1)]!
      if (model.has(key)) {
        index.delete(key)
        model.delete(key)
      } else if (model.size < capacity) {
        const used = new Set(model.values())
        const slot = [...Array(capacity).keys()].find((s) => !used.has(s))!
        index.set(key, slot)
        model.set(key, slot)
      }
      for (const k of keys) assert.equal(index.get(k), model.get(k) ?? -1, `seed ${seed}, step ${step}, key ${k}`)
      for (const [k, slot] of model) assert.equal(index.keyAt(slot), k)
    }
  }
})

test('deleting an absent key changes nothing; a capacity that is not a positive integer is refused', () => {
  const index = new SlotIndex(2)
  index.set(7, 1)
  index.delete(9)
  assert.equal(index.get(7), 1)
  assert.equal(index.get(9), -1)
  assert.throws(() => new SlotIndex(0), /positive integer, got 0/)
})
