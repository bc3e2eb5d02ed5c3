import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { batchDigest, encodeBatch, encodeBatchIndexed, type Batch } from '../../src/core/batch.ts'
import { decodeTx, encodeTx, txHash } from '../../src/core/tx.ts'
import { toHex } from '../../src/core/hash.ts'
import { BatchRejectedError, BatchStore, MissingBatchError } from '../../src/mempool/batch-store.ts'
import { SignatureVerifier, type TxSignatureVerifier, type VerifyPriority } from '../../src/mempool/verifier.ts'
import { VerifiedTxs } from '../../src/mempool/verified-txs.ts'
import { NodeStore } from '../../src/storage/node-store.ts'
import { CountingVerifier, alice, bob, encodedTransfer, transfer, withBadSignature } from './fixtures.ts'

const verifier = new SignatureVerifier({ threads: 1 })
after(() => verifier.close())

async function setup(t: { after: (fn: () => Promise<void> | void) => void }, maxCachedBatches?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bftlab-batches-'))
  const store = await NodeStore.open(dir)
  const counting = new CountingVerifier(verifier)
  const verified = new VerifiedTxs()
  const batches = new BatchStore({ ...(maxCachedBatches ? { maxCachedBatches } : {}) }, { store: store.batches, verifier: counting, verified })
  t.after(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { store, batches, counting, verified }
}

function batchOf(seq: number, nonces: bigint[]): Batch {
  return { author: 2, seq, txs: nonces.map((nonce) => transfer(alice, { nonce })) }
}

test('a valid batch from a peer is stored, found by digest and survives a cold cache', async (t) => {
  const { store, batches } = await setup(t)
  const b = batchOf(0, [1n, 2n, 3n])
  const stored = await batches.put(encodeBatch(b), 'peer-A')
  assert.deepEqual(stored.digest, batchDigest(b))
  assert.equal(await batches.has(stored.digest), true)
  assert.deepEqual((await batches.get(stored.digest))?.batch, b)

  const cold = new BatchStore({}, { store: store.batches, verifier, verified: new VerifiedTxs() })
  assert.deepEqual((await cold.get(stored.digest))?.batch, b, 'read back from disk')
})

test('a batch with one bad signature is rejected naming the tx, and nothing is stored', async (t) => {
  const { store, batches } = await setup(t)
  const good = batchOf(4, [1n, 2n, 3n])
  const bad: Batch = { ...good, txs: good.txs.map((tx, i) => (i === 1 ? decodeTx(withBadSignature(encodedTransfer(alice, { nonce: 2n }))) : tx)) }
  const digest = batchDigest(bad)
  await assert.rejects(batches.put(encodeBatch(bad), 'peer-B'), (err: unknown) => {
    assert.ok(err instanceof BatchRejectedError)
    assert.match(err.message, new RegExp(`batch ${toHex(digest)} \\(author 2, seq 4\\) from peer peer-B: tx 1 \\(${toHex(txHash(bad.txs[1]!))}\\) has an invalid signature`))
    return true
  })
  assert.equal(await batches.has(digest), false)
  assert.equal(await store.batches.get(digest), undefined)
})

test('undecodable batch bytes are rejected with the decode error', async (t) => {
  const { batches } = await setup(t)
  await assert.rejects(batches.put(Uint8Array.of(0, 1, 0), 'peer-C'), /batch from peer peer-C does not decode: decode batch/)
})

test('each tx signature is verified once across batches and local admission', async (t) => {
  const { batches, counting, verified } = await setup(t)
  const local = transfer(bob, { nonce: 0n })
  verified.add(txHash(local), local.signature) // as the mempool does on admission
  const first: Batch = { author: 1, seq: 0, txs: [local, transfer(alice, { nonce: 1n })] }
  await batches.put(encodeBatch(first), 'peer-A')
  assert.equal(counting.verifiedCount, 1)
  const second: Batch = { author: 3, seq: 9, txs: [transfer(alice, { nonce: 1n }), transfer(alice, { nonce: 2n })] }
  await batches.put(encodeBatch(second), 'peer-D')
  assert.equal(counting.verifiedCount, 2, 'only the new tx of the second batch was verified')
  await batches.put(encodeBatch(second), 'peer-E')
  assert.equal(counting.verifiedCount, 2, 'a batch already held is not verified again')
})

test('a known body with different signature bytes is verified, not trusted', async (t) => {
  const { batches, verified } = await setup(t)
  const tx = transfer(alice, { nonce: 1n })
  verified.add(txHash(tx), tx.signature)
  const forged = decodeTx(withBadSignature(encodedTransfer(alice, { nonce: 1n })))
  await assert.rejects(batches.put(encodeBatch({ author: 0, seq: 0, txs: [forged] }), 'peer-F'), /invalid signature/)
})

test('a batch this node packed is stored as given, its txs only looked up in the verified cache', async (t) => {
  const { store, batches, counting, verified } = await setup(t)
  const b = batchOf(7, [1n, 2n])
  for (const tx of b.txs) verified.add(txHash(tx), tx.signature) // as admission does
  const packed = { ...encodeBatchIndexed(b, b.txs.map(encodeTx)), digest: batchDigest(b), hashes: b.txs.map(txHash) }
  assert.equal(await batches.putPacked(packed), packed)
  assert.equal(counting.verifiedCount, 0)
  assert.equal(await batches.putPacked(packed), packed, 'held: not stored again')
  assert.equal(await batches.put(packed.encoded, 'peer-A'), packed, 'a gossip copy finds it held')
  const cold = new BatchStore({}, { store: store.batches, verifier, verified: new VerifiedTxs() })
  assert.deepEqual((await cold.get(packed.digest))?.batch, b, 'on disk')
})

/** Holds every check until released, recording the priority each came with. */
class GatedVerifier implements TxSignatureVerifier {
  readonly priorities: (VerifyPriority | undefined)[] = []
  private open = (): void => {}
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve))
  async verifyTxs(encoded: readonly Uint8Array[], priority?: VerifyPriority): Promise<boolean[]> {
    this.priorities.push(priority)
    await this.gate
    return verifier.verifyTxs(encoded)
  }
  release(): void {
    this.open()
  }
}

