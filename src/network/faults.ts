import { Prng } from '../core/prng.ts'

/**
 * App-level link fault emulation (the kernel's netem is not available on the test machines).
 *
 * Faults are configured per remote peer, or for '*' (every link without its own entry). Outbound
 * messages are delayed/jittered/lost/dropped per link; inbound messages are dropped while the link
 * is down. Loss draws from a seeded PRNG so a run with the same seed and the same message sequence
 * drops the same messages.
 */

export interface LinkFaults {
  delayMs: number
  jitterMs: number
  /** Probability in [0, 1] that an outbound message on the link is silently dropped. */
  lossRate: number
  down: boolean
}

export const NO_FAULTS: LinkFaults = { delayMs: 0, jitterMs: 0, lossRate: 0, down: false }

export type OutboundVerdict = { kind: 'drop'; reason: 'down' | 'loss' } | { kind: 'deliver'; delayMs: number }

function validate(peer: string, faults: LinkFaults): void {
  const bad =
    !(faults.delayMs >= 0) || !(faults.jitterMs >= 0) || !(faults.lossRate >= 0 && faults.lossRate <= 1)
  if (bad) {
    throw new RangeError(
      `invalid link faults for ${peer}: delayMs=${faults.delayMs} jitterMs=${faults.jitterMs} lossRate=${faults.lossRate}` +
        ' (delay and jitter must be >= 0, lossRate in [0, 1])',
    )
  }
}

export class FaultTable {
  readonly #links = new Map<string, LinkFaults>()
  readonly #prng: Prng

  constructor(seed: number) {
    this.#prng = new Prng(seed)
  }

  /** True when any link has a non-trivial fault; the host uses it to pick the gossip path. */
  get active(): boolean {
    for (const f of this.#links.values()) {
      if (f.down || f.delayMs > 0 || f.jitterMs > 0 || f.lossRate > 0) return true
    }
    return false
  }

  set(peer: string, faults: Partial<LinkFaults>): void {
    const merged = { ...(this.#links.get(peer) ?? NO_FAULTS), ...faults }
    validate(peer, merged)
    this.#links.set(peer, merged)
  }

  clear(): void {
    this.#links.clear()
  }

  /** Brings every link up again, keeping configured delay/jitter/loss. */
  heal(): void {
    for (const [peer, f] of this.#links) this.#links.set(peer, { ...f, down: false })
  }

  get(peer: string): LinkFaults {
    return this.#links.get(peer) ?? this.#links.get('*') ?? NO_FAULTS
  }

  isDown(peer: string): boolean {
    return this.get(peer).down
  }

  outbound(peer: string): OutboundVerdict {
    const f = this.get(peer)
    if (f.down) return { kind: 'drop', reason: 'down' }
    if (f.lossRate > 0 && this.#prng.float() < f.lossRate) return { kind: 'drop', reason: 'loss' }
    const jitter = f.jitterMs > 0 ? this.#prng.float() * f.jitterMs : 0
    return { kind: 'deliver', delayMs: f.delayMs + jitter }
  }
}

/**
 * Per-link FIFO delay line. Jitter varies each message's delay, but a release never overtakes
 * the one queued before it: the emulated link is a TCP connection, which delays but never
 * reorders, and consensus code relies on per-peer ordering of one-way messages.
 */
export class DelayLine {
  readonly #queue: { releaseAt: number; deliver: () => void }[] = []
  #timer: NodeJS.Timeout | undefined
  #lastReleaseAt = 0

  push(delayMs: number, deliver: () => void): void {
    if (delayMs <= 0 && this.#queue.length === 0) {
      deliver()
      return
    }
    const releaseAt = Math.max(Date.now() + delayMs, this.#lastReleaseAt)
    this.#lastReleaseAt = releaseAt
    this.#queue.push({ releaseAt, deliver })
    if (this.#timer === undefined) this.#arm()
  }

  /** Drops everything still in flight (host stop). */
  clear(): void {
    this.#queue.length = 0
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #arm(): void {
    const head = this.#queue[0]
    if (head === undefined) {
      this.#timer = undefined
      return
    }
    this.#timer = setTimeout(() => this.#release(), Math.max(0, head.releaseAt - Date.now()))
  }

  #release(): void {
    const now = Date.now()
    while (this.#queue.length > 0 && this.#queue[0]!.releaseAt <= now) this.#queue.shift()!.deliver()
    this.#arm()
  }
}
