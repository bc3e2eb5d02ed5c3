import type { Account } from '../core/account.ts'
import type { Block } from '../core/block.ts'
import { bytesEqual, toHex } from '../core/hash.ts'
import { genesisQc, type QuorumCert } from '../core/vote.ts'
import { crashPoint } from './crash-point.ts'
import { Database, type Op } from './database.ts'
import { hasInitializedMarker, verifyIntegrity, writeInitializedMarker } from './integrity.ts'
import {
  EvidenceRepository,
  SafetyRecord,
  TxIndex,
  accountRepository,
  batchRepository,
  blockRepository,
  chainMetaRepository,
  commitProofRepository,
  committedIdRepository,
  computeStateRepository,
  receiptRepository,
} from './repositories.ts'
import type { Repository } from './repository.ts'
import type { ChainMeta, ComputeValue, StoredReceipt } from './values.ts'

/**
 * State writes of one executed block, keyed like the execution module's WorldState:
 * an account under its address in hex, anything else (compute keys) under its own key string.
 */
export type StateWrites = ReadonlyMap<string, Account | ComputeValue>

export interface GenesisInput {
  readonly block: Block
  readonly writes: StateWrites
  readonly root: Uint8Array
}

export interface CommitInput {
  readonly block: Block
  /** The QC that proved the commit (for a 2-chain commit: the QC on the block's child). */
  readonly proof: QuorumCert
  /** In block order; a tx's first receipt is the one its tx-index entry records. */
  readonly receipts: readonly StoredReceipt[]
  readonly writes: StateWrites
  /** State root after executing up to `executedHeight`. */
  readonly root: Uint8Array
  readonly executedHeight: number
}

function isAccount(v: Account | ComputeValue): v is Account {
  return typeof v === 'object' && !(v instanceof Uint8Array)
}

/**
 * The node's single LevelDB (docs/design.md, "Storage"): one typed repository per bucket
 * (repositories.ts, keys in buckets.ts), and the chain's own writes here. A committed block's
 * effects land in one atomic, fsynced batch, so after any crash the database shows either the
 * previous or the new committed height, never a mix. Opening checks the chain's integrity
 * (integrity.ts) and refuses a damaged directory.
 */
export class NodeStore {
  readonly dir: string
  /** Committed and not-yet-committed blocks by id. */
  readonly blocks: Repository<Uint8Array, Block>
  /** The QC that proved each committed height. */
  readonly commitProofs: Repository<number, QuorumCert>
  /** Each committed height's receipts, in block order. */
  readonly receipts: Repository<number, readonly StoredReceipt[]>
  /** Batches by digest (not fsynced: a batch lost in a crash is fetched again from its author or any voter). */
  readonly batches: Repository<Uint8Array, Uint8Array>
  /** Executed account state by address (hex). */
  readonly accounts: Repository<string, Account>
  /** Executed compute state by key. */
  readonly computeState: Repository<string, ComputeValue>
  /** Where each committed tx took effect. */
  readonly txIndex: TxIndex
  /** What this validator last signed (fsynced before any vote or timeout leaves). */
  readonly safety: SafetyRecord
  /** Proofs of Byzantine behaviour this validator observed. */
  readonly evidence: EvidenceRepository
  readonly #db: Database
  readonly #committedIds: Repository<number, Uint8Array>
  readonly #meta: Repository<'chain', ChainMeta>
  #chain: ChainMeta | undefined
  /** Commits run strictly one after the other: each checks it extends the previous one. */
  #commitTail: Promise<void> = Promise.resolve()

  private constructor(db: Database, chain: ChainMeta | undefined, safety: SafetyRecord, txIndex: TxIndex) {
    this.dir = db.dir
    this.#db = db
    this.#chain = chain
    this.safety = safety
    this.txIndex = txIndex
    this.blocks = blockRepository(db)
    this.commitProofs = commitProofRepository(db)
    this.receipts = receiptRepository(db)
    this.batches = batchRepository(db)
    this.accounts = accountRepository(db)
    this.computeState = computeStateRepository(db)
    this.evidence = new EvidenceRepository(db)
    this.#committedIds = committedIdRepository(db)
    this.#meta = chainMetaRepository(db)
  }

