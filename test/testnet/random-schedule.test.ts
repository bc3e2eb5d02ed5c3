import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatStep } from '../../src/testnet/perturbation-schedule.ts'
import { randomSchedule } from '../../src/testnet/random-schedule.ts'
import { MAX_BACKOFF_LEVEL, ResubmitSchedule } from '../../src/testnet/resubmissions.ts'

describe('random perturbation schedule (soak)', () => {
  it('is a function of its seed', () => {
    const a = randomSchedule({ seed: 7, validators: 4, durationS: 600 }).map(formatStep)
    assert.deepEqual(randomSchedule({ seed: 7, validators: 4, durationS: 600 }).map(formatStep), a)
    assert.notDeepEqual(randomSchedule({ seed: 8, validators: 4, durationS: 600 }).map(formatStep), a)
  })

  it('applies one fault at a time inside the run, with quiet time at both ends', () => {
    for (let seed = 0; seed < 20; seed++) {
      const steps = randomSchedule({ seed, validators: 4, durationS: 300, quietTailS: 10 })
      assert.ok(steps.length >= 10, `seed ${seed}: ${steps.length} steps in 300 s`)
      let freeAt = 10
      for (const step of steps) {
        assert.ok(step.at >= freeAt, `seed ${seed}: ${formatStep(step)} starts before the previous fault ended (${freeAt} s)`)
        assert.ok(step.at < 290, `seed ${seed}: ${formatStep(step)} starts in the quiet tail`)
        freeAt = step.at + ('duration' in step && step.duration !== undefined ? step.duration : 0)
        if (step.action === 'partition') {
          assert.deepEqual(step.groups.flat().sort(), [0, 1, 2, 3], `seed ${seed}: a split covers every validator`)
          assert.ok(step.groups.every((g) => g.length > 0))
        }
      }
    }
  })

  it('draws every kind of fault over a long run', () => {
    const actions = new Set(randomSchedule({ seed: 1, validators: 4, durationS: 3_600 }).map((s) => s.action))
    assert.deepEqual([...actions].sort(), ['delay', 'disconnect', 'kill', 'loss', 'partition', 'pause', 'restart'])
  })
})

describe('resubmission backoff', () => {
  it('resubmits a waiting tx after the interval, then at doubling intervals up to the cap', () => {
    const schedule = new ResubmitSchedule(1_000)
    schedule.add(7, 0)
    const times: number[] = []
    for (let now = 0; now <= 200_000; now += 100) schedule.takeDue(now, () => false, () => times.push(now))
    const gaps = times.map((t, i) => t - (times[i - 1] ?? 0))
    const cap = 1_000 * 2 ** MAX_BACKOFF_LEVEL
    assert.deepEqual(gaps.slice(0, MAX_BACKOFF_LEVEL + 2), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 32_000].map((g) => Math.min(g, cap)))
  })

  it('drops txs once done and keeps the others in due order', () => {
    const schedule = new ResubmitSchedule(1_000)
    for (let tx = 0; tx < 5; tx++) schedule.add(tx, tx * 10)
    const taken: number[] = []
    assert.equal(schedule.takeDue(1_025, (tx) => tx === 1, (tx) => taken.push(tx)), 2)
    assert.deepEqual(taken, [0, 2])
    assert.equal(schedule.takeDue(1_100, () => false, (tx) => taken.push(tx)), 2)
    assert.deepEqual(taken, [0, 2, 3, 4])
    assert.throws(() => new ResubmitSchedule(0), /must be positive/)
  })
})
