import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { toHex } from '../../src/core/hash.ts'
import { deriveSeed, keyPairFromSeed } from '../../src/core/keys.ts'
import { encodeTx, signTx, verifyTx, type Tx } from '../../src/core/tx.ts'
import { TxJsonError, txFromJson, txToJson } from '../../src/node/tx-json.ts'

const alice = keyPairFromSeed(deriveSeed('tx-json', 0))
const bob = keyPairFromSeed(deriveSeed('tx-json', 1))

function transfer(amount: bigint, nonce = 0n): Tx {
  return signTx(
    { kind: 'transfer', from: alice.publicKey, to: bob.publicKey, amount, nonce, fee: 1n, computeUnits: 0, accessList: [], payload: new Uint8Array() },
    alice.secretKey,
  )
}

function fails(json: unknown, pattern: RegExp): void {
  assert.throws(() => txFromJson(json), (err: unknown) => {
    assert.ok(err instanceof TxJsonError, `expected TxJsonError, got ${err}`)
    assert.match(err.message, pattern)
    return true
  })
}

describe('tx JSON conversion', () => {
  it('round-trips transfers and compute txs to identical canonical bytes', () => {
    const compute = signTx(
      { kind: 'compute', from: alice.publicKey, to: bob.publicKey, amount: (1n << 64n) - 1n, nonce: 7n, fee: 0n, computeUnits: 250, accessList: [new Uint8Array(32).fill(9)], payload: new Uint8Array([1, 2]) },
      alice.secretKey,
    )
    for (const tx of [transfer(5n), compute]) {
      const back = txFromJson(JSON.parse(JSON.stringify(txToJson(tx))))
      assert.deepEqual(encodeTx(back), encodeTx(tx))
      assert.ok(verifyTx(back))
    }
  })

  it('accepts safe integers as JSON numbers and defaults optional fields', () => {
    const json: Record<string, unknown> = { ...txToJson(transfer(5n)), amount: 5, nonce: 0, fee: 1 }
    assert.deepEqual(encodeTx(txFromJson(json)), encodeTx(transfer(5n)))
    const { fee: _fee, ...noFee } = txToJson(transfer(5n))
    assert.equal(txFromJson(noFee).fee, 0n)
  })

  it('rejects negative, non-integer and out-of-range amounts precisely', () => {
    const json = txToJson(transfer(5n))
    fails({ ...json, amount: '-5' }, /^amount: must not be negative, got "-5"$/)
    fails({ ...json, amount: -5 }, /^amount: must not be negative, got -5$/)
    fails({ ...json, amount: '1.5' }, /^amount: must be an integer, got "1.5"$/)
    fails({ ...json, amount: 1.5 }, /^amount: must be an integer, got 1.5$/)
    fails({ ...json, nonce: (1n << 64n).toString() }, /^nonce: 18446744073709551616 exceeds the u64 maximum/)
    fails({ ...json, amount: 2 ** 60 }, /^amount: .* above 2\^53-1/)
    fails({ ...json, fee: '0x10' }, /^fee: expected a decimal integer string/)
    fails({ ...json, amount: '007' }, /^amount: expected a decimal integer string without sign or leading zeros/)
    fails({ ...json, amount: null }, /^amount: expected a decimal string, got null/)
  })

  it('rejects bad hex and wrong lengths naming the field', () => {
    const json = txToJson(transfer(5n))
    fails({ ...json, from: 'xyz' }, /^from: not a hex string/)
    fails({ ...json, to: toHex(new Uint8Array(31)) }, /^to: expected 32 bytes of hex, got 31/)
    fails({ ...json, signature: json.signature.slice(2) }, /^signature: expected 64 bytes of hex, got 63/)
    fails({ ...json, accessList: ['00'] }, /^accessList\[0\]: expected 32 bytes/)
    fails({ ...json, accessList: Array(17).fill(toHex(new Uint8Array(32))) }, /^accessList: 17 keys exceeds the limit of 16/)
    fails({ ...json, payload: 'aa'.repeat(1025) }, /^payload: 1025 bytes exceeds the limit of 1024/)
  })

  it('rejects non-objects, unknown kinds, unknown fields and bad compute units', () => {
    const json = txToJson(transfer(5n))
    fails([json], /^\(body\): expected a JSON object/)
    fails('tx', /^\(body\): expected a JSON object/)
    fails({ ...json, kind: 'mint' }, /^kind: expected one of transfer, compute, got "mint"/)
    fails({ ...json, amout: '1' }, /^amout: unknown field$/)
    fails({ ...json, computeUnits: -1 }, /^computeUnits: expected an integer in 0\.\.4294967295, got -1/)
  })
})
