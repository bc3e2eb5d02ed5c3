import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryWatch, runTarget } from './engine.ts'
import { ALL_TARGETS } from './targets/index.ts'

/**
 * A short fuzz run of every decoder (≈20k inputs in total) with a fixed seed, so `npm test` is
 * deterministic; `npm run fuzz` is the long run with a fresh seed. FUZZ_SEED overrides the seed.
 */
const seed = Number(process.env.FUZZ_SEED ?? 20_240_601)
/** Per target: half generated inputs, half the start of the deterministic sweep. */
const RUNS_PER_TARGET = 600
const SWEEP_PER_TARGET = 600

const memory = new MemoryWatch()

for (const target of ALL_TARGETS) {
  test(`fuzz ${target.name}`, async () => {
    const report = await runTarget(target, { seed, runs: RUNS_PER_TARGET, sweepLimit: SWEEP_PER_TARGET, shrink: false, memory })
    const f = report.failure
    if (f !== undefined) {
      assert.fail(`${f.error}\ninput: ${f.input}\nshrink and replay: FUZZ_SEED=${seed} FUZZ_RUNS=${RUNS_PER_TARGET * ALL_TARGETS.length} FUZZ_TARGET='${target.name}' npm run fuzz`)
    }
    assert.ok(report.accepted > 0, 'no input decoded: the corpus or the valid-input arm is broken')
    assert.ok(report.rejected > 0, 'no input was rejected: the mutators are not mutating')
  })
}
