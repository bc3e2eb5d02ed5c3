import { signBlock, type Block, type BlockBody } from '../core/block.ts'
import { VerificationError, type Committee } from '../core/committee.ts'
import { bytesEqual, toHex } from '../core/hash.ts'
import { signTimeout, type Timeout, type TimeoutCert } from '../core/timeout.ts'
import { genesisQc, signVote, type QuorumCert, type Vote } from '../core/vote.ts'
import { BlockTree } from './block-tree.ts'
import type { LeaderElection } from './leader.ts'
import { Pacemaker } from './pacemaker.ts'
import { INITIAL_SAFETY_STATE, afterTimeout, afterVote, safeToTimeout, safeToVote, type SafetyFaults } from './safety.ts'
import type { ConsensusAction, ConsensusEvent, ConsensusMessage, RecoveryState, SafetyState, SendAction } from './types.ts'
import { MessageVerifier } from './verification.ts'
import { VoteAggregator } from './vote-aggregator.ts'

/**
 * Votes and timeouts are kept for rounds current−2 … current+100. Two rounds back covers votes
 * that arrive just after a TC moved this validator on; a QC formed from them still raises the
 * high QC. A hundred rounds ahead tolerates peers that are far ahead without letting anyone make
 * this validator store messages for arbitrary rounds.
 */
const PAST_ROUNDS_KEPT = 2
const FUTURE_ROUNDS_ACCEPTED = 100

/** Blocks waiting for a missing parent: enough for a long sync gap, bounded against junk. */
const MAX_PENDING_BLOCKS = 1024

export interface ConsensusCoreOptions {
  /** This validator's index in genesis order. */
  readonly index: number
  readonly committee: Committee
  readonly secretKey: Uint8Array
  readonly genesis: Block
  readonly leaderElection: LeaderElection
  readonly baseTimeoutMs: number
  readonly maxTimeoutMs: number
  /** Persisted safety data after a restart (default: nothing signed yet). */
  readonly safety?: SafetyState
  /** Last committed block after a restart (default: genesis). */
  readonly committed?: Block
  /** Highest QC known before a restart (default: the genesis QC). */
  readonly highQc?: QuorumCert
  /** TC that ended the round before the last one this validator signed in, after a restart. */
  readonly lastTc?: TimeoutCert
  readonly testFaults?: SafetyFaults
}

/**
 * 2-chain HotStuff (Jolteon / DiemBFT v4) as a pure state machine: `handle(event)` returns the
 * actions the driver must carry out, in order. No clock, I/O or randomness inside.
 *
 * Driver contract (see types.ts): `broadcast` goes to every other validator; when the core needs
 * its own vote or timeout back it addresses itself with `send`, and the driver delivers that as a
 * `message` event. Votes and timeouts are only reachable inside `persistSafety.then`.
 *
 * After a restart, blocks the driver has stored above `committed` can be fed back with
 * `blockFetched`; the core otherwise rejoins by learning QCs/TCs from incoming messages.
 */
export class ConsensusCore {
  readonly #index: number
  readonly #committee: Committee
  readonly #secretKey: Uint8Array
  readonly #election: LeaderElection
  readonly #faults: SafetyFaults
  readonly #tree: BlockTree
  readonly #pacemaker: Pacemaker
  readonly #aggregator: VoteAggregator
  readonly #verifier: MessageVerifier
  #safetyState: SafetyState
  #highestQc: QuorumCert
  /** The first valid proposal seen per round (window): a different second one is equivocation. */
  readonly #proposals = new Map<number, Block>()
  /** Current-round proposals waiting for `payloadAvailable`, by block id (hex). */
  readonly #awaitingPayload = new Map<string, Block>()
  /** Ancestors requested with `fetchBlock` this round (hex); cleared each round so requests retry. */
  readonly #requestedBlocks = new Set<string>()
  /** TCs of recent rounds (window), sent back to validators still timing out those rounds. */
  readonly #recentTcs = new Map<number, TimeoutCert>()
  /** This validator's timeout for the current round: re-sent verbatim, never re-signed differently. */
  #ownTimeout: Timeout | undefined
  #proposalRequestedRound = 0
  /** Actions of the event being handled. */
  #actions: ConsensusAction[] = []

