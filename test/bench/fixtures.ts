import { parseExperiment, type Experiment, type ExperimentInput, type PointSpec } from '../../src/bench/experiment.ts'
import type { PointResult } from '../../src/bench/point.ts'
import type { RunEnvironment } from '../../src/core/environment.ts'

export function experiment(overrides: Partial<ExperimentInput> = {}): Experiment {
  return parseExperiment({ validators: [4, 7], rates: [1000, 2000, 4000], durationS: 1, warmupS: 0, runs: 1, ...overrides }, 'test')
}

export const ENV: RunEnvironment = { gitCommit: 'abc123', node: 'v22.0.0', cpuModel: 'test cpu', cores: 2, verifiesPerSec: 20_000 }

/**
 * A deterministic stand-in for a testnet: capacity falls as 12000/n tx/s, latency grows as the
 * offered rate approaches capacity, and each run number shifts throughput by a known amount so
 * mean and stdev have exact expected values.
 */
export function fakeResult(spec: PointSpec, runJitter = 0): PointResult {
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
    committedTxs: e2eTps * spec.durationS,
    rejectedTxs: 0,
    failedTxs: 0,
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
