import type { Block } from '../core/block.ts'
import { toHex } from '../core/hash.ts'

/** What happened to a block offered to the tree. */
export type InsertOutcome =
  /** Already in the tree or already waiting for its parent. */
  | { readonly kind: 'known' }
  /** Refused; `reason` says why (stale round, wrong height, pending buffer full, …). */
  | { readonly kind: 'rejected'; readonly reason: string }
  /** The parent is unknown: kept until it arrives (fetch `missingParent`). */
  | { readonly kind: 'pending'; readonly missingParent: Uint8Array }
  /**
   * Attached, together with every pending descendant that now connects (parents before
   * children). `invalid` lists pending descendants dropped because they do not fit their parent.
   */
  | { readonly kind: 'connected'; readonly blocks: readonly Block[]; readonly invalid: readonly { block: Block; reason: string }[] }

/**
 * The uncommitted part of the chain: every block here descends from `root`, the last committed
 * block (parent link = `parentQc.blockId`). Forks stay until a commit makes them unreachable.
 * Blocks whose parent is unknown wait in a bounded pending buffer.
 */
export class BlockTree {
  #rootBlock: Block
  readonly #blocks = new Map<string, Block>()
  readonly #children = new Map<string, Set<string>>()
  /** Missing parent id (hex) → waiting children by id (hex). */
  readonly #pending = new Map<string, Map<string, Block>>()
  #pendingCount = 0
  readonly #maxPending: number

  constructor(root: Block, maxPending: number) {
    this.#rootBlock = root
    this.#maxPending = maxPending
    this.#blocks.set(toHex(root.id), root)
  }

  get root(): Block {
    return this.#rootBlock
  }

  get size(): number {
    return this.#blocks.size
  }

  get pendingSize(): number {
    return this.#pendingCount
  }

  get(id: Uint8Array): Block | undefined {
    return this.#blocks.get(toHex(id))
  }

  has(id: Uint8Array): boolean {
    return this.#blocks.has(toHex(id))
  }

  parent(block: Block): Block | undefined {
    return this.get(block.parentQc.blockId)
  }

  insert(block: Block): InsertOutcome {
    const id = toHex(block.id)
    const parentId = toHex(block.parentQc.blockId)
    if (this.#blocks.has(id) || this.#pending.get(parentId)?.has(id) === true) return { kind: 'known' }
    // Rounds strictly increase along a chain, so nothing at or below the root's round extends it.
    if (block.round <= this.#rootBlock.round) {
      return { kind: 'rejected', reason: `block round ${block.round} is not above committed round ${this.#rootBlock.round}` }
    }
    const parent = this.#blocks.get(parentId)
    if (parent === undefined) {
      if (this.#pendingCount >= this.#maxPending) {
        return { kind: 'rejected', reason: `pending block buffer full (${this.#maxPending} blocks waiting for parents)` }
      }
      let waiting = this.#pending.get(parentId)
      if (waiting === undefined) this.#pending.set(parentId, (waiting = new Map()))
      waiting.set(id, block)
      this.#pendingCount++
      return { kind: 'pending', missingParent: block.parentQc.blockId }
    }
    const misfit = checkFitsParent(block, parent)
    if (misfit !== undefined) return { kind: 'rejected', reason: misfit }
    const connected: Block[] = []
    const invalid: { block: Block; reason: string }[] = []
    this.#attach(block, connected, invalid)
    return { kind: 'connected', blocks: connected, invalid }
  }

  /** Adds `block` (which fits its parent) and, recursively, the pending blocks waiting for it. */
  #attach(block: Block, connected: Block[], invalid: { block: Block; reason: string }[]): void {
    const id = toHex(block.id)
    const parentId = toHex(block.parentQc.blockId)
    this.#blocks.set(id, block)
    let siblings = this.#children.get(parentId)
    if (siblings === undefined) this.#children.set(parentId, (siblings = new Set()))
    siblings.add(id)
    connected.push(block)
    const waiting = this.#pending.get(id)
    if (waiting === undefined) return
    this.#pending.delete(id)
    this.#pendingCount -= waiting.size
    for (const child of waiting.values()) {
      const misfit = checkFitsParent(child, block)
      if (misfit === undefined) this.#attach(child, connected, invalid)
      else invalid.push({ block: child, reason: misfit })
    }
  }

  /** The blocks from just above the root down to `block`, oldest first (empty if not in the tree). */
  branchFromRoot(block: Block): Block[] {
    const branch: Block[] = []
    const rootId = toHex(this.#rootBlock.id)
    let cursor: Block | undefined = block
    while (cursor !== undefined && toHex(cursor.id) !== rootId) {
      branch.push(cursor)
      cursor = this.parent(cursor)
    }
    if (cursor === undefined) return []
    return branch.reverse()
  }

  /**
   * Makes `committed` (a block in the tree) the new root: drops its ancestors and every fork that
   * does not extend it, and pending blocks that can no longer extend it.
   */
  pruneBelow(committed: Block): void {
    const newRootId = toHex(committed.id)
    if (!this.#blocks.has(newRootId)) throw new Error(`pruneBelow: block ${newRootId} (round ${committed.round}) is not in the tree`)
    const keep = new Set<string>()
    const stack = [newRootId]
    while (stack.length > 0) {
      const id = stack.pop()!
      keep.add(id)
      for (const child of this.#children.get(id) ?? []) stack.push(child)
    }
    for (const id of [...this.#blocks.keys()]) {
      if (!keep.has(id)) {
        this.#blocks.delete(id)
        this.#children.delete(id)
      }
    }
    this.#rootBlock = committed
    for (const [parentId, waiting] of this.#pending) {
      for (const [id, block] of waiting) {
        if (block.round <= committed.round) {
          waiting.delete(id)
          this.#pendingCount--
        }
      }
      if (waiting.size === 0) this.#pending.delete(parentId)
    }
  }
}

/** Structural link checks: a child is one height above its parent and its QC names the parent's round. */
function checkFitsParent(block: Block, parent: Block): string | undefined {
  if (block.height !== parent.height + 1) {
    return `block round ${block.round} has height ${block.height}, parent (round ${parent.round}) has height ${parent.height}`
  }
  if (block.parentQc.round !== parent.round) {
    return `block round ${block.round}: parent QC round ${block.parentQc.round} differs from parent block round ${parent.round}`
  }
  return undefined
}