  constructor(opts: ConsensusCoreOptions) {
    if (!opts.committee.has(opts.index)) {
      throw new RangeError(`consensus core: index ${opts.index} is not a validator (n=${opts.committee.n})`)
    }
    this.#index = opts.index
    this.#committee = opts.committee
    this.#secretKey = opts.secretKey
    this.#election = opts.leaderElection
    this.#faults = opts.testFaults ?? {}
    this.#safetyState = opts.safety ?? INITIAL_SAFETY_STATE
    this.#highestQc = opts.highQc ?? genesisQc(opts.genesis.id)
    this.#tree = new BlockTree(opts.committed ?? opts.genesis, MAX_PENDING_BLOCKS)
    this.#pacemaker = new Pacemaker({ baseTimeoutMs: opts.baseTimeoutMs, maxTimeoutMs: opts.maxTimeoutMs, round: Math.max(this.#highestQc.round, opts.lastTc?.round ?? 0) + 1, lastTc: opts.lastTc })
    this.#aggregator = new VoteAggregator(opts.committee)
    this.#verifier = new MessageVerifier(opts.committee, opts.genesis.id)
  }

  get round(): number {
    return this.#pacemaker.round
  }

  get highQc(): QuorumCert {
    return this.#highestQc
  }

  get committedBlock(): Block {
    return this.#tree.root
  }

  get committedHeight(): number {
    return this.#tree.root.height
  }

  get safety(): SafetyState {
    return this.#safetyState
  }

  handle(event: ConsensusEvent): ConsensusAction[] {
    this.#actions = []
    switch (event.type) {
      case 'start':
        this.#emit({ type: 'setTimer', round: this.round, durationMs: this.#pacemaker.timeoutMs() })
        this.#requestProposalIfLeader()
        break
      case 'message':
        this.#onMessage(event.from, event.message)
        break
      case 'timerFired':
        this.#onTimerFired(event.round)
        break
      case 'payloadAvailable':
        this.#onPayloadAvailable(event.blockId)
        break
      case 'blockFetched':
        this.#onBlock(event.block, event.block.author, false)
        break
      case 'proposalPayload':
        this.#onProposalPayload(event)
        break
    }
    const out = this.#actions
    this.#actions = []
    return out
  }

