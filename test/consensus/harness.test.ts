import assert from 'node:assert/strict'
import { test } from 'node:test'
import { toHex } from '../../src/core/hash.ts'
import type { ConsensusAction } from '../../src/consensus/types.ts'
import { newCore } from './fixtures.ts'
import { Harness } from './harness.ts'

function chainIds(h: Harness, node: number): string[] {
  return h.committed[node]!.map((b) => toHex(b.id))
}

/** Every validator's committed sequence is a prefix of the longest one (no forks, no reordering). */
function assertSameChain(h: Harness): void {
  const longest = [0, 1, 2, 3].map((i) => chainIds(h, i)).reduce((a, b) => (b.length > a.length ? b : a))
  for (let i = 0; i < 4; i++) assert.deepEqual(chainIds(h, i), longest.slice(0, h.committed[i]!.length), `validator ${i} diverged`)
}

function count(actions: readonly ConsensusAction[], pred: (a: ConsensusAction) => boolean): number {
  return actions.filter(pred).length
}

test('four honest validators: rounds progress and everyone commits the same chain', () => {
  const h = new Harness()
  h.start()
  h.runUntilHeight(10)
  assertSameChain(h)
  for (let i = 0; i < 4; i++) {
    const heights = h.committed[i]!.map((b) => b.height)
    assert.deepEqual(heights, Array.from({ length: heights.length }, (_, k) => k + 1), `validator ${i} commits heights in order`)
    assert.equal(count(h.actions[i]!, (a) => a.type === 'roundChanged' && a.reason === 'tc'), 0, 'no timeouts without faults')
    assert.equal(count(h.actions[i]!, (a) => a.type === 'evidence'), 0)
  }
  assert.ok(h.cores[0]!.round >= 11)
})

test('a silent leader causes timeouts, a TC, and progress resumes', () => {
  const h = new Harness()
  h.start()
  h.runUntilHeight(3)
  h.silence(1)
  const silencedAtRound = Math.max(...h.cores.map((c) => c.round))
  const before = h.cores[0]!.committedHeight
  h.runUntilHeight(before + 8)
  assertSameChain(h)
  for (const i of [0, 2, 3]) {
    assert.ok(count(h.actions[i]!, (a) => a.type === 'roundChanged' && a.reason === 'tc') > 0, `validator ${i} advanced by TC`)
  }
  const ledBySilent = h.committed[0]!.filter((b) => b.round > silencedAtRound && b.author === 1)
  assert.deepEqual(ledBySilent, [], 'the silent validator proposed nothing after it went silent')
})

test('a restarted core refuses to vote again in a round it already voted in', () => {
  const h = new Harness()
  h.start()
  h.runUntilHeight(3)
  const node = 2
  const safety = h.persisted[node]!
  const chain = [...h.proposals.values()].sort((a, b) => a.round - b.round)
  const proposal = chain.find((b) => b.round === safety.highestVotedRound)
  assert.ok(proposal, `the proposal of round ${safety.highestVotedRound} was broadcast`)

  const voted = (actions: readonly ConsensusAction[]) =>
    actions.some((a) => a.type === 'persistSafety' && a.then.some((s) => s.type === 'send' && s.message.type === 'vote'))
  /** Syncs the ancestors, delivers the proposal, answers payload requests at once. */
  const deliver = (core: ReturnType<typeof newCore>) => {
    for (const block of chain.filter((b) => b.round < proposal.round)) core.handle({ type: 'blockFetched', block })
    const out = core.handle({ type: 'message', from: proposal.author, message: { type: 'proposal', block: proposal } })
    for (const a of [...out]) if (a.type === 'fetchPayload') out.push(...core.handle({ type: 'payloadAvailable', blockId: a.block.id }))
    return out
  }

  // Control: without safety data the same proposal gets a vote, so the refusal below is the rule at work.
  assert.ok(voted(deliver(newCore(node))))
  const restarted = newCore(node, { safety })
  const actions = deliver(restarted)
  assert.equal(restarted.round, proposal.round)
  assert.equal(voted(actions), false)
  assert.equal(restarted.safety.highestVotedRound, safety.highestVotedRound)
})

test('after every validator crashes at once, the chain resumes from the persisted safety and recovery state', () => {
  const h = new Harness()
  h.start()
  h.runUntilHeight(4)
  // Messages in flight (this round's votes) are lost with the crash.
  const before = Math.max(...h.cores.map((c) => c.committedHeight))
  h.restartAll()
  h.runUntilHeight(before + 4)
  const chains = h.committed.map((blocks) => blocks.map((b) => toHex(b.id)))
  const shortest = Math.min(...chains.map((c) => c.length))
  for (const c of chains) assert.deepEqual(c.slice(0, shortest), chains[0]!.slice(0, shortest))
})

test('control: restarted from safety data alone (no recovery state), the validators cannot time out and stall', () => {
  const h = new Harness()
  h.start()
  h.runUntilHeight(4)
  const before = Math.max(...h.cores.map((c) => c.committedHeight))
  h.restartAll({ withRecovery: false })
  assert.throws(() => h.runUntilHeight(before + 4), /not reached/)
})
