import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deriveSeed, keyPairFromSeed } from '../../src/core/keys.ts'
import { decodeTx, verifyTx } from '../../src/core/tx.ts'
import { presignTransfers, type LoadAccount } from '../../src/testnet/presign.ts'

const accounts: LoadAccount[] = Array.from({ length: 3 }, (_, i) => ({ ...keyPairFromSeed(deriveSeed('presign-test', i)), nextNonce: 5n }))

test('a compute schedule signs valid compute txs with the requested weight and the transfer pattern', async () => {
  const txs = await presignTransfers(accounts, 7, { kind: 'compute', computeUnits: 250, workers: 2 })
  assert.equal(txs.encoded.length, 7)
  txs.encoded.forEach((bytes, j) => {
    const tx = decodeTx(bytes)
    assert.equal(tx.kind, 'compute')
    assert.equal(tx.computeUnits, 250)
    assert.deepEqual(tx.accessList, [])
    assert.deepEqual(tx.from, accounts[j % 3]!.publicKey)
    assert.deepEqual(tx.to, accounts[(j + 1) % 3]!.publicKey)
    assert.equal(tx.nonce, 5n + BigInt(Math.floor(j / 3)))
    assert.ok(verifyTx(tx), `tx ${j} signature`)
  })
})

test('transfers stay the default and carry no CPU weight', async () => {
  const tx = decodeTx((await presignTransfers(accounts, 1)).encoded[0]!)
  assert.equal(tx.kind, 'transfer')
  assert.equal(tx.computeUnits, 0)
  await assert.rejects(presignTransfers(accounts, 1, { computeUnits: 10 }), /only compute txs carry a CPU weight/)
  await assert.rejects(presignTransfers(accounts, 1, { kind: 'compute', computeUnits: -1 }), /u32/)
})
