import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DecodeError } from '../../src/core/codec.ts'
import { decodeTx, verifyTx } from '../../src/core/tx.ts'
import { SignatureVerifier } from '../../src/mempool/verifier.ts'
import { packTxs, unpackTxs } from '../../src/mempool/tx-pack.ts'
import { alice, bob, encodedTransfer, withBadSignature } from './fixtures.ts'

const verifier = new SignatureVerifier({ threads: 2 })
after(() => verifier.close())

function mainThreadVerdict(bytes: Uint8Array): boolean {
  try {
    return verifyTx(decodeTx(bytes))
  } catch (err) {
    if (err instanceof DecodeError) return false
    throw err
  }
}

test('the pool agrees with verifyTx on valid, forged, tampered and garbage inputs', async () => {
  const valid = encodedTransfer(alice, { amount: 5n, nonce: 1n })
  const signedByOther = (() => {
    const forged = encodedTransfer(bob, { amount: 5n, nonce: 1n })
    forged.set(alice.publicKey, 1) // claims to be from alice, signed by bob
    return forged
  })()
  const tamperedAmount = valid.slice()
  tamperedAmount[1 + 32 + 32 + 7]! ^= 0x01
  const kinds = [
    valid,
    withBadSignature(valid),
    signedByOther,
    tamperedAmount,
    new Uint8Array(0),
    Uint8Array.of(9, 9, 9),
    valid.subarray(0, valid.length - 1),
    Uint8Array.from([...valid, 0]),
  ]
  // 400 inputs: more than one task per thread, so the split and reassembly order are exercised.
  const inputs = Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? encodedTransfer(alice, { nonce: BigInt(i) }) : kinds[i % kinds.length]!))
  const expected = inputs.map(mainThreadVerdict)
  assert.ok(expected.includes(true) && expected.includes(false))
  assert.deepEqual(await verifier.verifyTxs(inputs), expected)
})

test('an empty call returns no verdicts', async () => {
  assert.deepEqual(await verifier.verifyTxs([]), [])
})

test('packing many txs into one buffer round-trips every byte and boundary', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300, size: 'max' }), { maxLength: 50, size: 'max' }), (txs) => {
      assert.deepEqual(unpackTxs(packTxs(txs)).map((t) => Array.from(t)), txs.map((t) => Array.from(t)))
    }),
  )
})
