import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { toHex } from '../../src/core/hash.ts'
import { encodeTx, txHash, type Tx } from '../../src/core/tx.ts'
import {
  FEE_SINK,
  MAX_COMPUTE_UNITS,
  executeSequential,
  genesisState,
  prepareBlock,
  receiptsHash,
  type ExecutionResult,
} from '../../src/execution/index.ts'
import { compute, keys, sign, slotKeys, transfer } from './fixtures.ts'

function funded(...balances: bigint[]) {
  return genesisState(balances.map((balance, i) => ({ address: keys[i]!.publicKey, balance })))
}

function reasons(result: ExecutionResult): (string | undefined)[] {
  return result.receipts.map((r) => (r.status === 'ok' ? undefined : r.reason))
}

describe('sequential executor (oracle)', () => {
  it('moves amount to the recipient, the fee to FEE_SINK, and bumps the nonce', () => {
    const state = funded(100n)
    const result = executeSequential(state, [transfer(0, 1, 30n, 0n, 2n)])
    state.apply(result)
    assert.deepEqual(state.get(keys[0]!.publicKey), { balance: 68n, nonce: 1n })
    assert.deepEqual(state.get(keys[1]!.publicKey), { balance: 30n, nonce: 0n })
    assert.deepEqual(state.get(FEE_SINK), { balance: 2n, nonce: 0n })
    assert.equal(state.totalSupply(), 100n)
  })

  it('gives failure receipts with reasons and leaves state and nonce untouched', () => {
    const state = funded(10n)
    const rootBefore = toHex(state.root())
    const result = executeSequential(state, [
      transfer(0, 1, 1n, 5n), // nonce gap
      transfer(0, 1, 10n, 0n, 1n), // needs 11, has 10
      transfer(3, 1, 1n, 0n), // unknown sender
      compute(0, 0n, MAX_COMPUTE_UNITS + 1, []),
    ])
    assert.deepEqual(reasons(result), [
      'bad nonce: expected 0, got 5',
      'insufficient balance: need 11, have 10',
      'unknown sender',
      `compute units ${MAX_COMPUTE_UNITS + 1} exceed limit ${MAX_COMPUTE_UNITS}`,
    ])
    assert.equal(result.writes.accounts.size, 0)
    assert.equal(toHex(result.root), rootBefore)
    // The nonce was not bumped by the failures: nonce 0 is still the one to use.
    assert.deepEqual(reasons(executeSequential(state, [transfer(0, 1, 1n, 0n)])), [undefined])
  })

  it('executes a duplicate once and fails the second copy', () => {
    const tx = transfer(0, 1, 5n, 0n)
    const result = executeSequential(funded(100n), [tx, tx])
    assert.deepEqual(reasons(result), [undefined, 'duplicate'])
    assert.deepEqual(result.writes.accounts.get(toHex(keys[1]!.publicKey)), { balance: 5n, nonce: 0n })
  })

  it('verifies signatures only of txs marked unverified', () => {
    const good = transfer(0, 1, 5n, 0n)
    const forged: Tx = { ...transfer(0, 2, 5n, 1n), signature: new Uint8Array(64).fill(7) }
    const trusted = executeSequential(funded(100n), [good, forged])
    assert.deepEqual(reasons(trusted), [undefined, undefined])
    const checked = executeSequential(funded(100n), [good, forged], { unverified: [true, true] })
    assert.deepEqual(reasons(checked), [undefined, 'invalid signature'])
    assert.throws(() => executeSequential(funded(100n), [good], { unverified: [] }), /unverified has 0 flags for 1 txs/)
  })

  it('uses the encodings and hashes a caller already holds, with the same results', () => {
    const txs = [transfer(0, 1, 5n, 0n), compute(1, 0n, 3, [slotKeys[0]!]), transfer(0, 1, 5n, 0n)]
    const known = { encoded: txs.map(encodeTx), hashes: txs.map(txHash) }
    const plain = executeSequential(funded(100n, 50n), txs)
    const given = executeSequential(funded(100n, 50n), txs, { known })
    assert.deepEqual(given.receipts, plain.receipts)
    assert.equal(toHex(given.root), toHex(plain.root))
    given.receipts.forEach((r, i) => assert.equal(r.txHash, known.hashes[i], `receipt ${i} carries the given hash, not a recomputed one`))
    assert.throws(() => executeSequential(funded(100n), txs, { known: { encoded: known.encoded, hashes: [] } }), /known has 3 encodings and 0 hashes for 3 txs/)
  })

  it('flags later copies of a hash as duplicates, also among hashes sharing the 31-bit lookup key', () => {
    const txs = [0n, 1n, 2n, 3n, 4n, 5n].map((nonce) => transfer(0, 1, 1n, nonce))
    const a = new Uint8Array(32).fill(1)
    const b = a.slice()
    b[31] = 2 // same first 31 bits as `a`, another hash
    const c = b.slice()
    c[30] = 3
    const hashes = [a, b, c, b.slice(), a.slice(), c.slice()]
    const { preFailed } = prepareBlock(txs, { known: { encoded: txs.map(encodeTx), hashes } })
    assert.deepEqual(preFailed, [undefined, undefined, undefined, 'duplicate', 'duplicate', 'duplicate'])
  })

  it('never lets the fee sink send, and credits transfers to it', () => {
    const fromSink: Tx = { ...transfer(0, 1, 1n, 0n), from: FEE_SINK }
    const result = executeSequential(funded(100n), [fromSink, sign({ ...transfer(0, 0, 0n, 0n), to: FEE_SINK, amount: 7n }, 0)])
    assert.deepEqual(reasons(result), ['sender is the fee sink', undefined])
    assert.deepEqual(result.writes.accounts.get(toHex(FEE_SINK)), { balance: 8n, nonce: 0n })
  })

  it('self-transfers cost only the fee', () => {
    const result = executeSequential(funded(100n), [transfer(0, 0, 40n, 0n, 3n)])
    assert.deepEqual(result.writes.accounts.get(toHex(keys[0]!.publicKey)), { balance: 97n, nonce: 1n })
  })

  it('compute txs chain their access-list slots deterministically', () => {
    const state = funded(100n)
    const txs = [compute(0, 0n, 5, [slotKeys[0]!, slotKeys[1]!]), compute(0, 1n, 0, [slotKeys[0]!])]
    const a = executeSequential(state, txs)
    const b = executeSequential(state, txs)
    assert.deepEqual(reasons(a), [undefined, undefined])
    assert.equal(a.writes.slots.size, 2)
    assert.deepEqual(a.root, b.root)
    // Reordering the same txs changes slot values (each is sha256(previous || digest)).
    const swapped = executeSequential(state, [compute(0, 0n, 0, [slotKeys[0]!]), compute(0, 1n, 5, [slotKeys[0]!, slotKeys[1]!])])
    assert.notDeepEqual(a.writes.slots.get(toHex(slotKeys[0]!)), swapped.writes.slots.get(toHex(slotKeys[0]!)))
  })

  it('receiptsHash covers status and reason', () => {
    const state = funded(100n)
    const ok = executeSequential(state, [transfer(0, 1, 5n, 0n)])
    const failed = executeSequential(state, [transfer(0, 1, 500n, 0n)])
    assert.equal(ok.receipts[0]!.txHash.length, 32)
    assert.notDeepEqual(receiptsHash(ok.receipts), receiptsHash(failed.receipts))
    assert.notDeepEqual(receiptsHash(failed.receipts), receiptsHash([{ ...failed.receipts[0]!, reason: 'other' }]))
  })
})
