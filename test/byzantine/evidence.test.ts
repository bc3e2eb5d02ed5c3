import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VerificationError } from '../../src/core/committee.ts'
import { fromHex } from '../../src/core/hash.ts'
import { signTimeout } from '../../src/core/timeout.ts'
import { signVote } from '../../src/core/vote.ts'
import { decodeConsensusMessage } from '../../src/consensus/messages.ts'
import type { ConsensusMessage } from '../../src/consensus/types.ts'
import { conflictingBlock } from '../../src/node/byzantine.ts'
import { EVIDENCE_IN_MEMORY, EquivocationWatch, EvidenceLog, checkEvidence, type Evidence } from '../../src/node/evidence.ts'
import { createLogger } from '../../src/node/logger.ts'
import { NodeMetrics } from '../../src/node/metrics.ts'
import { NodeStore } from '../../src/storage/node-store.ts'
import { blockAt, committee, genesis, keys, qcFor } from '../consensus/fixtures.ts'
import { genesis as storeGenesis } from '../storage/fixtures/chain.ts'

const log = createLogger({ level: 'silent', index: 0 })
const OFFENDER = 1

const vote = (blockId: Uint8Array, round: number, voter = OFFENDER): ConsensusMessage => ({ type: 'vote', vote: signVote(blockId, round, voter, keys[voter]!.secretKey) })
const b1 = blockAt(1, genesis)
const b2 = blockAt(2, b1)
const b5 = blockAt(5, b1, { author: OFFENDER })
const b5other = conflictingBlock(b5, keys[OFFENDER]!.secretKey)

function doubleVote(round: number): Evidence {
  return { kind: 'double-vote', offender: OFFENDER, first: vote(b1.id, round), second: vote(b2.id, round) }
}

function rejected(e: Evidence, pattern: RegExp): void {
  assert.throws(() => checkEvidence(e, committee), (err: unknown) => err instanceof VerificationError && pattern.test(err.message))
}

describe('checkEvidence', () => {
  it('accepts two signed conflicting messages of each kind and returns their round', () => {
    assert.equal(checkEvidence(doubleVote(4), committee), 4)
    assert.equal(checkEvidence({ kind: 'equivocation', offender: OFFENDER, first: { type: 'proposal', block: b5 }, second: { type: 'proposal', block: b5other } }, committee), 5)
    const t = (highQcOf: typeof b1) => ({ type: 'timeout', timeout: signTimeout(6, qcFor(highQcOf), OFFENDER, keys[OFFENDER]!.secretKey) }) as const
    assert.equal(checkEvidence({ kind: 'double-timeout', offender: OFFENDER, first: t(b1), second: t(b2) }, committee), 6)
  })

  it('refuses pairs that do not conflict, do not match, or are not signed by the accused', () => {
    rejected({ kind: 'double-vote', offender: OFFENDER, first: vote(b1.id, 4), second: vote(b1.id, 4) }, /both votes are for block/)
    rejected({ kind: 'double-vote', offender: OFFENDER, first: vote(b1.id, 4), second: vote(b2.id, 5) }, /rounds 4 and 5/)
    rejected({ kind: 'double-vote', offender: 2, first: vote(b1.id, 4), second: vote(b2.id, 4) }, /votes are by 1 and 1/)
    rejected({ kind: 'double-vote', offender: 9, first: vote(b1.id, 4), second: vote(b2.id, 4) }, /not a validator/)
    rejected({ kind: 'equivocation', offender: OFFENDER, first: vote(b1.id, 4), second: vote(b2.id, 4) }, /expected two proposal messages/)
    rejected({ kind: 'equivocation', offender: OFFENDER, first: { type: 'proposal', block: b5 }, second: { type: 'proposal', block: b5 } }, /both proposals are block/)
    // A block claiming the offender as author but signed by someone else frames nobody.
    const forged = conflictingBlock(b5, keys[2]!.secretKey)
    rejected({ kind: 'equivocation', offender: OFFENDER, first: { type: 'proposal', block: b5 }, second: { type: 'proposal', block: forged } }, /not signed by its author/)
    const forgedVote: ConsensusMessage = { type: 'vote', vote: { ...signVote(b2.id, 4, 2, keys[2]!.secretKey), voter: OFFENDER } }
    rejected({ kind: 'double-vote', offender: OFFENDER, first: vote(b1.id, 4), second: forgedVote }, /invalid signature/)
    const sameTimeout = { type: 'timeout', timeout: signTimeout(6, qcFor(b1), OFFENDER, keys[OFFENDER]!.secretKey) } as const
    rejected({ kind: 'double-timeout', offender: OFFENDER, first: sameTimeout, second: sameTimeout }, /both timeouts report high QC round 1/)
  })
})

describe('EvidenceLog', () => {
  it('records checked evidence once, counts it, persists it and reloads it after a restart', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bftlab-evidence-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    let store = await NodeStore.open(dir)
    await store.initGenesis(storeGenesis())
    const metrics = new NodeMetrics()
    const evidence = new EvidenceLog({ committee, store: store.evidence, metrics, log })

    assert.equal(evidence.record(doubleVote(4)), true)
    assert.equal(evidence.record(doubleVote(4)), false, 'the same conflict again is not new')
    assert.equal(evidence.record({ ...doubleVote(4), second: vote(b1.id, 4) }), false, 'a non-conflict is not recorded')
    for (let round = 10; round < 10 + EVIDENCE_IN_MEMORY; round++) assert.equal(evidence.record(doubleVote(round)), true)
    const total = 1 + EVIDENCE_IN_MEMORY
    assert.equal(evidence.count, total)
    assert.match(await metrics.text(), new RegExp(`^bftlab_evidence_total\\{kind="double-vote"\\} ${total}$`, 'm'))

    const views = evidence.views()
    assert.equal(views.length, EVIDENCE_IN_MEMORY, 'memory keeps the newest records only')
    assert.equal(views[0]!.round, 10)
    const newest = views.at(-1)!
    assert.deepEqual({ kind: newest.kind, offender: newest.offender, round: newest.round }, { kind: 'double-vote', offender: OFFENDER, round: 9 + EVIDENCE_IN_MEMORY })
    const decoded = checkEvidence({ kind: 'double-vote', offender: newest.offender, first: decodeConsensusMessage(fromHex(newest.first)), second: decodeConsensusMessage(fromHex(newest.second)) }, committee)
    assert.equal(decoded, newest.round, 'the hex is the proof itself')

    await evidence.flush()
    await store.close()
    store = await NodeStore.open(dir)
    t.after(() => store.close())
    const stored = await store.evidence.newest(EVIDENCE_IN_MEMORY)
    assert.equal(stored.total, total)
    const reloaded = new EvidenceLog({ committee, store: store.evidence, metrics: new NodeMetrics(), log }, stored)
    assert.equal(reloaded.count, total)
    assert.deepEqual(reloaded.views(), views)
    assert.equal(reloaded.record(doubleVote(10)), false, 'a reloaded record is not counted again')
  })
})

describe('EquivocationWatch', () => {
  it('reports two author-signed blocks for one (author, round), and ignores copies and forgeries', () => {
    const found: [string, string][] = []
    const watch = new EquivocationWatch(committee, (a, b) => found.push([a.id.toString(), b.id.toString()]))
    watch.observe(conflictingBlock(b5, keys[2]!.secretKey)) // forged first copy: not remembered
    watch.observe(b5)
    watch.observe(b5)
    watch.observe(blockAt(6, b5))
    assert.equal(found.length, 0)
    watch.observe(b5other)
    assert.deepEqual(found, [[b5.id.toString(), b5other.id.toString()]])
  })
})
