import { genesisBlock, signBlock, type Block, type Payload } from '../../src/core/block.ts'
import { Committee } from '../../src/core/committee.ts'
import { deriveSeed, keyPairFromSeed, type KeyPair } from '../../src/core/keys.ts'
import { signTimeout, type TimeoutCert } from '../../src/core/timeout.ts'
import { genesisQc, signVote, type QuorumCert } from '../../src/core/vote.ts'
import { ConsensusCore, type ConsensusCoreOptions } from '../../src/consensus/core.ts'
import { RoundRobin } from '../../src/consensus/leader.ts'

/** Four validators (f = 1, quorum = 3) with deterministic keys, and their genesis block. */
export const N = 4
export const keys: KeyPair[] = Array.from({ length: N }, (_, i) => keyPairFromSeed(deriveSeed('consensus-test', i)))
export const committee = new Committee(keys.map((k) => k.publicKey))
export const genesis = genesisBlock('consensus-test', new Uint8Array(32))
export const election = new RoundRobin(N)
export const EMPTY_PAYLOAD: Payload = { kind: 'batches', digests: [] }

export function coreOptions(index: number, extra: Partial<ConsensusCoreOptions> = {}): ConsensusCoreOptions {
  return {
    index,
    committee,
    secretKey: keys[index]!.secretKey,
    genesis,
    leaderElection: election,
    baseTimeoutMs: 1000,
    maxTimeoutMs: 8000,
    ...extra,
  }
}

export function newCore(index: number, extra: Partial<ConsensusCoreOptions> = {}): ConsensusCore {
  return new ConsensusCore(coreOptions(index, extra))
}

/** A QC for `block` signed by `signers` (sorted, as the aggregator forms them). */
export function qcFor(block: Block, signers: number[] = [0, 1, 2]): QuorumCert {
  if (block.round === 0) return genesisQc(block.id)
  return {
    blockId: block.id,
    round: block.round,
    signers,
    signatures: signers.map((s) => signVote(block.id, block.round, s, keys[s]!.secretKey).signature),
  }
}

/** A TC for `round` whose signers each report `highQc`. */
export function tcFor(round: number, highQc: QuorumCert, signers: number[] = [0, 1, 2]): TimeoutCert {
  return {
    round,
    entries: signers.map((s) => {
      const t = signTimeout(round, highQc, s, keys[s]!.secretKey)
      return { signer: s, highQcRound: highQc.round, signature: t.signature }
    }),
  }
}

/** A block of `round` by that round's round-robin leader, extending `parent`. */
export function blockAt(round: number, parent: Block, opts: { tc?: TimeoutCert; author?: number; timestamp?: number } = {}): Block {
  const author = opts.author ?? election.leader(round)
  return signBlock(
    {
      height: parent.height + 1,
      round,
      author,
      timestamp: opts.timestamp ?? round,
      parentQc: qcFor(parent),
      ...(opts.tc !== undefined ? { tc: opts.tc } : {}),
      payload: EMPTY_PAYLOAD,
      executedRoot: new Uint8Array(32),
      executedHeight: 0,
    },
    keys[author]!.secretKey,
  )
}