  #emit(action: ConsensusAction): void {
    this.#actions.push(action)
  }

  #reject(from: number, reason: string): void {
    this.#emit({ type: 'rejected', from, reason })
  }

  #leader(round: number): number {
    return this.#election.leader(round)
  }

  #onMessage(from: number, message: ConsensusMessage): void {
    if (!this.#committee.has(from)) return this.#reject(from, `message from unknown validator ${from}`)
    switch (message.type) {
      case 'proposal':
        return this.#onBlock(message.block, from, true)
      case 'vote':
        return this.#onVote(from, message.vote)
      case 'timeout':
        return this.#onTimeout(from, message.timeout)
      case 'tc':
        return this.#onTcMessage(from, message.tc)
    }
  }

  /** Runs a signature/structure check; a VerificationError becomes a `rejected` action. */
  #verified(from: number, check: () => void): boolean {
    try {
      check()
      return true
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err
      this.#reject(from, err.message)
      return false
    }
  }

  // ---- blocks ----------------------------------------------------------------------------

  /**
   * A proposal (`isProposal`, may be voted for) or a block learned by sync (never voted for).
   * Its certificates are learned first: they may advance the round and commit.
   */
  #onBlock(block: Block, from: number, isProposal: boolean): void {
    if (block.round <= this.#tree.root.round || (isProposal && block.round < this.round - PAST_ROUNDS_KEPT)) {
      return this.#reject(from, `stale block for round ${block.round} (current round ${this.round}, committed round ${this.#tree.root.round})`)
    }
    if (!this.#committee.has(block.author)) return this.#reject(from, `block round ${block.round}: unknown author ${block.author}`)
    const leader = this.#leader(block.round)
    if (block.author !== leader) {
      return this.#reject(from, `block round ${block.round} authored by ${block.author}, but the leader is ${leader}`)
    }
    if (isProposal) {
      const first = this.#proposals.get(block.round)
      if (first !== undefined && bytesEqual(first.id, block.id)) return
      if (!this.#verified(from, () => this.#verifier.block(block))) return
      if (first !== undefined) {
        this.#emit({ type: 'evidence', kind: 'equivocation', offender: block.author, first: { type: 'proposal', block: first }, second: { type: 'proposal', block } })
        return this.#reject(from, `equivocating proposal for round ${block.round} from leader ${block.author}`)
      }
      this.#proposals.set(block.round, block)
    } else if (this.#tree.has(block.id) || !this.#verified(from, () => this.#verifier.block(block))) {
      return
    }
    this.#learnQc(block.parentQc, from)
    if (block.tc !== undefined) this.#learnTc(block.tc)
    this.#insertBlock(block, from)
    if (isProposal && this.#tree.has(block.id)) this.#requestPayload(block)
  }

  #insertBlock(block: Block, from: number): void {
    const outcome = this.#tree.insert(block)
    switch (outcome.kind) {
      case 'known':
        return
      case 'rejected':
        return this.#reject(from, outcome.reason)
      case 'pending':
        return this.#requestBlock(outcome.missingParent, from)
      case 'connected':
        for (const { block: misfit, reason } of outcome.invalid) this.#reject(misfit.author, reason)
        for (const b of outcome.blocks) this.#onConnected(b)
        this.#requestProposalIfLeader()
    }
  }

  /** A block joined the tree: the QCs now resolvable may commit, and a waiting proposal may be voted on. */
  #onConnected(block: Block): void {
    this.#requestedBlocks.delete(toHex(block.id))
    this.#applyCommitRule(block.parentQc)
    if (bytesEqual(this.#highestQc.blockId, block.id)) this.#applyCommitRule(this.#highestQc)
    const proposal = this.#proposals.get(block.round)
    if (proposal !== undefined && bytesEqual(proposal.id, block.id) && this.#tree.has(block.id)) this.#requestPayload(block)
  }

  #requestBlock(blockId: Uint8Array, from: number): void {
    const id = toHex(blockId)
    if (this.#requestedBlocks.has(id)) return
    this.#requestedBlocks.add(id)
    this.#emit({ type: 'fetchBlock', blockId, from })
  }

  #requestPayload(block: Block): void {
    const id = toHex(block.id)
    if (block.round !== this.round || block.round <= this.#safetyState.highestVotedRound || this.#awaitingPayload.has(id)) return
    this.#awaitingPayload.set(id, block)
    this.#emit({ type: 'fetchPayload', block })
  }

  #onPayloadAvailable(blockId: Uint8Array): void {
    const id = toHex(blockId)
    const block = this.#awaitingPayload.get(id)
    if (block === undefined) return
    this.#awaitingPayload.delete(id)
    if (block.round === this.round && this.#tree.has(block.id)) this.#castVote(block, [])
  }

  /**
   * Votes for `block` if the safety rules allow, sending `before` (the leader's own proposal)
   * first: everything leaves only after the new safety state is durable.
   */
  #castVote(block: Block, before: readonly SendAction[]): boolean {
    if (!safeToVote(this.#safetyState, block.round, block.parentQc.round, block.tc, this.#faults)) {
      this.#reject(block.author, `safety: no vote for block round ${block.round} (parent QC round ${block.parentQc.round}, highest voted round ${this.#safetyState.highestVotedRound})`)
      return false
    }
    this.#safetyState = afterVote(this.#safetyState, block.round, block.parentQc.round)
    const vote = signVote(block.id, block.round, this.#index, this.#secretKey)
    const send: SendAction = { type: 'send', to: this.#leader(block.round + 1), message: { type: 'vote', vote } }
    this.#persist([...before, send])
    return true
  }

  // ---- commit rule -----------------------------------------------------------------------

  /**
   * 2-chain commit: a QC for B whose parent P has round B.round − 1 commits P and every
   * uncommitted ancestor, oldest first. Consecutive rounds mean 2f+1 validators locked on P's QC
   * (highestQcRound ≥ P.round) before any TC could skip it, so no conflicting block can be certified.
   */
  #applyCommitRule(qc: QuorumCert): void {
    const certified = this.#tree.get(qc.blockId)
    if (certified === undefined || certified.round !== qc.round) return
    const parent = this.#tree.parent(certified)
    if (parent === undefined || certified.round !== parent.round + 1 || parent.round <= this.#tree.root.round) return
    const blocks = this.#tree.branchFromRoot(parent)
    this.#tree.pruneBelow(parent)
    this.#emit({ type: 'commit', blocks, proof: qc })
  }

  // ---- certificates and rounds -----------------------------------------------------------

  /** Adopts a verified QC: raises the high QC, may commit, may advance the round. */
  #learnQc(qc: QuorumCert, from: number): void {
    const raised = qc.round > this.#highestQc.round
    if (raised) this.#highestQc = qc
    if (this.#tree.has(qc.blockId)) this.#applyCommitRule(qc)
    else if (qc.round > this.#tree.root.round) this.#requestBlock(qc.blockId, this.#peerFor(qc, from))
    if (this.#pacemaker.advanceByQc(qc.round)) this.#enterRound('qc')
    // A leader waiting for a high enough QC to extend after a TC may now propose.
    else if (raised) this.#requestProposalIfLeader()
  }

  /** Someone other than this validator to fetch a block certified by `qc` from. */
  #peerFor(qc: QuorumCert, from: number): number {
    if (from !== this.#index) return from
    return qc.signers.find((s) => s !== this.#index) ?? this.#leader(qc.round)
  }

  /** Adopts a verified TC: a TC for the current round or later moves to tc.round + 1. */
  #learnTc(tc: TimeoutCert): void {
    if (tc.round < this.round) return
    this.#recentTcs.set(tc.round, tc)
    if (this.#pacemaker.advanceByTc(tc)) this.#enterRound('tc')
  }

  #onTcMessage(from: number, tc: TimeoutCert): void {
    if (tc.round < this.round - PAST_ROUNDS_KEPT) return this.#reject(from, `stale TC for round ${tc.round} (current round ${this.round})`)
    // Every validator that forms a TC broadcasts it: copies for a round already left carry no news.
    if (tc.round < this.round) return
    if (this.#verified(from, () => this.#verifier.tc(tc))) this.#learnTc(tc)
  }

  #enterRound(reason: 'qc' | 'tc'): void {
    const round = this.round
    this.#emit({ type: 'roundChanged', round, reason })
    this.#emit({ type: 'setTimer', round, durationMs: this.#pacemaker.timeoutMs() })
    this.#ownTimeout = undefined
    this.#requestedBlocks.clear()
    for (const [id, block] of this.#awaitingPayload) if (block.round < round) this.#awaitingPayload.delete(id)
    for (const r of this.#proposals.keys()) if (r < round - PAST_ROUNDS_KEPT) this.#proposals.delete(r)
    for (const r of this.#recentTcs.keys()) if (r < round - PAST_ROUNDS_KEPT) this.#recentTcs.delete(r)
    this.#aggregator.pruneBelow(round - PAST_ROUNDS_KEPT)
    this.#requestProposalIfLeader()
  }

  // ---- proposing -------------------------------------------------------------------------

  #requestProposalIfLeader(): void {
    if (this.#proposalRequestedRound >= this.round) return
    const base = this.#proposalBase()
    if (base === undefined) return
    this.#proposalRequestedRound = this.round
    this.#emit({ type: 'buildProposal', round: this.round, height: base.parent.height + 1 })
  }

  /**
   * What a proposal for the current round extends (the high QC's block, plus the TC that ended
   * the previous round when the QC is older), or undefined if this validator should not propose:
   * - not the leader;
   * - already voted or timed out in this round: proposing again could equivocate a block sent
   *   before a restart, and it could not vote for its own block anyway;
   * - after a TC the block must extend a QC as high as any TC signer's; a leader that got only
   *   the TC (not the timeouts) may lack that QC and waits to learn it (learnQc retries);
   * - the high QC's block is unknown (it is fetched; insertBlock retries).
   */
  #proposalBase(): { parent: Block; tc: TimeoutCert | undefined } | undefined {
    const round = this.round
    if (this.#leader(round) !== this.#index) return undefined
    const qc = this.#highestQc
    const tc = qc.round + 1 === round ? undefined : this.#pacemaker.lastTc
    if (!safeToVote(this.#safetyState, round, qc.round, tc, this.#faults)) return undefined
    const parent = this.#tree.get(qc.blockId)
    if (parent === undefined) {
      this.#requestBlock(qc.blockId, this.#peerFor(qc, this.#index))
      return undefined
    }
    return { parent, tc }
  }

  #onProposalPayload(event: Extract<ConsensusEvent, { type: 'proposalPayload' }>): void {
    const round = this.round
    if (event.round !== round || this.#proposalRequestedRound !== round) return
    // Recomputed: the high QC may have risen since buildProposal.
    const base = this.#proposalBase()
    if (base === undefined) return
    const body: BlockBody = {
      height: base.parent.height + 1,
      round,
      author: this.#index,
      timestamp: event.timestamp,
      parentQc: this.#highestQc,
      ...(base.tc !== undefined ? { tc: base.tc } : {}),
      payload: event.payload,
      executedRoot: event.executedRoot,
      executedHeight: event.executedHeight,
    }
    const block = signBlock(body, this.#secretKey)
    if (!this.#castVote(block, [{ type: 'broadcast', message: { type: 'proposal', block } }])) return
    this.#proposals.set(round, block)
    this.#insertBlock(block, this.#index)
  }

  // ---- votes -----------------------------------------------------------------------------

  #onVote(from: number, vote: Vote): void {
    if (!this.#committee.has(vote.voter)) return this.#reject(from, `vote from unknown validator ${vote.voter}`)
    if (!this.#inWindow(from, 'vote', vote.round)) return
    const collector = this.#leader(vote.round + 1)
    if (collector !== this.#index) {
      return this.#reject(from, `vote for round ${vote.round} sent to ${this.#index}, but votes go to the leader of round ${vote.round + 1} (${collector})`)
    }
    if (!this.#verified(from, () => this.#verifier.vote(vote))) return
    const outcome = this.#aggregator.addVote(vote)
    if (outcome.doubleVote !== undefined) {
      const { first, second } = outcome.doubleVote
      this.#emit({ type: 'evidence', kind: 'double-vote', offender: vote.voter, first: { type: 'vote', vote: first }, second: { type: 'vote', vote: second } })
    }
    if (outcome.qc !== undefined) {
      this.#verifier.remember(outcome.qc)
      this.#learnQc(outcome.qc, from)
    }
  }

  /** Memory window for stored votes/timeouts; far-future messages are refused, not buffered. */
  #inWindow(from: number, what: string, round: number): boolean {
    if (round < this.round - PAST_ROUNDS_KEPT) {
      this.#reject(from, `stale ${what} for round ${round} (current round ${this.round})`)
      return false
    }
    if (round > this.round + FUTURE_ROUNDS_ACCEPTED) {
      this.#reject(from, `${what} for round ${round} is more than ${FUTURE_ROUNDS_ACCEPTED} rounds ahead of current round ${this.round}`)
      return false
    }
    return true
  }

  // ---- timeouts --------------------------------------------------------------------------

  #onTimerFired(round: number): void {
    if (round !== this.round) return
    this.#pacemaker.timerExpired()
    this.#emit({ type: 'setTimer', round, durationMs: this.#pacemaker.timeoutMs() })
    this.#timeOutCurrentRound()
  }

  /** Releases `then` only through a persist of the current safety and recovery state. */
  #persist(then: readonly SendAction[]): void {
    const lastTc = this.#pacemaker.lastTc
    const recovery: RecoveryState = lastTc ? { highQc: this.#highestQc, lastTc } : { highQc: this.#highestQc }
    this.#emit({ type: 'persistSafety', safety: this.#safetyState, recovery, then })
  }

  #timeOutCurrentRound(): void {
    const round = this.round
    if (this.#ownTimeout?.round === round) {
      // Re-send the same signed statement (the first copies may have been lost).
      const resend: SendAction = { type: 'broadcast', message: { type: 'timeout', timeout: this.#ownTimeout } }
      return this.#persist([resend])
    }
    const lastTc = this.#pacemaker.lastTc
    if (!safeToTimeout(this.#safetyState, round, this.#highestQc.round, lastTc)) {
      return this.#reject(this.#index, `safety: no timeout for round ${round} (high QC round ${this.#highestQc.round}, highest voted round ${this.#safetyState.highestVotedRound}, highest QC round ${this.#safetyState.highestQcRound})`)
    }
    this.#safetyState = afterTimeout(this.#safetyState, round)
    const timeout = signTimeout(round, this.#highestQc, this.#index, this.#secretKey)
    this.#ownTimeout = timeout
    const message: ConsensusMessage = { type: 'timeout', timeout }
    // Counted locally via a send to self, so a TC containing this signature cannot leave first.
    this.#persist([{ type: 'broadcast', message }, { type: 'send', to: this.#index, message }])
  }

  #onTimeout(from: number, timeout: Timeout): void {
    if (!this.#committee.has(timeout.author)) return this.#reject(from, `timeout from unknown validator ${timeout.author}`)
    // The sender is stuck in a round this validator has left. TCs are broadcast once and a
    // timeout carries no TC, so without help it may never leave: a crash-recovered validator
    // with highestVotedRound above its round cannot even time out there. Send it the TC for its
    // round, or else the newest TC held, which moves it at least past its round.
    if (timeout.round < this.round) {
      const tc = this.#tcForLaggard(timeout.round)
      if (tc !== undefined) this.#emit({ type: 'send', to: from, message: { type: 'tc', tc } })
    }
    if (timeout.round < this.round - PAST_ROUNDS_KEPT) return this.#reject(from, `stale timeout for round ${timeout.round} (current round ${this.round})`)
    if (!this.#verified(from, () => this.#verifier.timeout(timeout))) return
    // The high QC is learned before the window check: it is how a far-behind validator catches up.
    this.#learnQc(timeout.highQc, from)
    if (!this.#inWindow(from, 'timeout', timeout.round)) return
    const outcome = this.#aggregator.addTimeout(timeout)
    if (outcome.conflict !== undefined) {
      const { first, second } = outcome.conflict
      this.#emit({ type: 'evidence', kind: 'double-timeout', offender: timeout.author, first: { type: 'timeout', timeout: first }, second: { type: 'timeout', timeout: second } })
    }
    if (outcome.tc !== undefined) {
      // Broadcast so validators that missed some timeouts advance too (and the next leader can propose).
      this.#emit({ type: 'broadcast', message: { type: 'tc', tc: outcome.tc } })
      return this.#learnTc(outcome.tc)
    }
    // f+1 timeouts include an honest one, so the round is failing: join at once rather than
    // waiting for the local timer (DiemBFT v4 pacemaker), keeping validators' rounds together.
    if (timeout.round === this.round && outcome.timeouts > this.#committee.f && this.#ownTimeout?.round !== this.round) {
      this.#timeOutCurrentRound()
    }
  }

  /** The TC ending `round` if held, else the newest held TC for a later round. */
  #tcForLaggard(round: number): TimeoutCert | undefined {
    const exact = this.#recentTcs.get(round)
    if (exact !== undefined) return exact
    let newest: TimeoutCert | undefined
    for (const tc of this.#recentTcs.values()) if (tc.round > round && (newest === undefined || tc.round > newest.round)) newest = tc
    return newest
  }
}
