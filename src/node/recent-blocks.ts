import type { Block } from '../core/block.ts'
import { toHex } from '../core/hash.ts'

/**
 * Uncommitted blocks seen lately (proposals, fetched ancestors, our own), to answer peers'
 * `fetchBlock` requests and to back commit proofs in sync answers. Ids are computed from the
 * contents when decoding, so an entry can never be served under another block's id; whether the
 * block is valid is for the requester to check, as with anything received from a peer. 1,024
 * blocks span hundreds of rounds of forks, far more than any honest fetch needs.
 */
const CAPACITY = 1_024

export class RecentBlocks {
  readonly #blocks = new Map<string, Block>()
  readonly #onNew: (block: Block) => void

  /** `onNew` sees every block once, when first added. */
  constructor(onNew: (block: Block) => void = () => {}) {
    this.#onNew = onNew
  }

  add(block: Block): void {
    const key = toHex(block.id)
    if (this.#blocks.has(key)) return
    this.#blocks.set(key, block)
    this.#onNew(block)
    if (this.#blocks.size > CAPACITY) this.#blocks.delete(this.#blocks.keys().next().value!)
  }

  get(id: Uint8Array): Block | undefined {
    return this.#blocks.get(toHex(id))
  }
}
