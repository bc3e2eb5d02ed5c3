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

  /**
   * The chain from block `tipId` down to (excluding) height `aboveHeight`, newest first: the
   * uncommitted blocks a proposal extending `tipId` builds on. A block missing here ends the walk
   * early; at worst a batch is then proposed twice on a branch (a duplicate receipt).
   */
  branch(tipId: Uint8Array, aboveHeight: number): Block[] {
    const branch: Block[] = []
    for (let block = this.get(tipId); block !== undefined && block.height > aboveHeight; block = this.get(block.parentQc.blockId)) branch.push(block)
    return branch
  }
}
