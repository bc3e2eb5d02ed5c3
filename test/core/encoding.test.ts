import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  DecodeError, Writer, decodeTx, decodeTxAliasing, encodeTx, encodedTxLength, txHash, txBodyHash, txBodyHashes, verifyTx, verifyEncodedTx, signTx,
  encodeBatch, decodeBatch, decodeBatchIndexed, encodeBatchIndexed, batchDigest,
  encodeBlock, decodeBlock, verifyBlock, encodeVote, decodeVote, encodeQc, decodeQc, encodeTimeout,
  decodeTimeout, encodeTc, decodeTc, signTimeout, signVote, verifyVote, sha256, toHex, fromHex,
  genesisQc, type Tx,
} from '../../src/core/index.ts'
import { GENESIS, testBlock, testCommittee, testQc, testTc, testTx } from './fixtures.ts'

const { committee, keys } = testCommittee(4)
const alice = keys[0]!
const bob = keys[1]!

const arbTx = fc.record({
  kind: fc.constantFrom('transfer' as const, 'compute' as const),
  amount: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fee: fc.bigInt({ min: 0n, max: 1000n }),
  computeUnits: fc.nat({ max: 1_000_000 }),
  accessList: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 4 }),
  payload: fc.uint8Array({ maxLength: 64 }),
}).map((b) => ({ ...testTx(alice, bob.publicKey, b.nonce, b.amount), ...b, signature: new Uint8Array(64).fill(7) }))

test('tx: encode → decode → encode is byte-identical, and encodedTxLength is the encoding\'s length', () => {
  fc.assert(fc.property(arbTx, (tx: Tx) => {
    const a = encodeTx(tx)
    const b = encodeTx(decodeTx(a))
    assert.deepEqual(b, a)
    assert.equal(encodedTxLength(tx), a.length)
  }), { numRuns: 300 })
})

test('tx: the aliasing decoder reads the same tx, its byte fields views into the input (the copying one owns its bytes)', () => {
  fc.assert(fc.property(arbTx, (tx: Tx) => {
    const a = encodeTx(tx)
    const aliased = decodeTxAliasing(a)
    const copied = decodeTx(a)
    assert.deepEqual(aliased, copied)
    for (const field of [aliased.from, aliased.to, aliased.signature, aliased.payload, ...aliased.accessList]) assert.equal(field.buffer, a.buffer)
    for (const field of [copied.from, copied.to, copied.signature, copied.payload, ...copied.accessList]) assert.notEqual(field.buffer, a.buffer)
  }), { numRuns: 100 })
})

test('tx: hash and signature check from the encoding equal txHash and verifyTx of the decoded tx, for any bytes', () => {
  // Signed txs up to the largest payload (the signing buffer grows), then any one byte flipped:
  // the encoded-bytes paths must decide exactly as decode-then-check does, or throw DecodeError.
  const signed = arbTx.chain((tx) => fc.uint8Array({ maxLength: 1024, size: 'max' }).map((payload) => signTx({ ...tx, payload }, alice.secretKey)))
  fc.assert(fc.property(signed, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (tx, at, flip, mutate) => {
    const bytes = encodeTx(tx)
    if (mutate) bytes[at % bytes.length] ^= flip
    let decoded: Tx
    try {
      decoded = decodeTx(bytes)
    } catch (err) {
      assert.ok(err instanceof DecodeError)
      assert.throws(() => verifyEncodedTx(bytes), DecodeError)
      return
    }
    assert.deepEqual(txBodyHash(bytes), txHash(decoded))
    assert.equal(verifyEncodedTx(bytes), verifyTx(decoded))
    if (!mutate) assert.equal(verifyEncodedTx(bytes), true)
  }), { numRuns: 300 })
})

test('tx: txBodyHashes is txBodyHash of each encoding, the hashes sharing one buffer', () => {
  fc.assert(fc.property(fc.array(arbTx, { maxLength: 12 }), (txs) => {
    const encoded = txs.map(encodeTx)
    const hashes = txBodyHashes(encoded)
    assert.deepEqual(hashes.map((h) => toHex(h)), encoded.map((e) => toHex(txBodyHash(e))))
    for (const h of hashes) assert.equal(h.buffer, hashes[0]!.buffer)
  }), { numRuns: 100 })
})

