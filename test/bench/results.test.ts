import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { resultsCsv, writeBenchOutput } from '../../src/bench/results.ts'
import { runBench } from '../../src/bench/runner.ts'
import { ENV, experiment, fakeCapacityBench, fakeResult, fakeSeries } from './fixtures.ts'

test('the output folder holds results.json, results.csv, every plot and report.md; the report opens with the capacity table', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bftlab-bench-'))
  try {
    const results = await fakeCapacityBench()
    await writeBenchOutput(dir, results)
    assert.deepEqual((await readdir(dir)).sort(), [
      'capacity-to-bound.svg',
      'capacity-vs-validators.svg',
      'latency-vs-throughput.svg',
      'report.md',
      'results.csv',
      'results.json',
      'throughput-under-latency-cap.svg',
    ])
    const json = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'))
    assert.equal(json.config.name, 'fake')
    assert.deepEqual(json.env, ENV)
    assert.equal(json.points.length, results.points.length)
    assert.equal(json.capacities.length, 6)
    assert.equal(json.runs.length, results.runs.length)
    assert.deepEqual([...new Set(json.runs.map((r: { role: string }) => r.role))].sort(), ['bisect', 'bracket', 'final'])
    assert.equal(json.runs[0].spec.validators, 4)

    const report = await readFile(join(dir, 'report.md'), 'utf8')
    const sections = [...report.matchAll(/^## (.+)$/gm)].map((m) => m[1])
    assert.deepEqual(sections.slice(0, 3), ['Capacity', 'How it was found', 'Plots'])
    assert.equal(sections.at(-1), 'Configuration and environment')
    assert.match(report, /^# Benchmark: fake/)
    assert.match(report, /\| n \| payload \| capacity tx\/s \| p50 ms \| p99 ms \| capacity\/bound \| validator CPU µs\/tx \|/)
    // n=4 batches kept up at maxTps 2,800; n=7 batches has capacity 12000/7 = 1,714 tx/s.
    assert.match(report, /\| 4 \| batches \| ≥ 2,80\d/)
    assert.match(report, /\| 7 \| batches \| 1,[67]\d\d ± \d/)
    assert.match(report, /\| testnet \| 7 \| batches \| 1,000 ✓ → 2,000 ✗ throughput \| .* \| 1,\d{3} \(misses at 1,\d{3}\) \| 9 \|/)
    assert.match(report, /2 × test cpu, Node v22\.0\.0, commit `abc123`/)
    assert.match(report, /"startTps": 1000/)
    for (const plot of ['capacity-vs-validators.svg', 'capacity-to-bound.svg']) assert.ok(report.includes(`](${plot})`), plot)
    assert.match(report, /n=7: batch dissemination reaches 1,7\d\d ± \d+ tx\/s against 1,0\d\d ± \d+ tx\/s for full blocks \(×1\.6\d\)/)
    assert.doesNotMatch(report, /Correctness failure/)
    assert.doesNotMatch(report, /[Pp]eak/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('results.csv has one row per point and a header naming docs/design.md §12 fields', async () => {
  const results = await runBench({ experiment: experiment({ validators: [4, 7], rates: [1000, 2000] }), env: ENV, openTestnetSeries: fakeSeries(), progress: { write: () => true } })
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
      openTestnetSeries: fakeSeries(async (s) => ({ ...fakeResult(s), stateRootMismatches: 2 })),
      progress: { write: () => true },
    })
    await writeBenchOutput(dir, results)
    const report = await readFile(join(dir, 'report.md'), 'utf8')
    assert.match(report, /Correctness failure.*\n> - testnet n=4 batches 1000 tx\/s: 0 safety violations, 2 root mismatches/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
