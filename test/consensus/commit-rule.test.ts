import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Block } from '../../src/core/block.ts'
import type { ConsensusAction } from '../../src/consensus/types.ts'
import { blockAt, genesis, newCore, qcFor, tcFor } from './fixtures.ts'

function commits(actions: readonly ConsensusAction[]): Block[][] {
  return actions.flatMap((a) => (a.type === 'commit' ? [[...a.blocks]] : []))
}

// b1 (round 1) ← b3 (round 3, after TC(2)) ← b4 ← b5: the QC for b3 (carried by b4) follows a
// round gap, the QC for b4 (carried by b5) is for consecutive rounds 3 → 4.
const b1 = blockAt(1, genesis)
const b3 = blockAt(3, b1, { tc: tcFor(2, qcFor(b1)) })
const b4 = blockAt(4, b3)
const b5 = blockAt(5, b4)

test('a QC whose block follows a round gap commits nothing', () => {
  const core = newCore(0)
  const actions = [b1, b3, b4].flatMap((block) => core.handle({ type: 'blockFetched', block }))
  assert.deepEqual(commits(actions), [])
  assert.equal(core.committedHeight, 0)
  assert.equal(core.round, 4)
})

test('a QC for consecutive rounds commits the parent and its uncommitted ancestors, oldest first', () => {
  const core = newCore(0)
  for (const block of [b1, b3, b4]) core.handle({ type: 'blockFetched', block })
  const actions = core.handle({ type: 'blockFetched', block: b5 })
  const [committed, ...more] = commits(actions)
  assert.deepEqual(more, [])
  assert.deepEqual(committed?.map((b) => b.round), [1, 3])
  const proof = actions.find((a) => a.type === 'commit')!
  assert.equal(proof.type === 'commit' && proof.proof.round, 4)
  assert.equal(core.committedBlock.round, 3)
  assert.equal(core.committedHeight, 2)
})

test('a block arriving before its parent waits, is fetched, and commits once connected', () => {
  const core = newCore(0)
  core.handle({ type: 'blockFetched', block: b1 })
  const early = core.handle({ type: 'blockFetched', block: b4 })
  assert.ok(early.some((a) => a.type === 'fetchBlock' && Buffer.from(a.blockId).equals(b3.id)), 'asks for the missing parent')
  assert.deepEqual(commits(core.handle({ type: 'blockFetched', block: b5 })), [])
  const late = core.handle({ type: 'blockFetched', block: b3 })
  assert.deepEqual(commits(late).map((c) => c.map((b) => b.round)), [[1, 3]])
})
