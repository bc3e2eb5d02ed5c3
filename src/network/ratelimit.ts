/**
 * Per-peer inbound admission: two token buckets (messages/s and bytes/s) and a violation counter
 * that tells the host when a peer has misbehaved long enough to be cut off for a cool-off period.
 */

export interface RateLimitOptions {
  messagesPerSecond: number
  bytesPerSecond: number
  /** Bucket capacity in seconds of sustained rate; lets a proposer's burst of batches through. */
  burstSeconds: number
  /** Dropped messages within `violationWindowMs` that trigger a disconnect. */
  violationsBeforeDisconnect: number
  violationWindowMs: number
  /** How long a disconnected peer is refused by the gater before it may reconnect. */
  coolOffMs: number
}

/**
 * Generous on purpose: the limiter exists to stop a runaway or hostile peer, not to shape honest
 * traffic. 20k msgs/s and 256 MiB/s are well above what a 100-validator committee produces per
 * peer at 100 KB batches on loopback, so honest peers never hit it in benchmarks.
 */
export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  messagesPerSecond: 20_000,
  bytesPerSecond: 256 * 1024 * 1024,
  burstSeconds: 1,
  violationsBeforeDisconnect: 1_000,
  violationWindowMs: 10_000,
  coolOffMs: 10_000,
}

class TokenBucket {
  readonly #rate: number
  readonly #capacity: number
  #tokens: number
  #updatedAt: number

  constructor(ratePerSecond: number, capacity: number, now: number) {
    this.#rate = ratePerSecond
    this.#capacity = capacity
    this.#tokens = capacity
    this.#updatedAt = now
  }

  tryTake(amount: number, now: number): boolean {
    const elapsedSeconds = (now - this.#updatedAt) / 1000
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsedSeconds * this.#rate)
    this.#updatedAt = now
    if (this.#tokens < amount) return false
    this.#tokens -= amount
    return true
  }
}

interface PeerBudget {
  messages: TokenBucket
  bytes: TokenBucket
  violations: number
  windowStart: number
}

export type Admission = 'accept' | 'drop' | 'disconnect'

export class PeerRateLimiter {
  readonly options: RateLimitOptions
  readonly #peers = new Map<string, PeerBudget>()
  readonly #now: () => number

  constructor(options: RateLimitOptions, now: () => number = Date.now) {
    this.options = options
    this.#now = now
  }

  /**
   * 'disconnect' is returned once, when the violation threshold is crossed; the peer's budget is
   * then forgotten so it starts fresh after the cool-off.
   */
  admit(peerId: string, bytes: number): Admission {
    const now = this.#now()
    const budget = this.#budget(peerId, now)
    // Bytes are only charged when the message bucket accepts, so a drop does not consume both.
    if (budget.messages.tryTake(1, now) && budget.bytes.tryTake(bytes, now)) return 'accept'
    if (now - budget.windowStart > this.options.violationWindowMs) {
      budget.windowStart = now
      budget.violations = 0
    }
    budget.violations++
    if (budget.violations >= this.options.violationsBeforeDisconnect) {
      this.#peers.delete(peerId)
      return 'disconnect'
    }
    return 'drop'
  }

  #budget(peerId: string, now: number): PeerBudget {
    let budget = this.#peers.get(peerId)
    if (budget === undefined) {
      const o = this.options
      budget = {
        messages: new TokenBucket(o.messagesPerSecond, o.messagesPerSecond * o.burstSeconds, now),
        bytes: new TokenBucket(o.bytesPerSecond, o.bytesPerSecond * o.burstSeconds, now),
        violations: 0,
        windowStart: now,
      }
      this.#peers.set(peerId, budget)
    }
    return budget
  }
}
