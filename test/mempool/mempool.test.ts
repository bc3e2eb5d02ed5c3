import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { batchDigest, decodeBatch, type Batch } from '../../src/core/batch.ts'
import { toHex } from '../../src/core/hash.ts'
import { encodeTx, txHash } from '../../src/core/tx.ts'
import type { StoredBatch } from '../../src/mempool/batch-store.ts'
import { Mempool, type AdmissionResult, type MempoolModules, type MempoolOptions } from '../../src/mempool/mempool.ts'
import { SignatureVerifier } from '../../src/mempool/verifier.ts'
import { VerifiedTxs } from '../../src/mempool/verified-txs.ts'
import { CountingVerifier, TestAccounts, alice, bob, carol, encodedTransfer, transfer, withBadSignature } from './fixtures.ts'

const U64_MAX = (1n << 64n) - 1n
const verifier = new SignatureVerifier({ threads: 1 })
after(() => verifier.close())


function setup(opts: Partial<MempoolOptions> = {}, modules: Partial<MempoolModules> = {}) {
  const accounts = new TestAccounts()
  accounts.set(alice.publicKey, 100n, 5n)
  accounts.set(bob.publicKey, 1_000n)
  const batches: StoredBatch[] = []
  const counting = new CountingVerifier(verifier)
  const mempool = new Mempool(
    { maxTxs: 100, batchSize: 100, maxBatchDelayMs: 60_000, author: 3, nonceWindow: 4, ...opts },
    { accounts, verifier: counting, verified: new VerifiedTxs(), onBatch: (packed) => batches.push(packed), ...modules },
  )
  return { mempool, accounts, batches, counting }
}

function rejection(r: AdmissionResult | undefined) {
  assert.ok(r !== undefined && !r.accepted, `expected a rejection, got ${JSON.stringify(r)}`)
  return r
}

test('a valid tx is admitted and counted', async (t) => {
  const { mempool } = setup()
  t.after(() => mempool.close())
  const tx = transfer(alice, { nonce: 5n, amount: 10n, fee: 1n })
  assert.deepEqual(await mempool.submit([encodeTx(tx)]), [{ hash: txHash(tx), accepted: true }])
  assert.equal(mempool.size, 1)
  assert.equal(mempool.stats().admitted, 1)
})

/** Each case: the txs to submit first (all must be admitted), then the tx that must be refused. */
const rejections: { name: string; reason: string; detail: RegExp; before?: Uint8Array[]; tx: Uint8Array; opts?: Partial<MempoolOptions>; isCommitted?: boolean }[] = [
  { name: 'undecodable bytes', reason: 'decode', detail: /decode tx/, tx: Uint8Array.of(1, 2, 3) },
  { name: 'a bad signature', reason: 'invalid signature', detail: /signature is not valid for sender/, tx: withBadSignature(encodedTransfer(alice, { nonce: 5n })) },
  { name: 'a sender without an account', reason: 'unknown sender', detail: new RegExp(`sender ${toHex(carol.publicKey)} has no account`), tx: encodedTransfer(carol) },
  { name: 'the same tx twice', reason: 'duplicate', detail: /already pending/, before: [encodedTransfer(alice, { nonce: 5n })], tx: encodedTransfer(alice, { nonce: 5n }) },
  {
    name: 'a second tx with the same sender and nonce',
    reason: 'nonce conflict',
    detail: /already uses nonce 5/,
    before: [encodedTransfer(alice, { nonce: 5n, amount: 1n })],
    tx: encodedTransfer(alice, { nonce: 5n, amount: 2n }),
  },
  { name: 'a nonce below the account nonce', reason: 'nonce too low', detail: /nonce 4 is below account nonce 5/, tx: encodedTransfer(alice, { nonce: 4n }) },
  { name: 'a nonce gap beyond the window', reason: 'nonce too high', detail: /nonce 9 is outside the window \[5, 9\)/, tx: encodedTransfer(alice, { nonce: 9n }) },
  { name: 'an amount above the balance', reason: 'insufficient balance', detail: /exceeds balance 100/, tx: encodedTransfer(alice, { nonce: 5n, amount: 100n, fee: 1n }) },
  {
    name: 'spending what pending txs already spend',
    reason: 'insufficient balance',
    detail: /pending spend 60 exceeds balance 100/,
    before: [encodedTransfer(alice, { nonce: 5n, amount: 60n })],
    tx: encodedTransfer(alice, { nonce: 6n, amount: 41n }),
  },
  { name: 'amount + fee overflowing u64', reason: 'amount overflow', detail: /exceeds u64/, tx: encodedTransfer(alice, { nonce: 5n, amount: U64_MAX, fee: 1n }) },
  { name: 'a committed tx', reason: 'already committed', detail: /already committed/, tx: encodedTransfer(alice, { nonce: 5n }), isCommitted: true },
  {
    name: 'a tx beyond maxTxs',
    reason: 'mempool full',
    detail: /limit of 2 txs/,
    opts: { maxTxs: 2 },
    before: [encodedTransfer(bob, { nonce: 0n }), encodedTransfer(bob, { nonce: 1n })],
    tx: encodedTransfer(alice, { nonce: 5n }),
  },
]

