import { genesisBlock, type Block } from '../core/block.ts'
import { bytesEqual, fromHex, toHex } from '../core/hash.ts'
import { WorldState, genesisState, type StateWrites as ExecutionWrites } from '../execution/state.ts'
import { StorageCorruptionError } from '../storage/errors.ts'
import type { NodeStore, StateWrites as StoredWrites } from '../storage/node-store.ts'
import type { GenesisConfig } from './config.ts'

/**
 * How the world state lives in the node store: execution's writes as storage keys, the genesis
 * state written once, and the state rebuilt (and checked against the stored root) at start.
 *
 * Compute slots are stored under `slot/<hex>` so they can never collide with an account, whose
 * storage key is its bare address hex (both are 32-byte values).
 */
const SLOT_PREFIX = 'slot/'

export function toStoredWrites(writes: ExecutionWrites): StoredWrites {
  const out = new Map<string, StoredWrites extends ReadonlyMap<string, infer V> ? V : never>(writes.accounts)
  for (const [id, value] of writes.slots) out.set(SLOT_PREFIX + id, value)
  return out
}

/**
 * The genesis block of `genesis`, written with the genesis state if the store is fresh. A store
 * that holds another chain is refused (a data dir reused across testnets).
 */
export async function initChain(store: NodeStore, genesis: GenesisConfig, where: string): Promise<Block> {
  const initial = genesisState(genesis.accounts)
  const block = genesisBlock(genesis.chainId, initial.root())
  if (!store.initialized) {
    const accounts = new Map([...initial.accountEntries()].map(([address, account]) => [toHex(address), account]))
    await store.initGenesis({ block, writes: toStoredWrites({ accounts, slots: new Map() }), root: initial.root() })
  }
  const stored = await store.blockAt(0)
  if (stored === undefined || !bytesEqual(stored.id, block.id)) {
    throw new Error(`storage at ${store.dir} holds another chain (genesis ${stored ? toHex(stored.id) : 'missing'}, expected ${toHex(block.id)} from ${where}); use a fresh dataDir`)
  }
  return block
}

/** Rebuilds the in-memory state from the store and checks it against the stored root. */
export async function loadState(store: NodeStore): Promise<WorldState> {
  const accounts = await store.accounts.entries()
  const slots: [Uint8Array, Uint8Array][] = []
  for (const [key, value] of await store.computeState.entries()) {
    const id = key.startsWith(SLOT_PREFIX) ? key.slice(SLOT_PREFIX.length) : undefined
    if (id === undefined || !(value instanceof Uint8Array)) throw new StorageCorruptionError(store.dir, `compute state entry ${key} is not a slot written by this node`)
    slots.push([fromHex(id), value])
  }
  const state = WorldState.fromEntries(accounts.map(([hex, a]) => [fromHex(hex), a] as const), slots)
  const stored = store.chainMeta().stateRoot
  if (!bytesEqual(state.root(), stored)) {
    throw new StorageCorruptionError(store.dir, `state root recomputed from the stored accounts is ${toHex(state.root())}, but the chain meta records ${toHex(stored)}`)
  }
  return state
}
