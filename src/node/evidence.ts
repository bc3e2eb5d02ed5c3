import { blockId, type Block } from '../core/block.ts'
import { VerificationError, type Committee } from '../core/committee.ts'
import { bytesEqual, toHex } from '../core/hash.ts'
import { verify } from '../core/keys.ts'
import type { Logger } from '../core/logger.ts'
import { timeoutSigningBytes } from '../core/timeout.ts'
import { verifyVote } from '../core/vote.ts'
import { encodeConsensusMessage } from '../consensus/messages.ts'
import type { ConsensusAction, ConsensusMessage } from '../consensus/types.ts'
import type { NodeStore } from '../storage/node-store.ts'
import type { StoredEvidence } from '../storage/values.ts'
import type { NodeMetrics } from './metrics.ts'

/**
 * Evidence of byzantine behaviour: two messages one validator signed for the same slot that
 * cannot both come from an honest validator. The consensus core reports double votes (where it
 * aggregates), equivocating proposals it receives, and conflicting timeouts; `EquivocationWatch`
 * adds equivocations the core cannot see (the second block arrives by fetch or sync, not as a
 * proposal). Everything is re-checked here before it is believed: a peer must not be able to
 * frame an honest validator with a forged or non-conflicting pair.
 */
export type Evidence = Omit<Extract<ConsensusAction, { type: 'evidence' }>, 'type'>
export type EvidenceKind = Evidence['kind']

/** What GET /status shows per record: the two signed messages as canonical bytes in hex. */
export interface EvidenceView {
  readonly kind: string
  readonly offender: number
  readonly round: number
  readonly first: string
  readonly second: string
}

/**
 * Records kept in memory for /status (all are in LevelDB). Small on purpose: an equivocation
 * record holds two whole blocks, up to ~1.2 MB each in full-block mode.
 */
export const EVIDENCE_IN_MEMORY = 16

/**
 * Keys of records already seen, so the same conflict reported by the core and by the watch (or by
 * several copies of a message) is counted once. Far more than the in-memory list: a duplicate is
 * reported within a few rounds of the original.
 */
const DEDUP_KEYS = 4_096

/** Blocks remembered per (author, round) by EquivocationWatch: hundreds of rounds of history. */
const WATCHED_BLOCKS = 1_024

/** True iff the block's id matches its contents and its author signed that id. */
export function blockSignedByAuthor(block: Block, committee: Committee): boolean {
  return committee.has(block.author) && bytesEqual(block.id, blockId(block)) && verify(block.signature, block.id, committee.key(block.author))
}

function requireType<T extends ConsensusMessage['type']>(e: Evidence, type: T): [Extract<ConsensusMessage, { type: T }>, Extract<ConsensusMessage, { type: T }>] {
  if (e.first.type !== type || e.second.type !== type) {
    throw new VerificationError(`${e.kind} evidence against ${e.offender}: expected two ${type} messages, got ${e.first.type} and ${e.second.type}`)
  }
  return [e.first as Extract<ConsensusMessage, { type: T }>, e.second as Extract<ConsensusMessage, { type: T }>]
}

/**
 * Checks that `e` proves what it claims: both messages are signed by the offender, are for the
 * same round, and say different things. Returns the round; throws VerificationError otherwise.
 */
export function checkEvidence(e: Evidence, committee: Committee): number {
  const what = `${e.kind} evidence against ${e.offender}`
  if (!committee.has(e.offender)) throw new VerificationError(`${what}: not a validator (n=${committee.n})`)
  switch (e.kind) {
    case 'double-vote': {
      const [{ vote: a }, { vote: b }] = requireType(e, 'vote')
      if (a.voter !== e.offender || b.voter !== e.offender) throw new VerificationError(`${what}: votes are by ${a.voter} and ${b.voter}`)
      if (a.round !== b.round) throw new VerificationError(`${what}: votes are for rounds ${a.round} and ${b.round}`)
      if (bytesEqual(a.blockId, b.blockId)) throw new VerificationError(`${what}: both votes are for block ${toHex(a.blockId)}`)
      verifyVote(a, committee)
      verifyVote(b, committee)
      return a.round
    }
    case 'equivocation': {
      const [{ block: a }, { block: b }] = requireType(e, 'proposal')
      if (a.author !== e.offender || b.author !== e.offender) throw new VerificationError(`${what}: blocks are by ${a.author} and ${b.author}`)
      if (a.round !== b.round) throw new VerificationError(`${what}: blocks are for rounds ${a.round} and ${b.round}`)
      if (bytesEqual(a.id, b.id)) throw new VerificationError(`${what}: both proposals are block ${toHex(a.id)}`)
      for (const block of [a, b]) {
        if (!blockSignedByAuthor(block, committee)) throw new VerificationError(`${what}: block ${toHex(block.id)} is not signed by its author`)
      }
      return a.round
    }
    case 'double-timeout': {
      const [{ timeout: a }, { timeout: b }] = requireType(e, 'timeout')
      if (a.author !== e.offender || b.author !== e.offender) throw new VerificationError(`${what}: timeouts are by ${a.author} and ${b.author}`)
      if (a.round !== b.round) throw new VerificationError(`${what}: timeouts are for rounds ${a.round} and ${b.round}`)
      // A timeout signs (round, highQc.round); the same pair signed twice is one statement.
      if (a.highQc.round === b.highQc.round) throw new VerificationError(`${what}: both timeouts report high QC round ${a.highQc.round}`)
      const key = committee.key(e.offender)
      for (const t of [a, b]) {
        if (!verify(t.signature, timeoutSigningBytes(t.round, t.highQc.round), key)) {
          throw new VerificationError(`${what}: timeout with high QC round ${t.highQc.round} has an invalid signature`)
        }
      }
      return a.round
    }
  }
}

