import type { Account } from '../core/account.ts'
import { HASH_BYTES, toHex } from '../core/hash.ts'
import { PUBLIC_KEY_BYTES } from '../core/keys.ts'
import { Prng } from '../core/prng.ts'
import { decodeTxAliasing, txBodyHash, verifyTx } from '../core/tx.ts'
import { move } from 'piscina'
import { accountEntry, changeDelta, slotEntry, type EntryChange } from './commitment.ts'
import {
  COMMIT_CURSOR,
  FINISHED,
  KEY_EXISTED_BEFORE,
  KEY_EXISTS,
  KEY_WRITTEN,
  TX_VERIFY,
  attachBlock,
  awaitFilled,
  awaitTxFilled,
  drainBlock,
  type BlockViews,
} from './shared-block.ts'
import type { AccountId, SlotId, StateReader } from './state.ts'
import { BlockOverlay, applyTx, burnCompute } from './transition.ts'
import type { BlockTask, BlockTaskResult, TestDelay, WorkerTask } from './wire.ts'

/**
 * An idle worker sleeps on the block's wake counter; pushes, the block's end and aborts notify
 * it, so this timeout is only a backstop that bounds how long a lost wake-up could cost.
 */
const IDLE_WAIT_MS = 20
/**
 * An idle worker that sees no tx complete for this long reports a stall instead of waiting on:
 * 100× the longest possible tx (MAX_COMPUTE_UNITS ≈ 100 ms), so only a scheduling bug trips it.
 */
const STALL_TIMEOUT_MS = 10_000
/** Changed keys claimed at a time for the commitment partial sums: 16 × ~7 µs ≈ 0.1 ms, the most one executor can finish after the other. */
const COMMIT_CHUNK = 16
/** Test delays: this share of txs sleeps first (enough to reorder completions, not to crawl). */
const DELAYED_TX_SHARE = 0.25

/** Piscina worker of the parallel executor. */
export default function runTask(task: WorkerTask): BlockTaskResult | ArrayBuffer {
  if (task.kind === 'burn') {
    burnCompute(new Uint8Array(task.bytes, 0, Math.min(32, task.bytes.byteLength)), task.units)
    return move(new ArrayBuffer(8)) as ArrayBuffer
  }
  return runBlockShare(task)
}

/**
 * One executor's share of a block: ready txs until none remain, then commitment chunks until
 * none remain. Synchronous; the pool threads and the calling thread run it side by side.
 */
export function runBlockShare(task: BlockTask): BlockTaskResult {
  const v = attachBlock(task.buffer, task.sizes)
  const runner = new TxRunner(v, task.testDelay, task.worker)
  // All txs done implies all their keys were filled; the explicit wait keeps the commitment
  // share independent of that argument.
  const completed =
    drainBlock(v, (tx) => runner.run(tx), IDLE_WAIT_MS, STALL_TIMEOUT_MS) && awaitFilled(v, v.sizes.txs, v.sizes.accounts, v.sizes.slots, IDLE_WAIT_MS, STALL_TIMEOUT_MS)
  const delta = completed ? commitmentShare(v) : changeDelta([])
  Atomics.add(v.control, FINISHED, 1)
  return {
    aborted: !completed,
    txsRun: runner.txsRun,
    failedTxs: runner.failedTxs,
    failureReasons: runner.failureReasons,
    feeSinkCredit: runner.view.feeSinkCredit,
    delta,
  }
}

/**
 * The shared state as the transition function's StateReader, limited to the declared keys of
 * the tx being run (any other read is a scheduling bug and throws rather than race).
 */
class SharedTxState implements StateReader {
  readonly #v: BlockViews
  readonly #accountIds = new Map<AccountId, number>()
  readonly #slotIds = new Map<SlotId, number>()
  /** Hex ids of the block's keys by key id, made once per key on this thread. */
  readonly #accountHexes: string[] = []
  readonly #slotHexes: string[] = []

  constructor(v: BlockViews) {
    this.#v = v
  }

  /**
   * Admits tx `i`'s declared keys: the ids the DAG builder laid out for it, by the hex of the
   * key bytes the main thread filled in for those ids (its pre-state must be filled:
   * awaitTxFilled). A read of any other key throws.
   */
  bind(i: number): void {
    this.#accountIds.clear()
    this.#slotIds.clear()
    const v = this.#v
    for (let k = v.txAccountStart[i]!; k < v.txAccountStart[i + 1]!; k++) {
      const id = v.txAccountIds[k]!
      this.#accountIds.set((this.#accountHexes[id] ??= toHex(v.accountKeys.subarray(id * PUBLIC_KEY_BYTES, (id + 1) * PUBLIC_KEY_BYTES))), id)
    }
    for (let k = v.txSlotStart[i]!; k < v.txSlotStart[i + 1]!; k++) {
      const id = v.txSlotIds[k]!
      this.#slotIds.set((this.#slotHexes[id] ??= toHex(v.slotKeys.subarray(id * HASH_BYTES, (id + 1) * HASH_BYTES))), id)
    }
  }

