import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signTimeout } from '../../src/core/timeout.ts'
import { signVote } from '../../src/core/vote.ts'
import type { ConsensusAction } from '../../src/consensus/types.ts'
import { blockAt, genesis, keys, newCore, qcFor, tcFor } from './fixtures.ts'

function rejections(actions: readonly ConsensusAction[]): string[] {
  return actions.flatMap((a) => (a.type === 'rejected' ? [a.reason] : []))
}

const b1 = blockAt(1, genesis)
const b2 = blockAt(2, b1)

test('start arms the round-1 timer and asks the round-1 leader for a payload', () => {
  assert.deepEqual(newCore(1).handle({ type: 'start' }), [
    { type: 'setTimer', round: 1, durationMs: 1000 },
    { type: 'buildProposal', round: 1, height: 1 },
  ])
  assert.deepEqual(newCore(2).handle({ type: 'start' }), [{ type: 'setTimer', round: 1, durationMs: 1000 }])
})

test('a valid proposal is voted for only after its payload is available, the vote inside persistSafety', () => {
  const core = newCore(3)
  const first = core.handle({ type: 'message', from: 1, message: { type: 'proposal', block: b1 } })
  assert.deepEqual(first, [{ type: 'fetchPayload', block: b1 }])
  const second = core.handle({ type: 'payloadAvailable', blockId: b1.id })
  assert.equal(second.length, 1)
  const persist = second[0]!
  assert.equal(persist.type, 'persistSafety')
  assert.ok(persist.type === 'persistSafety')
  assert.deepEqual(persist.safety, { highestVotedRound: 1, highestQcRound: 0 })
  assert.deepEqual(persist.then, [{ type: 'send', to: 2, message: { type: 'vote', vote: signVote(b1.id, 1, 3, keys[3]!.secretKey) } }])
})

test('proposals from a non-leader, with a bad signature, or from an unknown sender are rejected', () => {
  const core = newCore(3)
  const byNonLeader = blockAt(1, genesis, { author: 2 })
  assert.match(rejections(core.handle({ type: 'message', from: 2, message: { type: 'proposal', block: byNonLeader } }))[0]!, /authored by 2, but the leader is 1/)
  const forged = { ...b1, signature: byNonLeader.signature }
  assert.match(rejections(core.handle({ type: 'message', from: 1, message: { type: 'proposal', block: forged } }))[0]!, /invalid signature/)
  assert.match(rejections(core.handle({ type: 'message', from: 9, message: { type: 'proposal', block: b1 } }))[0]!, /unknown validator 9/)
  assert.equal(core.round, 1, 'nothing was learned from rejected messages')
})

test('an equivocating leader produces evidence with both signed proposals and no second vote', () => {
  const core = newCore(3)
  core.handle({ type: 'message', from: 1, message: { type: 'proposal', block: b1 } })
  const other = blockAt(1, genesis, { timestamp: 99 })
  const actions = core.handle({ type: 'message', from: 1, message: { type: 'proposal', block: other } })
  assert.deepEqual(actions.filter((a) => a.type === 'evidence'), [
    { type: 'evidence', kind: 'equivocation', offender: 1, first: { type: 'proposal', block: b1 }, second: { type: 'proposal', block: other } },
  ])
  assert.equal(actions.some((a) => a.type === 'fetchPayload' || a.type === 'persistSafety'), false)
})

test('the next leader forms a QC from 3 votes, detects a double vote, and proposes', () => {
  const core = newCore(2) // leader of round 2 collects round-1 votes
  core.handle({ type: 'message', from: 1, message: { type: 'proposal', block: b1 } })
  const vote = (voter: number, blockId: Uint8Array) => ({ type: 'vote' as const, vote: signVote(blockId, 1, voter, keys[voter]!.secretKey) })
  core.handle({ type: 'message', from: 0, message: vote(0, b1.id) })
  const double = core.handle({ type: 'message', from: 0, message: vote(0, b2.id) })
  assert.deepEqual(double.map((a) => a.type === 'evidence' && a.kind), ['double-vote'])
  core.handle({ type: 'message', from: 1, message: vote(1, b1.id) })
  const formed = core.handle({ type: 'message', from: 3, message: vote(3, b1.id) })
  assert.deepEqual(formed.map((a) => a.type), ['roundChanged', 'setTimer', 'buildProposal'])
  assert.equal(core.round, 2)
  assert.deepEqual(core.highQc.signers, [0, 1, 3])
})

test('votes to a validator that does not lead the next round, or far in the future, are rejected', () => {
  const core = newCore(3)
  const v = signVote(b1.id, 1, 0, keys[0]!.secretKey)
  assert.match(rejections(core.handle({ type: 'message', from: 0, message: { type: 'vote', vote: v } }))[0]!, /leader of round 2 \(2\)/)
  const far = signVote(b1.id, 500, 0, keys[0]!.secretKey)
  assert.match(rejections(core.handle({ type: 'message', from: 0, message: { type: 'vote', vote: far } }))[0]!, /more than 100 rounds ahead/)
})

