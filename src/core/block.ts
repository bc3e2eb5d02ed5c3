import { DecodeError, Reader, Writer, decodeWith } from './codec.ts'
import { Committee, VerificationError } from './committee.ts'
import { DOMAIN, HASH_BYTES, bytesEqual, sha256 } from './hash.ts'
import { SIGNATURE_BYTES, sign, verify } from './keys.ts'
import { LIMITS } from './limits.ts'
import { readTc, verifyTc, writeTc, type TimeoutCert } from './timeout.ts'
import { readTx, writeTx, type Tx } from './tx.ts'
import { genesisQc, readQc, verifyQc, writeQc, type QuorumCert } from './vote.ts'

/**
 * What a block orders: batch digests (the default, docs/design.md §5) or the txs inline
 * (`full-block` mode, kept so the two dissemination schemes can be compared).
 */
export type Payload =
  | { readonly kind: 'batches'; readonly digests: readonly Uint8Array[] }
  | { readonly kind: 'txs'; readonly txs: readonly Tx[] }

export interface BlockBody {
  readonly height: number
  readonly round: number
  readonly author: number
  /** Proposer's wall clock in ms; informational (latency metrics), not used by safety. */
  readonly timestamp: number
  readonly parentQc: QuorumCert
  /** Present when the block follows a round that ended in a timeout certificate. */
  readonly tc?: TimeoutCert
  readonly payload: Payload
  /** State root after executing every block up to `executedHeight` (deferred execution). */
  readonly executedRoot: Uint8Array
  readonly executedHeight: number
}

export interface Block extends BlockBody {
  readonly id: Uint8Array
  readonly signature: Uint8Array
}

/*
 * Block layout (canonical):
 *   u64 height | u64 round | u16 author | u64 timestamp | QC parentQc | option<TC> tc |
 *   u8 payloadKind (0 batches, 1 txs) | list<fixed32> digests or list<Tx> txs |
 *   fixed32 executedRoot | u64 executedHeight || fixed64 signature
 * id = sha256(DOMAIN.block || body); the author signs the id.
 */

function writePayload(w: Writer, p: Payload): void {
  if (p.kind === 'batches') {
    w.u8(0).list(p.digests, (ww, d) => ww.fixed(d, HASH_BYTES))
  } else {
    w.u8(1).list(p.txs, writeTx)
  }
}

function readPayload(r: Reader): Payload {
  const kind = r.u8('block.payload.kind')
  if (kind === 0) {
    return { kind: 'batches', digests: r.list('block.payload.digests', LIMITS.maxBlockBatches, (rr) => rr.fixed(HASH_BYTES, 'block.payload.digests[]')) }
  }
  if (kind === 1) return { kind: 'txs', txs: r.list('block.payload.txs', LIMITS.maxBlockTxs, readTx) }
  throw new DecodeError('block.payload.kind', `unknown payload kind ${kind}`)
}

export function writeBlockBody(w: Writer, b: BlockBody): void {
  w.u64(BigInt(b.height)).u64(BigInt(b.round)).u16(b.author).u64(BigInt(b.timestamp))
  writeQc(w, b.parentQc)
  w.option(b.tc, writeTc)
  writePayload(w, b.payload)
  w.fixed(b.executedRoot, HASH_BYTES).u64(BigInt(b.executedHeight))
}

export function blockId(body: BlockBody): Uint8Array {
  const w = new Writer(512)
  w.raw(DOMAIN.block)
  writeBlockBody(w, body)
  return sha256(w.finish())
}

export function signBlock(body: BlockBody, secretKey: Uint8Array): Block {
  const id = blockId(body)
  return { ...body, id, signature: sign(id, secretKey) }
}

export function writeBlock(w: Writer, b: Block): void {
  writeBlockBody(w, b)
  w.fixed(b.signature, SIGNATURE_BYTES)
}

export function readBlock(r: Reader): Block {
  const height = r.safeU64('block.height')
  const round = r.safeU64('block.round')
  const author = r.u16('block.author')
  const timestamp = r.safeU64('block.timestamp')
  const parentQc = readQc(r)
  const tc = r.option('block.tc', readTc)
  const payload = readPayload(r)
  const executedRoot = r.fixed(HASH_BYTES, 'block.executedRoot')
  const executedHeight = r.safeU64('block.executedHeight')
  const signature = r.fixed(SIGNATURE_BYTES, 'block.signature')
  const body: BlockBody = { height, round, author, timestamp, parentQc, ...(tc ? { tc } : {}), payload, executedRoot, executedHeight }
  return { ...body, id: blockId(body), signature }
}

export function encodeBlock(b: Block): Uint8Array {
  const w = new Writer(1024)
  writeBlock(w, b)
  return w.finish()
}

export function decodeBlock(bytes: Uint8Array): Block {
  return decodeWith(bytes, 'block', readBlock)
}

/**
 * The genesis block is the same for every validator of a chain: it is derived from the chain
 * id and the genesis state root, has round 0, and is certified by the signature-less genesis QC.
 */
export function genesisBlock(chainId: string, stateRoot: Uint8Array): Block {
  const anchor = sha256(new TextEncoder().encode(`bftlab/genesis/${chainId}`))
  const body: BlockBody = {
    height: 0,
    round: 0,
    author: 0,
    timestamp: 0,
    parentQc: genesisQc(anchor),
    payload: { kind: 'batches', digests: [] },
    executedRoot: stateRoot,
    executedHeight: 0,
  }
  return { ...body, id: blockId(body), signature: new Uint8Array(SIGNATURE_BYTES) }
}

/**
 * Stateless checks of a proposal: author signature, parent QC, TC (for round − 1), round and
 * height structure. Whether the author is the round's leader and whether to vote are
 * consensus decisions (src/consensus), not properties of the bytes.
 */
export function verifyBlock(b: Block, committee: Committee, genesisId: Uint8Array): void {
  if (!committee.has(b.author)) throw new VerificationError(`block round ${b.round}: unknown author ${b.author}`)
  if (!bytesEqual(b.id, blockId(b))) throw new VerificationError(`block round ${b.round}: id does not match contents`)
  if (!verify(b.signature, b.id, committee.key(b.author))) {
    throw new VerificationError(`block round ${b.round} from ${b.author}: invalid signature`)
  }
  if (b.round <= b.parentQc.round) {
    throw new VerificationError(`block round ${b.round}: parent QC round ${b.parentQc.round} is not below it`)
  }
  if (b.height < 1) throw new VerificationError(`block round ${b.round}: height must be ≥ 1`)
  verifyQc(b.parentQc, committee, genesisId)
  if (b.tc !== undefined) {
    if (b.tc.round + 1 !== b.round) {
      throw new VerificationError(`block round ${b.round}: carries TC for round ${b.tc.round}, expected ${b.round - 1}`)
    }
    verifyTc(b.tc, committee)
  } else if (b.parentQc.round + 1 !== b.round) {
    throw new VerificationError(`block round ${b.round}: parent QC round ${b.parentQc.round} leaves a gap and no TC justifies it`)
  }
}
