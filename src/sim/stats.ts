/** Latency summary in the shape of docs/design.md §12 (`latencyMs`, `consensusLatencyMs`). */
export interface LatencySummary {
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly mean: number
}

/** Nearest-rank percentile of an ascending sorted array (p in (0, 100]). */
function nearestRank(sorted: Float64Array, p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.max(0, rank - 1)]!
}

/** Collects samples (e.g. virtual ms) into a growable typed array; summarises once at the end. */
export class SampleSet {
  #values = new Float64Array(1024)
  #count = 0

  get count(): number {
    return this.#count
  }

  add(value: number): void {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2)
      grown.set(this.#values)
      this.#values = grown
    }
    this.#values[this.#count++] = value
  }

  /** p50/p95/p99/mean, or all zeros without samples (a run that committed nothing). */
  summary(): LatencySummary {
    if (this.#count === 0) return { p50: 0, p95: 0, p99: 0, mean: 0 }
    const sorted = this.#values.slice(0, this.#count).sort()
    let sum = 0
    for (const v of sorted) sum += v
    return { p50: nearestRank(sorted, 50), p95: nearestRank(sorted, 95), p99: nearestRank(sorted, 99), mean: sum / this.#count }
  }
}

/** Least-squares line y = slope·x + intercept through the points (needs two distinct x). */
export function leastSquares(points: readonly { readonly x: number; readonly y: number }[]): { slope: number; intercept: number } | undefined {
  const n = points.length
  if (n < 2) return undefined
  let sx = 0
  let sy = 0
  for (const p of points) {
    sx += p.x
    sy += p.y
  }
  const mx = sx / n
  const my = sy / n
  let sxx = 0
  let sxy = 0
  for (const p of points) {
    sxx += (p.x - mx) ** 2
    sxy += (p.x - mx) * (p.y - my)
  }
  if (sxx === 0) return undefined
  const slope = sxy / sxx
  return { slope, intercept: my - slope * mx }
}
