import { Packr } from 'msgpackr'
import type { Account } from '../core/account.ts'
import { HASH_BYTES } from '../core/hash.ts'
import { Writer, decodeWith } from '../core/codec.ts'
import { readTc, writeTc } from '../core/timeout.ts'
import { readQc, writeQc } from '../core/vote.ts'
import type { RecoveryState, SafetyState } from '../consensus/types.ts'

/**
 * msgpack encodings of the stored records that are not consensus objects (those are stored as
 * their canonical bytes). One Packr, configured once:
 * - `useRecords: false`: plain maps, so a value is self-describing and readable by any msgpack
 *   tool — no shared structure table that a crash could separate from the data.
 * - bigints are u64 here (balances, nonces): msgpackr writes them as 64-bit ints and, with
 *   `int64AsType: 'bigint'`, reads them back as bigint. `largeBigIntToFloat` and
 *   `useBigIntExtension` stay off so a value outside 64 bits throws instead of losing precision.
 *
 * Every decoder checks the shape it reads: a damaged value becomes a `ValueShapeError`
 * naming the field, which the store turns into a StorageCorruptionError.
 */
const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true })

export class ValueShapeError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ValueShapeError'
  }
}

const U64_MAX = (1n << 64n) - 1n

/** A state value written by execution under a non-account key (compute txs). */
export type ComputeValue = Uint8Array | bigint

export type TxStatus = 'ok' | 'failed'

/** Structurally the execution module's `Receipt`. */
export interface StoredReceipt {
  readonly txHash: Uint8Array
  readonly status: TxStatus
  readonly reason?: string
  readonly gasUsed?: number
}

/** Where and how a tx was committed (its first inclusion). */
export interface TxRecord {
  readonly height: number
  readonly index: number
  readonly status: TxStatus
  readonly reason?: string
}

/** The chain tip as persisted; changes only inside a commit batch. */
export interface ChainMeta {
  readonly committedHeight: number
  readonly committedBlockId: Uint8Array
  readonly executedHeight: number
  readonly stateRoot: Uint8Array
}

function unpackObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = packr.unpack(bytes)
  } catch (err) {
    throw new ValueShapeError(`${what}: not valid msgpack (${(err as Error).message})`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new ValueShapeError(`${what}: expected a map`)
  }
  return value as Record<string, unknown>
}

function u64Field(o: Record<string, unknown>, field: string, what: string): bigint {
  const v = o[field]
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new ValueShapeError(`${what}.${field}: expected a u64 bigint`)
  return v
}

function countField(o: Record<string, unknown>, field: string, what: string): number {
  const v = o[field]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ValueShapeError(`${what}.${field}: expected a non-negative integer`)
  }
  return v
}

function bytesField(o: Record<string, unknown>, field: string, what: string, length?: number): Uint8Array {
  const v = o[field]
  if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length)) {
    throw new ValueShapeError(`${what}.${field}: expected ${length ?? 'some'} bytes`)
  }
  // msgpackr returns Buffers that alias the input; hand out independent plain Uint8Arrays.
  return new Uint8Array(v)
}

function statusField(o: Record<string, unknown>, what: string): TxStatus {
  const v = o['status']
  if (v !== 'ok' && v !== 'failed') throw new ValueShapeError(`${what}.status: expected 'ok' or 'failed'`)
  return v
}

function optionalReason(o: Record<string, unknown>, what: string): { reason?: string } {
  const v = o['reason']
  if (v === undefined) return {}
  if (typeof v !== 'string') throw new ValueShapeError(`${what}.reason: expected a string`)
  return { reason: v }
}

export function encodeAccount(a: Account): Uint8Array {
  return packr.pack({ balance: a.balance, nonce: a.nonce })
}

export function decodeAccount(bytes: Uint8Array): Account {
  const o = unpackObject(bytes, 'account')
  return { balance: u64Field(o, 'balance', 'account'), nonce: u64Field(o, 'nonce', 'account') }
}

export function encodeComputeValue(v: ComputeValue): Uint8Array {
  return packr.pack({ value: v })
}

export function decodeComputeValue(bytes: Uint8Array): ComputeValue {
  const o = unpackObject(bytes, 'computeKey')
  const v = o['value']
  if (typeof v === 'bigint') return v
  if (v instanceof Uint8Array) return new Uint8Array(v)
  throw new ValueShapeError('computeKey.value: expected bytes or a bigint')
}