test('batch: the indexed decoder reads the same batch, each tx with its own encoding, all views into the input', () => {
  fc.assert(fc.property(fc.array(arbTx, { maxLength: 12 }), fc.nat({ max: 0xffff }), (txs, author) => {
    const bytes = encodeBatch({ author, seq: 3, txs })
    const { batch, txBytes } = decodeBatchIndexed(bytes)
    assert.deepEqual(batch, decodeBatch(bytes))
    assert.deepEqual(txBytes.map((b) => toHex(b)), txs.map((tx) => toHex(encodeTx(tx))))
    for (const field of [...txBytes, ...batch.txs.map((tx) => tx.signature)]) assert.equal(field.buffer, bytes.buffer)
  }), { numRuns: 100 })
})

test('batch: encoding from the txs\' own encodings is encodeBatch, and hands them back as views into it', () => {
  fc.assert(fc.property(fc.array(arbTx, { maxLength: 12 }), fc.nat({ max: 0xffff }), fc.nat(), (txs, author, seq) => {
    const batch = { author, seq, txs }
    const { encoded, txBytes, batch: same } = encodeBatchIndexed(batch, txs.map(encodeTx))
    assert.equal(toHex(encoded), toHex(encodeBatch(batch)))
    assert.equal(same, batch)
    assert.deepEqual(txBytes.map((b) => toHex(b)), txs.map((tx) => toHex(encodeTx(tx))))
    for (const view of txBytes) assert.equal(view.buffer, encoded.buffer)
  }), { numRuns: 100 })
  assert.throws(() => encodeBatchIndexed({ author: 0, seq: 0, txs: [] }, [new Uint8Array(3)]), /batch of 0 txs given 1 encodings/)
})

test('tx hash: field order of the JS object and Buffer vs Uint8Array cannot change it', () => {
  const tx = testTx(alice, bob.publicKey, 3n, 42n)
  const reordered = {
    signature: tx.signature, payload: tx.payload, accessList: tx.accessList, computeUnits: tx.computeUnits,
    fee: tx.fee, nonce: tx.nonce, amount: tx.amount, to: tx.to, from: tx.from, kind: tx.kind,
  }
  const asBuffers = { ...tx, from: Buffer.from(tx.from), to: Buffer.from(tx.to), payload: Buffer.from(tx.payload) }
  // A Uint8Array view into a larger buffer at an offset must hash like a fresh copy.
  const big = new Uint8Array(100)
  big.set(tx.from, 17)
  const asView = { ...tx, from: big.subarray(17, 49) }
  assert.deepEqual(txHash(reordered), txHash(tx))
  assert.deepEqual(txHash(asBuffers), txHash(tx))
  assert.deepEqual(txHash(asView), txHash(tx))
  assert.deepEqual(encodeTx(asBuffers), encodeTx(tx))
})

test('tx signature: valid for the sender, invalid after any change or with another key', () => {
  const tx = testTx(alice, bob.publicKey, 0n)
  assert.equal(verifyTx(tx), true)
  assert.equal(verifyTx({ ...tx, amount: tx.amount + 1n }), false)
  assert.equal(verifyTx({ ...tx, from: bob.publicKey }), false)
  const sig = new Uint8Array(tx.signature)
  sig[5] = sig[5]! ^ 1
  assert.equal(verifyTx({ ...tx, signature: sig }), false)
})

test('tx signature: non-canonical S (S + L) is rejected (no malleability)', () => {
  const tx = testTx(alice, bob.publicKey, 0n)
  const L = (1n << 252n) + 27742317777372353535851937790883648493n
  const s = tx.signature.slice(32)
  let sVal = 0n
  for (let i = 31; i >= 0; i--) sVal = (sVal << 8n) | BigInt(s[i]!)
  let malleated = sVal + L
  const sig = new Uint8Array(tx.signature)
  for (let i = 0; i < 32; i++) { sig[32 + i] = Number(malleated & 0xffn); malleated >>= 8n }
  assert.equal(verifyTx({ ...tx, signature: sig }), false)
})

