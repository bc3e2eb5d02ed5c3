import { batchDigestOfEncoding } from '../core/batch.ts'
import type { Block } from '../core/block.ts'
import { DecodeError, Writer, decodeWith } from '../core/codec.ts'
import { HASH_BYTES, toHex } from '../core/hash.ts'
import { LIMITS } from '../core/limits.ts'
import type { Logger } from '../core/logger.ts'
import { BatchRejectedError, type BatchStore } from './batch-store.ts'

/**
 * Payload availability (`/bftlab/sync-batches/1`): a validator votes for a block only once it
 * holds every batch the block references (docs/design.md, "Batches"), and must hold them to execute it after
 * commit. Missing batches are requested by digest from the block's author first (it proposed
 * them, so it has them), then from every other validator.
 */
export const SYNC_BATCHES_PROTOCOL = '/bftlab/sync-batches/1'

/** Digests per request: one block's worth, matching the codec's per-block bound. */
const MAX_DIGESTS_PER_REQUEST = LIMITS.maxBlockBatches
/** Answers carry at most this many batches; the byte budget usually binds first. */
const MAX_BATCHES_PER_RESPONSE = 256

/** What payload availability needs from the batch store. */
export type BatchHolder = Pick<BatchStore, 'missing' | 'get' | 'put'>

/** How batch requests travel: the node binds this to its batch-sync protocol. */
export interface BatchRequests {
  /** Validators to ask, `first` (a block's author) first, self excluded. */
  peersFor(first: number): number[]
  /** Asks validator `peer` for batches (the sync-batches protocol). */
  request(peer: number, data: Uint8Array): Promise<Uint8Array>
}

/* Request: list<fixed32 digest>.  Response: list<bytes canonical batch>. */
export function encodeBatchRequest(digests: readonly Uint8Array[]): Uint8Array {
  return new Writer(8 + digests.length * HASH_BYTES).list(digests, (w, d) => w.fixed(d, HASH_BYTES)).finish()
}

export function decodeBatchRequest(bytes: Uint8Array): Uint8Array[] {
  return decodeWith(bytes, 'batchRequest', (r) => r.list('batchRequest.digests', MAX_DIGESTS_PER_REQUEST, (rr) => rr.fixed(HASH_BYTES, 'batchRequest.digests[]')))
}

export function encodeBatchResponse(batches: readonly Uint8Array[]): Uint8Array {
  const w = new Writer(batches.reduce((n, b) => n + b.length + 4, 8))
  return w.list(batches, (ww, b) => ww.bytes(b)).finish()
}

export function decodeBatchResponse(bytes: Uint8Array, maxBytes: number): Uint8Array[] {
  return decodeWith(bytes, 'batchResponse', (r) => r.list('batchResponse.batches', MAX_BATCHES_PER_RESPONSE, (rr) => rr.bytesField('batchResponse.batches[]', maxBytes)))
}

/** Answers a peer's request with the held batches among the digests, within `maxBytes`. */
export async function answerBatchRequest(holder: BatchHolder, request: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const out: Uint8Array[] = []
  let size = 8
  for (const digest of decodeBatchRequest(request)) {
    const held = await holder.get(digest)
    if (held === undefined) continue
    const bytes = held.encoded
    if (out.length > 0 && size + bytes.length + 4 > maxBytes) break
    if (out.length >= MAX_BATCHES_PER_RESPONSE) break
    out.push(bytes)
    size += bytes.length + 4
  }
  return encodeBatchResponse(out)
}

export class PayloadAvailability {
  readonly #holder: BatchHolder
  readonly #transport: BatchRequests
  readonly #maxMessageBytes: number
  readonly #log: Logger
  /** One fetch per block at a time: the core may ask again for a block already being fetched. */
  readonly #inFlight = new Map<string, Promise<boolean>>()

  constructor(holder: BatchHolder, transport: BatchRequests, maxMessageBytes: number, log: Logger) {
    this.#holder = holder
    this.#transport = transport
    this.#maxMessageBytes = maxMessageBytes
    this.#log = log
  }

  /** True once every batch of `block` is held; false if no validator supplied the rest. */
  ensure(block: Block): Promise<boolean> {
    if (block.payload.kind === 'txs') return Promise.resolve(true)
    const key = toHex(block.id)
    let pending = this.#inFlight.get(key)
    if (pending === undefined) {
      pending = this.#fetch(block).finally(() => this.#inFlight.delete(key))
      this.#inFlight.set(key, pending)
    }
    return pending
  }

  async #fetch(block: Block): Promise<boolean> {
    if (block.payload.kind === 'txs') return true
    const digests = block.payload.digests
    if ((await this.#holder.missing(digests)).length === 0) return true
    for (const peer of this.#transport.peersFor(block.author)) {
      // Keep asking one peer while it makes progress: a byte-bounded answer may be partial.
      for (;;) {
        const missing = await this.#holder.missing(digests)
        if (missing.length === 0) return true
        const received = await this.#ask(peer, missing)
        if (received === 0) break
      }
    }
    const stillMissing = await this.#holder.missing(digests)
    if (stillMissing.length === 0) return true
    this.#log.warn({ block: toHex(block.id), round: block.round, author: block.author, missing: stillMissing.map(toHex) }, 'no validator supplied the missing batches')
    return false
  }

  /** Asks one peer; returns how many wanted batches it supplied and we accepted. */
  async #ask(peer: number, missing: readonly Uint8Array[]): Promise<number> {
    const from = `validator ${peer}`
    let batches: Uint8Array[]
    try {
      const response = await this.#transport.request(peer, encodeBatchRequest(missing))
      batches = decodeBatchResponse(response, this.#maxMessageBytes)
    } catch (err) {
      const level = err instanceof DecodeError ? 'warn' : 'debug'
      this.#log[level]({ peer, err: (err as Error).message }, 'batch request failed')
      return 0
    }
    const wanted = new Set(missing.map(toHex))
    let accepted = 0
    for (const bytes of batches) {
      const digest = batchDigestOfEncoding(bytes)
      // Only what we asked for: a peer cannot make us store arbitrary batches.
      if (!wanted.delete(toHex(digest))) continue
      try {
        await this.#holder.put(bytes, from)
        accepted++
      } catch (err) {
        if (!(err instanceof BatchRejectedError)) throw err
        this.#log.warn({ peer, err: err.message }, 'peer supplied an invalid batch')
      }
    }
    return accepted
  }
}
