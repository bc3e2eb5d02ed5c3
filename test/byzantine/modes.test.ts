import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fromHex } from '../../src/core/hash.ts'
import { Committee } from '../../src/core/committee.ts'
import { decodeConsensusMessage } from '../../src/consensus/messages.ts'
import type { ByzantineMode } from '../../src/node/config.ts'
import { checkEvidence, type EvidenceKind } from '../../src/node/evidence.ts'
import { BYZANTINE, assertHonestProgress, everyHonestHasEvidence, metric, startByzantineChain, statusEvidence, type ByzantineChain } from './fixtures.ts'

/**
 * One byzantine validator (f = 1 of 4) per mode, on a real in-process network: the three honest
 * validators keep committing the load without forking, and detect or drop what it does.
 */

/** Blocks the honest validators must commit under load, across several spoiled leader turns. */
const MIN_BLOCKS = 8

function withChain(mode: ByzantineMode, body: (chain: () => ByzantineChain) => void): void {
  describe(`byzantine mode ${mode}`, () => {
    let chain: ByzantineChain
    before(async () => {
      chain = await startByzantineChain(mode)
    })
    after(async () => {
      await chain?.stop()
    })
    body(() => chain)
  })
}

/** Every evidence record an honest validator shows names the byzantine validator and holds up. */
async function assertEvidenceAgainstByzantine(chain: ByzantineChain, kind: EvidenceKind): Promise<void> {
  const committee = new Committee(chain.genesis.validators.map((v) => v.publicKey))
  for (const node of chain.honest) {
    const { evidence, evidenceCount } = await statusEvidence(node)
    assert.ok(evidence.some((e) => e.kind === kind), `validator ${node.index} shows no ${kind} evidence`)
    assert.ok(evidenceCount >= evidence.length)
    for (const e of evidence) {
      assert.equal(e.offender, BYZANTINE, `validator ${node.index} accuses validator ${e.offender}`)
      const round = checkEvidence({ kind: e.kind as EvidenceKind, offender: e.offender, first: decodeConsensusMessage(fromHex(e.first)), second: decodeConsensusMessage(fromHex(e.second)) }, committee)
      assert.equal(round, e.round)
    }
    assert.ok((await metric(node, 'bftlab_evidence_total', { kind })) >= 1)
  }
}

async function assertNoEvidence(chain: ByzantineChain): Promise<void> {
  for (const node of chain.honest) assert.deepEqual(await statusEvidence(node), { evidence: [], evidenceCount: 0 }, `validator ${node.index}`)
}

withChain('silent', (chain) => {
  it('honest validators commit through its leader turns; it sends nothing', async () => {
    await assertHonestProgress(chain(), MIN_BLOCKS)
    assert.equal(await metric(chain().byzantine, 'bftlab_messages_out_total'), 0)
    for (const node of chain().honest) assert.ok((await metric(node, 'bftlab_timeouts_total')) > 0, `validator ${node.index} never timed out a silent leader's round`)
    await assertNoEvidence(chain())
  })
})

withChain('withhold-votes', (chain) => {
  it('honest validators commit without its votes; it still proposes', async () => {
    await assertHonestProgress(chain(), MIN_BLOCKS)
    assert.equal(await metric(chain().byzantine, 'bftlab_messages_out_total', { type: 'vote' }), 0)
    assert.ok((await metric(chain().byzantine, 'bftlab_messages_out_total', { type: 'proposal' })) > 0)
    await assertNoEvidence(chain())
  })
})

withChain('equivocate', (chain) => {
  it('honest validators commit one branch and each proves the equivocation', async () => {
    await assertHonestProgress(chain(), MIN_BLOCKS, () => everyHonestHasEvidence(chain(), 'equivocation'))
    await assertEvidenceAgainstByzantine(chain(), 'equivocation')
  })
})

withChain('double-vote', (chain) => {
  it('honest validators commit and each, as a vote collector, proves the double vote', async () => {
    await assertHonestProgress(chain(), MIN_BLOCKS, () => everyHonestHasEvidence(chain(), 'double-vote'))
    await assertEvidenceAgainstByzantine(chain(), 'double-vote')
  })
})

withChain('invalid-signatures', (chain) => {
  it('honest validators drop its messages as invalid signatures and keep committing', async () => {
    await assertHonestProgress(chain(), MIN_BLOCKS)
    for (const node of chain().honest) {
      assert.ok((await metric(node, 'bftlab_dropped_messages_total', { reason: 'invalid signature' })) > 0, `validator ${node.index} counted no invalid signature`)
    }
    await assertNoEvidence(chain())
  })
})

withChain('spam', (chain) => {
  it('honest validators drop the flood on every channel and keep committing', async () => {
    await assertHonestProgress(chain(), MIN_BLOCKS)
    const reasons = ['decode', 'invalid batch', 'malformed sync request', 'malformed batch request']
    for (const node of chain().honest) {
      for (const reason of reasons) {
        assert.ok((await metric(node, 'bftlab_dropped_messages_total', { reason })) > 0, `validator ${node.index} counted no drop for reason "${reason}"`)
      }
    }
    await assertNoEvidence(chain())
  })
})
