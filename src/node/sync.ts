import { DecodeError, Writer, decodeWith, type Reader } from '../core/codec.ts'
import { readBlock, verifyBlock, writeBlock, type Block } from '../core/block.ts'
import { VerificationError, type Committee } from '../core/committee.ts'
import { HASH_BYTES, bytesEqual, toHex } from '../core/hash.ts'
import type { Logger } from '../core/logger.ts'
import { readQc, verifyQc, writeQc, type QuorumCert } from '../core/vote.ts'
import type { NodeStore } from '../storage/node-store.ts'
import type { BlockCommitter } from './committer.ts'
import type { NodeMetrics } from './metrics.ts'
import type { RecentBlocks } from './recent-blocks.ts'

/**
 * Block sync (`/bftlab/sync-blocks/1`): committed blocks by height range, for a validator that
 * fell behind, and single blocks by id, for the core's `fetchBlock` (an unknown ancestor).
 *
 * A range response carries each block's commit proof plus the blocks those proofs certify, so the
 * requester checks that the tip is committed by the 2-chain rule itself (a QC on a child whose
 * round is the tip's + 1) instead of trusting the responder: a byzantine peer can only withhold
 * blocks, never make us commit a certified-but-orphaned branch.
 */
export const SYNC_BLOCKS_PROTOCOL = '/bftlab/sync-blocks/1'

/** Blocks per range response: a few round trips cover a long outage, each reply stays small. */
export const MAX_SYNC_RANGE = 32
/** Blocks linking a range's tip to the child its proof certifies (a commit covering many blocks). */
const MAX_EXTENSION = MAX_SYNC_RANGE + 1
/**
 * A proposal this many heights above our committed height means we fell behind: fetch committed
 * blocks by range instead of walking ancestors one request at a time. Normal operation has
 * proposals at committed + 2 (two uncommitted blocks in the 2-chain pipeline).
 */
const SYNC_TRIGGER_GAP = 4

export type SyncRequest = { readonly kind: 'range'; readonly fromHeight: number; readonly count: number } | { readonly kind: 'block'; readonly id: Uint8Array }

export interface CommittedEntry {
  readonly block: Block
  /** The QC that proved the block committed (on a child of the youngest block of its commit). */
  readonly proof: QuorumCert
}

export interface RangeResponse {
  readonly entries: readonly CommittedEntry[]
  /**
   * The chain from the tip's child up to the block the tip's proof certifies, oldest first. A
   * commit covers several blocks with one QC (on the youngest one's child), so the tip may be an
   * ancestor of that child rather than its parent.
   */
  readonly extension: readonly Block[]
}

/* Request: u8 0 | u64 fromHeight | u32 count   or   u8 1 | fixed32 blockId */
export function encodeSyncRequest(req: SyncRequest): Uint8Array {
  const w = new Writer(48)
  if (req.kind === 'range') w.u8(0).u64(BigInt(req.fromHeight)).u32(req.count)
  else w.u8(1).fixed(req.id, HASH_BYTES)
  return w.finish()
}

export function decodeSyncRequest(bytes: Uint8Array): SyncRequest {
  return decodeWith(bytes, 'syncRequest', (r) => {
    const kind = r.u8('syncRequest.kind')
    if (kind === 0) {
      const fromHeight = r.safeU64('syncRequest.fromHeight')
      const count = r.u32('syncRequest.count')
      if (count < 1 || count > MAX_SYNC_RANGE) throw new DecodeError('syncRequest.count', `${count} outside 1..${MAX_SYNC_RANGE}`)
      return { kind: 'range', fromHeight, count }
    }
    if (kind === 1) return { kind: 'block', id: r.fixed(HASH_BYTES, 'syncRequest.id') }
    throw new DecodeError('syncRequest.kind', `unknown request kind ${kind}`)
  })
}

/* Range response: list<(Block, QC)> entries | list<Block> extension */
export function encodeRangeResponse(res: RangeResponse): Uint8Array {
  const w = new Writer(4096)
  w.list(res.entries, (ww, e) => {
    writeBlock(ww, e.block)
    writeQc(ww, e.proof)
  })
  w.list(res.extension, writeBlock)
  return w.finish()
}

export function decodeRangeResponse(bytes: Uint8Array): RangeResponse {
  return decodeWith(bytes, 'syncRange', (r: Reader) => ({
    entries: r.list('syncRange.entries', MAX_SYNC_RANGE, (rr) => ({ block: readBlock(rr), proof: readQc(rr) })),
    extension: r.list('syncRange.extension', MAX_EXTENSION, readBlock),
  }))
}

