import { HASH_BYTES, fromHex, toHex } from '../core/hash.ts'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../core/keys.ts'
import { LIMITS } from '../core/limits.ts'
import type { Tx, TxKind } from '../core/tx.ts'

/**
 * The JSON form of a tx for `POST /tx`: bytes as hex, u64 values as decimal strings (a JSON
 * number would silently lose precision above 2^53; safe integers are accepted as numbers too).
 */
export interface TxJson {
  kind: TxKind
  from: string
  to: string
  amount: string
  nonce: string
  fee: string
  computeUnits?: number
  accessList?: string[]
  payload?: string
  signature: string
}

/** A client's JSON tx is malformed; `field` names the offending field. */
export class TxJsonError extends Error {
  readonly field: string
  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'TxJsonError'
    this.field = field
  }
}

const U64_MAX = (1n << 64n) - 1n
const U32_MAX = 0xffff_ffff
const FIELDS = new Set(['kind', 'from', 'to', 'amount', 'nonce', 'fee', 'computeUnits', 'accessList', 'payload', 'signature'])
const KINDS: readonly TxKind[] = ['transfer', 'compute']

function show(v: unknown): string {
  // Containers are described, not serialised: a deeply nested client value would overflow the
  // stack in JSON.stringify, and a large one would be serialised only to be cut to 40 chars.
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? `an array of ${v.length} items` : 'an object'
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}…` : s
}

function u64(field: string, v: unknown): bigint {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TxJsonError(field, `expected a u64, got ${show(v)}`)
    if (v < 0) throw new TxJsonError(field, `must not be negative, got ${v}`)
    if (!Number.isInteger(v)) throw new TxJsonError(field, `must be an integer, got ${v}`)
    if (!Number.isSafeInteger(v)) throw new TxJsonError(field, `${v} is above 2^53-1 and imprecise as a JSON number; send a decimal string`)
    return BigInt(v)
  }
  if (typeof v !== 'string') throw new TxJsonError(field, `expected a decimal string, got ${show(v)}`)
  if (/^-/.test(v)) throw new TxJsonError(field, `must not be negative, got ${show(v)}`)
  if (/^[0-9]*\.[0-9]*$/.test(v) && v !== '.') throw new TxJsonError(field, `must be an integer, got ${show(v)}`)
  if (!/^(0|[1-9][0-9]*)$/.test(v)) throw new TxJsonError(field, `expected a decimal integer string without sign or leading zeros, got ${show(v)}`)
  const n = BigInt(v)
  if (n > U64_MAX) throw new TxJsonError(field, `${v} exceeds the u64 maximum ${U64_MAX}`)
  return n
}

function hex(field: string, v: unknown, bytes?: number, maxBytes?: number): Uint8Array {
  if (typeof v !== 'string') throw new TxJsonError(field, `expected a hex string, got ${show(v)}`)
  let out: Uint8Array
  try {
    out = fromHex(v, bytes)
  } catch (err) {
    throw new TxJsonError(field, `${(err as Error).message}: ${show(v)}`)
  }
  if (maxBytes !== undefined && out.length > maxBytes) throw new TxJsonError(field, `${out.length} bytes exceeds the limit of ${maxBytes}`)
  return out
}

/** Parses and range-checks a JSON tx. Throws TxJsonError only; the signature is checked later. */
export function txFromJson(json: unknown): Tx {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TxJsonError('(body)', `expected a JSON object, got ${show(json)}`)
  const o = json as Record<string, unknown>
  for (const key of Object.keys(o)) if (!FIELDS.has(key)) throw new TxJsonError(key, 'unknown field')
  const kind = o.kind as TxKind
  if (!KINDS.includes(kind)) throw new TxJsonError('kind', `expected one of ${KINDS.join(', ')}, got ${show(o.kind)}`)
  let computeUnits = 0
  if (o.computeUnits !== undefined) {
    const cu = o.computeUnits
    if (typeof cu !== 'number' || !Number.isInteger(cu) || cu < 0 || cu > U32_MAX) {
      throw new TxJsonError('computeUnits', `expected an integer in 0..${U32_MAX}, got ${show(cu)}`)
    }
    // JSON -0 is an integer ≥ 0; normalise it so the decoded tx equals its canonical re-decoding.
    computeUnits = cu === 0 ? 0 : cu
  }
  let accessList: Uint8Array[] = []
  if (o.accessList !== undefined) {
    if (!Array.isArray(o.accessList)) throw new TxJsonError('accessList', `expected an array of hex keys, got ${show(o.accessList)}`)
    if (o.accessList.length > LIMITS.maxAccessList) {
      throw new TxJsonError('accessList', `${o.accessList.length} keys exceeds the limit of ${LIMITS.maxAccessList}`)
    }
    accessList = o.accessList.map((k, i) => hex(`accessList[${i}]`, k, HASH_BYTES))
  }
  return {
    kind,
    from: hex('from', o.from, PUBLIC_KEY_BYTES),
    to: hex('to', o.to, PUBLIC_KEY_BYTES),
    amount: u64('amount', o.amount),
    nonce: u64('nonce', o.nonce),
    fee: o.fee === undefined ? 0n : u64('fee', o.fee),
    computeUnits,
    accessList,
    payload: o.payload === undefined ? new Uint8Array(0) : hex('payload', o.payload, undefined, LIMITS.maxTxPayload),
    signature: hex('signature', o.signature, SIGNATURE_BYTES),
  }
}

export function txToJson(tx: Tx): TxJson {
  return {
    kind: tx.kind,
    from: toHex(tx.from),
    to: toHex(tx.to),
    amount: tx.amount.toString(),
    nonce: tx.nonce.toString(),
    fee: tx.fee.toString(),
    ...(tx.computeUnits !== 0 ? { computeUnits: tx.computeUnits } : {}),
    ...(tx.accessList.length > 0 ? { accessList: tx.accessList.map(toHex) } : {}),
    ...(tx.payload.length > 0 ? { payload: toHex(tx.payload) } : {}),
    signature: toHex(tx.signature),
  }
}
