import { ConsensusCore } from '../consensus/core.ts'
import type { PersistSafety } from '../consensus/types.ts'
import type { Block } from '../core/block.ts'
import { toHex } from '../core/hash.ts'
import type { ByzantineBehaviour } from './byzantine.ts'
import { ProcessorQueue } from './cpu.ts'

/**
 * One process attached to the simulated network, running one ConsensusCore. Normally one per
 * validator; a Twins (`double-vote`) validator has two, sharing key and index, each `visible`
 * to a different subset of the other validators.
 */
export class SimEndpoint {
  readonly id: number
  readonly index: number
  /** Honest endpoints are what the safety and liveness checkers judge. */
  readonly behaviour: ByzantineBehaviour | undefined
  /** The validators this endpoint exchanges messages with (undefined: all). */
  readonly visible: ReadonlySet<number> | undefined
  readonly cpu: ProcessorQueue
  core: ConsensusCore
  running = true
  /** Bumped on every crash: callbacks scheduled by an earlier incarnation are void. */
  incarnation = 0
  /** Bumped on every setTimer: only the newest timer may fire. */
  timerGeneration = 0
  /** The last `persistSafety` record (safety + recovery state), what survives a crash. */
  persisted: Pick<PersistSafety, 'safety' | 'recovery'> | undefined
  /** Survives a crash: the last block it committed. */
  committed: Block
  /** Survives a crash: every committed block, as the node's store keeps them (served to block sync). */
  readonly #committedBlocks = new Map<string, Block>()
  /** Blocks this process holds and serves to peers' block sync; on a crash only committed ones remain. */
  blocks = new Map<string, Block>()

  constructor(init: {
    id: number
    index: number
    behaviour: ByzantineBehaviour | undefined
    visible: ReadonlySet<number> | undefined
    cpu: ProcessorQueue
    core: ConsensusCore
    genesis: Block
  }) {
    this.id = init.id
    this.index = init.index
    this.behaviour = init.behaviour
    this.visible = init.visible
    this.cpu = init.cpu
    this.core = init.core
    this.committed = init.genesis
    this.#committedBlocks.set(toHex(init.genesis.id), init.genesis)
    this.remember(init.genesis)
  }

  get honest(): boolean {
    return this.behaviour === undefined
  }

  remember(block: Block): void {
    this.blocks.set(toHex(block.id), block)
  }

  onCommit(blocks: readonly Block[]): void {
    for (const b of blocks) {
      this.#committedBlocks.set(toHex(b.id), b)
      this.remember(b)
    }
    this.committed = blocks[blocks.length - 1] ?? this.committed
  }

  /**
   * The process dies at `now`. What a node keeps on disk survives: the persisted safety state and
   * the committed chain (the core restarts from the last committed block; peers can still sync
   * committed blocks from this node). Uncommitted blocks, votes, timers and queues are lost.
   */
  crash(now: number): void {
    this.running = false
    this.incarnation++
    this.cpu.reset(now)
    this.blocks = new Map(this.#committedBlocks)
  }
}
