import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { capacityOptions, ExperimentError, experimentFromFlags, loadExperiment, parseExperiment, pointSpec } from '../../src/bench/experiment.ts'

const CONFIGS = new URL('../../configs/experiments/', import.meta.url).pathname

function rejects(data: unknown, ...fragments: string[]): void {
  assert.throws(
    () => parseExperiment(data, 'x.toml'),
    (err: unknown) => {
      assert.ok(err instanceof ExperimentError, `expected ExperimentError, got ${String(err)}`)
      assert.ok(err.message.startsWith('x.toml: '), err.message)
      for (const f of fragments) assert.ok(err.message.includes(f), `"${f}" missing from: ${err.message}`)
      return true
    },
  )
}

test('the shipped experiment files are valid', async () => {
  const def = await loadExperiment(join(CONFIGS, 'default.toml'))
  assert.deepEqual(def.validators, [4, 7, 10, 13, 16])
  assert.deepEqual(def.payloadModes, ['batches', 'full-block'])
  assert.equal(def.rates, 'capacity')
  assert.equal(capacityOptions(def).finalRuns, 3)
  assert.equal(def.latencyCapMs, 1_000)
  const quick = await loadExperiment(join(CONFIGS, 'quick.toml'))
  assert.deepEqual(quick.validators, [4])
})

test('errors name the offending field', () => {
  rejects({ validators: [4, 'x'], rates: [100] }, 'validators[1]')
  rejects({ validators: [4], rates: 'fast' }, 'rates', 'capacity')
  rejects({ validators: [4], rates: [100], payloadModes: ['gossip'] }, 'payloadModes[0]')
  rejects({ validators: [4], rates: [100], durationS: -1 }, 'durationS')
  rejects({ validators: [4], rates: [100], network: { lossRate: 2 } }, 'network.lossRate')
  rejects({ validators: [4], rates: [100], tx: { computeUnits: 5 } }, 'tx.computeUnits', 'compute')
  rejects({ validators: [4], rates: 'capacity', capacity: { finalRuns: 2 } }, 'capacity.finalRuns')
  rejects({ validators: [4], rates: 'capacity', capacity: { minTps: 500, maxTps: 100 } }, 'capacity.maxTps')
  rejects({ validators: [4], rates: [100], latencyCapMs: 0 }, 'latencyCapMs', 'must be > 0')
  rejects({ validators: [4], rates: [100], sim: { latency: 'uniform:9-1' } }, 'sim.latency', 'below min')
  rejects({ validators: [4], rates: [100], bogus: 1 }, 'bogus')
  rejects({ rates: [100] }, 'validators')
})

test('cross-field checks name the field and the validator count', () => {
  rejects({ validators: [4, 7], rates: [100], faults: { crashed: 2 } }, 'faults.crashed', 'n = 4')
  rejects({ validators: [4], rates: [100], faults: { crashed: 1, restarts: [{ validator: 3, atS: 1, downS: 1 }] } }, 'faults.restarts[0].validator')
  rejects({ validators: [4], rates: [100], durationS: 5, warmupS: 1, faults: { restarts: [{ validator: 0, atS: 4, downS: 3 }] } }, 'faults.restarts[0].downS', '6 s')
  rejects({ validators: [4, 7], rates: [100], network: { links: [{ from: 0, to: 5, delayMs: 10 }] } }, 'network.links[0].to')
})

test("'f' crashes the most validators each committee tolerates", () => {
  const e = parseExperiment({ validators: [4, 10], rates: [100], faults: { crashed: 'f' } })
  assert.equal(pointSpec(e, 4, 'batches', 100, 0).crashed, 1)
  assert.equal(pointSpec(e, 10, 'batches', 100, 0).crashed, 3)
  assert.equal(pointSpec(e, 10, 'batches', 100, 2).seed, e.seed + 2)
})

test('flags build the same experiment a file would, and override a file', () => {
  const e = experimentFromFlags({ validators: '4,7,10', rates: '100,200', duration: '5', runs: '3', payloadModes: 'batches,full-block', latencyCap: '500' })
  assert.deepEqual(e.validators, [4, 7, 10])
  assert.deepEqual(e.rates, [100, 200])
  assert.equal(e.durationS, 5)
  assert.equal(e.runs, 3)
  assert.equal(e.latencyCapMs, 500)
  assert.deepEqual(e.payloadModes, ['batches', 'full-block'])
  const search = experimentFromFlags({ validators: '4', rates: 'capacity', startTps: '800', minTps: '100', maxTps: '9000', finalRuns: '4' })
  assert.deepEqual(capacityOptions(search), { ...capacityOptions(parseExperiment({ validators: [4], rates: 'capacity' })), startTps: 800, minTps: 100, maxTps: 9_000, finalRuns: 4 })
  const overridden = experimentFromFlags({ rates: '100,200' }, { validators: [4], rates: 'capacity', name: 'base' }, 'base.toml')
  assert.deepEqual(overridden.rates, [100, 200])
  assert.equal(overridden.name, 'base')
  assert.throws(() => experimentFromFlags({ validators: '4,x', rates: '1' }), /--validators: "x" is not a number/)
  assert.throws(() => experimentFromFlags({ validators: '4', rates: '1', runs: '0' }), /--runs \(runs\)/)
})

test('bad or contradictory flags name the flag', () => {
  assert.throws(() => experimentFromFlags({ validators: '4', rates: 'capacity', latencyCap: '0' }), /--latency-cap \(latencyCapMs\)[\s\S]*must be > 0/)
  assert.throws(() => experimentFromFlags({ validators: '4', rates: 'capacity', latencyCap: '-5' }), /--latency-cap/)
  // Search options with a fixed rate list, and fixed-list repetitions with a search, contradict each other.
  assert.throws(() => experimentFromFlags({ validators: '4', rates: '100,200', maxTps: '5000' }), /--max-tps \(capacity\)[\s\S]*rates = "capacity" only/)
  assert.throws(() => experimentFromFlags({ validators: '4', rates: 'capacity', runs: '3' }), /--runs \(runs\)[\s\S]*finalRuns/)
  assert.throws(() => experimentFromFlags({ validators: '4', rates: 'capacity', minTps: '5000', maxTps: '1000' }), /--max-tps \(capacity\.maxTps\)/)
})

test('file syntax errors name the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bftlab-exp-'))
  try {
    const bad = join(dir, 'broken.toml')
    await writeFile(bad, 'validators = [4,\n')
    await assert.rejects(loadExperiment(bad), /broken\.toml: syntax error/)
    const json = join(dir, 'ok.json')
    await writeFile(json, JSON.stringify({ validators: [4], rates: [50] }))
    assert.deepEqual((await loadExperiment(json)).rates, [50])
    await assert.rejects(loadExperiment(join(dir, 'missing.toml')), /missing\.toml: cannot read/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
