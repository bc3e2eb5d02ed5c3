import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { bytesEqual } from '../../src/core/hash.ts'
import { signTimeout, verifyTc, verifyTimeout } from '../../src/core/timeout.ts'
import { signVote, verifyVote } from '../../src/core/vote.ts'
import { VerificationError } from '../../src/core/committee.ts'
import { verifyBlock } from '../../src/core/block.ts'
import type { ConsensusMessage, SendAction } from '../../src/consensus/types.ts'
import { ByzantineTransmitter, withCorruptSignatures } from '../../src/node/byzantine.ts'
import type { ByzantineMode } from '../../src/node/config.ts'
import { checkEvidence } from '../../src/node/evidence.ts'
import { blockAt, committee, genesis, keys, qcFor, tcFor } from '../consensus/fixtures.ts'

/** Validator 3 of 4 misbehaves; what it would send honestly is fed in, what leaves is recorded. */
const SELF = 3

function transmitter(mode: ByzantineMode): { byzantine: ByzantineTransmitter; sent: SendAction[] } {
  const sent: SendAction[] = []
  const byzantine = new ByzantineTransmitter(mode, { index: SELF, secretKey: keys[SELF]!.secretKey, validators: committee.n }, (a) => sent.push(a))
  return { byzantine, sent }
}

const b1 = blockAt(1, genesis)
const b2 = blockAt(2, b1)
/** Round 3 is led by validator 3 (round-robin). */
const ownBlock = blockAt(3, b2)
const proposal: SendAction = { type: 'broadcast', message: { type: 'proposal', block: ownBlock } }
const vote: SendAction = { type: 'send', to: 0, message: { type: 'vote', vote: signVote(ownBlock.id, 3, SELF, keys[SELF]!.secretKey) } }
const timeout: SendAction = { type: 'broadcast', message: { type: 'timeout', timeout: signTimeout(3, qcFor(b2), SELF, keys[SELF]!.secretKey) } }
const tc: SendAction = { type: 'broadcast', message: { type: 'tc', tc: tcFor(3, qcFor(b2)) } }
const honestTraffic = [proposal, vote, timeout, tc]

describe('ByzantineTransmitter', () => {
  it('silent: sends nothing', () => {
    const { byzantine, sent } = transmitter('silent')
    for (const a of honestTraffic) byzantine.transmit(a)
    assert.deepEqual(sent, [])
  })

  it('withhold-votes: drops votes only', () => {
    const { byzantine, sent } = transmitter('withhold-votes')
    for (const a of honestTraffic) byzantine.transmit(a)
    assert.deepEqual(sent, [proposal, timeout, tc])
  })

  it('spam: leaves consensus traffic as it is (the flood is separate)', () => {
    const { byzantine, sent } = transmitter('spam')
    for (const a of honestTraffic) byzantine.transmit(a)
    assert.deepEqual(sent, honestTraffic)
  })

  it('double-vote: sends the vote and a second, validly signed one for another block to the same collector', () => {
    const { byzantine, sent } = transmitter('double-vote')
    byzantine.transmit(vote)
    assert.equal(sent.length, 2)
    assert.deepEqual(sent[0], vote)
    const second = sent[1]!
    assert.ok(second.type === 'send' && second.to === 0 && second.message.type === 'vote')
    verifyVote(second.message.vote, committee)
    const round = checkEvidence({ kind: 'double-vote', offender: SELF, first: vote.message, second: second.message }, committee)
    assert.equal(round, 3)
    byzantine.transmit(timeout)
    assert.deepEqual(sent[2], timeout, 'other messages pass unchanged')
  })

  it('equivocate: two validly signed conflicting proposals, to two halves that rotate with the round', () => {
    const minority = new Set<number>()
    for (const round of [3, 7, 11]) {
      const { byzantine, sent } = transmitter('equivocate')
      const parent = round === 3 ? b2 : blockAt(round - 1, b2, { author: (round - 1) % 4 })
      const block = blockAt(round, parent)
      byzantine.transmit({ type: 'broadcast', message: { type: 'proposal', block } })
      assert.equal(sent.length, 3, 'one direct send per other validator')
      const byPeer = new Map(sent.map((a) => [a.type === 'send' ? a.to : -1, a.message]))
      assert.deepEqual([...byPeer.keys()].sort(), [0, 1, 2])
      const versions = [...byPeer.values()].map((m) => (m.type === 'proposal' ? m.block : assert.fail('not a proposal')))
      const original = versions.filter((b) => bytesEqual(b.id, block.id))
      const other = versions.filter((b) => !bytesEqual(b.id, block.id))
      assert.equal(original.length, 2, 'the larger half gets the block the core signed')
      assert.equal(other.length, 1)
      verifyBlock(other[0]!, committee, genesis.id)
      checkEvidence({ kind: 'equivocation', offender: SELF, first: { type: 'proposal', block }, second: { type: 'proposal', block: other[0]! } }, committee)
      for (const [peer, m] of byPeer) if (m.type === 'proposal' && !bytesEqual(m.block.id, block.id)) minority.add(peer)
    }
    assert.deepEqual([...minority].sort(), [0, 1, 2], 'every other validator is once in the smaller half')
  })

  it('equivocate: votes, timeouts and TCs pass unchanged', () => {
    const { byzantine, sent } = transmitter('equivocate')
    for (const a of [vote, timeout, tc]) byzantine.transmit(a)
    assert.deepEqual(sent, [vote, timeout, tc])
  })

  it('invalid-signatures: every signature the message carries as its own fails verification', () => {
    const { byzantine, sent } = transmitter('invalid-signatures')
    for (const a of honestTraffic) byzantine.transmit(a)
    assert.equal(sent.length, honestTraffic.length)
    const [p, v, t, c] = sent.map((a) => a.message) as [ConsensusMessage, ConsensusMessage, ConsensusMessage, ConsensusMessage]
    assert.ok(p.type === 'proposal' && v.type === 'vote' && t.type === 'timeout' && c.type === 'tc')
    assert.throws(() => verifyBlock(p.block, committee, genesis.id), (err: unknown) => err instanceof VerificationError && /invalid signature/.test(err.message))
    assert.throws(() => verifyVote(v.vote, committee), /invalid signature/)
    assert.throws(() => verifyTimeout(t.timeout, committee, genesis.id), /invalid signature/)
    assert.throws(() => verifyTc(c.tc, committee), /invalid signature/)
    for (const original of honestTraffic.map((a) => a.message)) {
      if (original.type === 'tc') verifyTc(original.tc, committee)
      if (original.type === 'timeout') verifyTimeout(original.timeout, committee, genesis.id)
    }
    // The original messages are untouched (the core may still hold them).
    verifyBlock(ownBlock, committee, genesis.id)
    assert.deepEqual(withCorruptSignatures(withCorruptSignatures(vote.message)), vote.message, 'corruption flips one bit')
  })
})
