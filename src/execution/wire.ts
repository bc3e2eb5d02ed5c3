import { Reader, Writer, decodeWith } from '../core/codec.ts'
import { HASH_BYTES } from '../core/hash.ts'
import { PUBLIC_KEY_BYTES } from '../core/keys.ts'
import { LIMITS } from '../core/limits.ts'
import { LANES, LANE_BYTES, type EntryChange } from './commitment.ts'
import type { Account } from './state.ts'

/**
 * Binary messages between the executor's main thread and its workers. Every task and result is
 * one ArrayBuffer moved (transferred, not cloned) across the thread boundary; only a tiny
 * envelope object ({kind, bytes, delayMs}) is structured-cloned. Layouts use the core codec.
 */

export type WorkerTask =
  | { readonly kind: 'execute'; readonly bytes: ArrayBuffer; readonly delayMs: number }
  | { readonly kind: 'verify'; readonly bytes: ArrayBuffer; readonly delayMs: number }
  | { readonly kind: 'commit'; readonly bytes: ArrayBuffer; readonly delayMs: number }
  /** exec-bench calibration: `units` of pure compute, no state, same message size as a real task. */
  | { readonly kind: 'burn'; readonly bytes: ArrayBuffer; readonly units: number }

/** Upper bound on the entries one task carries; far above what the scheduler produces. */
const MAX_TASK_ITEMS = LIMITS.maxBlockTxs * (LIMITS.maxAccessList + 2)

/** A worker's input buffers are owned by it alone after the move, so the copy happens once here. */
function detach(w: Writer): ArrayBuffer {
  return w.finish().slice().buffer
}

// ---- execute: txs in block order + the pre-state of every key they touch ----

export interface ExecuteTaskInput {
  readonly txs: readonly { readonly index: number; readonly hash: Uint8Array; readonly encoded: Uint8Array }[]
  readonly accounts: readonly { readonly address: Uint8Array; readonly account: Account | undefined }[]
  readonly slots: readonly { readonly key: Uint8Array; readonly value: Uint8Array }[]
}

export function encodeExecuteTask(input: ExecuteTaskInput, sizeHint: number): ArrayBuffer {
  const w = new Writer(sizeHint)
  w.list(input.txs, (ww, tx) => ww.u32(tx.index).fixed(tx.hash, HASH_BYTES).bytes(tx.encoded))
  w.list(input.accounts, (ww, a) => ww.fixed(a.address, PUBLIC_KEY_BYTES).option(a.account, writeAccount))
  w.list(input.slots, (ww, s) => ww.fixed(s.key, HASH_BYTES).fixed(s.value, HASH_BYTES))
  return detach(w)
}

export function decodeExecuteTask(bytes: ArrayBuffer): ExecuteTaskInput {
  return decodeWith(new Uint8Array(bytes), 'executeTask', (r) => ({
    txs: r.list('txs', LIMITS.maxBlockTxs, (rr) => ({
      index: rr.u32('txs[].index'),
      hash: rr.fixed(HASH_BYTES, 'txs[].hash'),
      encoded: rr.bytesField('txs[].encoded', 1 << 16),
    })),
    accounts: r.list('accounts', MAX_TASK_ITEMS, (rr) => ({
      address: rr.fixed(PUBLIC_KEY_BYTES, 'accounts[].address'),
      account: rr.option('accounts[].account', readAccount),
    })),
    slots: r.list('slots', MAX_TASK_ITEMS, readSlot),
  }))
}

export interface ExecuteTaskOutput {
  readonly receipts: readonly { readonly index: number; readonly reason: string | undefined }[]
  readonly feeSinkCredit: bigint
  readonly accounts: readonly { readonly address: Uint8Array; readonly account: Account }[]
  readonly slots: readonly { readonly key: Uint8Array; readonly value: Uint8Array }[]
}

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder()

export function encodeExecuteResult(out: ExecuteTaskOutput): ArrayBuffer {
  const w = new Writer(64 + out.receipts.length * 8 + out.accounts.length * 48 + out.slots.length * 64)
  w.list(out.receipts, (ww, r) => ww.u32(r.index).option(r.reason, (www, reason) => www.bytes(utf8Encoder.encode(reason))))
  w.u64(out.feeSinkCredit)
  w.list(out.accounts, (ww, a) => writeAccount(ww.fixed(a.address, PUBLIC_KEY_BYTES), a.account))
  w.list(out.slots, (ww, s) => ww.fixed(s.key, HASH_BYTES).fixed(s.value, HASH_BYTES))
  return detach(w)
}

export function decodeExecuteResult(bytes: ArrayBuffer): ExecuteTaskOutput {
  return decodeWith(new Uint8Array(bytes), 'executeResult', (r) => ({
    receipts: r.list('receipts', LIMITS.maxBlockTxs, (rr) => ({
      index: rr.u32('receipts[].index'),
      reason: rr.option('receipts[].reason', (rrr) => utf8Decoder.decode(rrr.bytesField('receipts[].reason', 1024))),
    })),
    feeSinkCredit: r.u64('feeSinkCredit'),
    accounts: r.list('accounts', MAX_TASK_ITEMS, (rr) => ({
      address: rr.fixed(PUBLIC_KEY_BYTES, 'accounts[].address'),
      account: readAccount(rr),
    })),
    slots: r.list('slots', MAX_TASK_ITEMS, readSlot),
  }))
}

function writeAccount(w: Writer, a: Account): void {
  w.u64(a.balance).u64(a.nonce)
}

function readAccount(r: Reader): Account {
  return { balance: r.u64('account.balance'), nonce: r.u64('account.nonce') }
}

function readSlot(r: Reader): { key: Uint8Array; value: Uint8Array } {
  return { key: r.fixed(HASH_BYTES, 'slots[].key'), value: r.fixed(HASH_BYTES, 'slots[].value') }
}

// ---- verify: encoded txs → one validity byte each ----

export function encodeVerifyTask(encoded: readonly Uint8Array[]): ArrayBuffer {
  const w = new Writer(16 + encoded.length * 240)
  w.list(encoded, (ww, tx) => ww.bytes(tx))
  return detach(w)
}

export function decodeVerifyTask(bytes: ArrayBuffer): Uint8Array[] {
  return decodeWith(new Uint8Array(bytes), 'verifyTask', (r) => r.list('txs', LIMITS.maxBlockTxs, (rr) => rr.bytesField('txs[]', 1 << 16)))
}

// ---- commit: entry changes → LtHash partial sum (LANE_BYTES) ----

export function encodeCommitTask(changes: readonly EntryChange[]): ArrayBuffer {
  const w = new Writer(16 + changes.length * 160)
  w.list(changes, (ww, c) => ww.option(c.before, (www, before) => www.bytes(before)).bytes(c.after))
  return detach(w)
}

export function decodeCommitTask(bytes: ArrayBuffer): EntryChange[] {
  return decodeWith(new Uint8Array(bytes), 'commitTask', (r) =>
    r.list('changes', MAX_TASK_ITEMS, (rr) => ({
      before: rr.option('changes[].before', (rrr) => rrr.bytesField('changes[].before', 128)),
      after: rr.bytesField('changes[].after', 128),
    })),
  )
}

export function decodeCommitResult(bytes: ArrayBuffer): Uint16Array {
  if (bytes.byteLength !== LANE_BYTES) throw new RangeError(`commitment partial sum has ${bytes.byteLength} bytes, expected ${LANE_BYTES}`)
  return new Uint16Array(bytes, 0, LANES)
}
