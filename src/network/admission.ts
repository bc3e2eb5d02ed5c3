import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../core/logger.ts'
import type { FaultTable } from './faults.ts'
import type { ValidatorGater } from './gater.ts'
import type { Libp2pNode } from './libp2p.ts'
import type { PeerRateLimiter } from './ratelimit.ts'
import type { NetworkStats } from './stats.ts'

/**
 * Inbound admission, shared by every path (gossip, one-way streams, requests): the emulated
 * link's state first, then the peer's rate budget. A peer that keeps exceeding its budget is
 * banned for a cool-off and hung up on.
 */
export class InboundAdmission {
  readonly #node: Libp2pNode
  readonly #faults: FaultTable
  readonly #gater: ValidatorGater
  readonly #limiter: PeerRateLimiter
  readonly #stats: NetworkStats
  readonly #log: Logger

  constructor(parts: { node: Libp2pNode; faults: FaultTable; gater: ValidatorGater; limiter: PeerRateLimiter; stats: NetworkStats; log: Logger }) {
    this.#node = parts.node
    this.#faults = parts.faults
    this.#gater = parts.gater
    this.#limiter = parts.limiter
    this.#stats = parts.stats
    this.#log = parts.log
  }

  /** False if `bytes` from `from` must be dropped (link emulated down, or over its rate budget). */
  admit(from: string, bytes: number): boolean {
    if (this.#faults.isDown(from)) {
      this.#stats.faultDropped++
      return false
    }
    // Frames already buffered when we hung up on a peer must not refill its fresh budget.
    if (this.#gater.bannedForMs(from) > 0) {
      this.#stats.rateLimited++
      return false
    }
    const verdict = this.#limiter.admit(from, bytes)
    if (verdict === 'accept') return true
    this.#stats.rateLimited++
    if (verdict === 'disconnect') {
      const coolOffMs = this.#limiter.options.coolOffMs
      this.#stats.rateLimitDisconnects++
      this.#log.warn(
        {
          peer: from,
          limitMessagesPerSecond: this.#limiter.options.messagesPerSecond,
          limitBytesPerSecond: this.#limiter.options.bytesPerSecond,
          coolOffMs,
        },
        'peer exceeded inbound rate limit repeatedly; disconnecting',
      )
      this.#gater.ban(from, coolOffMs)
      this.#node.hangUp(peerIdFromString(from)).catch((err: Error) => this.#log.debug({ peer: from, err: err.message }, 'hang up failed'))
    }
    return false
  }
}