  /** Opens (creating if needed) the store in `dir` and checks its integrity. */
  static async open(dir: string): Promise<NodeStore> {
    const db = await Database.open(dir)
    try {
      const chain = await chainMetaRepository(db).get('chain')
      const safety = await SafetyRecord.open(db)
      await verifyIntegrity({
        db,
        meta: chain,
        blocks: blockRepository(db),
        committedIds: committedIdRepository(db),
        commitProofs: commitProofRepository(db),
        receipts: receiptRepository(db),
      })
      const store = new NodeStore(db, chain, safety, await TxIndex.open(db))
      // A directory initialized before markers existed, or a crash between genesis and marker.
      if (chain !== undefined && !hasInitializedMarker(dir)) writeInitializedMarker(dir, (await store.#committedIds.get(0))!)
      return store
    } catch (err) {
      await db.close()
      throw err
    }
  }

  async close(): Promise<void> {
    await this.#commitTail
    await this.#db.close()
  }

  /** False for a fresh directory: `initGenesis` must run before anything is committed. */
  get initialized(): boolean {
    return this.#chain !== undefined
  }

  committedHeight(): number {
    return this.#requireChain('committedHeight').committedHeight
  }

  chainMeta(): ChainMeta {
    return this.#requireChain('chainMeta')
  }

  /** The block committed at `height`, if the chain is that long. */
  async blockAt(height: number): Promise<Block | undefined> {
    const id = await this.#committedIds.get(height)
    if (id === undefined) return undefined
    const block = await this.blocks.get(id)
    if (block === undefined) throw this.#db.corruption(`committed height ${height} points to block ${toHex(id)}, which is missing`)
    return block
  }

  /** Writes the genesis block (height 0), genesis state and chain meta in one batch. */
  async initGenesis(g: GenesisInput): Promise<void> {
    if (this.#chain !== undefined) throw new Error(`storage at ${this.dir} already holds a chain (committed height ${this.#chain.committedHeight})`)
    if (g.block.height !== 0) throw new RangeError(`genesis block must have height 0, got ${g.block.height}`)
    const chain: ChainMeta = { committedHeight: 0, committedBlockId: g.block.id, executedHeight: 0, stateRoot: g.root }
    const ops: Op[] = [...this.#blockOps(g.block, genesisQc(g.block.id)), this.receipts.op(0, []), ...this.#stateOps(g.writes), this.#meta.op('chain', chain)]
    await this.#db.writeSynced(ops)
    this.#chain = chain
    writeInitializedMarker(this.dir, g.block.id)
  }

  /**
   * Commits the next block with its execution results: block, height index, proof, receipts,
   * tx index, state writes and chain meta in ONE fsynced LevelDB batch. Calls are serialized;
   * each must extend the previously committed block.
   */
  commitBlock(input: CommitInput): Promise<void> {
    const run = this.#commitTail.then(() => this.#applyCommit(input))
    // The chain only orders commits; each caller gets its own commit's outcome from `run`.
    this.#commitTail = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  async #applyCommit(c: CommitInput): Promise<void> {
    const chain = this.#requireChain('commitBlock')
    const { block } = c
    if (block.height !== chain.committedHeight + 1) {
      throw new RangeError(`commitBlock: block ${toHex(block.id)} has height ${block.height}, expected ${chain.committedHeight + 1}`)
    }
    if (!bytesEqual(block.parentQc.blockId, chain.committedBlockId)) {
      throw new RangeError(
        `commitBlock: block at height ${block.height} extends ${toHex(block.parentQc.blockId)}, ` +
          `not the committed block ${toHex(chain.committedBlockId)}`,
      )
    }
    if (c.executedHeight > block.height || c.executedHeight < chain.executedHeight) {
      throw new RangeError(`commitBlock: executed height ${c.executedHeight} outside [${chain.executedHeight}, ${block.height}]`)
    }
    const next: ChainMeta = { committedHeight: block.height, committedBlockId: block.id, executedHeight: c.executedHeight, stateRoot: c.root }
    const ops: Op[] = [
      ...this.#blockOps(block, c.proof),
      this.receipts.op(block.height, c.receipts),
      ...(await this.txIndex.ops(block.height, c.receipts)),
      ...this.#stateOps(c.writes),
      this.#meta.op('chain', next),
    ]
    this.txIndex.noteCommitted(c.receipts)
    crashPoint('commit:before-batch')
    await this.#db.writeSynced(ops)
    crashPoint('commit:after-batch')
    this.#chain = next
  }

  #blockOps(block: Block, proof: QuorumCert): Op[] {
    return [this.blocks.op(block.id, block), this.#committedIds.op(block.height, block.id), this.commitProofs.op(block.height, proof)]
  }

  #stateOps(writes: StateWrites): Op[] {
    const ops: Op[] = []
    for (const [key, value] of writes) ops.push(isAccount(value) ? this.accounts.op(key, value) : this.computeState.op(key, value))
    return ops
  }

  #requireChain(op: string): ChainMeta {
    if (this.#chain === undefined) throw new Error(`${op}: storage at ${this.dir} holds no chain yet; call initGenesis first`)
    return this.#chain
  }
}
