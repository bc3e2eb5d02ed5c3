import assert from 'node:assert/strict'
import { test } from 'node:test'
import { VerificationError } from '../../src/core/committee.ts'
import { verifyTc } from '../../src/core/timeout.ts'
import { verifyQc } from '../../src/core/vote.ts'
import { blockAt, committee, genesis, qcFor, tcFor } from './fixtures.ts'

const b1 = blockAt(1, genesis)
const qc = qcFor(b1, [0, 1, 2])
const tc = tcFor(2, qc, [0, 1, 3])

function rejects(check: () => void, pattern: RegExp): void {
  assert.throws(check, (err: unknown) => err instanceof VerificationError && pattern.test(err.message))
}

test('QC: a valid one passes (the control for the cases below)', () => {
  verifyQc(qc, committee, genesis.id)
})

test('QC: too few, duplicate, unsorted, unknown or invalid signatures are rejected', () => {
  rejects(() => verifyQc({ ...qc, signers: [0, 1], signatures: qc.signatures.slice(0, 2) }, committee, genesis.id), /quorum is 3/)
  rejects(() => verifyQc({ ...qc, signers: [0, 1, 1], signatures: [qc.signatures[0]!, qc.signatures[1]!, qc.signatures[1]!] }, committee, genesis.id), /not strictly increasing/)
  rejects(() => verifyQc({ ...qc, signers: [1, 0, 2], signatures: [qc.signatures[1]!, qc.signatures[0]!, qc.signatures[2]!] }, committee, genesis.id), /not strictly increasing/)
  rejects(() => verifyQc({ ...qc, signers: [0, 1, 7] }, committee, genesis.id), /unknown signer 7/)
  rejects(() => verifyQc({ ...qc, signatures: [qc.signatures[0]!, qc.signatures[1]!, qc.signatures[0]!] }, committee, genesis.id), /invalid signature of validator 2/)
  rejects(() => verifyQc({ ...qc, round: 2 }, committee, genesis.id), /invalid signature/)
})

test('TC: a valid one passes; too few, duplicate, unsorted, unknown or invalid signatures are rejected', () => {
  verifyTc(tc, committee)
  const [e0, e1, e3] = tc.entries as [typeof tc.entries[0], typeof tc.entries[0], typeof tc.entries[0]]
  rejects(() => verifyTc({ round: 2, entries: [e0, e1] }, committee), /quorum is 3/)
  rejects(() => verifyTc({ round: 2, entries: [e0, e1, e1] }, committee), /not strictly increasing/)
  rejects(() => verifyTc({ round: 2, entries: [e1, e0, e3] }, committee), /not strictly increasing/)
  rejects(() => verifyTc({ round: 2, entries: [e0, e1, { ...e3, signer: 9 }] }, committee), /unknown signer 9/)
  rejects(() => verifyTc({ round: 2, entries: [e0, e1, { ...e3, signature: e0.signature }] }, committee), /invalid signature of validator 3/)
  rejects(() => verifyTc({ round: 2, entries: [e0, e1, { ...e3, highQcRound: 0 }] }, committee), /invalid signature of validator 3/)
})