for (const c of rejections) {
  test(`rejects ${c.name} with reason '${c.reason}' and changes nothing`, async (t) => {
    const { mempool, batches } = setup({ batchSize: 1_000, ...c.opts }, c.isCommitted ? { isCommitted: (hashes) => hashes.map(() => true) } : {})
    t.after(() => mempool.close())
    for (const r of await mempool.submit(c.before ?? [])) assert.equal(r.accepted, true)
    const before = mempool.stats()
    const r = rejection((await mempool.submit([c.tx]))[0])
    assert.equal(r.reason, c.reason)
    assert.match(r.detail, c.detail)
    const afterStats = mempool.stats()
    assert.equal(afterStats.pending, before.pending)
    assert.equal(afterStats.admitted, before.admitted)
    assert.equal(afterStats.rejected[r.reason], 1)
    assert.equal(Object.values(afterStats.rejected).reduce((a, b) => a + b, 0), 1)
    assert.equal(batches.length, 0)
  })
}

test('a rejected tx does not consume the nonce or balance a valid one needs', async (t) => {
  const { mempool } = setup()
  t.after(() => mempool.close())
  const results = await mempool.submit([
    encodedTransfer(alice, { nonce: 5n, amount: 1_000n }),
    withBadSignature(encodedTransfer(alice, { nonce: 5n, amount: 1n })),
    encodedTransfer(alice, { nonce: 5n, amount: 100n }),
  ])
  assert.deepEqual(results.map((r) => r.accepted), [false, false, true])
})

test('duplicates inside one submit call are caught', async (t) => {
  const { mempool } = setup()
  t.after(() => mempool.close())
  const tx = encodedTransfer(alice, { nonce: 5n })
  const [first, second] = await mempool.submit([tx, tx])
  assert.equal(first!.accepted, true)
  assert.equal(rejection(second).reason, 'duplicate')
})

test('concurrent submits of the same tx admit it once', async (t) => {
  const { mempool } = setup()
  t.after(() => mempool.close())
  const tx = encodedTransfer(alice, { nonce: 5n })
  const [a, b] = await Promise.all([mempool.submit([tx]), mempool.submit([tx])])
  assert.deepEqual([a[0]!.accepted, b[0]!.accepted].sort(), [false, true])
  assert.equal(mempool.size, 1)
})

test('full batches are emitted at once, in admission order, with consecutive seqs', async (t) => {
  const { mempool, batches } = setup({ batchSize: 3, nonceWindow: 10 })
  t.after(() => mempool.close())
  const txs = [0n, 1n, 2n, 3n, 4n, 5n, 6n].map((nonce) => encodedTransfer(bob, { nonce, amount: 1n }))
  const accepted = await mempool.submit(txs.slice(0, 4))
  await mempool.submit(txs.slice(4, 6))
  assert.ok(accepted.every((r) => r.accepted))
  assert.equal(batches.length, 2)
  assert.deepEqual(batches.map((b) => b.batch.seq), [0, 1])
  assert.deepEqual(batches.flatMap((b) => b.batch.txs.map((tx) => tx.nonce)), [0n, 1n, 2n, 3n, 4n, 5n])
  for (const b of batches) {
    assert.equal(b.batch.author, 3)
    assert.deepEqual(decodeBatch(b.encoded), b.batch)
    assert.deepEqual(b.digest, batchDigest(b.batch))
    assert.deepEqual(b.txBytes, b.batch.txs.map(encodeTx), 'each tx with its encoding')
    assert.deepEqual(b.hashes, b.batch.txs.map(txHash), 'each tx with its hash')
  }
  assert.equal(mempool.size, 6, 'batched txs stay pending until committed')
})

