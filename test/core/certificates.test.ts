import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VerificationError, verifyQc, verifyTc, verifyTimeout, verifyBlock, signTimeout, signBlock } from '../../src/core/index.ts'
import { GENESIS, testBlock, testCommittee, testQc, testTc } from './fixtures.ts'

const { committee, keys } = testCommittee(4)
const id = GENESIS.id

test('committee: n=4 → f=1, quorum=3; n=16 → f=5, quorum=11', () => {
  assert.equal(committee.quorum, 3)
  assert.equal(testCommittee(16).committee.quorum, 11)
})

test('QC: quorum of valid signatures accepted', () => {
  verifyQc(testQc(keys, id, 3, [0, 2, 3]), committee, id)
  verifyQc(testQc(keys, id, 3, [0, 1, 2, 3]), committee, id)
})

test('QC: too few signers rejected', () => {
  assert.throws(() => verifyQc(testQc(keys, id, 3, [0, 2]), committee, id), /2 signers, quorum is 3/)
})

test('QC: duplicate signer cannot make up a quorum', () => {
  const qc = testQc(keys, id, 3, [0, 2, 2])
  assert.throws(() => verifyQc(qc, committee, id), /not strictly increasing/)
})

test('QC: unsorted or unknown signers rejected', () => {
  assert.throws(() => verifyQc(testQc(keys, id, 3, [2, 0, 3]), committee, id), /not strictly increasing/)
  const qc = testQc(keys, id, 3, [0, 1, 2])
  assert.throws(() => verifyQc({ ...qc, signers: [0, 1, 9] }, committee, id), /unknown signer 9/)
})

test('QC: one invalid signature rejects the certificate', () => {
  const qc = testQc(keys, id, 3, [0, 1, 2])
  const sigs = [...qc.signatures]
  sigs[1] = qc.signatures[0]!
  assert.throws(() => verifyQc({ ...qc, signatures: sigs }, committee, id), /invalid signature of validator 1/)
  // A signature for another round does not transfer.
  const other = testQc(keys, id, 4, [0, 1, 2])
  assert.throws(() => verifyQc({ ...qc, signatures: other.signatures }, committee, id), VerificationError)
})

test('QC: a signature-less QC is only valid as the genesis QC', () => {
  verifyQc({ blockId: id, round: 0, signers: [], signatures: [] }, committee, id)
  assert.throws(() => verifyQc({ blockId: new Uint8Array(32), round: 0, signers: [], signatures: [] }, committee, id), /round 0 is reserved/)
})

test('TC: quorum accepted; too few, duplicate, inflated highQc or bad signature rejected', () => {
  const tc = testTc(keys, 7, [5, 4, 6])
  verifyTc(tc, committee)
  assert.throws(() => verifyTc({ ...tc, entries: tc.entries.slice(0, 2) }, committee), /quorum is 3/)
  assert.throws(() => verifyTc({ ...tc, entries: [tc.entries[0]!, tc.entries[0]!, tc.entries[1]!] }, committee), /not strictly increasing/)
  const inflated = tc.entries.map((e, i) => (i === 0 ? { ...e, highQcRound: 6 } : e))
  assert.throws(() => verifyTc({ ...tc, entries: inflated }, committee), /invalid signature of validator 0/)
  assert.throws(() => verifyTc(testTc(keys, 7, [7, 4, 6]), committee), /reports highQc round 7/)
})

test('timeout: highQc must be below the round and signed by the author', () => {
  const qc = testQc(keys, id, 3, [0, 1, 2])
  verifyTimeout(signTimeout(4, qc, 1, keys[1]!.secretKey), committee, id)
  assert.throws(() => verifyTimeout(signTimeout(3, qc, 1, keys[1]!.secretKey), committee, id), /not below/)
  const forged = { ...signTimeout(4, qc, 1, keys[2]!.secretKey) }
  assert.throws(() => verifyTimeout(forged, committee, id), /invalid signature/)
})

test('block: bad signature, mismatched id and unjustified round gap rejected', () => {
  const b = testBlock(keys, 1)
  verifyBlock(b, committee, id)
  assert.throws(() => verifyBlock({ ...b, signature: testBlock(keys, 2).signature }, committee, id), /invalid signature/)
  assert.throws(() => verifyBlock({ ...b, timestamp: b.timestamp + 1 }, committee, id), /id does not match/)
  const gap = signBlock({ ...b, round: 3 }, keys[1]!.secretKey)
  assert.throws(() => verifyBlock(gap, committee, id), /leaves a gap and no TC/)
  const withTc = signBlock({ ...b, round: 3, tc: testTc(keys, 2, [0, 0, 0]) }, keys[1]!.secretKey)
  verifyBlock(withTc, committee, id)
})
