import { deriveSeed, keyPairFromSeed } from '../core/keys.ts'
import { encodeTx, signTx } from '../core/tx.ts'
import { SignatureVerifier } from './verifier.ts'

export interface VerifyThroughput {
  readonly threads: number
  readonly txs: number
  readonly seconds: number
  readonly verifiesPerSecond: number
}

/**
 * Verifies/s through a SignatureVerifier pool of `threads` workers: the machine's signature
 * verification bound that results are normalized by (docs/design.md §11 "verify bound"). Txs are signed
 * by distinct keys (as real load is) and submitted as many batch-sized calls at once, the way
 * the mempool and batch store use the pool. A warm-up call starts the workers and loads the code
 * before the clock runs.
 */
export async function measureVerifyThroughput(opts: { threads: number; txs: number; callSize?: number }): Promise<VerifyThroughput> {
  const callSize = opts.callSize ?? 500
  const signers = Array.from({ length: 64 }, (_, i) => keyPairFromSeed(deriveSeed('verify-bench', i)))
  const encoded = Array.from({ length: opts.txs }, (_, i) => {
    const signer = signers[i % signers.length]!
    const body = {
      kind: 'transfer' as const,
      from: signer.publicKey,
      to: signers[(i + 1) % signers.length]!.publicKey,
      amount: BigInt(i + 1),
      nonce: BigInt(i),
      fee: 1n,
      computeUnits: 0,
      accessList: [],
      payload: new Uint8Array(0),
    }
    return encodeTx(signTx(body, signer.secretKey))
  })
  const verifier = new SignatureVerifier({ threads: opts.threads })
  try {
    await verifier.verifyTxs(encoded.slice(0, Math.min(encoded.length, opts.threads * 128)))
    const calls: Promise<boolean[]>[] = []
    const start = process.hrtime.bigint()
    for (let i = 0; i < encoded.length; i += callSize) calls.push(verifier.verifyTxs(encoded.slice(i, i + callSize)))
    const verdicts = (await Promise.all(calls)).flat()
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    if (verdicts.length !== encoded.length || verdicts.includes(false)) throw new Error('verify throughput: a correctly signed tx failed verification')
    return { threads: opts.threads, txs: opts.txs, seconds, verifiesPerSecond: opts.txs / seconds }
  } finally {
    await verifier.close()
  }
}