test('missing waits for the puts in progress and raises their checks instead of reporting them missing', async (t) => {
  const { store } = await setup(t)
  const gated = new GatedVerifier()
  const batches = new BatchStore({}, { store: store.batches, verifier: gated, verified: new VerifiedTxs() })
  const good = batchOf(5, [1n, 2n])
  const forged: Batch = { ...good, seq: 6, txs: [decodeTx(withBadSignature(encodedTransfer(alice, { nonce: 3n })))] }
  const absent = batchDigest(batchOf(7, [4n]))
  const puts = [batches.put(encodeBatch(good), 'peer-A'), batches.put(encodeBatch(forged), 'peer-B')]
  assert.equal(gated.priorities.length, 2, 'both batches are in signature checks')
  assert.ok(gated.priorities.every((p) => p !== undefined && !p.raised), 'queued at normal priority')

  let answered = false
  const missing = batches.missing([batchDigest(good), batchDigest(forged), absent]).finally(() => (answered = true))
  assert.ok(gated.priorities.every((p) => p!.raised), 'a lookup raises the checks it waits for')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(answered, false, 'no answer while the checks run')

  gated.release()
  assert.deepEqual(await missing, [batchDigest(forged), absent], 'held once checked; a rejected put is missing')
  await puts[0]
  await assert.rejects(puts[1]!, BatchRejectedError)
})

test('missing, txsOf and prune', async (t) => {
  const { batches } = await setup(t, 2)
  const [a, b, c] = [batchOf(0, [1n]), batchOf(1, [2n, 3n]), batchOf(2, [4n])]
  for (const x of [a, b, c]) await batches.put(encodeBatch(x))
  assert.equal(batches.cachedCount, 2, 'the memory cache is bounded')
  const absent = batchDigest(batchOf(3, [5n]))
  assert.deepEqual(await batches.missing([batchDigest(a), absent, batchDigest(c)]), [absent])
  // `a` was evicted from memory: its txs come from disk, the others' from the cache.
  const block = await batches.txsOf([batchDigest(c), batchDigest(a), batchDigest(b)])
  assert.deepEqual(block.txs.map((tx) => tx.nonce), [4n, 1n, 2n, 3n])
  assert.deepEqual(block.encoded.map((bytes) => toHex(bytes)), block.txs.map((tx) => toHex(encodeTx(tx))), 'each tx with its canonical encoding')
  assert.deepEqual(block.hashes.map((hash) => toHex(hash)), block.txs.map((tx) => toHex(txHash(tx))), 'each tx with its hash')
  await assert.rejects(batches.txsOf([batchDigest(a), absent]), (err: unknown) => err instanceof MissingBatchError && toHex(err.digest) === toHex(absent))
  batches.prune([batchDigest(a), batchDigest(b), batchDigest(c)])
  assert.equal(batches.cachedCount, 0)
  assert.equal(await batches.has(batchDigest(b)), true, 'pruned from memory, still on disk')
})
