import type { NetworkHost } from '../network/host.ts'

/**
 * The validator set as network peers: genesis index ↔ libp2p peer id, whom to ask for something,
 * and requests addressed by index. Requests time out after one base round timeout: an answer
 * later than that is no longer useful to the round that asked.
 */
export class ValidatorPeers {
  readonly self: number
  /** Peer ids in genesis order. */
  readonly ids: readonly string[]
  readonly #indexOf: ReadonlyMap<string, number>
  readonly #network: Pick<NetworkHost, 'request'>
  readonly #requestTimeoutMs: number

  constructor(ids: readonly string[], self: number, network: Pick<NetworkHost, 'request'>, requestTimeoutMs: number) {
    this.ids = ids
    this.self = self
    this.#indexOf = new Map(ids.map((id, i) => [id, i]))
    this.#network = network
    this.#requestTimeoutMs = requestTimeoutMs
  }

  /** The genesis index of a connected peer; undefined for anyone else. */
  indexOf(peerId: string): number | undefined {
    return this.#indexOf.get(peerId)
  }

  /** Every validator but this one, by peer id. */
  others(): string[] {
    return this.ids.filter((_, i) => i !== this.self)
  }

  /** Validators to ask, `first` first and then in index order after it, self excluded. */
  askOrder(first: number): number[] {
    const n = this.ids.length
    const order = [first, ...this.ids.map((_, i) => (first + 1 + i) % n)]
    return [...new Set(order)].filter((i) => i !== this.self)
  }

  request(peer: number, protocol: string, data: Uint8Array): Promise<Uint8Array> {
    return this.#network.request(this.ids[peer]!, protocol, data, this.#requestTimeoutMs)
  }
}