export function encodeTxRecord(r: TxRecord): Uint8Array {
  return packr.pack({ height: r.height, index: r.index, status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}) })
}

export function decodeTxRecord(bytes: Uint8Array): TxRecord {
  const o = unpackObject(bytes, 'txIndex')
  return {
    height: countField(o, 'height', 'txIndex'),
    index: countField(o, 'index', 'txIndex'),
    status: statusField(o, 'txIndex'),
    ...optionalReason(o, 'txIndex'),
  }
}

export function encodeReceipts(receipts: readonly StoredReceipt[]): Uint8Array {
  return packr.pack({
    receipts: receipts.map((r) => ({
      txHash: r.txHash,
      status: r.status,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      ...(r.gasUsed !== undefined ? { gasUsed: r.gasUsed } : {}),
    })),
  })
}

export function decodeReceipts(bytes: Uint8Array): StoredReceipt[] {
  const o = unpackObject(bytes, 'receipts')
  const list = o['receipts']
  if (!Array.isArray(list)) throw new ValueShapeError('receipts: expected a list')
  return list.map((item: unknown, i) => {
    const what = `receipts[${i}]`
    if (typeof item !== 'object' || item === null) throw new ValueShapeError(`${what}: expected a map`)
    const r = item as Record<string, unknown>
    const gas = r['gasUsed'] === undefined ? {} : { gasUsed: countField(r, 'gasUsed', what) }
    return { txHash: bytesField(r, 'txHash', what, HASH_BYTES), status: statusField(r, what), ...optionalReason(r, what), ...gas }
  })
}

export function encodeChainMeta(m: ChainMeta): Uint8Array {
  return packr.pack({
    committedHeight: m.committedHeight,
    committedBlockId: m.committedBlockId,
    executedHeight: m.executedHeight,
    stateRoot: m.stateRoot,
  })
}

export function decodeChainMeta(bytes: Uint8Array): ChainMeta {
  const o = unpackObject(bytes, 'meta')
  return {
    committedHeight: countField(o, 'committedHeight', 'meta'),
    committedBlockId: bytesField(o, 'committedBlockId', 'meta', HASH_BYTES),
    executedHeight: countField(o, 'executedHeight', 'meta'),
    stateRoot: bytesField(o, 'stateRoot', 'meta', HASH_BYTES),
  }
}

export function encodeSafety(s: SafetyState): Uint8Array {
  return packr.pack({ highestVotedRound: s.highestVotedRound, highestQcRound: s.highestQcRound })
}

export function decodeSafety(bytes: Uint8Array): SafetyState {
  const o = unpackObject(bytes, 'safety')
  return {
    highestVotedRound: countField(o, 'highestVotedRound', 'safety'),
    highestQcRound: countField(o, 'highestQcRound', 'safety'),
  }
}

/**
 * Proof that a validator signed two conflicting messages (src/node/evidence.ts checks it before it
 * is stored). `first`/`second` are canonical consensus-message bytes, opaque to storage.
 */
export interface StoredEvidence {
  readonly kind: string
  readonly offender: number
  readonly round: number
  readonly first: Uint8Array
  readonly second: Uint8Array
}

export function encodeEvidence(e: StoredEvidence): Uint8Array {
  return packr.pack({ kind: e.kind, offender: e.offender, round: e.round, first: e.first, second: e.second })
}

export function decodeEvidence(bytes: Uint8Array): StoredEvidence {
  const o = unpackObject(bytes, 'evidence')
  const kind = o['kind']
  if (typeof kind !== 'string') throw new ValueShapeError('evidence.kind: expected a string')
  return {
    kind,
    offender: countField(o, 'offender', 'evidence'),
    round: countField(o, 'round', 'evidence'),
    first: bytesField(o, 'first', 'evidence'),
    second: bytesField(o, 'second', 'evidence'),
  }
}

/* Recovery record: canonical QC highQc | option<TC> lastTc (consensus objects keep their own encoding). */
export function encodeRecovery(r: RecoveryState): Uint8Array {
  const w = new Writer(512)
  writeQc(w, r.highQc)
  w.option(r.lastTc, writeTc)
  return w.finish()
}

export function decodeRecovery(bytes: Uint8Array): RecoveryState {
  return decodeWith(bytes, 'recovery', (r) => {
    const highQc = readQc(r)
    const lastTc = r.option('recovery.lastTc', readTc)
    return lastTc === undefined ? { highQc } : { highQc, lastTc }
  })
}
