import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signTimeout, verifyTc } from '../../src/core/timeout.ts'
import { signVote, verifyQc } from '../../src/core/vote.ts'
import { BlockTree } from '../../src/consensus/block-tree.ts'
import { RoundRobin } from '../../src/consensus/leader.ts'
import { Pacemaker } from '../../src/consensus/pacemaker.ts'
import { VoteAggregator } from '../../src/consensus/vote-aggregator.ts'
import { blockAt, committee, genesis, keys, qcFor, tcFor } from './fixtures.ts'

const b1 = blockAt(1, genesis)
const b2 = blockAt(2, b1)
const b3 = blockAt(3, b2)
const fork2 = blockAt(2, b1, { timestamp: 77 })

test('round robin: round r is led by r mod n', () => {
  const rr = new RoundRobin(4)
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((r) => rr.leader(r)), [0, 1, 2, 3, 0, 1, 1])
  assert.throws(() => new RoundRobin(0), RangeError)
})

test('aggregator: the quorum-th vote forms one canonical QC; duplicates do not count twice', () => {
  const agg = new VoteAggregator(committee)
  const vote = (voter: number) => signVote(b1.id, 1, voter, keys[voter]!.secretKey)
  assert.deepEqual(agg.addVote(vote(3)), {})
  assert.deepEqual(agg.addVote(vote(3)), {})
  assert.deepEqual(agg.addVote(vote(0)), {})
  const { qc } = agg.addVote(vote(2))
  assert.ok(qc)
  assert.deepEqual(qc.signers, [0, 2, 3])
  verifyQc(qc, committee, genesis.id)
  assert.deepEqual(agg.addVote(vote(1)), {}, 'a QC is formed once')
})

test('aggregator: a vote for another block in the same round is a double vote and is not counted', () => {
  const agg = new VoteAggregator(committee)
  const first = signVote(b2.id, 2, 1, keys[1]!.secretKey)
  const second = signVote(fork2.id, 2, 1, keys[1]!.secretKey)
  agg.addVote(first)
  assert.deepEqual(agg.addVote(second), { doubleVote: { first, second } })
  agg.addVote(signVote(fork2.id, 2, 0, keys[0]!.secretKey))
  assert.deepEqual(agg.addVote(signVote(fork2.id, 2, 2, keys[2]!.secretKey)), {}, 'only 2 valid votes for the fork')
})

test('aggregator: timeouts form a verifiable TC at quorum; pruned rounds are forgotten', () => {
  const agg = new VoteAggregator(committee)
  const t = (author: number, highQc = qcFor(b1)) => signTimeout(3, highQc, author, keys[author]!.secretKey)
  assert.deepEqual(agg.addTimeout(t(2)), { timeouts: 1 })
  assert.deepEqual(agg.addTimeout(t(0, qcFor(b2))), { timeouts: 2 })
  const { tc, timeouts } = agg.addTimeout(t(1))
  assert.equal(timeouts, 3)
  assert.ok(tc)
  assert.deepEqual(tc.entries.map((e) => [e.signer, e.highQcRound]), [[0, 2], [1, 1], [2, 1]])
  verifyTc(tc, committee)
  agg.pruneBelow(4)
  assert.deepEqual(agg.addTimeout(t(2)), { timeouts: 1 }, 'round 3 was forgotten')
})

test('pacemaker: backoff doubles per expiry up to the cap, survives a TC, resets on a QC', () => {
  const pm = new Pacemaker({ baseTimeoutMs: 100, maxTimeoutMs: 500, round: 1 })
  const durations = [pm.timeoutMs()]
  for (let i = 0; i < 4; i++) {
    pm.timerExpired()
    durations.push(pm.timeoutMs())
  }
  assert.deepEqual(durations, [100, 200, 400, 500, 500])
  assert.equal(pm.advanceByTc(tcFor(1, qcFor(genesis))), true)
  assert.equal(pm.round, 2)
  assert.equal(pm.lastTc?.round, 1)
  assert.equal(pm.timeoutMs(), 500)
  assert.equal(pm.advanceByQc(0), false, 'an older QC does not move the round')
  assert.equal(pm.advanceByQc(4), true)
  assert.deepEqual([pm.round, pm.timeoutMs(), pm.lastTc], [5, 100, undefined])
  assert.throws(() => new Pacemaker({ baseTimeoutMs: 0, maxTimeoutMs: 10, round: 1 }), RangeError)
})

test('block tree: pending children connect with their parent; misfits are rejected', () => {
  const tree = new BlockTree(genesis, 10)
  assert.equal(tree.insert(b2).kind, 'pending')
  assert.equal(tree.insert(b2).kind, 'known')
  const outcome = tree.insert(b1)
  assert.equal(outcome.kind, 'connected')
  assert.deepEqual(outcome.kind === 'connected' && outcome.blocks.map((b) => b.round), [1, 2])
  const wrongHeight = blockAt(3, { ...b2, height: 5 })
  const rejected = tree.insert(wrongHeight)
  assert.ok(rejected.kind === 'rejected' && /height 6, parent \(round 2\) has height 2/.test(rejected.reason))
  assert.deepEqual(tree.branchFromRoot(b2).map((b) => b.round), [1, 2])
})

test('block tree: pruneBelow keeps only the committed block and its descendants', () => {
  const tree = new BlockTree(genesis, 1)
  for (const b of [b1, b2, fork2, b3]) tree.insert(b)
  assert.equal(tree.size, 5)
  assert.equal(tree.insert(blockAt(9, blockAt(8, b3))).kind, 'pending')
  assert.equal(tree.insert(blockAt(9, blockAt(7, b3))).kind, 'rejected', 'pending buffer bound')
  tree.pruneBelow(b2)
  assert.equal(tree.root, b2)
  assert.deepEqual([genesis, b1, b2, fork2, b3].map((b) => tree.has(b.id)), [false, false, true, false, true])
  assert.equal(tree.pendingSize, 1)
  assert.equal(tree.insert(blockAt(2, b1, { timestamp: 5 })).kind, 'rejected', 'nothing at or below the committed round')
  tree.pruneBelow(b3)
  assert.throws(() => tree.pruneBelow(b1), /not in the tree/)
})
