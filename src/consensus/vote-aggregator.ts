import type { Committee } from '../core/committee.ts'
import { toHex } from '../core/hash.ts'
import type { Timeout, TimeoutCert } from '../core/timeout.ts'
import type { QuorumCert, Vote } from '../core/vote.ts'

export interface VoteOutcome {
  /** Set exactly once per (round, block): when the quorum-th distinct vote arrives. */
  readonly qc?: QuorumCert
  /** The voter already voted for a different block in this round. */
  readonly doubleVote?: { readonly first: Vote; readonly second: Vote }
}

export interface TimeoutOutcome {
  /** Set exactly once per round: when the quorum-th distinct timeout arrives. */
  readonly tc?: TimeoutCert
  /** The author already signed a timeout for this round with a different high-QC round. */
  readonly conflict?: { readonly first: Timeout; readonly second: Timeout }
  /** Distinct validators that timed out this round so far. */
  readonly timeouts: number
}

interface RoundVotes {
  readonly byVoter: Map<number, Vote>
  readonly votersByBlock: Map<string, number[]>
  readonly certified: Set<string>
}

interface RoundTimeouts {
  readonly byAuthor: Map<number, Timeout>
  certified: boolean
}

/**
 * Turns verified votes into QCs and verified timeouts into TCs. The only place certificates are
 * formed: signers are distinct and sorted ascending, the canonical form `verifyQc`/`verifyTc`
 * accept. Callers verify signatures first and bound which rounds they feed in.
 */
export class VoteAggregator {
  readonly #committee: Committee
  readonly #votes = new Map<number, RoundVotes>()
  readonly #timeouts = new Map<number, RoundTimeouts>()

  constructor(committee: Committee) {
    this.#committee = committee
  }

  addVote(vote: Vote): VoteOutcome {
    let round = this.#votes.get(vote.round)
    if (round === undefined) {
      round = { byVoter: new Map(), votersByBlock: new Map(), certified: new Set() }
      this.#votes.set(vote.round, round)
    }
    const blockId = toHex(vote.blockId)
    const previous = round.byVoter.get(vote.voter)
    if (previous !== undefined) {
      return toHex(previous.blockId) === blockId ? {} : { doubleVote: { first: previous, second: vote } }
    }
    round.byVoter.set(vote.voter, vote)
    let voters = round.votersByBlock.get(blockId)
    if (voters === undefined) round.votersByBlock.set(blockId, (voters = []))
    voters.push(vote.voter)
    if (voters.length < this.#committee.quorum || round.certified.has(blockId)) return {}
    round.certified.add(blockId)
    const signers = [...voters].sort((a, b) => a - b)
    const signatures = signers.map((s) => round.byVoter.get(s)!.signature)
    return { qc: { blockId: vote.blockId, round: vote.round, signers, signatures } }
  }

  addTimeout(timeout: Timeout): TimeoutOutcome {
    let round = this.#timeouts.get(timeout.round)
    if (round === undefined) {
      round = { byAuthor: new Map(), certified: false }
      this.#timeouts.set(timeout.round, round)
    }
    const previous = round.byAuthor.get(timeout.author)
    if (previous !== undefined) {
      // The signature covers (round, highQc.round): a different highQc round is a second statement.
      const conflict = previous.highQc.round !== timeout.highQc.round ? { first: previous, second: timeout } : undefined
      return { ...(conflict ? { conflict } : {}), timeouts: round.byAuthor.size }
    }
    round.byAuthor.set(timeout.author, timeout)
    const count = round.byAuthor.size
    if (count < this.#committee.quorum || round.certified) return { timeouts: count }
    round.certified = true
    const entries = [...round.byAuthor.values()]
      .sort((a, b) => a.author - b.author)
      .map((t) => ({ signer: t.author, highQcRound: t.highQc.round, signature: t.signature }))
    return { tc: { round: timeout.round, entries }, timeouts: count }
  }

  /** Forgets every round below `round` (the caller's memory window). */
  pruneBelow(round: number): void {
    for (const r of this.#votes.keys()) if (r < round) this.#votes.delete(r)
    for (const r of this.#timeouts.keys()) if (r < round) this.#timeouts.delete(r)
  }
}
