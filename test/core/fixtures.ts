import {
  Committee, deriveSeed, keyPairFromSeed, signTx, genesisBlock, signBlock, signVote, signTimeout, genesisQc,
  type KeyPair, type Tx, type Block, type QuorumCert, type TimeoutCert,
} from '../../src/core/index.ts'

/** A deterministic committee of n validators and their keys, for tests. */
export function testCommittee(n: number): { committee: Committee; keys: KeyPair[] } {
  const keys = Array.from({ length: n }, (_, i) => keyPairFromSeed(deriveSeed('test-validator', i)))
  return { committee: new Committee(keys.map((k) => k.publicKey)), keys }
}

export function testTx(sender: KeyPair, to: Uint8Array, nonce: bigint, amount = 10n): Tx {
  return signTx(
    { kind: 'transfer', from: sender.publicKey, to, amount, nonce, fee: 1n, computeUnits: 0, accessList: [], payload: new Uint8Array() },
    sender.secretKey,
  )
}

/** A QC over `blockId` at `round` signed by validators `signers`. */
export function testQc(keys: KeyPair[], blockId: Uint8Array, round: number, signers: number[]): QuorumCert {
  return {
    blockId,
    round,
    signers,
    signatures: signers.map((s) => signVote(blockId, round, s, keys[s]!.secretKey).signature),
  }
}

export function testTc(keys: KeyPair[], round: number, highQcRounds: number[]): TimeoutCert {
  return {
    round,
    entries: highQcRounds.map((hq, signer) => {
      const t = signTimeout(round, { blockId: new Uint8Array(32), round: hq, signers: [], signatures: [] }, signer, keys[signer]!.secretKey)
      return { signer, highQcRound: hq, signature: t.signature }
    }),
  }
}

export const GENESIS = genesisBlock('test-chain', new Uint8Array(32))

/** Block at round 1 extending genesis, signed by validator `author`. */
export function testBlock(keys: KeyPair[], author: number, txs: Tx[] = []): Block {
  return signBlock(
    {
      height: 1, round: 1, author, timestamp: 1_700_000_000_000, parentQc: genesisQc(GENESIS.id),
      payload: { kind: 'txs', txs }, executedRoot: new Uint8Array(32), executedHeight: 0,
    },
    keys[author]!.secretKey,
  )
}
