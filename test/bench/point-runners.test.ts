import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pointSpec } from '../../src/bench/experiment.ts'
import { benchDrainS, testnetSeriesOptions, testnetSeriesRunner } from '../../src/bench/point-runners.ts'
import { chainParamsOf, nodeOverridesOf, restartSteps, runTestnetPoint } from '../../src/testnet/point.ts'
import { ENV, experiment } from './fixtures.ts'

test('every experiment dimension reaches the testnet point: chain params, node configs, load, faults', () => {
  const e = experiment({
    validators: [4, 7],
    rates: [500],
    batchSize: 250,
    maxBatchDelayMs: 5,
    executorWorkers: 2,
    tx: { kind: 'compute', computeUnits: 300 },
    network: { delayMs: 20, jitterMs: 5, lossRate: 0.01 },
    faults: { crashed: 'f' },
    durationS: 7,
    warmupS: 3,
  })
  const opts = testnetSeriesOptions(pointSpec(e, 7, 'full-block', 500, 0), ENV)
  assert.equal(opts.validators, 7)
  // The experiment's duration is the measured window, as runTestnetPoint's is.
  assert.equal(opts.durationS, 7)
  assert.equal(opts.warmupS, 3)
  assert.equal(opts.crashed, 2, "'f' resolves to f = 2 for n = 7")
  assert.deepEqual(opts.tx, { kind: 'compute', computeUnits: 300 })
  assert.equal(opts.env, ENV)
  assert.deepEqual(chainParamsOf(opts), { payloadMode: 'full-block', batchSize: 250, maxBatchDelayMs: 5 })
  assert.deepEqual(nodeOverridesOf(opts), { executorWorkers: 2, faults: { delayMs: 20, jitterMs: 5, lossRate: 0.01 } })
})

test('absent knobs keep the chain and node defaults; a quiet network adds no fault table', () => {
  const opts = testnetSeriesOptions(pointSpec(experiment({ validators: [4], rates: [100] }), 4, 'batches', 100, 0), ENV)
  assert.deepEqual(chainParamsOf(opts), { payloadMode: 'batches' })
  assert.deepEqual(nodeOverridesOf(opts), {})
  assert.equal(opts.crashed, 0)
})

test('per-link overrides are refused by name before any process starts', async () => {
  const e = experiment({ validators: [4], rates: [100], network: { links: [{ from: 0, to: 1, delayMs: 50 }] } })
  const run = testnetSeriesRunner(e, '/nonexistent-dir/testnet.log', ENV, new AbortController().signal)
  await assert.rejects(run(pointSpec(e, 4, 'batches', 100, 0)), { name: 'UnsupportedPointError', message: /network\.links/ })
})

test('restarts become kill-and-restart perturbation steps; a validator that never runs is refused before anything starts', async () => {
  const e = experiment({ validators: [7], rates: [100], durationS: 10, warmupS: 2, faults: { crashed: 1, restarts: [{ validator: 2, atS: 3, downS: 4 }] } })
  const opts = testnetSeriesOptions(pointSpec(e, 7, 'batches', 100, 0), ENV)
  assert.deepEqual(restartSteps(opts.restarts!, opts.validators, opts.crashed!), [{ action: 'kill', at: 3, nodes: [2], duration: 4 }])
  await assert.rejects(
    runTestnetPoint({ validators: 4, offeredTps: 100, durationS: 2, warmupS: 0, accounts: 10, crashed: 1, restarts: [{ validator: 3, atS: 1, downS: 1 }] }),
    { name: 'RestartScheduleError', message: /validator 3 is not running \(validators 0\.\.2 run; the last 1 are crashed\)/ },
  )
})

test('a step waits three latency caps (at least 2 s) for its window to commit', () => {
  assert.equal(benchDrainS(experiment({ latencyCapMs: 1_000 })), 3)
  assert.equal(benchDrainS(experiment({ latencyCapMs: 200 })), 2)
})
