/**
 * When each acknowledged, not yet committed tx is resubmitted (LoadOptions.rebroadcastAfterS):
 * first after `firstAfterMs`, then at doubling intervals, as a wallet backs off. Backing off
 * matters when the chain is halted (a partition, a lost quorum): every waiting tx would
 * otherwise be sent again each interval, piling load on validators that are trying to recover.
 *
 * One FIFO per backoff level: entries of a level share its interval, so each FIFO stays sorted
 * by due time and only its head needs examining.
 */

/** Doublings before the interval stops growing: 5 s becomes at most 160 s. */
export const MAX_BACKOFF_LEVEL = 5

/** Consumed FIFO entries are dropped in one splice once they are this many and half the FIFO. */
const COMPACT_AFTER = 4_096

interface Level {
  readonly due: number[]
  readonly tx: number[]
  head: number
}

export class ResubmitSchedule {
  readonly #firstAfterMs: number
  readonly #levels: Level[] = Array.from({ length: MAX_BACKOFF_LEVEL + 1 }, () => ({ due: [], tx: [], head: 0 }))

  constructor(firstAfterMs: number) {
    if (!(firstAfterMs > 0)) throw new RangeError(`resubmission interval must be positive, got ${firstAfterMs} ms`)
    this.#firstAfterMs = firstAfterMs
  }

  /** Tx `tx` was acknowledged at `now`. */
  add(tx: number, now: number): void {
    this.#push(0, tx, now)
  }

  /**
   * Hands every tx due at `now` and not `done` to `resubmit`, and schedules its next attempt.
   * Returns how many were handed over.
   */
  takeDue(now: number, done: (tx: number) => boolean, resubmit: (tx: number) => void): number {
    let taken = 0
    this.#levels.forEach((level, l) => {
      while (level.head < level.due.length && level.due[level.head]! <= now) {
        const tx = level.tx[level.head++]!
        if (done(tx)) continue
        resubmit(tx)
        taken++
        this.#push(Math.min(l + 1, MAX_BACKOFF_LEVEL), tx, now)
      }
      if (level.head > COMPACT_AFTER && level.head * 2 > level.due.length) {
        level.due.splice(0, level.head)
        level.tx.splice(0, level.head)
        level.head = 0
      }
    })
    return taken
  }

  #push(l: number, tx: number, now: number): void {
    const level = this.#levels[l]!
    level.due.push(now + this.#firstAfterMs * 2 ** l)
    level.tx.push(tx)
  }
}
