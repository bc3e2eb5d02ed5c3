import { maxLatency, sampleLatency, type LatencyModel } from './latency.ts'
import type { Prng } from '../core/prng.ts'

/**
 * Validators in different groups cannot exchange messages from `startMs` until `healMs`.
 * Validators listed in no group form one more group together.
 */
export interface PartitionSpec {
  readonly startMs: number
  readonly healMs: number
  readonly groups: readonly (readonly number[])[]
}

export interface NetworkConfig {
  /** Default one-way delay of every link. */
  readonly latency: LatencyModel
  /** Per-link overrides (validator indices, directional). */
  readonly linkLatency?: readonly { readonly from: number; readonly to: number; readonly latency: LatencyModel }[]
  /** Outbound bandwidth of each validator in MB/s (10^6 bytes); absent = unlimited. */
  readonly bandwidthMBps?: number
  /** Probability that a message is lost. */
  readonly dropProbability: number
  /** Losses stop at this time (e.g. at GST, so the post-GST synchrony promise holds); absent = never. */
  readonly dropUntilMs?: number
  readonly partitions: readonly PartitionSpec[]
  /**
   * Global stabilisation time (partial synchrony). Before it a message may be held up to
   * `preGstMaxExtraMs` longer than its link latency, but never past GST + its link latency:
   * after GST every message between correct validators arrives within Δ = max link latency.
   */
  readonly gstMs: number
  readonly preGstMaxExtraMs: number
  /** Links behave like TCP connections (a message never overtakes an earlier one on the same link). */
  readonly fifo: boolean
}

export type SendVerdict =
  | { readonly kind: 'deliver'; readonly at: number }
  | { readonly kind: 'drop'; readonly reason: 'partition' | 'loss' }

/** Sender or receiver of one transmission: `id` is the network attachment, `index` its validator. */
export interface LinkEnd {
  readonly id: number
  readonly index: number
}

/**
 * The simulated network: per-link latency, per-sender serialisation (a validator's uplink sends
 * one message at a time at `bandwidthMBps`, so a leader broadcasting to n − 1 peers pays n − 1
 * transmissions), random loss, scheduled partitions and GST.
 */
export class NetworkModel {
  readonly #config: NetworkConfig
  readonly #prng: Prng
  readonly #linkLatency = new Map<string, LatencyModel>()
  /** Per endpoint: virtual time at which its uplink finishes the last queued transmission. */
  readonly #uplinkFreeAt = new Map<number, number>()
  /** Per directed endpoint pair: latest arrival scheduled so far (FIFO links). */
  readonly #lastArrival = new Map<string, number>()
  /** Δ: the largest delay any link can produce after GST. */
  readonly maxDelayMs: number

  constructor(config: NetworkConfig, prng: Prng) {
    if (!(config.dropProbability >= 0 && config.dropProbability <= 1)) {
      throw new RangeError(`drop probability must be in [0, 1], got ${config.dropProbability}`)
    }
    if (config.bandwidthMBps !== undefined && !(config.bandwidthMBps > 0)) {
      throw new RangeError(`bandwidth must be > 0 MB/s, got ${config.bandwidthMBps}`)
    }
    for (const p of config.partitions) {
      if (!(p.healMs >= p.startMs)) throw new RangeError(`partition heals at ${p.healMs} ms, before it starts at ${p.startMs} ms`)
    }
    this.#config = config
    this.#prng = prng
    let delta = maxLatency(config.latency)
    for (const l of config.linkLatency ?? []) {
      this.#linkLatency.set(`${l.from}>${l.to}`, l.latency)
      delta = Math.max(delta, maxLatency(l.latency))
    }
    this.maxDelayMs = delta
  }

  /** When the last partition heals (0 without partitions). */
  get lastHealMs(): number {
    let t = 0
    for (const p of this.#config.partitions) t = Math.max(t, p.healMs)
    return t
  }

  partitioned(a: number, b: number, now: number): boolean {
    for (const p of this.#config.partitions) {
      if (now < p.startMs || now >= p.healMs) continue
      if (groupOf(p, a) !== groupOf(p, b)) return true
    }
    return false
  }

  /** Decides the fate of one transmission of `bytes` bytes sent at `now`. */
  send(from: LinkEnd, to: LinkEnd, bytes: number, now: number): SendVerdict {
    const c = this.#config
    if (this.partitioned(from.index, to.index, now)) return { kind: 'drop', reason: 'partition' }
    if ((c.dropUntilMs === undefined || now < c.dropUntilMs) && this.#prng.chance(c.dropProbability)) {
      return { kind: 'drop', reason: 'loss' }
    }
    let departure = now
    if (c.bandwidthMBps !== undefined) {
      // bytes / (MB/s · 10^6) s = bytes / (MB/s · 10^3) ms
      departure = Math.max(now, this.#uplinkFreeAt.get(from.id) ?? 0) + bytes / (c.bandwidthMBps * 1000)
      this.#uplinkFreeAt.set(from.id, departure)
    }
    const latency = sampleLatency(this.#linkLatency.get(`${from.index}>${to.index}`) ?? c.latency, this.#prng)
    let arrival = departure + latency
    if (departure < c.gstMs && c.preGstMaxExtraMs > 0) {
      arrival = Math.min(arrival + this.#prng.uniform(0, c.preGstMaxExtraMs), c.gstMs + latency)
    }
    if (c.fifo) {
      const link = `${from.id}>${to.id}`
      arrival = Math.max(arrival, this.#lastArrival.get(link) ?? 0)
      this.#lastArrival.set(link, arrival)
    }
    return { kind: 'deliver', at: arrival }
  }
}

function groupOf(p: PartitionSpec, validator: number): number {
  return p.groups.findIndex((g) => g.includes(validator))
}
