/**
 * Statistics across repeated measurements (runs of one benchmark point). Per-sample latency
 * percentiles live in src/sim/stats.ts (`SampleSet`, nearest-rank) and are shared from there
 * so the simulator and the real testnet compute p50/p95/p99 one way.
 */

export { SampleSet, type LatencySummary } from '../sim/stats.ts'

export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN
  let sum = 0
  for (let i = 0; i < values.length; i++) sum += values[i]!
  return sum / values.length
}

/** Sample standard deviation (n − 1): the spread across repeated runs; 0 for a single run. */
export function stdev(values: ArrayLike<number>): number {
  if (values.length < 2) return values.length === 1 ? 0 : Number.NaN
  const m = mean(values)
  let squares = 0
  for (let i = 0; i < values.length; i++) squares += (values[i]! - m) ** 2
  return Math.sqrt(squares / (values.length - 1))
}
