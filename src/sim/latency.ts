import type { Prng } from '../core/prng.ts'

/** One-way propagation delay of a link, in virtual ms. */
export type LatencyModel =
  | { readonly kind: 'fixed'; readonly ms: number }
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  | { readonly kind: 'normal'; readonly meanMs: number; readonly stdMs: number }

/**
 * A normal sample is clamped to mean ± NORMAL_CLAMP_SIGMAS·σ (and at 0): after GST the model
 * promises a known bound Δ on every delay, which an untruncated normal would not have.
 */
const NORMAL_CLAMP_SIGMAS = 4

export const LATENCY_PRESETS = {
  /** Same data centre. */
  lan: { kind: 'fixed', ms: 1 },
  /** Validators spread over continents. */
  wan: { kind: 'uniform', minMs: 50, maxMs: 200 },
} as const satisfies Record<string, LatencyModel>

export function sampleLatency(model: LatencyModel, prng: Prng): number {
  switch (model.kind) {
    case 'fixed':
      return model.ms
    case 'uniform':
      return prng.uniform(model.minMs, model.maxMs)
    case 'normal': {
      const x = model.meanMs + model.stdMs * prng.normal()
      return Math.max(0, Math.min(model.meanMs + NORMAL_CLAMP_SIGMAS * model.stdMs, x))
    }
  }
}

/** Largest delay the model can produce: Δ of the post-GST synchrony bound. */
export function maxLatency(model: LatencyModel): number {
  switch (model.kind) {
    case 'fixed':
      return model.ms
    case 'uniform':
      return model.maxMs
    case 'normal':
      return model.meanMs + NORMAL_CLAMP_SIGMAS * model.stdMs
  }
}

export function describeLatency(model: LatencyModel): string {
  switch (model.kind) {
    case 'fixed':
      return `fixed:${model.ms}`
    case 'uniform':
      return `uniform:${model.minMs}-${model.maxMs}`
    case 'normal':
      return `normal:${model.meanMs},${model.stdMs}`
  }
}

function finiteNonNegative(text: string, spec: string): number {
  const v = Number(text)
  if (text.trim() === '' || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`latency "${spec}": "${text}" is not a non-negative number of ms`)
  }
  return v
}

/** Parses `lan`, `wan`, `fixed:10`, `uniform:50-200` or `normal:100,20` (ms). */
export function parseLatency(spec: string): LatencyModel {
  if (spec === 'lan' || spec === 'wan') return LATENCY_PRESETS[spec]
  const [kind, args, extra] = spec.split(':')
  if (extra === undefined && args !== undefined) {
    if (kind === 'fixed') return { kind: 'fixed', ms: finiteNonNegative(args, spec) }
    if (kind === 'uniform') {
      const [lo, hi, more] = args.split('-')
      if (lo !== undefined && hi !== undefined && more === undefined) {
        const minMs = finiteNonNegative(lo, spec)
        const maxMs = finiteNonNegative(hi, spec)
        if (maxMs < minMs) throw new RangeError(`latency "${spec}": max ${maxMs} is below min ${minMs}`)
        return { kind: 'uniform', minMs, maxMs }
      }
    }
    if (kind === 'normal') {
      const [mean, std, more] = args.split(',')
      if (mean !== undefined && std !== undefined && more === undefined) {
        return { kind: 'normal', meanMs: finiteNonNegative(mean, spec), stdMs: finiteNonNegative(std, spec) }
      }
    }
  }
  throw new RangeError(`latency "${spec}": expected lan, wan, fixed:MS, uniform:MIN-MAX or normal:MEAN,STD`)
}
