import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { toHex } from '../core/hash.ts'
import type { TxBody, TxKind } from '../core/tx.ts'

/** A funded account the load generator signs for, with the next nonce the chain expects from it. */
export interface LoadAccount {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
  readonly nextNonce: bigint
}

/**
 * The load schedule: tx j is a transfer from account j mod K to account (j+1) mod K with that
 * sender's next nonce. Cycling through all K senders spreads the load so each account has only
 * rate/K txs per second in flight, far inside any mempool nonce window, and each sender's nonces
 * are issued strictly in order.
 *
 * A `compute` schedule sends the same transfers as compute txs that also burn `computeUnits` of
 * CPU in execution. Their access list is empty: from/to are declared by the tx itself, so the
 * parallel executor sees exactly the conflict pattern of the transfer load and the CPU weight
 * is the only thing that changes between the two.
 */
export interface TransferSchedule {
  readonly publicKeys: readonly Uint8Array[]
  readonly secretKeys: readonly Uint8Array[]
  readonly startNonces: readonly bigint[]
  readonly amount: bigint
  readonly fee: bigint
  readonly kind: TxKind
  /** CPU weight of each compute tx; 0 for transfers. */
  readonly computeUnits: number
}

export interface PresignRange extends TransferSchedule {
  readonly start: number
  readonly end: number
}

/** One worker's output: txs [start, start+n) concatenated in `data`, boundaries in `offsets`. */
export interface PresignedChunk {
  readonly start: number
  readonly data: Uint8Array
  readonly offsets: Uint32Array
  readonly hashes: Uint8Array
}

export interface PresignedTxs {
  /** Canonical tx bytes in schedule order. */
  readonly encoded: readonly Uint8Array[]
  readonly hashes: readonly string[]
  /** Sender account index of tx j (j mod K), which decides the tx's target node. */
  readonly senderOf: (j: number) => number
}

const NO_BYTES = new Uint8Array(0)

export function transferAt(s: TransferSchedule, j: number): { body: TxBody; senderIndex: number } {
  const k = s.publicKeys.length
  const senderIndex = j % k
  const body: TxBody = {
    kind: s.kind,
    from: s.publicKeys[senderIndex]!,
    to: s.publicKeys[(senderIndex + 1) % k]!,
    amount: s.amount,
    nonce: s.startNonces[senderIndex]! + BigInt(Math.floor(j / k)),
    fee: s.fee,
    computeUnits: s.computeUnits,
    accessList: [],
    payload: NO_BYTES,
  }
  return { body, senderIndex }
}

function runWorker(range: PresignRange): Promise<PresignedChunk> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./presign-worker.ts', import.meta.url), { workerData: range })
    worker.once('message', (chunk: PresignedChunk) => resolve(chunk))
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`presign worker for txs ${range.start}..${range.end} exited with code ${code}`))
    })
  })
}

/**
 * Signs `count` txs of the schedule before the measured window starts, split over one worker
 * thread per core: signing at the offered rate inside the window would steal the CPU the
 * validators on this machine need, and would cap the rate the generator can offer.
 */
export async function presignTransfers(
  accounts: readonly LoadAccount[],
  count: number,
  opts: { amount?: bigint; fee?: bigint; workers?: number; kind?: TxKind; computeUnits?: number } = {},
): Promise<PresignedTxs> {
  if (accounts.length === 0) throw new RangeError('presign: no accounts to sign with')
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`presign: tx count must be a non-negative integer, got ${count}`)
  const kind = opts.kind ?? 'transfer'
  const computeUnits = opts.computeUnits ?? 0
  if (kind === 'transfer' && computeUnits !== 0) throw new RangeError(`presign: computeUnits ${computeUnits} given for transfer txs; only compute txs carry a CPU weight`)
  // The wire field is a u32; the chain's own cap (MAX_COMPUTE_UNITS) is enforced where txs execute.
  if (!Number.isInteger(computeUnits) || computeUnits < 0 || computeUnits > 0xffff_ffff) throw new RangeError(`presign: computeUnits must be a u32, got ${computeUnits}`)
  const schedule: TransferSchedule = {
    publicKeys: accounts.map((a) => a.publicKey),
    secretKeys: accounts.map((a) => a.secretKey),
    startNonces: accounts.map((a) => a.nextNonce),
    amount: opts.amount ?? 1n,
    fee: opts.fee ?? 0n,
    kind,
    computeUnits,
  }
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), count))
  const per = Math.ceil(count / workers)
  const ranges: PresignRange[] = []
  for (let start = 0; start < count; start += per) ranges.push({ ...schedule, start, end: Math.min(count, start + per) })
  const chunks = await Promise.all(ranges.map(runWorker))
  const encoded: Uint8Array[] = new Array(count)
  const hashes: string[] = new Array(count)
  for (const c of chunks) {
    const n = c.offsets.length - 1
    for (let i = 0; i < n; i++) {
      encoded[c.start + i] = c.data.subarray(c.offsets[i]!, c.offsets[i + 1]!)
      hashes[c.start + i] = toHex(c.hashes.subarray(i * 32, (i + 1) * 32))
    }
  }
  const k = accounts.length
  return { encoded, hashes, senderOf: (j) => j % k }
}
