import assert from 'node:assert/strict'
import { test } from 'node:test'
import { randomScenario, type ScenarioOptions } from '../../src/sim/scenario.ts'
import { simulate } from '../../src/sim/simulation.ts'

/**
 * The safety checker must be able to fail. With the core's test-only broken vote rule (no lock
 * check on TC-extension votes) a forking Byzantine leader — proposing on an older QC than its
 * highest — gets honest votes for a branch below a block some honest validator already
 * committed; partitions before GST give it the timeout certificates it needs. The checker has to
 * catch the resulting conflicting commits within a bounded number of scenarios, and the same
 * scenario with the real rule must stay safe.
 */
const SEED_BUDGET = 2_000

const attack: ScenarioOptions = { strategies: ['fork'], byzantineOnly: true }

test('with the broken vote rule a forking leader breaks safety, and the checker sees it', () => {
  let found: number | undefined
  for (let seed = 0; seed < SEED_BUDGET && found === undefined; seed++) {
    const result = simulate(randomScenario(seed, { ...attack, testFaults: { brokenVoteRule: true } }))
    if (result.safetyViolations.length > 0) found = seed
  }
  assert.notEqual(found, undefined, `no safety violation found in ${SEED_BUDGET} scenarios with brokenVoteRule: the checker (or the attack) is blind`)
  console.log(`negative control: scenario seed ${found} violates safety under the broken rule`)
  const correct = simulate(randomScenario(found!, attack))
  assert.deepEqual(correct.safetyViolations, [], `scenario seed ${found} must be safe with the real vote rule`)
})
