import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Logger } from '../core/logger.ts'

/**
 * Admits only validator-set peers, and not those serving a rate-limit cool-off. The peer id is
 * known after the noise handshake, so inbound strangers are refused at the encrypted stage; the
 * raw TCP accept cannot be filtered by identity.
 */
export class ValidatorGater {
  readonly #allowed: ReadonlySet<string>
  readonly #bannedUntil = new Map<string, number>()
  readonly #log: Logger
  refused = 0

  constructor(allowed: Iterable<string>, log: Logger) {
    this.#allowed = new Set(allowed)
    this.#log = log
  }

  isValidator(peerId: string): boolean {
    return this.#allowed.has(peerId)
  }

  ban(peerId: string, durationMs: number): void {
    this.#bannedUntil.set(peerId, Date.now() + durationMs)
  }

  bannedForMs(peerId: string): number {
    const until = this.#bannedUntil.get(peerId)
    if (until === undefined) return 0
    const left = until - Date.now()
    if (left <= 0) this.#bannedUntil.delete(peerId)
    return Math.max(0, left)
  }

  /** Returns true (deny) with a logged reason, or false (allow). */
  #deny(peer: PeerId, stage: string, addr?: string): boolean {
    const id = peer.toString()
    let reason: string | undefined
    if (!this.#allowed.has(id)) reason = 'not in validator set'
    else if (this.bannedForMs(id) > 0) reason = `cooling off for ${this.bannedForMs(id)} ms after rate-limit violations`
    if (reason === undefined) return false
    this.refused++
    this.#log.warn({ peer: id, stage, addr, reason }, 'connection refused')
    return true
  }

  connectionGater(): ConnectionGater {
    const addrOf = (c: MultiaddrConnection): string => c.remoteAddr.toString()
    return {
      denyDialPeer: (peer) => this.#deny(peer, 'dial'),
      denyOutboundConnection: (peer, conn) => this.#deny(peer, 'outbound', addrOf(conn)),
      denyInboundEncryptedConnection: (peer, conn) => this.#deny(peer, 'inbound-encrypted', addrOf(conn)),
      denyOutboundEncryptedConnection: (peer, conn) => this.#deny(peer, 'outbound-encrypted', addrOf(conn)),
      denyInboundUpgradedConnection: (peer, conn) => this.#deny(peer, 'inbound-upgraded', addrOf(conn)),
      denyOutboundUpgradedConnection: (peer, conn) => this.#deny(peer, 'outbound-upgraded', addrOf(conn)),
      // No relays in a validator network: a relayed path would bypass the address list in genesis.
      denyInboundRelayReservation: () => true,
      denyOutboundRelayedConnection: () => true,
      denyInboundRelayedConnection: () => true,
    }
  }
}
