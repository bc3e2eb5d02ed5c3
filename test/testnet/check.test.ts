import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { TxStatus } from '../../src/node/http.ts'
import { parseGenesis } from '../../src/node/config.ts'
import type { BlockView, NodeView, ReceiptView, SignedStatement } from '../../src/testnet/check-sources.ts'
import { checkAcknowledgedTxs, checkChainAgreement, checkDoubleSigning, checkState } from '../../src/testnet/check.ts'

/**
 * The checks over hand-built node views: each one passes on a consistent run and names the
 * height, node, expected and actual value of an injected violation (negative controls for the
 * crash sweep, which can only show that a correct run passes).
 */

/** A 32-byte value in hex, like block ids, tx hashes and addresses. */
const hex = (n: number): string => n.toString(16).padStart(64, '0')
const ALICE = hex(0xa)
const BOB = hex(0xb)
const ROOT = hex(0x100)

function block(height: number, receipts: ReceiptView[] = [], id = hex(height + 1)): BlockView {
  return { height, id, round: height, executedRoot: ROOT, executedHeight: Math.max(0, height - 2), txHashes: receipts.map((r) => r.txHash), receipts }
}

function view(index: number, blocks: BlockView[], accounts: [string, bigint, bigint][], overrides: Partial<NodeView> = {}): NodeView {
  const firstInclusion = new Map<string, TxStatus>()
  for (const b of blocks) {
    for (const r of b.receipts ?? []) {
      if (!firstInclusion.has(r.txHash)) firstInclusion.set(r.txHash, r.status === 'ok' ? { status: 'committed', height: b.height } : { status: 'failed', height: b.height, reason: r.reason ?? '' })
    }
  }
  return {
    index,
    source: `node-${index}`,
    blocks,
    stateRoot: ROOT,
    rootClaims: [],
    accounts: new Map(accounts.map(([a, balance, nonce]) => [a, { balance, nonce }])),
    completeState: true,
    txStatus: async (h) => firstInclusion.get(h) ?? { status: 'unknown' },
    certified: [],
    ...overrides,
  }
}

const TX1 = hex(0x1001)
const TX2 = hex(0x1002)
const ok = (txHash: string, sender = ALICE): ReceiptView => ({ txHash, status: 'ok', sender })
const chain = (): BlockView[] => [block(0), block(1, [ok(TX1)]), block(2, [ok(TX2)]), block(3)]
const genesis = parseGenesis({
  chainId: 'check-test',
  validators: [{ index: 0, publicKey: hex(1), peerId: 'p', p2p: '/ip4/127.0.0.1/tcp/1', http: 'http://127.0.0.1:2' }],
  accounts: [
    { address: ALICE, balance: '100' },
    { address: BOB, balance: '100' },
  ],
})
/** Two transfers of 10 from Alice to Bob. */
const STATE: [string, bigint, bigint][] = [
  [ALICE, 80n, 2n],
  [BOB, 120n, 0n],
]

describe('chain agreement', () => {
  it('passes when every chain is a prefix of the longest', () => {
    const r = checkChainAgreement([view(0, chain(), STATE), view(1, chain().slice(0, 3), STATE)])
    assert.equal(r.status, 'pass', r.violations.join('\n'))
  })

  it('names the height and both block ids of a fork', () => {
    const forked = chain()
    forked[2] = block(2, [ok(TX2)], hex(0xbad))
    const r = checkChainAgreement([view(0, chain(), STATE), view(1, forked, STATE)])
    assert.equal(r.status, 'fail')
    assert.equal(r.violations.length, 1)
    assert.match(r.violations[0]!, new RegExp(`height 2: node 1 committed block ${hex(0xbad)} .*node 0 committed ${hex(3)}`))
  })

  it('compares a node’s state root with what blocks state for its tip height', () => {
    const claim = { executedHeight: 3, executedRoot: hex(0x999), blockId: hex(0x77), height: 5 }
    const r = checkChainAgreement([view(0, chain(), STATE), view(1, chain(), STATE, { rootClaims: [claim] })])
    assert.equal(r.status, 'fail')
    assert.match(r.violations[0]!, new RegExp(`state root after height 3: node 0 holds ${ROOT}, block ${hex(0x77)} at height 5 \\(stored by node 1\\) states ${hex(0x999)}`))
  })
})

