import { MemoryWatch, runTarget, type TargetReport } from './engine.ts'
import { ALL_TARGETS } from './targets/index.ts'

/**
 * `npm run fuzz`: every decoder target, FUZZ_RUNS generated inputs in total (default 1,000,000,
 * split evenly) plus each target's full deterministic sweep.
 *   FUZZ_SEED=<int>     replay a run (printed at the start and with every failure)
 *   FUZZ_RUNS=<int>     generated inputs over all targets
 *   FUZZ_TARGET=<text>  only targets whose name contains <text>
 * Exits 1 if any property failed.
 */
function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`)
  return value
}

const seed = intFromEnv('FUZZ_SEED', Date.now() % 2 ** 31)
const totalRuns = intFromEnv('FUZZ_RUNS', 1_000_000)
const filter = process.env.FUZZ_TARGET ?? ''
// Per-target runs depend only on FUZZ_RUNS, not on the filter, so a filtered replay is exact.
const runsPerTarget = Math.ceil(totalRuns / ALL_TARGETS.length)
const targets = ALL_TARGETS.filter((t) => t.name.includes(filter))
if (targets.length === 0) throw new Error(`FUZZ_TARGET=${JSON.stringify(filter)} matches none of: ${ALL_TARGETS.map((t) => t.name).join(', ')}`)

console.log(`fuzz seed ${seed}: ${targets.length} targets × ${runsPerTarget} generated inputs + sweeps (replay: FUZZ_SEED=${seed} FUZZ_RUNS=${totalRuns} npm run fuzz)`)
const memory = new MemoryWatch()
const started = performance.now()
const reports: TargetReport[] = []
for (const target of targets) {
  const r = await runTarget(target, { seed, runs: runsPerTarget, sweepLimit: Infinity, shrink: true, memory })
  reports.push(r)
  const inputs = r.sweepInputs + r.generatedInputs
  console.log(
    `${r.failure ? 'FAIL' : 'ok  '} ${r.name.padEnd(36)} ${String(inputs).padStart(8)} inputs (${r.sweepInputs} sweep)` +
      `  accepted ${String(r.accepted).padStart(7)}  rejected ${String(r.rejected).padStart(7)}` +
      `  ${(r.elapsedMs / 1000).toFixed(1).padStart(6)} s  slowest call ${r.maxCallMs.toFixed(1)} ms`,
  )
}

const failures = reports.filter((r) => r.failure !== undefined)
const inputs = reports.reduce((n, r) => n + r.sweepInputs + r.generatedInputs, 0)
console.log(
  `\n${inputs} inputs in ${((performance.now() - started) / 1000).toFixed(1)} s, peak heap growth ` +
    `${(memory.peakGrowthBytes / 2 ** 20).toFixed(1)} MiB, ${failures.length} failing target(s)`,
)
for (const r of failures) {
  const f = r.failure!
  console.log(`\nFAILED ${r.name} (${f.phase} input)\n  error: ${f.error}\n  input: ${f.input}`)
  if (f.path !== undefined) console.log(`  fast-check path: ${f.path}`)
  console.log(`  replay: FUZZ_SEED=${seed} FUZZ_RUNS=${totalRuns} FUZZ_TARGET='${r.name}' npm run fuzz`)
}
process.exitCode = failures.length > 0 ? 1 : 0
