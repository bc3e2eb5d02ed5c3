import { deriveSeed, keyPairFromSeed, type KeyPair } from '../../src/core/keys.ts'
import { toHex } from '../../src/core/hash.ts'
import { encodeTx, signTx, type Tx } from '../../src/core/tx.ts'
import type { AccountView } from '../../src/mempool/mempool.ts'
import type { TxSignatureVerifier, VerifyPriority } from '../../src/mempool/verifier.ts'

export const alice = keyPairFromSeed(deriveSeed('mempool-test', 1))
export const bob = keyPairFromSeed(deriveSeed('mempool-test', 2))
/** Has no account. */
export const carol = keyPairFromSeed(deriveSeed('mempool-test', 3))

export function transfer(signer: KeyPair, fields: { amount?: bigint; nonce?: bigint; fee?: bigint; to?: Uint8Array } = {}): Tx {
  return signTx(
    {
      kind: 'transfer',
      from: signer.publicKey,
      to: fields.to ?? bob.publicKey,
      amount: fields.amount ?? 1n,
      nonce: fields.nonce ?? 0n,
      fee: fields.fee ?? 0n,
      computeUnits: 0,
      accessList: [],
      payload: new Uint8Array(0),
    },
    signer.secretKey,
  )
}

export function encodedTransfer(signer: KeyPair, fields: Parameters<typeof transfer>[1] = {}): Uint8Array {
  return encodeTx(transfer(signer, fields))
}

/** The same tx with one signature bit flipped. */
export function withBadSignature(encoded: Uint8Array): Uint8Array {
  const bad = encoded.slice()
  bad[bad.length - 1]! ^= 0x01
  return bad
}

/** Executed state the tests set directly. */
export class TestAccounts implements AccountView {
  private readonly accounts = new Map<string, { balance: bigint; nonce: bigint }>()
  set(address: Uint8Array, balance: bigint, nonce = 0n): void {
    this.accounts.set(toHex(address), { balance, nonce })
  }
  getAccount(address: Uint8Array) {
    return this.accounts.get(toHex(address))
  }
}

/** Wraps a verifier and records how many txs were sent to it. */
export class CountingVerifier implements TxSignatureVerifier {
  verifiedCount = 0
  private readonly inner: TxSignatureVerifier
  constructor(inner: TxSignatureVerifier) {
    this.inner = inner
  }
  verifyTxs(encoded: readonly Uint8Array[], priority?: VerifyPriority): Promise<boolean[]> {
    this.verifiedCount += encoded.length
    return this.inner.verifyTxs(encoded, priority)
  }
}
