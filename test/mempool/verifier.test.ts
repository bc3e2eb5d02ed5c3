import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DecodeError } from '../../src/core/codec.ts'
import { decodeTx, verifyTx } from '../../src/core/tx.ts'
import { SignatureVerifier, VerifyPriority } from '../../src/mempool/verifier.ts'
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

test('the checks of a raised priority overtake the queue, the others keep submission order', async () => {
  const single = new SignatureVerifier({ threads: 1 })
  try {
    const urgent = new VerifyPriority()
    const finished: number[] = []
    // One task per call (64 txs is the smallest task), all queued before any finishes.
    const calls = Array.from({ length: 8 }, (_, call) => {
      const txs = Array.from({ length: 64 }, (_, k) => encodedTransfer(alice, { nonce: BigInt(call * 64 + k) }))
      return single.verifyTxs(txs, call === 6 ? urgent : undefined).then((verdicts) => {
        finished.push(call)
        return verdicts
      })
    })
    urgent.raise()
    for (const verdicts of await Promise.all(calls)) assert.deepEqual(verdicts, new Array(64).fill(true))
    // Calls 0 and 1 were in the pool already (one running, one ready) when 6 was raised.
    assert.deepEqual(finished, [0, 1, 6, 2, 3, 4, 5, 7])
  } finally {
    await single.close()
  }
})

test('closing rejects the checks still queued, and later calls', async () => {
  const single = new SignatureVerifier({ threads: 1 })
  const calls = Array.from({ length: 5 }, (_, i) => single.verifyTxs([encodedTransfer(alice, { nonce: BigInt(i) })]))
  const settled = Promise.allSettled(calls)
  await single.close()
  const queued = (await settled).slice(2)
  for (const result of queued) {
    assert.equal(result.status, 'rejected')
    assert.match(String((result as PromiseRejectedResult).reason), /closed before this check ran/)
  }
  await assert.rejects(single.verifyTxs([encodedTransfer(alice)]), /signature verifier is closed/)
})

test('packing many txs into one buffer round-trips every byte and boundary', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300, size: 'max' }), { maxLength: 50, size: 'max' }), (txs) => {
      assert.deepEqual(unpackTxs(packTxs(txs)).map((t) => Array.from(t)), txs.map((t) => Array.from(t)))
    }),
  )
})
