import type { Block, Payload } from '../core/block.ts'
import type { TimeoutCert, Timeout } from '../core/timeout.ts'
import type { QuorumCert, Vote } from '../core/vote.ts'

/** Messages validators exchange for consensus (encoded in ./messages.ts). */
export type ConsensusMessage =
  | { readonly type: 'proposal'; readonly block: Block }
  | { readonly type: 'vote'; readonly vote: Vote }
  | { readonly type: 'timeout'; readonly timeout: Timeout }
  | { readonly type: 'tc'; readonly tc: TimeoutCert }

/**
 * The safety data a validator must persist (fsync) before any vote or timeout it signs leaves
 * the process. After a crash the core is rebuilt from exactly this, so it can never sign two
 * different votes for one round (DiemBFT v4 `highest_vote_round`, `highest_qc_round`).
 */
export interface SafetyState {
  readonly highestVotedRound: number
  readonly highestQcRound: number
}

/** What the driver feeds the core. */
export type ConsensusEvent =
  /** Once at start (and after recovery): arms the first round timer, proposes if leader. */
  | { readonly type: 'start' }
  /** A message from validator `from` (the driver delivers sends to self through here too). */
  | { readonly type: 'message'; readonly from: number; readonly message: ConsensusMessage }
  /** The round timer set by the last `setTimer` for `round` fired. */
  | { readonly type: 'timerFired'; readonly round: number }
  /** Answer to `fetchPayload`: every batch the block references is now held locally. */
  | { readonly type: 'payloadAvailable'; readonly blockId: Uint8Array }
  /** Answer to `fetchBlock` (or any block learned by sync); verified like a proposal, never voted for. */
  | { readonly type: 'blockFetched'; readonly block: Block }
  /** Answer to `buildProposal`: the payload and execution summary the leader proposes with. */
  | {
      readonly type: 'proposalPayload'
      readonly round: number
      readonly payload: Payload
      readonly timestamp: number
      readonly executedRoot: Uint8Array
      readonly executedHeight: number
    }

/**
 * A message transmission. Votes and timeouts never appear here at top level (see PersistSafety).
 * `broadcast` reaches every validator except this one; when the core needs its own message back
 * (its vote as next leader, its timeout) it uses `send` to itself, delivered as a `message` event.
 */
export type SendAction =
  | { readonly type: 'send'; readonly to: number; readonly message: ConsensusMessage }
  | { readonly type: 'broadcast'; readonly message: ConsensusMessage }

/**
 * The only way a vote or timeout leaves the core: nested in `then`, to be executed by the driver
 * only after `safety` is durably stored. A driver cannot release a signature before persisting,
 * because the signature is unreachable except through this action.
 */
export interface PersistSafety {
  readonly type: 'persistSafety'
  readonly safety: SafetyState
  /** Stored in the same write as `safety`; the core is restarted from it (see RecoveryState). */
  readonly recovery: RecoveryState
  readonly then: readonly SendAction[]
}

/**
 * Liveness data persisted with the safety data. After a restart the core resumes in round
 * max(highQc.round, lastTc.round) + 1 — the round it last signed in — and can time out there
 * (safeToTimeout needs a QC or TC for the previous round). Without it a validator that voted
 * in round r restarts below r, may not time out, and a whole-network restart stalls. Re-signing
 * a timeout after a restart uses the same highQc, so the statement is identical, not a conflict.
 */
export interface RecoveryState {
  readonly highQc: QuorumCert
  readonly lastTc?: TimeoutCert
}

export type ConsensusAction =
  | SendAction
  | PersistSafety
  /** (Re)arm the single round timer; a newer setTimer replaces the older one. */
  | { readonly type: 'setTimer'; readonly round: number; readonly durationMs: number }
  /** Blocks newly committed, oldest first, with the QC that proved the commit. */
  | { readonly type: 'commit'; readonly blocks: readonly Block[]; readonly proof: QuorumCert }
  /** The block's payload is not all local: fetch it, then send `payloadAvailable`. */
  | { readonly type: 'fetchPayload'; readonly block: Block }
  /** An ancestor is unknown: ask `from` (the validator that referenced it) for it. */
  | { readonly type: 'fetchBlock'; readonly blockId: Uint8Array; readonly from: number }
  /** This validator leads `round`: gather a payload and answer with `proposalPayload`. */
  | { readonly type: 'buildProposal'; readonly round: number; readonly height: number }
  /** Entered a new round (for metrics/logs): `reason` says what certificate moved it. */
  | { readonly type: 'roundChanged'; readonly round: number; readonly reason: 'qc' | 'tc' }
  /** A validator signed two different messages for one slot: both signed messages as proof. */
  | { readonly type: 'evidence'; readonly kind: 'double-vote' | 'equivocation' | 'double-timeout'; readonly offender: number; readonly first: ConsensusMessage; readonly second: ConsensusMessage }
  /** A message was refused; `reason` names the rule or check, for logs and tests. */
  | { readonly type: 'rejected'; readonly from: number; readonly reason: string }