/* Block response: option<Block> */
export function encodeBlockResponse(block: Block | undefined): Uint8Array {
  const w = new Writer(1024)
  w.option(block, writeBlock)
  return w.finish()
}

export function decodeBlockResponse(bytes: Uint8Array): Block | undefined {
  return decodeWith(bytes, 'syncBlock', (r) => r.option('syncBlock', readBlock))
}

/** Where a responder finds blocks: the committed chain and recently seen uncommitted blocks. */
export interface BlockSource {
  committedHeight(): number
  committedAt(height: number): Promise<CommittedEntry | undefined>
  blockById(id: Uint8Array): Promise<Block | undefined>
}

/**
 * Answers a sync request. A range is trimmed from the end until its tip's commit proof can be
 * backed by the chain up to the block it certifies, so every answer is checkable. `maxBytes`
 * bounds the encoded answer (it must fit one network message).
 */
export async function answerSyncRequest(source: BlockSource, req: SyncRequest, maxBytes: number): Promise<Uint8Array> {
  if (req.kind === 'block') return encodeBlockResponse(await source.blockById(req.id))
  const top = Math.min(source.committedHeight(), req.fromHeight + req.count - 1)
  const entries: CommittedEntry[] = []
  let bytes = 0
  for (let h = req.fromHeight; h <= top; h++) {
    const entry = await source.committedAt(h)
    if (entry === undefined) break
    bytes += encodeRangeResponse({ entries: [entry], extension: [] }).length
    // Half the budget for entries leaves room for the extension that backs them.
    if (entries.length > 0 && bytes > maxBytes / 2) break
    entries.push(entry)
  }
  while (entries.length > 0) {
    const extension = await extensionOf(source, entries[entries.length - 1]!)
    if (extension !== undefined) return encodeRangeResponse({ entries, extension })
    entries.pop()
  }
  return encodeRangeResponse({ entries: [], extension: [] })
}

/** Committed blocks after `tip` sharing its proof, then the certified child; undefined if not held. */
async function extensionOf(source: BlockSource, tip: CommittedEntry): Promise<Block[] | undefined> {
  const extension: Block[] = []
  for (let h = tip.block.height + 1; extension.length < MAX_EXTENSION - 1; h++) {
    const next = h <= source.committedHeight() ? await source.committedAt(h) : undefined
    if (next === undefined || !bytesEqual(next.proof.blockId, tip.proof.blockId)) break
    extension.push(next.block)
  }
  const child = await source.blockById(tip.proof.blockId)
  return child === undefined ? undefined : [...extension, child]
}

/**
 * Checks a range response against our committed tip: consecutive heights linked by parent QCs
 * starting at `committed`, every block valid, and the tip committed by the 2-chain rule — the
 * extension links the tip to a block C whose parent has round C.round − 1, and the tip's proof is
 * a valid QC on C. Everything before a committed block is committed, so one proof covers all.
 */
export function verifyCommittedRange(res: RangeResponse, committed: Block, committee: Committee, genesisId: Uint8Array): readonly CommittedEntry[] {
  if (res.entries.length === 0) return []
  let parent = committed
  for (const e of res.entries) {
    const b = e.block
    if (b.height !== parent.height + 1) throw new VerificationError(`sync: block at height ${b.height} does not follow height ${parent.height}`)
    if (!bytesEqual(b.parentQc.blockId, parent.id)) {
      throw new VerificationError(`sync: block at height ${b.height} extends ${toHex(b.parentQc.blockId)}, not ${toHex(parent.id)}`)
    }
    verifyBlock(b, committee, genesisId)
    parent = b
  }
  const tip = res.entries[res.entries.length - 1]!
  let prev = tip.block
  let child: Block | undefined
  for (const b of res.extension) {
    if (!bytesEqual(b.parentQc.blockId, prev.id)) throw new VerificationError(`sync: extension block round ${b.round} does not extend ${toHex(prev.id)}`)
    verifyBlock(b, committee, genesisId)
    child = b
    if (bytesEqual(b.id, tip.proof.blockId)) break
    prev = b
  }
  if (child === undefined || !bytesEqual(child.id, tip.proof.blockId) || child.round !== prev.round + 1 || tip.proof.round !== child.round) {
    throw new VerificationError(`sync: the proof of height ${tip.block.height} does not certify a child (round + 1) on its chain`)
  }
  verifyQc(tip.proof, committee, genesisId)
  return res.entries
}

