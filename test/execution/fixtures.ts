import { deriveSeed, keyPairFromSeed, type KeyPair } from '../../src/core/keys.ts'
import { sha256 } from '../../src/core/hash.ts'
import { signTx, type Tx, type TxBody } from '../../src/core/tx.ts'

/** Deterministic test identities; genesis funds the first ones, the rest are unknown senders. */
export const keys: KeyPair[] = Array.from({ length: 10 }, (_, i) => keyPairFromSeed(deriveSeed('test/execution', i)))
export const slotKeys: Uint8Array[] = Array.from({ length: 4 }, (_, i) => sha256(new TextEncoder().encode(`test/slot/${i}`)))

export function transfer(from: number, to: number, amount: bigint, nonce: bigint, fee = 1n): Tx {
  return sign({ kind: 'transfer', from: keys[from]!.publicKey, to: keys[to]!.publicKey, amount, nonce, fee, computeUnits: 0, accessList: [], payload: new Uint8Array(0) }, from)
}

export function compute(from: number, nonce: bigint, computeUnits: number, accessList: Uint8Array[], fee = 1n): Tx {
  return sign({ kind: 'compute', from: keys[from]!.publicKey, to: keys[from]!.publicKey, amount: 0n, nonce, fee, computeUnits, accessList, payload: new Uint8Array(0) }, from)
}

export function sign(body: TxBody, signer: number): Tx {
  return signTx(body, keys[signer]!.secretKey)
}
