import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { randomScenario } from '../../src/sim/scenario.ts'
import { simulate } from '../../src/sim/simulation.ts'

/**
 * Safety and liveness of the real consensus core over random adversarial scenarios: n = 4 or 7,
 * random latency, losses, partitions that heal, crashes and crash-recoveries, and up to f
 * Byzantine validators of every strategy. `SIM_SEEDS=100000 npm run test:sim` explores more.
 *
 * Replay a failure: the message names the scenario seed (`randomScenario(seed)` rebuilds the
 * run exactly); fast-check's own seed/path are in the report and can be fed back through
 * SIM_FC_SEED / SIM_FC_PATH.
 */
const SEEDS = Number(process.env.SIM_SEEDS ?? 2_000)
const FC_SEED = process.env.SIM_FC_SEED === undefined ? undefined : Number(process.env.SIM_FC_SEED)
const FC_PATH = process.env.SIM_FC_PATH

function describeFailure(seed: number, problems: readonly string[]): string {
  return `scenario seed ${seed} (replay: simulate(randomScenario(${seed}))):\n  ${problems.join('\n  ')}\nscenario: ${JSON.stringify(randomScenario(seed))}`
}

test(`no safety violation, and liveness after GST, over ${SEEDS} random scenarios`, () => {
  assert.ok(Number.isInteger(SEEDS) && SEEDS > 0, `SIM_SEEDS must be a positive integer, got ${process.env.SIM_SEEDS}`)
  let commits = 0
  fc.assert(
    // A scenario seed has no meaningful "smaller" neighbour: shrinking it would only waste time.
    fc.property(fc.noShrink(fc.integer({ min: 0, max: 2 ** 31 - 1 })), (seed) => {
      const result = simulate(randomScenario(seed))
      // Scenarios keep faults ≤ f and stop losses at GST, so liveness is always judged.
      if (result.livenessViolations === undefined) throw new Error(describeFailure(seed, ['liveness was not checked']))
      const problems = [
        ...result.safetyViolations.map((v) => `safety: ${v.description} (at ${v.atMs.toFixed(1)} ms)`),
        ...result.livenessViolations.map((v) => `liveness: ${v.description}`),
      ]
      if (problems.length > 0) throw new Error(describeFailure(seed, problems))
      commits += result.stats.committedBlocks
    }),
    { numRuns: SEEDS, includeErrorInReport: true, ...(FC_SEED !== undefined ? { seed: FC_SEED } : {}), ...(FC_PATH !== undefined ? { path: FC_PATH } : {}) },
  )
  assert.ok(commits >= SEEDS, `only ${commits} blocks committed over ${SEEDS} runs: the scenarios exercise too little`)
})
