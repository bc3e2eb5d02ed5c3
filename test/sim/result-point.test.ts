import assert from 'node:assert/strict'
import { test } from 'node:test'
import { aggregateRuns } from '../../src/bench/aggregate.ts'
import { parseExperiment, pointSpec } from '../../src/bench/experiment.ts'
import { simConfigFor, simSeriesRunner } from '../../src/bench/point-runners.ts'
import type { Block } from '../../src/core/block.ts'
import type { RunEnvironment } from '../../src/core/environment.ts'
import { sha256 } from '../../src/core/hash.ts'
import { LoadModel } from '../../src/sim/load.ts'
import { SimMetrics } from '../../src/sim/metrics.ts'
import { emptyTrace, resultPoint, traceMetrics, type CommitTrace } from '../../src/sim/result-point.ts'
import { simPoint } from '../../src/sim/sim-point.ts'
import { simulate } from '../../src/sim/simulation.ts'
import { loadPoint } from '../../src/testnet/report.ts'
import type { LoadResult } from '../../src/testnet/load.ts'

/**
 * One recorded run: 100 tx/s arrive from t = 0 (tx k at 10·k ms); a block is proposed every
 * 500 ms carrying everything arrived and commits 300 ms later (a second honest validator
 * reports it 100 ms after the first). Warm-up 1 s, submission ends at 6 s, the trace at 8 s.
 */
const OFFERED = 100
const PROPOSE_EVERY_MS = 500
const CONSENSUS_MS = 300
const WARMUP_MS = 1_000
const WINDOW_END_MS = 6_000
const END_MS = 8_000

/** The trace as the simulator's bookkeeping records it, fed the run's events. */
function simTrace(): CommitTrace {
  const load = new LoadModel({ offeredTps: OFFERED, maxBlockTxs: 10_000, batchSize: 10 })
  const metrics = new SimMetrics(load)
  for (let i = 1; i * PROPOSE_EVERY_MS + CONSENSUS_MS <= END_MS; i++) {
    const at = i * PROPOSE_EVERY_MS
    const block = { id: sha256(new TextEncoder().encode(`block ${i}`)), payload: load.takePayload(at), timestamp: at } as unknown as Block
    metrics.onProposalSent(block, at)
    metrics.onCommit([block], at + CONSENSUS_MS)
    metrics.onCommit([block], at + CONSENSUS_MS + 100)
  }
  return metrics.finish(END_MS, 0, WINDOW_END_MS, WARMUP_MS).trace
}

/** The same run written down by hand, as a load generator would record it. */
function recordedTrace(): CommitTrace {
  const arrived = Math.floor((END_MS * OFFERED) / 1_000) + 1
  const trace = emptyTrace(arrived, WARMUP_MS, WINDOW_END_MS)
  let taken = 0
  for (let i = 1; i * PROPOSE_EVERY_MS + CONSENSUS_MS <= END_MS; i++) {
    const at = i * PROPOSE_EVERY_MS
    const upTo = Math.floor((at * OFFERED) / 1_000) + 1
    trace.blocks.push({ proposedMs: at, committedMs: at + CONSENSUS_MS, txs: upTo - taken })
    for (let k = taken; k < upTo; k++) {
      trace.commitMs[k] = at + CONSENSUS_MS
      trace.block[k] = trace.blocks.length - 1
    }
    taken = upTo
  }
  for (let k = 0; k < arrived; k++) trace.submitMs[k] = (k * 1_000) / OFFERED
  return trace
}

const ENV: RunEnvironment = { gitCommit: 'abc', node: 'v22', cpuModel: 'cpu', cores: 2, verifiesPerSec: 20_000 }

test('the metric definitions on a known trace: a kept-up load reads its offered rate', () => {
  const m = traceMetrics(recordedTrace(), OFFERED)
  // Blocks 2 … 11 commit inside [1 s, 6 s]: 10 blocks × 50 txs over 5 s.
  assert.equal(m.e2eTps, OFFERED)
  assert.equal(m.windowS, 5)
  // Txs 100 … 600 fall due in the window; all commit by the end of the trace.
  assert.equal(m.submittedTxs, 501)
  assert.equal(m.committedTxs, 501)
  assert.equal(m.uncommittedTxs, 0)
  assert.equal(m.achievedSubmitTps, 501 / 5)
  assert.deepEqual(m.consensusLatencyMs, { p50: CONSENSUS_MS, p95: CONSENSUS_MS, p99: CONSENSUS_MS, mean: CONSENSUS_MS })
  // A tx waits for the next proposal (0–490 ms), then consensus: 300–790 ms.
  assert.ok(m.latencyMs.p50 >= 300 && m.latencyMs.p99 <= 790, JSON.stringify(m.latencyMs))
  // Blocks proposed in the window: 2 … 12 (at 1.0 … 6.0 s).
  assert.equal(m.committedBlocks, 11)
})

test('one recorded trace gives identical numbers through every path: simulator, load/testnet, bench', () => {
  const recorded = recordedTrace()
  const expected = traceMetrics(recorded, OFFERED)
  // The simulator's bookkeeping, fed the run's events, records the same trace and so the same figures.
  assert.deepEqual(simTrace(), recorded)
  assert.deepEqual(traceMetrics(simTrace(), OFFERED), expected)
  // `bftlab testnet` / `bftlab load`: a load result carries the trace's figures and the chain's counters.
  const load: LoadResult = { ...expected, rejectReasons: {}, failedTxs: 0, rounds: 16, timeouts: 0, stateRootMismatches: 0, safetyViolations: 0, resubmittedTxs: 0, acknowledged: [], trace: recorded }
  const testnet = loadPoint(4, load, ENV)
  const shared = resultPoint(4, expected, { failedTxs: 0, rounds: 16, timeouts: 0 }, 10_000)
  for (const key of Object.keys(expected) as (keyof typeof expected)[]) assert.deepEqual(testnet[key], shared[key], key)
  assert.equal(testnet.tpsToBound, OFFERED / 10_000)
  // The benchmark folds one run into a point without changing a figure.
  const spec = pointSpec(parseExperiment({ validators: [4], rates: [OFFERED] }), 4, 'batches', OFFERED, 0)
  const point = aggregateRuns('testnet', spec, [testnet], 0.95)
  for (const key of ['e2eTps', 'consensusTps', 'achievedSubmitTps', 'latencyMs', 'consensusLatencyMs', 'committedTxs', 'tpsToBound'] as const) assert.deepEqual(point[key], testnet[key], key)
})

test('`bftlab bench --sim` and `bftlab sim --json` report the same point for the same run', async () => {
  const e = parseExperiment({ validators: [4], rates: [2_000], durationS: 2, warmupS: 1 })
  const spec = pointSpec(e, 4, 'batches', 2_000, 0)
  const runner = await simSeriesRunner(e, ENV)(spec)
  const viaBench = await runner.measure(spec)
  const config = simConfigFor(spec, e, ENV)
  const result = simulate(config)
  const viaSim = simPoint(config, result)
  assert.deepEqual(viaBench, viaSim)
  assert.deepEqual(traceMetrics(result.stats.trace, 2_000).e2eTps, viaSim.e2eTps)
  // The warm-up is excluded: the window is the last 2 s of 3.
  assert.equal(viaSim.windowS, 2)
  assert.ok(viaSim.e2eTps > 0.9 * 2_000, `sim e2e ${viaSim.e2eTps}`)
})
