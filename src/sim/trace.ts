import { createHash, type Hash } from 'node:crypto'

/**
 * A running SHA-256 over everything that happens in a run (each delivery, timer and commit with
 * its virtual time and the message bytes). Two runs with the same seed and configuration must end
 * with the same digest; any divergence, however small, changes it.
 */
export class TraceHash {
  readonly #hash: Hash = createHash('sha256')
  readonly #header = Buffer.alloc(14)
  #entries = 0

  get entries(): number {
    return this.#entries
  }

  /** Records one happening: virtual time, endpoint, a one-byte kind tag and optional bytes. */
  record(atMs: number, endpoint: number, kind: number, bytes?: Uint8Array): void {
    const h = this.#header
    h.writeDoubleBE(atMs, 0)
    h.writeUInt16BE(endpoint, 8)
    h.writeUInt8(kind, 10)
    h.writeUIntBE(bytes?.length ?? 0, 11, 3)
    this.#hash.update(h)
    if (bytes !== undefined) this.#hash.update(bytes)
    this.#entries++
  }

  digestHex(): string {
    return this.#hash.copy().digest('hex')
  }
}