export interface BlockSyncModules {
  readonly committee: Committee
  readonly genesisId: Uint8Array
  readonly store: NodeStore
  readonly recent: RecentBlocks
  readonly committer: BlockCommitter
  /** Validators to ask, `first` first, self excluded. */
  readonly peersFor: (first: number) => number[]
  readonly request: (peer: number, data: Uint8Array) => Promise<Uint8Array>
  readonly maxMessageBytes: number
  readonly log: Logger
  readonly metrics: NodeMetrics
  /** Blocks committed by catch-up, oldest first, for the consensus core to learn. */
  readonly onSynced: (blocks: readonly Block[]) => void
}

/** Both sides of block sync for one validator: answering peers, fetching, catching up. */
export class BlockSync {
  readonly #m: BlockSyncModules
  readonly #source: BlockSource
  #catchingUp = false

  constructor(modules: BlockSyncModules) {
    this.#m = modules
    const { store, recent, committer } = modules
    this.#source = {
      committedHeight: () => committer.height,
      committedAt: async (height) => {
        const block = await store.blockAt(height)
        const proof = await store.commitProofs.get(height)
        return block === undefined || proof === undefined ? undefined : { block, proof }
      },
      blockById: async (id) => recent.get(id) ?? (await store.blocks.get(id)),
    }
  }

  /** Request handler; a malformed request gets no answer (the stream is closed). */
  async answer(data: Uint8Array, fromPeer: string): Promise<Uint8Array | undefined> {
    let req: SyncRequest
    try {
      req = decodeSyncRequest(data)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      this.#m.metrics.droppedMessages.inc({ reason: 'malformed sync request' })
      this.#m.log.debug({ peer: fromPeer, err: err.message }, 'malformed sync request')
      return undefined
    }
    return answerSyncRequest(this.#source, req, this.#m.maxMessageBytes)
  }

  /** The block with `id` from `from` or, failing that, any other validator. */
  async fetchBlock(id: Uint8Array, from: number): Promise<Block | undefined> {
    for (const peer of this.#m.peersFor(from)) {
      try {
        const block = decodeBlockResponse(await this.#m.request(peer, encodeSyncRequest({ kind: 'block', id })))
        if (block !== undefined && bytesEqual(block.id, id)) {
          this.#m.recent.add(block)
          return block
        }
      } catch (err) {
        this.#m.log.debug({ peer, block: toHex(id), err: (err as Error).message }, 'block request failed')
      }
    }
    return undefined
  }

  /** A proposal at `height` arrived from validator `hint`: catch up if it shows we fell behind. */
  proposalSeen(height: number, hint: number): void {
    if (height > this.#m.committer.height + SYNC_TRIGGER_GAP) this.catchUp(hint)
  }

  /** The block a commit proof certifies backs our commit in sync answers: keep it on disk. */
  retainCertified(proof: QuorumCert): void {
    const certified = this.#m.recent.get(proof.blockId)
    if (certified !== undefined) this.#m.store.blocks.put(certified.id, certified).catch((err: unknown) => this.#m.log.warn({ err }, 'storing certified block failed'))
  }

  /**
   * Fetches, verifies and commits committed blocks above ours from `hint` first, then the
   * others, until none has more. One run at a time; further calls while running are no-ops.
   */
  catchUp(hint: number): void {
    if (this.#catchingUp) return
    this.#catchingUp = true
    this.#run(hint)
      .catch((err: unknown) => this.#m.log.warn({ err }, 'catch-up sync failed'))
      .finally(() => {
        this.#catchingUp = false
      })
  }

  async #run(hint: number): Promise<void> {
    const { committer, committee, genesisId, log, metrics } = this.#m
    for (const peer of this.#m.peersFor(hint)) {
      for (;;) {
        const base = committer.lastCommitted
        let entries: readonly CommittedEntry[]
        try {
          const response = await this.#m.request(peer, encodeSyncRequest({ kind: 'range', fromHeight: base.height + 1, count: MAX_SYNC_RANGE }))
          entries = verifyCommittedRange(decodeRangeResponse(response), base, committee, genesisId)
        } catch (err) {
          const bad = err instanceof DecodeError || err instanceof VerificationError
          log[bad ? 'warn' : 'debug']({ peer, err: (err as Error).message }, 'sync range request failed')
          break
        }
        if (entries.length === 0) break
        for (const { block, proof } of entries) {
          this.#m.recent.add(block)
          await committer.enqueue([block], proof)
        }
        metrics.syncedBlocks.inc(entries.length)
        log.info({ peer, from: entries[0]!.block.height, to: entries[entries.length - 1]!.block.height }, 'synced committed blocks')
        this.#m.onSynced(entries.map((e) => e.block))
      }
    }
  }
}
