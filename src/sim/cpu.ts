import type { ConsensusAction, ConsensusMessage } from '../consensus/types.ts'
import { toHex } from '../core/hash.ts'
import type { QuorumCert } from '../core/vote.ts'

/**
 * Virtual CPU time charged for consensus work. The signatures themselves are real (src/core);
 * only the time they take is modelled, so a 2-core laptop can predict 256 validators.
 */
export interface CpuConfig {
  /** One ed25519 verification. 50 µs ≈ sodium-native's ~20k verifies/s/core measured here. */
  readonly verifyUs: number
  /** One ed25519 signature (vote, timeout, proposal). */
  readonly signUs: number
  /** Fixed cost of handling any message (decode, bookkeeping). */
  readonly perMessageUs: number
}

export const DEFAULT_CPU: CpuConfig = { verifyUs: 50, signUs: 25, perMessageUs: 10 }

function qcKey(qc: QuorumCert): string {
  return `${qc.round}:${toHex(qc.blockId)}`
}

/**
 * One validator's processor: a single-server FIFO queue in virtual time. A job arriving while
 * an earlier one is still running waits for it, so an overloaded leader falls behind exactly as
 * a real one would.
 *
 * Certificates are charged once per validator (quorum × verify cost the first time a QC is
 * seen, nothing after), modelling the verified-certificate cache a real node keeps: the same
 * high QC arrives in a proposal and in up to n timeouts.
 */
export class ProcessorQueue {
  readonly #config: CpuConfig
  readonly #chargedQcs = new Set<string>()
  #freeAt = 0
  busyMs = 0

  constructor(config: CpuConfig) {
    this.#config = config
  }

  /** Queues a job of `costMs` arriving at `now`; returns when it completes. */
  enqueue(now: number, costMs: number): number {
    const start = Math.max(now, this.#freeAt)
    this.#freeAt = start + costMs
    this.busyMs += costMs
    return this.#freeAt
  }

  /** Extends the running job (signing its outputs) by `costMs`; returns the new completion time. */
  extend(now: number, costMs: number): number {
    this.#freeAt = Math.max(now, this.#freeAt) + costMs
    this.busyMs += costMs
    return this.#freeAt
  }

  /** Lost with the process on a crash: a restarted node re-verifies everything. */
  reset(now: number): void {
    this.#freeAt = now
    this.#chargedQcs.clear()
  }

  /** Time to verify and handle `message`, in ms. */
  receiveCostMs(message: ConsensusMessage): number {
    const verifies = this.#verifications(message)
    return (this.#config.perMessageUs + verifies * this.#config.verifyUs) / 1000
  }

  /** Time to sign what the core produced in one step (proposals, votes, timeouts), in ms. */
  signCostMs(actions: readonly ConsensusAction[]): number {
    let signatures = 0
    for (const a of actions) {
      if (a.type === 'persistSafety') signatures += a.then.length > 0 ? 1 : 0
      else if ((a.type === 'broadcast' || a.type === 'send') && a.message.type === 'proposal') signatures += 1
    }
    return (signatures * this.#config.signUs) / 1000
  }

  #qcVerifications(qc: QuorumCert): number {
    const key = qcKey(qc)
    if (qc.signatures.length === 0 || this.#chargedQcs.has(key)) return 0
    this.#chargedQcs.add(key)
    return qc.signatures.length
  }

  #verifications(m: ConsensusMessage): number {
    switch (m.type) {
      case 'proposal':
        return 1 + this.#qcVerifications(m.block.parentQc) + (m.block.tc?.entries.length ?? 0)
      case 'vote':
        return 1
      case 'timeout':
        return 1 + this.#qcVerifications(m.timeout.highQc)
      case 'tc':
        return m.tc.entries.length
    }
  }
}