test('a partial batch is emitted by the timer', async (t) => {
  let resolveBatch: (b: Batch) => void
  const emitted = new Promise<Batch>((resolve) => (resolveBatch = resolve))
  const { mempool, batches } = setup({ batchSize: 100, maxBatchDelayMs: 20 }, { onBatch: (packed) => resolveBatch(packed.batch) })
  t.after(() => mempool.close())
  await mempool.submit([encodedTransfer(bob, { nonce: 0n }), encodedTransfer(bob, { nonce: 1n })])
  // The mempool's timer is unref'd (it must not keep a node alive); this one keeps the test alive.
  let guard: NodeJS.Timeout | undefined
  const batch = await Promise.race([
    emitted,
    new Promise<never>((_, reject) => (guard = setTimeout(() => reject(new Error('no batch 10 s after a 20 ms delay')), 10_000))),
  ])
  clearTimeout(guard)
  assert.deepEqual(batch.txs.map((tx) => tx.nonce), [0n, 1n])
  assert.equal(batches.length, 0, 'the custom onBatch received it')
  assert.equal(mempool.stats().batches, 1)
})

test('close stops the batch timer', async () => {
  const { mempool, batches } = setup({ maxBatchDelayMs: 10 })
  await mempool.submit([encodedTransfer(bob, { nonce: 0n })])
  mempool.close()
  await new Promise((r) => setTimeout(r, 40))
  assert.equal(batches.length, 0)
  await assert.rejects(mempool.submit([encodedTransfer(bob, { nonce: 1n })]), /closed/)
})

test('markCommitted frees pending spend and nonces and evicts stale txs', async (t) => {
  const { mempool, accounts } = setup()
  t.after(() => mempool.close())
  const first = transfer(alice, { nonce: 5n, amount: 60n })
  await mempool.submit([encodeTx(first)])
  assert.equal(rejection((await mempool.submit([encodedTransfer(alice, { nonce: 6n, amount: 60n })]))[0]).reason, 'insufficient balance')

  assert.equal(mempool.isPending(txHash(first)), true)
  accounts.set(alice.publicKey, 40n, 6n)
  mempool.markCommitted([toHex(txHash(first))], [toHex(alice.publicKey)])
  assert.equal(mempool.size, 0)
  assert.equal(mempool.isPending(txHash(first)), false)
  const [r6, r7] = await mempool.submit([encodedTransfer(alice, { nonce: 6n, amount: 20n }), encodedTransfer(alice, { nonce: 7n, amount: 20n })])
  assert.ok(r6!.accepted && r7!.accepted, 'the freed spend and the new nonce are usable')
  assert.equal(mempool.isPending(r6!.hash!), true)

  // Alice's nonce 6 was committed through another validator's batch: the pending one is stale.
  accounts.set(alice.publicKey, 30n, 7n)
  mempool.markCommitted([], [toHex(alice.publicKey), toHex(bob.publicKey)])
  assert.equal(mempool.size, 1)
  assert.equal(mempool.stats().evicted, 1)
  assert.equal(mempool.isPending(r6!.hash!), false, 'an evicted tx is no longer pending')
  const [again] = await mempool.submit([encodedTransfer(alice, { nonce: 8n, amount: 10n })])
  assert.ok(again!.accepted, 'the evicted tx no longer counts against the balance')
})

test('a tx already verified is not sent to the verifier again', async (t) => {
  const verified = new VerifiedTxs()
  const { mempool, counting } = setup({}, { verified })
  t.after(() => mempool.close())
  const tx = transfer(bob, { nonce: 0n })
  verified.add(txHash(tx), tx.signature)
  assert.equal((await mempool.submit([encodeTx(tx), encodedTransfer(bob, { nonce: 1n })])).filter((r) => r.accepted).length, 2)
  assert.equal(counting.verifiedCount, 1)
})
