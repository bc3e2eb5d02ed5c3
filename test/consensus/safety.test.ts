import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TimeoutCert } from '../../src/core/timeout.ts'
import { afterTimeout, afterVote, safeToTimeout, safeToVote } from '../../src/consensus/safety.ts'

/** A TC for `round` whose signers reported these high-QC rounds (signatures are irrelevant to the rule). */
function tc(round: number, highQcRounds: number[]): TimeoutCert {
  return { round, entries: highQcRounds.map((r, signer) => ({ signer, highQcRound: r, signature: new Uint8Array(64) })) }
}

test('vote: refused for a round at or below the highest voted round', () => {
  const s = { highestVotedRound: 5, highestQcRound: 3 }
  assert.equal(safeToVote(s, 5, 4, undefined), false)
  assert.equal(safeToVote(s, 4, 3, undefined), false)
  assert.equal(safeToVote(s, 6, 5, undefined), true)
})

test('vote: the block must extend the previous round QC when there is no TC', () => {
  const s = { highestVotedRound: 5, highestQcRound: 4 }
  assert.equal(safeToVote(s, 7, 5, undefined), false)
  assert.equal(safeToVote(s, 6, 5, undefined), true)
})

test('vote: refused for an unsafe TC extension (QC below the highest high QC in the TC)', () => {
  const s = { highestVotedRound: 5, highestQcRound: 3 }
  assert.equal(safeToVote(s, 8, 4, tc(7, [3, 5, 4])), false)
})

test('vote: accepted for a safe TC extension, refused if the TC is not for the previous round', () => {
  const s = { highestVotedRound: 5, highestQcRound: 3 }
  assert.equal(safeToVote(s, 8, 5, tc(7, [3, 5, 4])), true)
  assert.equal(safeToVote(s, 8, 6, tc(7, [3, 5, 4])), true)
  assert.equal(safeToVote(s, 9, 5, tc(7, [3, 5, 4])), false)
})

test('vote: the test-only broken rule accepts what the real rule refuses', () => {
  const s = { highestVotedRound: 5, highestQcRound: 3 }
  assert.equal(safeToVote(s, 5, 4, undefined, { brokenVoteRule: true }), true)
  assert.equal(safeToVote(s, 8, 4, tc(7, [3, 5, 4]), { brokenVoteRule: true }), true)
})

test('timeout: refused when the high QC is below the highest QC round relied upon', () => {
  const s = { highestVotedRound: 5, highestQcRound: 5 }
  assert.equal(safeToTimeout(s, 6, 4, tc(5, [4, 4, 4])), false)
  assert.equal(safeToTimeout(s, 6, 5, undefined), true)
})

test('timeout: refused below the highest voted round, allowed to repeat the current one', () => {
  const s = { highestVotedRound: 6, highestQcRound: 5 }
  assert.equal(safeToTimeout(s, 5, 4, undefined), false)
  assert.equal(safeToTimeout(s, 6, 5, undefined), true)
})

test('timeout: the round must follow the high QC or the TC that ended the previous round', () => {
  const s = { highestVotedRound: 0, highestQcRound: 2 }
  assert.equal(safeToTimeout(s, 5, 2, undefined), false)
  assert.equal(safeToTimeout(s, 5, 2, tc(4, [2, 2, 2])), true)
  assert.equal(safeToTimeout(s, 5, 2, tc(3, [2, 2, 2])), false)
})

test('updates: voting records the round and the QC relied upon; a timeout never lowers anything', () => {
  assert.deepEqual(afterVote({ highestVotedRound: 3, highestQcRound: 4 }, 6, 2), { highestVotedRound: 6, highestQcRound: 4 })
  assert.deepEqual(afterVote({ highestVotedRound: 3, highestQcRound: 1 }, 6, 5), { highestVotedRound: 6, highestQcRound: 5 })
  assert.deepEqual(afterTimeout({ highestVotedRound: 3, highestQcRound: 2 }, 7), { highestVotedRound: 7, highestQcRound: 2 })
  assert.deepEqual(afterTimeout({ highestVotedRound: 9, highestQcRound: 2 }, 7), { highestVotedRound: 9, highestQcRound: 2 })
})