export function evidenceView(e: StoredEvidence): EvidenceView {
  return { kind: e.kind, offender: e.offender, round: e.round, first: toHex(e.first), second: toHex(e.second) }
}

export interface EvidenceLogModules {
  readonly committee: Committee
  readonly store: Pick<NodeStore['evidence'], 'put'>
  readonly metrics: Pick<NodeMetrics, 'evidence'>
  readonly log: Logger
}

/**
 * The validator's record of checked evidence: the newest EVIDENCE_IN_MEMORY records for /status,
 * every record in LevelDB (one per round, offender and kind), a count, and the
 * `bftlab_evidence_total{kind}` metric.
 */
export class EvidenceLog {
  readonly #m: EvidenceLogModules
  readonly #recent: StoredEvidence[]
  readonly #seen = new Set<string>()
  #total: number
  /** Writes not yet in LevelDB; awaited before the store closes. */
  readonly #writes = new Set<Promise<void>>()

  /** `stored` is what the store held at start (`store.evidence.newest(EVIDENCE_IN_MEMORY)`). */
  constructor(modules: EvidenceLogModules, stored: { records: readonly StoredEvidence[]; total: number } = { records: [], total: 0 }) {
    this.#m = modules
    this.#recent = [...stored.records]
    this.#total = stored.total
    for (const r of stored.records) this.#seen.add(dedupKey(r))
  }

  /** Records `e` if it checks out and is new; false (and a log line) otherwise. */
  record(e: Evidence): boolean {
    let round: number
    try {
      round = checkEvidence(e, this.#m.committee)
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err
      this.#m.log.warn({ kind: e.kind, offender: e.offender, err: err.message }, 'evidence does not hold; ignored')
      return false
    }
    const stored: StoredEvidence = { kind: e.kind, offender: e.offender, round, first: encodeConsensusMessage(e.first), second: encodeConsensusMessage(e.second) }
    const key = dedupKey(stored)
    if (this.#seen.has(key)) return false
    this.#seen.add(key)
    // Insertion order is age: the first key is the oldest.
    if (this.#seen.size > DEDUP_KEYS) this.#seen.delete(this.#seen.values().next().value!)
    this.#recent.push(stored)
    if (this.#recent.length > EVIDENCE_IN_MEMORY) this.#recent.shift()
    this.#total++
    this.#m.metrics.evidence.inc({ kind: e.kind })
    this.#m.log.warn({ kind: e.kind, offender: e.offender, round }, 'byzantine behaviour detected')
    const write = this.#m.store
      .put(stored)
      .catch((err: unknown) => this.#m.log.error({ err, kind: e.kind, offender: e.offender, round }, 'storing evidence failed'))
      .finally(() => this.#writes.delete(write))
    this.#writes.add(write)
    return true
  }

  /** Resolves once every record so far is written (call before closing the store). */
  async flush(): Promise<void> {
    await Promise.all(this.#writes)
  }

  /** Records ever stored by this validator (LevelDB included), not only those in memory. */
  get count(): number {
    return this.#total
  }

  views(): EvidenceView[] {
    return this.#recent.map(evidenceView)
  }
}

function dedupKey(e: StoredEvidence): string {
  return `${e.kind}/${e.offender}/${e.round}`
}

/**
 * Finds equivocation by comparing every block this validator learns of (proposals, fetched
 * ancestors, synced blocks) by (author, round). The core sees a second proposal only if both
 * reach it as proposals; an equivocator that sends each version to a different half of the
 * validators is caught when the half that voted for one version fetches the certified other.
 * Only author-signed blocks are remembered, so a peer relaying a forged copy proves nothing.
 */
export class EquivocationWatch {
  readonly #committee: Committee
  readonly #onEquivocation: (first: Block, second: Block) => void
  readonly #blocks = new Map<string, Block>()

  constructor(committee: Committee, onEquivocation: (first: Block, second: Block) => void) {
    this.#committee = committee
    this.#onEquivocation = onEquivocation
  }

  observe(block: Block): void {
    const key = `${block.author}/${block.round}`
    const first = this.#blocks.get(key)
    if (first !== undefined && bytesEqual(first.id, block.id)) return
    if (!blockSignedByAuthor(block, this.#committee)) return
    if (first !== undefined) return this.#onEquivocation(first, block)
    this.#blocks.set(key, block)
    if (this.#blocks.size > WATCHED_BLOCKS) this.#blocks.delete(this.#blocks.keys().next().value!)
  }
}