test('timer expiry: one signed timeout per round, re-sent verbatim with a doubled timer', () => {
  const core = newCore(3)
  core.handle({ type: 'start' })
  const first = core.handle({ type: 'timerFired', round: 1 })
  assert.deepEqual(first[0], { type: 'setTimer', round: 1, durationMs: 2000 })
  const persist = first[1]!
  assert.ok(persist.type === 'persistSafety')
  assert.deepEqual(persist.safety, { highestVotedRound: 1, highestQcRound: 0 })
  const timeout = signTimeout(1, qcFor(genesis), 3, keys[3]!.secretKey)
  assert.deepEqual(persist.then, [
    { type: 'broadcast', message: { type: 'timeout', timeout } },
    { type: 'send', to: 3, message: { type: 'timeout', timeout } },
  ])
  const again = core.handle({ type: 'timerFired', round: 1 })
  assert.deepEqual(again, [
    { type: 'setTimer', round: 1, durationMs: 4000 },
    { type: 'persistSafety', safety: persist.safety, recovery: { highQc: qcFor(genesis) }, then: [{ type: 'broadcast', message: { type: 'timeout', timeout } }] },
  ])
  assert.deepEqual(core.handle({ type: 'timerFired', round: 0 }), [], 'a stale timer is ignored')
  // Having timed out round 1, the validator must not vote in it any more.
  core.handle({ type: 'message', from: 1, message: { type: 'proposal', block: b1 } })
  const late = core.handle({ type: 'payloadAvailable', blockId: b1.id })
  assert.equal(late.some((a) => a.type === 'persistSafety'), false)
})

test('2f+1 timeouts form a TC that is broadcast and moves to the next round', () => {
  const core = newCore(1)
  const timeout = (author: number) => ({ type: 'timeout' as const, timeout: signTimeout(1, qcFor(genesis), author, keys[author]!.secretKey) })
  core.handle({ type: 'message', from: 0, message: timeout(0) })
  assert.deepEqual(core.handle({ type: 'message', from: 0, message: timeout(0) }), [], 'an identical re-send counts once')
  core.handle({ type: 'message', from: 2, message: timeout(2) })
  const tcActions = core.handle({ type: 'message', from: 3, message: timeout(3) })
  const broadcast = tcActions.find((a) => a.type === 'broadcast')
  assert.ok(broadcast?.type === 'broadcast' && broadcast.message.type === 'tc')
  assert.deepEqual(broadcast.message.tc.entries.map((e) => e.signer), [0, 2, 3])
  assert.equal(core.round, 2)
  assert.ok(tcActions.some((a) => a.type === 'roundChanged' && a.reason === 'tc'))
  // A validator that lost the TC broadcast keeps timing out round 1: it is sent the TC.
  assert.deepEqual(core.handle({ type: 'message', from: 0, message: timeout(0) }), [{ type: 'send', to: 0, message: broadcast.message }])
})

test('two timeouts for one round with different high QCs are double-timeout evidence', () => {
  const core = newCore(1)
  const low = signTimeout(2, qcFor(genesis), 0, keys[0]!.secretKey)
  const high = signTimeout(2, qcFor(b1), 0, keys[0]!.secretKey)
  core.handle({ type: 'message', from: 0, message: { type: 'timeout', timeout: low } })
  const actions = core.handle({ type: 'message', from: 0, message: { type: 'timeout', timeout: high } })
  assert.deepEqual(actions.filter((a) => a.type === 'evidence'), [
    { type: 'evidence', kind: 'double-timeout', offender: 0, first: { type: 'timeout', timeout: low }, second: { type: 'timeout', timeout: high } },
  ])
})

test('f+1 timeouts for the current round make a validator time out at once', () => {
  const core = newCore(3)
  const timeout = (author: number) => ({ type: 'timeout' as const, timeout: signTimeout(1, qcFor(genesis), author, keys[author]!.secretKey) })
  assert.equal(core.handle({ type: 'message', from: 0, message: timeout(0) }).length, 0)
  const joined = core.handle({ type: 'message', from: 1, message: timeout(1) })
  assert.ok(joined.some((a) => a.type === 'persistSafety' && a.then.some((s) => s.message.type === 'timeout')))
})

test('a proposal carrying a QC far ahead brings a lagging validator to that round', () => {
  const core = newCore(0)
  let parent = genesis
  const chain = Array.from({ length: 150 }, (_, i) => (parent = blockAt(i + 1, parent)))
  const tip = chain.at(-1)!
  const actions = core.handle({ type: 'message', from: tip.author, message: { type: 'proposal', block: tip } })
  assert.equal(core.round, 150)
  assert.ok(actions.some((a) => a.type === 'fetchBlock' && a.from === tip.author), 'fetches the missing ancestors')
})

test('a validator stuck in a round it cannot leave is sent the newest TC held, not only the TC of its round', () => {
  // Validator 1 left round 1 by a QC and rounds 2–3 by a TC for round 3; validator 0 (recovered
  // after a crash, say) still times out round 1, for which no TC exists anywhere.
  const core = newCore(1)
  const b1 = blockAt(1, genesis)
  core.handle({ type: 'blockFetched', block: b1 })
  const tc3 = tcFor(3, qcFor(b1))
  core.handle({ type: 'message', from: 2, message: { type: 'tc', tc: tc3 } })
  assert.equal(core.round, 4)
  const stale = signTimeout(1, qcFor(genesis), 0, keys[0]!.secretKey)
  const reply = core.handle({ type: 'message', from: 0, message: { type: 'timeout', timeout: stale } })
  assert.deepEqual(reply.filter((a) => a.type === 'send'), [{ type: 'send', to: 0, message: { type: 'tc', tc: tc3 } }])
})
