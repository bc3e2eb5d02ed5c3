import type { Logger } from '../core/logger.ts'

export interface ReconnectOptions {
  /** First retry delay after a drop; short because a validator restart is the common case. */
  initialBackoffMs: number
  /** Cap so a long-down peer is still probed often enough to rejoin within a few rounds. */
  maxBackoffMs: number
}

export const DEFAULT_RECONNECT: ReconnectOptions = { initialBackoffMs: 200, maxBackoffMs: 5_000 }

export interface PeerKeeperHooks {
  dial(peerId: string): Promise<void>
  isConnected(peerId: string): boolean
  /** Remaining cool-off for the peer; dialing is deferred until it ends. */
  bannedForMs(peerId: string): number
  onReconnect(peerId: string): void
}

/**
 * Keeps a connection to every other validator: dials at start and, whenever a link drops or a
 * dial fails, retries with exponential backoff. One timer per peer at most.
 */
export class PeerKeeper {
  readonly #peers: readonly string[]
  readonly #opts: ReconnectOptions
  readonly #hooks: PeerKeeperHooks
  readonly #log: Logger
  readonly #backoff = new Map<string, number>()
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #dialing = new Set<string>()
  #stopped = false

  constructor(peers: readonly string[], opts: ReconnectOptions, hooks: PeerKeeperHooks, log: Logger) {
    this.#peers = peers
    this.#opts = opts
    this.#hooks = hooks
    this.#log = log
  }

  start(): void {
    for (const peer of this.#peers) this.#schedule(peer, 0)
  }

  stop(): void {
    this.#stopped = true
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
  }

  onConnected(peer: string): void {
    this.#backoff.delete(peer)
    const t = this.#timers.get(peer)
    if (t !== undefined) clearTimeout(t)
    this.#timers.delete(peer)
  }

  onDisconnected(peer: string): void {
    if (!this.#peers.includes(peer)) return
    if (!this.#backoff.has(peer)) this.#backoff.set(peer, this.#opts.initialBackoffMs)
    this.#schedule(peer, this.#opts.initialBackoffMs)
  }

  #schedule(peer: string, delayMs: number): void {
    if (this.#stopped || this.#timers.has(peer) || this.#dialing.has(peer)) return
    const wait = Math.max(delayMs, this.#hooks.bannedForMs(peer))
    const timer = setTimeout(() => {
      this.#timers.delete(peer)
      void this.#attempt(peer)
    }, wait)
    this.#timers.set(peer, timer)
  }

  async #attempt(peer: string): Promise<void> {
    if (this.#stopped || this.#hooks.isConnected(peer)) return
    this.#dialing.add(peer)
    const reconnecting = this.#backoff.has(peer)
    try {
      await this.#hooks.dial(peer)
      this.#backoff.delete(peer)
      if (reconnecting) this.#hooks.onReconnect(peer)
    } catch (err) {
      const next = Math.min(this.#opts.maxBackoffMs, (this.#backoff.get(peer) ?? this.#opts.initialBackoffMs / 2) * 2)
      this.#backoff.set(peer, next)
      this.#log.debug({ peer, retryInMs: next, err: (err as Error).message }, 'dial failed')
      this.#dialing.delete(peer)
      this.#schedule(peer, next)
      return
    }
    this.#dialing.delete(peer)
  }
}
