import type { Account } from '../core/account.ts'
import { bytesEqual, hashKey31, toHex } from '../core/hash.ts'
import { encodeTx, txBodyHashes, verifyTx, type Tx } from '../core/tx.ts'
import { accountEntry, changeDelta, slotEntry, type EntryChange, type StateCommitment } from './commitment.ts'
import type { Receipt } from './receipts.ts'
import { FEE_SINK_ID, type AccountId, type AppliedBlock, type SlotId, type StateReader, type StateWrites, type WorldState } from './state.ts'
import { BlockOverlay, applyTx } from './transition.ts'

export interface ExecuteOptions {
  /**
   * `unverified[i]` marks txs[i] as never signature-checked on this validator (learned via
   * sync, not admitted locally): the executor verifies it, and an invalid signature gives a
   * failed receipt `invalid signature`. Every other tx is trusted to be verified at admission.
   */
  readonly unverified?: readonly boolean[]
  /**
   * The txs' canonical encodings and hashes when the caller already holds them (a node has them
   * from the batches it stored): `encoded[i]` must be encodeTx(txs[i]) and `hashes[i]` its
   * txHash. Saves encoding and hashing every tx again; the results are the same.
   */
  readonly known?: { readonly encoded: readonly Uint8Array[]; readonly hashes: readonly Uint8Array[] }
}

export interface ExecutionStats {
  readonly path: 'sequential' | 'parallel'
  /** Worker tasks used (execution, signature checks and commitment partial sums). */
  readonly tasks: number
  /** Txs executed more than once; always 0 for the declared-access-set scheduler. */
  readonly reexecutions: number
}

/**
 * A block's outcome. The state passed in is not mutated: `state.apply(result)` installs it
 * (after the node has persisted `writes` + receipts + root in one atomic batch).
 */
export interface ExecutionResult extends AppliedBlock {
  readonly receipts: readonly Receipt[]
  /** State root after the block (LtHash commitment). */
  readonly root: Uint8Array
  readonly stats: ExecutionStats
}

/** Per-block facts both executors derive before executing anything. */
export interface PreparedBlock {
  readonly txs: readonly Tx[]
  /** Canonical encoding of each tx (body || signature), the bytes workers receive. */
  readonly encoded: readonly Uint8Array[]
  readonly hashes: readonly Uint8Array[]
  /** Failure reasons decided before execution: `duplicate` (same hash earlier in the block), `invalid signature`. */
  readonly preFailed: (string | undefined)[]
}

export function checkExecuteOptions(txs: readonly Tx[], opts: ExecuteOptions): void {
  if (opts.unverified !== undefined && opts.unverified.length !== txs.length) {
    throw new RangeError(`unverified has ${opts.unverified.length} flags for ${txs.length} txs`)
  }
  if (opts.known !== undefined && (opts.known.encoded.length !== txs.length || opts.known.hashes.length !== txs.length)) {
    throw new RangeError(`known has ${opts.known.encoded.length} encodings and ${opts.known.hashes.length} hashes for ${txs.length} txs`)
  }
}

export function prepareBlock(txs: readonly Tx[], opts: ExecuteOptions): PreparedBlock {
  checkExecuteOptions(txs, opts)
  const encoded = opts.known?.encoded ?? txs.map(encodeTx)
  const hashes = opts.known?.hashes ?? txBodyHashes(encoded)
  return { txs, encoded, hashes, preFailed: duplicateFlags(hashes) }
}

/**
 * `duplicate` for every hash equal to an earlier one. Keyed by the hashes' first 31 bits, the
 * first hash under a key compared in full; the rare others that share a key go to a hex set.
 */
function duplicateFlags(hashes: readonly Uint8Array[]): (string | undefined)[] {
  const firstWithKey = new Map<number, Uint8Array>()
  let sharingKey: Set<string> | undefined
  return hashes.map((hash) => {
    const key = hashKey31(hash)
    const first = firstWithKey.get(key)
    if (first === undefined) {
      firstWithKey.set(key, hash)
      return undefined
    }
    if (bytesEqual(first, hash)) return 'duplicate'
    const id = toHex(hash)
    sharingKey ??= new Set()
    if (sharingKey.has(id)) return 'duplicate'
    sharingKey.add(id)
    return undefined
  })
}

/** Runs txs[i] for every i in `indices` (block order) over `view`, filling `receipts`. */
export function runTxs(block: PreparedBlock, indices: Iterable<number>, view: BlockOverlay, receipts: Receipt[]): void {
  for (const i of indices) {
    const txHash = block.hashes[i]!
    const preFailure = block.preFailed[i]
    if (preFailure !== undefined) {
      receipts[i] = { txHash, status: 'failed', reason: preFailure }
      continue
    }
    const outcome = applyTx(view, block.txs[i]!, txHash)
    receipts[i] = outcome.ok ? { txHash, status: 'ok' } : { txHash, status: 'failed', reason: outcome.reason }
  }
}

/** The fee sink after the block's credits (no tx writes it directly), or undefined if none. */
export function feeSinkAfter(base: StateReader, credit: bigint): Account | undefined {
  if (credit <= 0n) return undefined
  const sink = base.account(FEE_SINK_ID) ?? { balance: 0n, nonce: 0n }
  return { balance: sink.balance + credit, nonce: sink.nonce }
}

/** The block's net writes (fee-sink credit included) and the entry changes they imply. */
export function collectWrites(base: WorldState, view: BlockOverlay): { writes: StateWrites; changes: EntryChange[] } {
  const accounts = new Map<AccountId, Account>(view.accounts)
  const sink = feeSinkAfter(base, view.feeSinkCredit)
  if (sink !== undefined) accounts.set(FEE_SINK_ID, sink)
  const slots = new Map<SlotId, Uint8Array>(view.slots)
  const changes: EntryChange[] = []
  for (const [id, account] of accounts) {
    const address = Buffer.from(id, 'hex')
    const before = base.account(id)
    changes.push({ before: before && accountEntry(address, before), after: accountEntry(address, account) })
  }
  for (const [id, value] of slots) {
    const key = Buffer.from(id, 'hex')
    const before = base.slot(id)
    changes.push({ before: before && slotEntry(key, before), after: slotEntry(key, value) })
  }
  return { writes: { accounts, slots }, changes }
}

export function buildResult(
  base: WorldState,
  receipts: readonly Receipt[],
  writes: StateWrites,
  commitment: StateCommitment,
  stats: ExecutionStats,
): ExecutionResult {
  return { baseVersion: base.version, receipts, writes, commitment, root: commitment.root(), stats }
}

/**
 * The reference executor (the oracle the parallel one must match bit for bit): every tx in
 * block order on the calling thread, signatures of `unverified` txs checked here too.
 */
export function executeSequential(state: WorldState, txs: readonly Tx[], opts: ExecuteOptions = {}): ExecutionResult {
  const block = prepareBlock(txs, opts)
  opts.unverified?.forEach((unverified, i) => {
    if (unverified && block.preFailed[i] === undefined && !verifyTx(txs[i]!)) block.preFailed[i] = 'invalid signature'
  })
  const view = new BlockOverlay(state)
  const receipts: Receipt[] = new Array(txs.length)
  runTxs(block, txs.keys(), view, receipts)
  const { writes, changes } = collectWrites(state, view)
  const commitment = state.commitment.plus([changeDelta(changes)])
  return buildResult(state, receipts, writes, commitment, { path: 'sequential', tasks: 0, reexecutions: 0 })
}
