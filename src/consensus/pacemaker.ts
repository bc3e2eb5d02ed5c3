import type { TimeoutCert } from '../core/timeout.ts'

export interface PacemakerOptions {
  readonly baseTimeoutMs: number
  readonly maxTimeoutMs: number
  /** The round to start in (1 at genesis, highQc.round + 1 after a restart). */
  readonly round: number
  /** After a restart: the TC that ended round − 1, if the persisted recovery state has it. */
  readonly lastTc?: TimeoutCert
}

/**
 * Round bookkeeping: the current round, how it was entered, and the round timer's duration.
 * Rounds only move forward, on a certificate for the current round or a later one.
 */
export class Pacemaker {
  readonly #baseTimeoutMs: number
  readonly #maxTimeoutMs: number
  #currentRound: number
  /** Timer expiries since the last QC-driven progress: the backoff exponent. */
  #consecutiveTimeouts = 0
  #enteredByTc: TimeoutCert | undefined

  constructor(opts: PacemakerOptions) {
    if (!(opts.baseTimeoutMs > 0) || !(opts.maxTimeoutMs >= opts.baseTimeoutMs)) {
      throw new RangeError(`pacemaker: need 0 < baseTimeoutMs (${opts.baseTimeoutMs}) ≤ maxTimeoutMs (${opts.maxTimeoutMs})`)
    }
    this.#baseTimeoutMs = opts.baseTimeoutMs
    this.#maxTimeoutMs = opts.maxTimeoutMs
    this.#currentRound = opts.round
    this.#enteredByTc = opts.lastTc?.round === opts.round - 1 ? opts.lastTc : undefined
  }

  get round(): number {
    return this.#currentRound
  }

  /** The TC for round − 1 if this round was entered by a timeout certificate, else undefined. */
  get lastTc(): TimeoutCert | undefined {
    return this.#enteredByTc
  }

  /**
   * base × 2^(consecutive timeouts), capped: exponential backoff lets rounds eventually outlast
   * an unknown network delay (partial synchrony) without making the fault-free case slower.
   */
  timeoutMs(): number {
    // 2^30 × any positive base exceeds any sane cap; bounding the exponent avoids Infinity.
    return Math.min(this.#maxTimeoutMs, this.#baseTimeoutMs * 2 ** Math.min(this.#consecutiveTimeouts, 30))
  }

  /** The round timer expired without progress: the next timer waits longer. */
  timerExpired(): void {
    this.#consecutiveTimeouts++
  }

  /** A QC for `qcRound` ≥ current round moves to qcRound + 1 and resets the backoff. */
  advanceByQc(qcRound: number): boolean {
    if (qcRound < this.#currentRound) return false
    this.#currentRound = qcRound + 1
    this.#consecutiveTimeouts = 0
    this.#enteredByTc = undefined
    return true
  }

  /** A TC for round ≥ current moves to tc.round + 1; the backoff is kept (no progress was made). */
  advanceByTc(tc: TimeoutCert): boolean {
    if (tc.round < this.#currentRound) return false
    this.#currentRound = tc.round + 1
    this.#enteredByTc = tc
    return true
  }
}
