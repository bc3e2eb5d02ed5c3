import { tcHighQcRound, type TimeoutCert } from '../core/timeout.ts'
import type { SafetyState } from './types.ts'

/*
 * DiemBFT v4 / Jolteon safety rules as pure functions over the persisted `SafetyState`.
 * The core asks before signing and persists the updated state before the signature leaves
 * (PersistSafety), so these rules hold across crashes.
 */

export const INITIAL_SAFETY_STATE: SafetyState = { highestVotedRound: 0, highestQcRound: 0 }

export interface SafetyFaults {
  /**
   * Test-only: weakens the vote rule (no `> highestVotedRound` check, no TC-extension check) so
   * the simulator's negative control can show its safety checker catches the resulting forks.
   */
  readonly brokenVoteRule?: boolean
}

/**
 * May this validator vote for a block of `blockRound` whose parent QC has `qcRound` and which
 * carries `tc` (the TC for blockRound − 1, if the previous round timed out)?
 *
 * - `blockRound > highestVotedRound`: at most one vote per round, and no vote in a round this
 *   validator already timed out in (a TC for that round must stay a proof that no QC formed
 *   among its signers). Protects: two QCs for one round need f+1 honest double votes.
 * - `blockRound > highestQcRound`: never vote below a QC already relied upon.
 * - Extension: the block extends the previous round's QC directly, or follows a TC and extends a
 *   QC at least as high as every TC signer's high QC. Protects the 2-chain lock: a committed block
 *   B has a QC for B's child known to 2f+1, so every TC's highest highQc round is ≥ B's round and
 *   a block after that TC cannot branch off below B.
 */
export function safeToVote(
  s: SafetyState,
  blockRound: number,
  qcRound: number,
  tc: TimeoutCert | undefined,
  faults: SafetyFaults = {},
): boolean {
  if (faults.brokenVoteRule === true) return blockRound > qcRound
  if (blockRound <= Math.max(s.highestVotedRound, qcRound)) return false
  if (blockRound === qcRound + 1) return true
  return tc !== undefined && tc.round + 1 === blockRound && qcRound >= tcHighQcRound(tc)
}

/**
 * May this validator sign a timeout for `round` carrying a high QC of `qcRound`, having entered
 * `round` through `tc` (if it did)?
 *
 * - `qcRound >= highestQcRound`: the high QC reported in a TC never understates what this
 *   validator voted on top of, so TC-extension votes cannot skip a locked (maybe committed) block.
 * - `round >= highestVotedRound`: never time out a round below one already voted/timed out in
 *   (re-signing the current round is allowed: it is the same statement).
 * - The round must follow `qcRound` or the TC: a validator only times out the round it is in.
 */
export function safeToTimeout(s: SafetyState, round: number, qcRound: number, tc: TimeoutCert | undefined): boolean {
  if (qcRound < s.highestQcRound || round < s.highestVotedRound || round <= qcRound) return false
  return round === qcRound + 1 || (tc !== undefined && tc.round + 1 === round)
}

/** State after voting: no further vote in `blockRound` or below, and the parent QC is now relied upon. */
export function afterVote(s: SafetyState, blockRound: number, qcRound: number): SafetyState {
  return { highestVotedRound: blockRound, highestQcRound: Math.max(s.highestQcRound, qcRound) }
}

/** State after timing out `round`: no vote in `round` any more (the TC may count this timeout). */
export function afterTimeout(s: SafetyState, round: number): SafetyState {
  return { highestVotedRound: Math.max(s.highestVotedRound, round), highestQcRound: s.highestQcRound }
}
