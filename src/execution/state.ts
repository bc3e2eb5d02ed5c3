import type { Account } from '../core/account.ts'
import { HASH_BYTES, fromHex, toHex } from '../core/hash.ts'
import { PUBLIC_KEY_BYTES } from '../core/keys.ts'
import type { Address } from '../core/tx.ts'
import { StateCommitment } from './commitment.ts'

/**
 * Fees are credited to this well-known address (all zeros, included in every genesis) so the
 * total supply is conserved by every block. The all-zero key is a small-order ed25519 point, so
 * no one can sign for it: the sink only ever receives (a tx from it fails, see transition.ts).
 * Credits to it commute, which is what lets the parallel executor keep it out of access sets.
 */
export const FEE_SINK: Address = new Uint8Array(PUBLIC_KEY_BYTES)
export const FEE_SINK_ID = toHex(FEE_SINK)

const U64_MAX = (1n << 64n) - 1n

/** State keys are lower-case hex: account id = hex(address), slot id = hex(access-list key). */
export type AccountId = string
export type SlotId = string

/**
 * The net effect of one block: final value of every account and compute slot it changed.
 * Entries are never deleted (no tx kind removes an account or a slot). Storage persists exactly
 * this, together with the receipts and the root, in one atomic batch.
 */
export interface StateWrites {
  readonly accounts: ReadonlyMap<AccountId, Account>
  readonly slots: ReadonlyMap<SlotId, Uint8Array>
}

/** What a block's execution reads: the state before the block. */
export interface StateReader {
  account(id: AccountId): Account | undefined
  slot(id: SlotId): Uint8Array | undefined
}

/** A block's outcome as WorldState.apply needs it (see ExecutionResult in executor.ts). */
export interface AppliedBlock {
  readonly baseVersion: number
  readonly writes: StateWrites
  readonly commitment: StateCommitment
}

/**
 * In-memory world state: accounts (address → balance, nonce) plus the 32-byte compute slots
 * that compute txs read and write, and the incremental LtHash commitment over both.
 *
 * Executing a block never mutates the state: executors read it and return writes plus the new
 * commitment; `apply` installs them. `version` counts applied blocks so a result computed
 * against an older state cannot be applied by mistake.
 */
export class WorldState implements StateReader {
  readonly #accounts = new Map<AccountId, Account>()
  readonly #slots = new Map<SlotId, Uint8Array>()
  #currentCommitment: StateCommitment
  #appliedBlocks = 0

  private constructor(commitment: StateCommitment) {
    this.#currentCommitment = commitment
  }

  /**
   * A state loaded from persisted entries (e.g. after a restart). The commitment is recomputed
   * from the entries; callers compare `root()` with the root stored alongside them.
   */
  static fromEntries(
    accounts: Iterable<readonly [Address, Account]>,
    slots: Iterable<readonly [Uint8Array, Uint8Array]> = [],
  ): WorldState {
    const accountList = [...accounts]
    const slotList = [...slots]
    const state = new WorldState(StateCommitment.fromEntries(accountList, slotList))
    for (const [address, account] of accountList) {
      if (address.length !== PUBLIC_KEY_BYTES) throw new RangeError(`account address must be ${PUBLIC_KEY_BYTES} bytes, got ${address.length}`)
      state.#accounts.set(toHex(address), account)
    }
    for (const [key, value] of slotList) {
      if (key.length !== HASH_BYTES || value.length !== HASH_BYTES) throw new RangeError(`slot key and value must be ${HASH_BYTES} bytes`)
      state.#slots.set(toHex(key), value)
    }
    const supply = state.totalSupply()
    // Credits never overflow u64 because every balance is bounded by the (conserved) supply.
    if (supply > U64_MAX) throw new RangeError(`total supply ${supply} exceeds u64: balances could overflow`)
    return state
  }

  get version(): number {
    return this.#appliedBlocks
  }

  get accountCount(): number {
    return this.#accounts.size
  }

  account(id: AccountId): Account | undefined {
    return this.#accounts.get(id)
  }

  slot(id: SlotId): Uint8Array | undefined {
    return this.#slots.get(id)
  }

  get(address: Address): Account | undefined {
    return this.#accounts.get(toHex(address))
  }

  get commitment(): StateCommitment {
    return this.#currentCommitment
  }

  root(): Uint8Array {
    return this.#currentCommitment.root()
  }

  totalSupply(): bigint {
    let supply = 0n
    for (const account of this.#accounts.values()) supply += account.balance
    return supply
  }

  /** Every entry, for persistence or for recomputing the commitment from scratch. */
  *accountEntries(): IterableIterator<[Address, Account]> {
    for (const [id, account] of this.#accounts) yield [fromHex(id), account]
  }

  *slotEntries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (const [id, value] of this.#slots) yield [fromHex(id), value]
  }

  /** Installs a block's result; it must have been computed against exactly this state. */
  apply(block: AppliedBlock): void {
    if (block.baseVersion !== this.#appliedBlocks) {
      throw new Error(`execution result was computed against state version ${block.baseVersion}, but the state is at version ${this.#appliedBlocks}`)
    }
    for (const [id, account] of block.writes.accounts) this.#accounts.set(id, account)
    for (const [id, value] of block.writes.slots) this.#slots.set(id, value)
    this.#currentCommitment = block.commitment
    this.#appliedBlocks++
  }
}

/** Genesis: the funded accounts plus the zero-balance fee sink. */
export function genesisState(accounts: readonly { address: Address; balance: bigint }[]): WorldState {
  const entries = new Map<AccountId, readonly [Address, Account]>()
  entries.set(FEE_SINK_ID, [FEE_SINK, { balance: 0n, nonce: 0n }])
  for (const { address, balance } of accounts) {
    const id = toHex(address)
    if (entries.has(id)) throw new Error(`genesis lists account ${id} twice (or funds the fee sink)`)
    if (balance < 0n || balance > U64_MAX) throw new RangeError(`genesis balance of ${id} is not a u64: ${balance}`)
    entries.set(id, [address, { balance, nonce: 0n }])
  }
  return WorldState.fromEntries(entries.values())
}
