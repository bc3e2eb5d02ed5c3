import { Writer } from '../core/codec.ts'
import { HASH_BYTES, sha256 } from '../core/hash.ts'

export interface Receipt {
  readonly txHash: Uint8Array
  readonly status: 'ok' | 'failed'
  /** Why a failed tx failed (deterministic text: it is part of receiptsHash). */
  readonly reason?: string
}

const RECEIPTS_DOMAIN = new TextEncoder().encode('bftlab/receipts/v1')
const STATUS_CODE = { ok: 0, failed: 1 } as const
const utf8 = new TextEncoder()

/** Canonical hash of a block's receipts: list<(fixed32 txHash, u8 status, bytes reason)>. */
export function receiptsHash(receipts: readonly Receipt[]): Uint8Array {
  const w = new Writer(64 + receipts.length * (HASH_BYTES + 8))
  w.list(receipts, (ww, r) => ww.fixed(r.txHash, HASH_BYTES).u8(STATUS_CODE[r.status]).bytes(utf8.encode(r.reason ?? '')))
  return sha256(RECEIPTS_DOMAIN, w.finish())
}
