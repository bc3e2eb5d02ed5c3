import assert from 'node:assert/strict'
import { test } from 'node:test'
import { genesisBlock, signBlock, type Block } from '../../src/core/block.ts'
import { deriveSeed, keyPairFromSeed } from '../../src/core/keys.ts'
import { SafetyChecker, LivenessChecker } from '../../src/sim/checkers.ts'

const genesis = genesisBlock('checker-test', new Uint8Array(32))
const key = keyPairFromSeed(deriveSeed('checker-test', 0)).secretKey

function child(parent: Block, round: number, timestamp = 0): Block {
  const parentQc = { blockId: parent.id, round: parent.round, signers: [], signatures: [] }
  return signBlock(
    { height: parent.height + 1, round, author: 0, timestamp, parentQc, payload: { kind: 'batches', digests: [] }, executedRoot: new Uint8Array(32), executedHeight: 0 },
    key,
  )
}

test('safety checker accepts validators committing one chain, at different paces', () => {
  const b1 = child(genesis, 1)
  const b2 = child(b1, 2)
  const checker = new SafetyChecker(genesis)
  checker.onCommit(0, [b1, b2], 10)
  checker.onCommit(1, [b1], 11)
  checker.onCommit(1, [b2], 12)
  assert.deepEqual(checker.violations, [])
  assert.equal(checker.committedBlocks, 2)
  assert.equal(checker.heightOf(1), 2)
})

test('safety checker flags two blocks committed at one height', () => {
  const b1 = child(genesis, 1)
  const b1fork = child(genesis, 1, 99)
  const checker = new SafetyChecker(genesis)
  checker.onCommit(0, [b1], 10)
  checker.onCommit(1, [b1fork], 11)
  assert.equal(checker.violations.length, 1)
  assert.equal(checker.violations[0]!.validator, 1)
  assert.equal(checker.violations[0]!.height, 1)
})

test('safety checker flags a commit that does not extend the validator\'s previous commit', () => {
  const b1 = child(genesis, 1)
  const skipped = child(child(b1, 2), 3)
  const checker = new SafetyChecker(genesis)
  checker.onCommit(0, [b1], 10)
  checker.onCommit(0, [skipped], 11)
  assert.match(checker.violations[0]!.description, /not its child/)
})

test('liveness checker: only commits after the stable point count, within the bound', () => {
  const checker = new LivenessChecker(1_000, 500)
  checker.onCommit(0, 900)
  checker.onCommit(1, 1_200)
  checker.onCommit(2, 1_700)
  assert.equal(checker.allProgressed([1, 2]), true)
  assert.deepEqual(checker.check([0, 1, 2]).map((v) => v.validator), [0, 2])
})
