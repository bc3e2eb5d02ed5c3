import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { batchDigest, type Batch } from '../../src/core/batch.ts'
import { signBlock, type Block, type Payload } from '../../src/core/block.ts'
import { toHex } from '../../src/core/hash.ts'
import { BatchQueue } from '../../src/mempool/batch-queue.ts'
import { parseGenesis, testnetConfigs } from '../../src/node/config.ts'
import { election, genesis, keys, qcFor } from '../consensus/fixtures.ts'
import { transfer } from '../node/fixtures.ts'

/**
 * A silent validator orphans the block of the leader before it every time (the votes for that
 * block go to the silent one). Batches in an orphaned block must come back at once for the next
 * leader, whoever it is, or a batch that only ever reaches the doomed leader first starves.
 */

const chain = parseGenesis(testnetConfigs({ validators: 4, accounts: 2, basePort: 19000, baseHttpPort: 18000 }).genesis)
const batch = (seq: number): { batch: Batch; digest: Uint8Array } => {
  const b: Batch = { author: 0, seq, txs: [transfer(chain, 0, 1, 1n, BigInt(seq))] }
  return { batch: b, digest: batchDigest(b) }
}

function block(round: number, parent: Block, payload: Payload): Block {
  const author = election.leader(round)
  return signBlock({ height: parent.height + 1, round, author, timestamp: round, parentQc: qcFor(parent), payload, executedRoot: new Uint8Array(32), executedHeight: 0 }, keys[author]!.secretKey)
}

const hex = (digests: readonly Uint8Array[]): string[] => digests.map(toHex)

describe('BatchQueue', () => {
  it('does not propose a batch twice on one branch, and re-proposes it at once when its block is orphaned', () => {
    const queue = new BatchQueue()
    const x = batch(1)
    const y = batch(2)
    queue.add(x.batch, x.digest)
    const b5 = block(5, genesis, { kind: 'batches', digests: [] })
    assert.deepEqual(hex(queue.takeDigests([b5], 10, 100)), hex([x.digest]))
    const b6 = block(6, b5, { kind: 'batches', digests: [x.digest] })
    queue.add(y.batch, y.digest)
    // Round 7 extends b6: x is on the branch already.
    assert.deepEqual(hex(queue.takeDigests([b6, b5], 10, 100)), hex([y.digest]))
    assert.equal(queue.hasEligible([b6, b5]), true)
    // b6 was orphaned (round 6 and 7 timed out): round 8 extends b5, and x is proposed again.
    assert.deepEqual(hex(queue.takeDigests([b5], 10, 100)), hex([x.digest, y.digest]))
    assert.equal(queue.takeDigests([b5], 1, 100).length, 1, 'maxBatches bounds the answer')
    assert.deepEqual(hex(queue.takeDigests([b5], 10, 1)), hex([x.digest]), 'maxTxs bounds the answer (one tx per batch here)')
    assert.deepEqual(hex(queue.takeDigests([b5], 10, 0)), hex([x.digest]), 'the oldest batch is taken even above maxTxs')

    const b8 = block(8, b5, { kind: 'batches', digests: [x.digest, y.digest] })
    queue.markCommitted(b8, 0)
    assert.equal(queue.size, 0)
    assert.equal(queue.hasEligible([]), false)
    queue.add(x.batch, x.digest)
    assert.equal(queue.size, 0, 'a late gossip copy of a committed batch is not queued again')
  })

  it('full-block mode: our inlined batches count as carried by our block, and return if it is orphaned', () => {
    const queue = new BatchQueue()
    const x = batch(1)
    queue.add(x.batch, x.digest)
    const txs = queue.takeTxs(6, [], 100)
    assert.equal(txs.length, 1)
    const ours = block(6, genesis, { kind: 'txs', txs })
    assert.deepEqual(queue.takeTxs(7, [ours], 100), [], 'the branch through our round-6 block carries x')
    assert.equal(queue.takeTxs(8, [], 100).length, 1, 'orphaned: x is inlined again')
    assert.deepEqual(queue.takeTxs(9, [], 0), [], 'maxTxs bounds the answer')
  })
})
