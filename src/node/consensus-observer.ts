import type { Logger } from '../core/logger.ts'
import type { ObservedAction } from '../consensus/apply-actions.ts'
import type { EvidenceLog } from './evidence.ts'
import type { NodeMetrics } from './metrics.ts'

/**
 * The core's rejection reasons are free text; the ones from a failed signature check (core
 * `verify*` errors: "invalid signature", "invalid signature of validator i") get their own drop
 * reason, so forged or corrupted traffic shows apart from stale or misrouted messages.
 */
const INVALID_SIGNATURE = /invalid signature/

/** Turns what consensus reports into metrics, log lines and evidence records. */
export class ConsensusObserver {
  readonly #metrics: NodeMetrics
  readonly #log: Logger
  readonly #evidence: Pick<EvidenceLog, 'record'>

  constructor(modules: { metrics: NodeMetrics; log: Logger; evidence: Pick<EvidenceLog, 'record'> }) {
    this.#metrics = modules.metrics
    this.#log = modules.log
    this.#evidence = modules.evidence
  }

  observe(action: ObservedAction): void {
    switch (action.type) {
      case 'roundChanged':
        this.#metrics.currentRound.set(action.round)
        this.#metrics.roundChanges.inc({ reason: action.reason })
        this.#log.debug({ round: action.round, reason: action.reason }, 'round changed')
        return
      case 'evidence':
        this.#evidence.record(action)
        return
      case 'rejected':
        this.#metrics.droppedMessages.inc({ reason: INVALID_SIGNATURE.test(action.reason) ? 'invalid signature' : 'rejected by consensus' })
        this.#log.debug({ from: action.from, reason: action.reason }, 'consensus rejected a message')
    }
  }

  /** The round timer expired (before the core handles it). */
  timerExpired(round: number): void {
    this.#metrics.timeouts.inc()
    this.#log.info({ round }, 'round timer expired')
  }
}