describe('acknowledged txs', () => {
  it('passes when every ack committed once and indexes agree', async () => {
    const r = await checkAcknowledgedTxs([view(0, chain(), STATE)], [TX1, TX2])
    assert.equal(r.status, 'pass', r.violations.join('\n'))
  })

  it('reports an acknowledged tx in no block as lost', async () => {
    const lost = hex(0x1003)
    const r = await checkAcknowledgedTxs([view(0, chain(), STATE)], [TX1, lost])
    assert.equal(r.status, 'fail')
    assert.deepEqual(r.violations, [`tx ${lost}: acknowledged by the API but in no committed block (node 0, heights 0..3): lost`])
  })

  it('reports a tx executed twice, a failure without reason and a wrong index entry', async () => {
    const blocks = [block(0), block(1, [ok(TX1)]), block(2, [ok(TX1), { txHash: TX2, status: 'failed' }])]
    const v = view(0, blocks, STATE, { txStatus: async () => ({ status: 'committed', height: 2 }) })
    const r = await checkAcknowledgedTxs([v], [TX1])
    assert.equal(r.status, 'fail')
    assert.ok(r.violations.includes(`tx ${TX1}: executed 2 times on node 0, at heights 1 (ok), 2 (ok)`), r.violations.join('\n'))
    assert.ok(r.violations.includes(`tx ${TX2}: failed at height 2 on node 0 without a reason`), r.violations.join('\n'))
    assert.ok(r.violations.includes(`tx ${TX1}: node 0's tx index says committed at height 2, its blocks say committed at height 1`), r.violations.join('\n'))
  })
})

describe('tx index', () => {
  it('expects the inclusion that took effect over an earlier failure of the same tx', async () => {
    const blocks = [block(0), block(1, [{ txHash: TX1, status: 'failed', reason: 'insufficient balance' }]), block(2, [ok(TX1)])]
    const atEffect = view(0, blocks, STATE, { txStatus: async () => ({ status: 'committed', height: 2 }) })
    assert.equal((await checkAcknowledgedTxs([atEffect], [TX1])).status, 'pass')
    const atFailure = view(0, blocks, STATE, { txStatus: async () => ({ status: 'failed', height: 1, reason: 'insufficient balance' }) })
    const r = await checkAcknowledgedTxs([atFailure], [TX1])
    assert.deepEqual(r.violations, [`tx ${TX1}: node 0's tx index says failed at height 1, its blocks say committed at height 2`])
  })
})

describe('state', () => {
  it('passes with conserved supply and nonces matching successful txs', () => {
    const r = checkState([view(0, chain(), STATE)], genesis)
    assert.equal(r.status, 'pass', r.violations.join('\n'))
  })

  it('reports minted supply and a nonce that disagrees with the committed txs', () => {
    const r = checkState([view(0, chain(), [[ALICE, 81n, 3n], [BOB, 120n, 0n]])], genesis)
    assert.equal(r.status, 'fail')
    assert.deepEqual(r.violations, [
      `total supply on node 0 at height 3: expected 200 (genesis), got 201`,
      `account ${ALICE} on node 0 at height 3: nonce 3, but it sent 2 successful txs`,
    ])
  })

  it('live views (genesis accounts only) check an upper bound and negative balances', () => {
    const r = checkState([view(0, chain(), [[ALICE, -1n, 0n], [BOB, 120n, 0n]], { completeState: false })], genesis)
    assert.deepEqual(r.violations, [`account ${ALICE} on node 0: negative balance -1`])
  })
})

describe('double signing', () => {
  const vote = (signer: number, round: number, blockId: string, where: string): SignedStatement => ({ kind: 'vote', signer, round, statement: blockId, where })

  it('the same vote seen in many places is one statement', () => {
    const r = checkDoubleSigning([vote(1, 5, hex(7), 'node 0 commit proof'), vote(1, 5, hex(7), 'node-1.log:10')])
    assert.equal(r.status, 'pass')
  })

  it('two blocks voted by one validator in one round are reported with both sources', () => {
    const r = checkDoubleSigning([vote(1, 5, hex(7), 'node 0 commit proof of height 3'), vote(1, 5, hex(8), 'node-1.log:42'), vote(2, 5, hex(8), 'x')])
    assert.equal(r.status, 'fail')
    assert.deepEqual(r.violations, [`validator 1 signed two votes for blocks in round 5: ${hex(7)} (node 0 commit proof of height 3) vs ${hex(8)} (node-1.log:42)`])
  })

  it('timeouts conflict on their high-QC round; a vote and a timeout in one round do not conflict', () => {
    const timeout = (hq: string, where: string): SignedStatement => ({ kind: 'timeout', signer: 2, round: 9, statement: hq, where })
    assert.equal(checkDoubleSigning([vote(2, 9, hex(1), 'a'), timeout('7', 'b')]).status, 'pass')
    const r = checkDoubleSigning([timeout('7', 'node 0 recovery last TC'), timeout('8', 'node-2.log:3')])
    assert.match(r.violations[0]!, /validator 2 signed two timeouts with high-QC rounds in round 9: 7 .* vs 8/)
  })

  it('a validator configured as byzantine is not held to the rule; nothing to scan is skipped, not passed', () => {
    assert.equal(checkDoubleSigning([vote(1, 5, hex(7), 'a'), vote(1, 5, hex(8), 'b')], new Set([1])).status, 'pass')
    assert.equal(checkDoubleSigning([]).status, 'skipped')
  })
})
