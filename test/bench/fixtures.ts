import { parseExperiment, type Experiment, type ExperimentInput, type PointSpec } from '../../src/bench/experiment.ts'
import { runBench, statelessSeries, type BenchResults, type OpenSeries } from '../../src/bench/runner.ts'
import type { RunEnvironment } from '../../src/core/environment.ts'
import type { ResultPoint } from '../../src/sim/result-point.ts'

export function experiment(overrides: Partial<ExperimentInput> = {}): Experiment {
  return parseExperiment({ validators: [4, 7], rates: [1000, 2000, 4000], durationS: 1, warmupS: 0, ...overrides }, 'test')
}

export const ENV: RunEnvironment = { gitCommit: 'abc123', node: 'v22.0.0', cpuModel: 'test cpu', cores: 2, verifiesPerSec: 20_000 }

/**
 * A deterministic stand-in for a testnet: capacity falls as 12000/n tx/s, latency grows as the
 * offered rate approaches capacity, and each run number shifts throughput by a known amount so
 * mean and stdev have exact expected values.
 */
export function fakeResult(spec: PointSpec, runJitter = 0): ResultPoint {
  const capacity = 12_000 / spec.validators
  const e2eTps = Math.min(spec.offeredTps, capacity) + runJitter
  const load = Math.min(spec.offeredTps / capacity, 4)
  const latency = { p50: 50 * (1 + load), p95: 100 * (1 + load), p99: 150 * (1 + load * load), mean: 60 * (1 + load) }
  return {
    validators: spec.validators,
    offeredTps: spec.offeredTps,
    achievedSubmitTps: spec.offeredTps,
    consensusTps: e2eTps,
    e2eTps,
    latencyMs: latency,
    consensusLatencyMs: { p50: 20, p95: 30, p99: 40, mean: 22 },
    submittedTxs: spec.offeredTps * spec.durationS,
    committedTxs: e2eTps * spec.durationS,
    rejectedTxs: 0,
    uncommittedTxs: 0,
    failedTxs: 0,
    windowS: spec.durationS,
    committedBlocks: 10,
    rounds: 10,
    timeouts: 0,
    safetyViolations: 0,
    stateRootMismatches: 0,
  }
}

/** Minimal XML well-formedness check: every opened tag is closed in order, one root element. */
export function assertWellFormedXml(text: string): void {
  const body = text.replace(/<\?xml[^>]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '')
  const stack: string[] = []
  let roots = 0
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:.-]*)(?:\s[^<>]*?)?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m
    if (closing === '/') {
      const open = stack.pop()
      if (open !== name) throw new Error(`</${name}> closes <${open}>`)
    } else if (selfClosing !== '/') {
      if (stack.length === 0) roots++
      stack.push(name!)
    } else if (stack.length === 0) roots++
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`)
  if (roots !== 1) throw new Error(`expected one root element, found ${roots}`)
}

/** A fake series runner measuring each point with `measure` (default: fakeResult). */
export function fakeSeries(measure: (spec: PointSpec) => Promise<unknown> = async (spec) => fakeResult(spec)): OpenSeries {
  return statelessSeries(measure)
}

/**
 * A capacity sweep over fake series at n = 4, 7, 10 in both modes: full-block reaches 60 % of
 * the batch capacity and reports round timeouts past its capacity; at n = 4 batches never
 * saturates below maxTps 2,800 (capacity 3,000), so its capacity is only "≥ 2,800".
 */
export async function fakeCapacityBench(opts: { sim?: boolean } = {}): Promise<BenchResults> {
  const e = experiment({ name: 'fake', validators: [4, 7, 10], rates: 'capacity', payloadModes: ['batches', 'full-block'], capacity: { startTps: 1_000, maxTps: 2_800 }, sim: { validators: [64] } })
  let k = 0
  const measure = async (s: PointSpec): Promise<ResultPoint> => {
    const r = fakeResult(s.payloadMode === 'batches' ? s : { ...s, validators: s.validators / 0.6 }, (k++ % 2) * 5)
    return { ...r, validators: s.validators, timeouts: s.payloadMode === 'full-block' && r.e2eTps < 0.95 * s.offeredTps ? 3 : 0 }
  }
  return runBench({ experiment: e, env: ENV, openTestnetSeries: fakeSeries(measure), ...(opts.sim === true ? { sim: { openSeries: fakeSeries(measure), payloadModes: ['batches'] } } : {}), progress: { write: () => true } })
}
