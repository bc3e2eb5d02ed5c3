import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { resultsCsv, writeBenchOutput } from '../../src/bench/results.ts'
import { runBench } from '../../src/bench/runner.ts'
import { ENV, experiment, fakeResult } from './fixtures.ts'

async function fakeBench() {
  const e = experiment({ name: 'fake', validators: [4, 7], rates: 'saturate', payloadModes: ['batches', 'full-block'], saturate: { startTps: 1000, p99CapMs: 1e9 } })
  return runBench({
    experiment: e,
    env: ENV,
    // full-block reaches 60% of the batch capacity, and its runs report timeouts.
    runTestnetPoint: async (s) => {
      const r = fakeResult(s.payloadMode === 'batches' ? s : { ...s, validators: s.validators / 0.6 })
      return { ...r, validators: s.validators, timeouts: s.payloadMode === 'full-block' ? 3 : 0 }
    },
    progress: { write: () => true },
  })
}

test('the output folder holds results.json, results.csv, every plot and report.md', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bftlab-bench-'))
  try {
    const results = await fakeBench()
    await writeBenchOutput(dir, results)
    assert.deepEqual((await readdir(dir)).sort(), [
      'latency-vs-throughput.svg',
      'report.md',
      'results.csv',
      'results.json',
      'throughput-under-latency-cap.svg',
      'throughput-vs-validators.svg',
      'tps-to-bound.svg',
    ])
    const json = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'))
    assert.equal(json.config.name, 'fake')
    assert.deepEqual(json.env, ENV)
    assert.equal(json.points.length, results.points.length)
    assert.equal(json.runs.length, results.runs.length)
    assert.equal(json.runs[0].spec.validators, 4)

    const report = await readFile(join(dir, 'report.md'), 'utf8')
    assert.match(report, /^# Benchmark: fake/)
    assert.match(report, /2 × test cpu, Node v22\.0\.0, commit `abc123`/)
    for (const plot of ['throughput-vs-validators.svg', 'tps-to-bound.svg']) assert.ok(report.includes(`](${plot})`), plot)
    // n=4: batches capacity 3000 tx/s, full-block 1800 tx/s (exactly 0.9 × 2000: still keeping up), so 4000 saturates both.
    assert.match(report, /\*\*testnet n=4 batches\*\*: stops keeping up at 4,000 tx\/s offered \(commits 3,000 tx\/s/)
    assert.match(report, /\*\*testnet n=4 full-block\*\*: stops keeping up at 4,000 tx\/s offered \(commits 1,800 tx\/s.* 3 round timeouts per run/)
    assert.match(report, /n=4: batch dissemination peaks at 3,000 tx\/s vs 1,800 tx\/s for full blocks \(×1\.67\)/)
    assert.doesNotMatch(report, /Correctness failure/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('results.csv has one row per point and a header naming docs/design.md §12 fields', async () => {
  const results = await fakeBench()
  const lines = resultsCsv(results.points).trimEnd().split('\n')
  assert.equal(lines.length, results.points.length + 1)
  const header = lines[0]!.split(',')
  for (const field of ['validators', 'payloadMode', 'offeredTps', 'e2eTps', 'e2eTpsStdev', 'latencyP99Ms', 'tpsToBound', 'safetyViolations']) assert.ok(header.includes(field), field)
  const first = Object.fromEntries(header.map((h, i) => [h, lines[1]!.split(',')[i]]))
  assert.equal(first.source, 'testnet')
  assert.equal(first.validators, '4')
  assert.equal(first.offeredTps, '1000')
  assert.equal(first.e2eTps, '1000')
  assert.equal(first.boundTps, '10000')
})

test('a safety violation puts a warning at the top of the report', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bftlab-bench-'))
  try {
    const results = await runBench({
      experiment: experiment({ validators: [4], rates: [1000] }),
      env: ENV,
      runTestnetPoint: async (s) => ({ ...fakeResult(s), stateRootMismatches: 2 }),
      progress: { write: () => true },
    })
    await writeBenchOutput(dir, results)
    const report = await readFile(join(dir, 'report.md'), 'utf8')
    assert.match(report, /Correctness failure.*\n> - testnet n=4 batches 1000 tx\/s: 0 safety violations, 2 root mismatches/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
