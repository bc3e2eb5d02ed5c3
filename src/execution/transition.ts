import type { Account } from '../core/account.ts'
import { HASH_BYTES, bytesEqual, sha256, toHex } from '../core/hash.ts'
import type { Tx } from '../core/tx.ts'
import { iterateSha256 } from './compute-kernel.ts'
import { FEE_SINK, type AccountId, type SlotId, type StateReader } from './state.ts'

/**
 * The state transition of one tx, shared verbatim by the sequential oracle, the main thread of
 * the parallel executor and its workers: there is exactly one definition of what a tx does.
 */

/**
 * Calibration: one compute unit ≈ 1 µs of CPU. Measured on the reference machine (AMD EPYC,
 * 2 cores, Node 22.23): one iteration of the compute kernel (compute-kernel.ts) takes
 * 0.26–0.27 µs (exec-bench's 60,000-iteration loop, 2 runs: 0.264 / 0.271 µs), so 4 iterations
 * ≈ 1.06–1.08 µs. On a worker thread the same loop ran 2–6 % faster than on the main thread.
 * Fixed, not re-measured at run time: the work a tx does must be identical on every validator.
 * `bftlab exec-bench` prints the measured µs per unit so drift on another machine is visible.
 */
export const SHA256_ITERATIONS_PER_COMPUTE_UNIT = 4

/**
 * Upper bound on one tx's compute units (100 ms of CPU): computeUnits is a u32 on the wire, and
 * without a cap a single tx could stall every validator's executor for over an hour.
 */
export const MAX_COMPUTE_UNITS = 100_000

export type Outcome = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const OK: Outcome = { ok: true }
const ZERO_SLOT = new Uint8Array(HASH_BYTES)

/**
 * The block's writes layered over the pre-block state. Fee-sink credits are accumulated as a
 * number rather than written per tx: they commute, and no tx ever reads the sink (a tx from it
 * fails before reading state, a transfer to it is a credit), so keeping the sink out of every
 * tx's read/write set is what keeps it from serialising the whole block in the parallel executor.
 */
export class BlockOverlay implements StateReader {
  readonly accounts = new Map<AccountId, Account>()
  readonly slots = new Map<SlotId, Uint8Array>()
  feeSinkCredit = 0n
  readonly #base: StateReader

  constructor(base: StateReader) {
    this.#base = base
  }

  account(id: AccountId): Account | undefined {
    return this.accounts.get(id) ?? this.#base.account(id)
  }

  slot(id: SlotId): Uint8Array | undefined {
    return this.slots.get(id) ?? this.#base.slot(id)
  }
}

/** Deterministic CPU burn: `units × SHA256_ITERATIONS_PER_COMPUTE_UNIT` chained SHA-256 iterations of a 32-byte seed. */
export function burnCompute(seed: Uint8Array, units: number): Uint8Array {
  return iterateSha256(seed, units * SHA256_ITERATIONS_PER_COMPUTE_UNIT)
}

/**
 * Applies `tx` (whose hash is `hash`) to `view`. A failed tx changes nothing: no fee, and the
 * nonce is NOT bumped, so the sender can resubmit with the same nonce (the block's other txs
 * still see the account exactly as before).
 *
 * Success: sender pays amount + fee and its nonce increments; the recipient (created if unknown)
 * gets amount; the fee goes to FEE_SINK. A compute tx additionally reads its access-list slots,
 * burns `computeUnits` of CPU on a seed derived from the tx hash and those values (so its work
 * genuinely depends on state, like a contract call), and sets each slot to
 * sha256(previous || digest). A transfer's computeUnits and accessList are not executed.
 */
export function applyTx(view: BlockOverlay, tx: Tx, hash: Uint8Array): Outcome {
  if (bytesEqual(tx.from, FEE_SINK)) return { ok: false, reason: 'sender is the fee sink' }
  if (tx.kind === 'compute' && tx.computeUnits > MAX_COMPUTE_UNITS) {
    return { ok: false, reason: `compute units ${tx.computeUnits} exceed limit ${MAX_COMPUTE_UNITS}` }
  }
  const fromId = toHex(tx.from)
  const sender = view.account(fromId)
  if (sender === undefined) return { ok: false, reason: 'unknown sender' }
  if (tx.nonce !== sender.nonce) return { ok: false, reason: `bad nonce: expected ${sender.nonce}, got ${tx.nonce}` }
  const cost = tx.amount + tx.fee
  if (cost > sender.balance) return { ok: false, reason: `insufficient balance: need ${cost}, have ${sender.balance}` }

  view.accounts.set(fromId, { balance: sender.balance - cost, nonce: sender.nonce + 1n })
  view.feeSinkCredit += tx.fee
  if (bytesEqual(tx.to, FEE_SINK)) {
    view.feeSinkCredit += tx.amount
  } else {
    const toId = toHex(tx.to)
    const recipient = view.account(toId) ?? { balance: 0n, nonce: 0n }
    view.accounts.set(toId, { balance: recipient.balance + tx.amount, nonce: recipient.nonce })
  }
  if (tx.kind === 'compute') runCompute(view, tx, hash)
  return OK
}

function runCompute(view: BlockOverlay, tx: Tx, hash: Uint8Array): void {
  const slotIds = tx.accessList.map(toHex)
  const inputs = slotIds.map((id) => view.slot(id) ?? ZERO_SLOT)
  const digest = burnCompute(sha256(hash, ...inputs), tx.computeUnits)
  for (const id of slotIds) view.slots.set(id, sha256(view.slot(id) ?? ZERO_SLOT, digest))
}