test('batch and block round-trip byte-identically; digests are stable', () => {
  const txs = [testTx(alice, bob.publicKey, 0n), testTx(bob, alice.publicKey, 0n)]
  const batch = { author: 2, seq: 9, txs }
  const enc = encodeBatch(batch)
  assert.deepEqual(encodeBatch(decodeBatch(enc)), enc)
  assert.deepEqual(batchDigest(decodeBatch(enc)), batchDigest(batch))
  const block = testBlock(keys, 1, txs)
  const bEnc = encodeBlock(block)
  const decoded = decodeBlock(bEnc)
  assert.deepEqual(encodeBlock(decoded), bEnc)
  assert.deepEqual(decoded.id, block.id)
  verifyBlock(decoded, committee, GENESIS.id)
})

test('vote, QC, timeout and TC round-trip byte-identically', () => {
  const vote = signVote(GENESIS.id, 5, 2, keys[2]!.secretKey)
  assert.deepEqual(encodeVote(decodeVote(encodeVote(vote))), encodeVote(vote))
  verifyVote(decodeVote(encodeVote(vote)), committee)
  const qc = testQc(keys, GENESIS.id, 5, [0, 1, 3])
  assert.deepEqual(encodeQc(decodeQc(encodeQc(qc))), encodeQc(qc))
  const to = signTimeout(6, qc, 1, keys[1]!.secretKey)
  assert.deepEqual(encodeTimeout(decodeTimeout(encodeTimeout(to))), encodeTimeout(to))
  const tc = testTc(keys, 7, [5, 5, 4])
  assert.deepEqual(encodeTc(decodeTc(encodeTc(tc))), encodeTc(tc))
  assert.deepEqual(genesisQc(GENESIS.id).signers, [])
})

test('decoders reject truncation, trailing bytes and garbage with DecodeError only', () => {
  const enc = encodeTx(testTx(alice, bob.publicKey, 0n))
  assert.throws(() => decodeTx(enc.subarray(0, enc.length - 1)), DecodeError)
  assert.throws(() => decodeTx(new Uint8Array([...enc, 0])), /trailing/)
  const block = encodeBlock(testBlock(keys, 1))
  const decoders = [decodeTx, decodeBatch, decodeBlock, decodeVote, decodeQc, decodeTimeout, decodeTc]
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600, size: 'max' }), fc.nat({ max: block.length }), (junk, cut) => {
    for (const decode of decoders) {
      for (const input of [junk, block.subarray(0, cut), Buffer.concat([block.subarray(0, cut), junk])]) {
        try { decode(input) } catch (e) { assert.ok(e instanceof DecodeError, `${decode.name}: ${(e as Error).name}`) }
      }
    }
  }), { numRuns: 500 })
})

test('Writer grows from any initial size, an empty one included', () => {
  assert.deepEqual([...new Writer(0).u8(1).u32(2).finish()], [1, 0, 0, 0, 2])
  assert.deepEqual([...new Writer(1).fixed(new Uint8Array(40).fill(3), 40).finish()], new Array(40).fill(3))
})

test('decoders bound counts before allocating', () => {
  // A batch claiming 2^32-1 txs in a 10-byte message must fail on the count, not allocate.
  const w = new Writer().u16(0).u64(0n).u32(0xffffffff)
  assert.throws(() => decodeBatch(w.finish()), /count 4294967295 exceeds limit/)
})

test('hex helpers are strict', () => {
  assert.equal(toHex(sha256(new Uint8Array())), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  assert.throws(() => fromHex('abc'), /not a hex string/)
  assert.throws(() => fromHex('zz'), /not a hex string/)
  assert.throws(() => fromHex('aa', 2), /expected 2 bytes/)
})