  #accountId(id: AccountId): number {
    const k = this.#accountIds.get(id)
    if (k === undefined) throw new Error(`tx read account ${id} outside its declared keys`)
    return k
  }

  #slotId(id: SlotId): number {
    const k = this.#slotIds.get(id)
    if (k === undefined) throw new Error(`tx read slot ${id} outside its declared keys`)
    return k
  }

  account(id: AccountId): Account | undefined {
    const k = this.#accountId(id)
    return (this.#v.accountFlags[k]! & KEY_EXISTS) !== 0 ? { balance: this.#v.balances[k]!, nonce: this.#v.nonces[k]! } : undefined
  }

  slot(id: SlotId): Uint8Array | undefined {
    const k = this.#slotId(id)
    return (this.#v.slotFlags[k]! & KEY_EXISTS) !== 0 ? this.#v.slotValues.slice(k * HASH_BYTES, (k + 1) * HASH_BYTES) : undefined
  }

  /** Moves a successful tx's writes from the overlay into the shared state. */
  flush(view: BlockOverlay): void {
    const v = this.#v
    for (const [id, account] of view.accounts) {
      const k = this.#accountId(id)
      v.balances[k] = account.balance
      v.nonces[k] = account.nonce
      // The shared arrays hold u64s; a value outside would silently wrap and diverge from the oracle.
      if (v.balances[k] !== account.balance || v.nonces[k] !== account.nonce) throw new RangeError(`account ${id} after tx is not a u64 pair: ${account.balance}, ${account.nonce}`)
      v.accountFlags[k]! |= KEY_EXISTS | KEY_WRITTEN
    }
    for (const [id, value] of view.slots) {
      const k = this.#slotId(id)
      v.slotValues.set(value, k * HASH_BYTES)
      v.slotFlags[k]! |= KEY_EXISTS | KEY_WRITTEN
    }
    view.accounts.clear()
    view.slots.clear()
  }
}

class TxRunner {
  readonly #v: BlockViews
  readonly #state: SharedTxState
  /** One overlay for all this worker's txs: flushed after each, its fee-sink credit accumulates. */
  readonly view: BlockOverlay
  readonly #delay: { readonly prng: Prng; readonly maxMs: number } | undefined
  readonly #sleeper = new Int32Array(new SharedArrayBuffer(4))
  txsRun = 0
  readonly failedTxs: number[] = []
  readonly failureReasons: string[] = []

  constructor(v: BlockViews, testDelay: TestDelay | undefined, worker: number) {
    this.#v = v
    this.#state = new SharedTxState(v)
    this.view = new BlockOverlay(this.#state)
    if (testDelay !== undefined && testDelay.maxMs > 0) {
      // Each worker its own stream, so workers do not sleep in lockstep.
      let prng = new Prng(testDelay.seed)
      for (let w = 0; w <= worker; w++) prng = prng.fork()
      this.#delay = { prng, maxMs: testDelay.maxMs }
    }
  }

  run(i: number): void {
    if (this.#delay !== undefined && this.#delay.prng.float() < DELAYED_TX_SHARE) {
      Atomics.wait(this.#sleeper, 0, 0, this.#delay.prng.float() * this.#delay.maxMs)
    }
    const v = this.#v
    // The main thread may still be encoding the block and filling its pre-state; an aborted
    // block ends at drainBlock's next check.
    if (!awaitTxFilled(v, i, IDLE_WAIT_MS, STALL_TIMEOUT_MS)) return
    const encoded = v.txBytes.subarray(v.txOffsets[i]!, v.txOffsets[i + 1]!)
    // The tx's fields are views into the block's buffer: nothing keeps them past this call.
    const tx = decodeTxAliasing(encoded)
    const hash = txBodyHash(encoded)
    v.hashes.set(hash, i * HASH_BYTES)
    this.txsRun++
    if ((v.txFlags[i]! & TX_VERIFY) !== 0 && !verifyTx(tx)) {
      this.#fail(i, 'invalid signature')
      return
    }
    this.#state.bind(i)
    const outcome = applyTx(this.view, tx, hash)
    if (outcome.ok) this.#state.flush(this.view)
    else this.#fail(i, outcome.reason)
  }

  #fail(i: number, reason: string): void {
    this.failedTxs.push(i)
    this.failureReasons.push(reason)
  }
}

/**
 * LtHash partial sum over changed keys claimed in chunks from a shared cursor, after every tx
 * of the block is done: whichever worker is free sums the next chunk. The changes are generated
 * lazily, so a chunk is claimed only when changeDelta is ready to hash it (claiming them all
 * first left one worker hashing 16,000 entries alone while the other found nothing to claim).
 */
function commitmentShare(v: BlockViews): Uint16Array {
  return changeDelta(claimedChanges(v))
}

function* claimedChanges(v: BlockViews): Generator<EntryChange> {
  const { accounts, slots } = v.sizes
  for (;;) {
    const start = Atomics.add(v.control, COMMIT_CURSOR, COMMIT_CHUNK)
    if (start >= accounts + slots) return
    for (let key = start; key < Math.min(start + COMMIT_CHUNK, accounts + slots); key++) {
      if (key < accounts) {
        const k = key
        if ((v.accountFlags[k]! & KEY_WRITTEN) === 0) continue
        const address = v.accountKeys.slice(k * PUBLIC_KEY_BYTES, (k + 1) * PUBLIC_KEY_BYTES)
        const existed = (v.accountFlags[k]! & KEY_EXISTED_BEFORE) !== 0
        yield {
          before: existed ? accountEntry(address, { balance: v.balancesBefore[k]!, nonce: v.noncesBefore[k]! }) : undefined,
          after: accountEntry(address, { balance: v.balances[k]!, nonce: v.nonces[k]! }),
        }
      } else {
        const k = key - accounts
        if ((v.slotFlags[k]! & KEY_WRITTEN) === 0) continue
        const slotKey = v.slotKeys.slice(k * HASH_BYTES, (k + 1) * HASH_BYTES)
        const existed = (v.slotFlags[k]! & KEY_EXISTED_BEFORE) !== 0
        yield {
          before: existed ? slotEntry(slotKey, v.slotValuesBefore.slice(k * HASH_BYTES, (k + 1) * HASH_BYTES)) : undefined,
          after: slotEntry(slotKey, v.slotValues.slice(k * HASH_BYTES, (k + 1) * HASH_BYTES)),
        }
      }
    }
  }
}
