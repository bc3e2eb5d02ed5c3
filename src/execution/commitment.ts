import { endianness } from 'node:os'
import sodium from 'sodium-native'
import type { Account } from '../core/account.ts'
import { Writer } from '../core/codec.ts'
import { HASH_BYTES, bytesEqualAt, sha256 } from '../core/hash.ts'
import { PUBLIC_KEY_BYTES } from '../core/keys.ts'
import { SlotIndex } from '../core/slot-index.ts'
import { laneSums, type LaneSums } from './lane-sums.ts'

/**
 * LtHash16 (Bellare–Micciancio multiset hash as used by Facebook's "Securing update propagation
 * with homomorphic hashing"): every state entry maps to 1024 lanes of u16, and the state's hash
 * is the lane-wise sum mod 2^16 of all its entries.
 *
 * Why: the sum is order-independent (so the root does not depend on insertion order or on which
 * worker summed which entries) and incremental (updating an entry subtracts its old vector and
 * adds the new one, O(changed entries) per block instead of O(state)). 1024×16-bit lanes is the
 * parameter set analysed for ~200-bit security against finding colliding multisets.
 *
 * An entry's lanes are the first 2048 bytes of the ChaCha20 keystream (RFC 8439, counter 0,
 * zero nonce) under the key SHA-256(ENTRY_DOMAIN || entry), read as little-endian u16: a hash
 * (random oracle) for the key and a standard PRF for the expansion. Both are libsodium's
 * (sodium-native), written straight into the caller's fixed arrays: ≈ 1.3 µs per entry against
 * 3.1 µs for the same functions in plain JS and 6.4 µs for node:crypto SHAKE256, whose digest
 * object and 2 KiB Buffer per entry made two threads slow each other down (docs/decisions.md).
 * Lanes are added and subtracted eight at a time in WebAssembly SIMD (lane-sums.ts).
 */
export const LANES = 1024
export const LANE_BYTES = LANES * 2

// Lanes are read from the keystream and written into the root as little-endian u16; a
// big-endian host would compute different roots from the same state, so refuse to start.
if (endianness() !== 'LE') throw new Error('StateCommitment assumes a little-endian host (lanes are LE u16)')

const ROOT_DOMAIN = new TextEncoder().encode('bftlab/state-root/v2')
const ENTRY_DOMAIN = new TextEncoder().encode('bftlab/lthash-entry/v2')

/** Entry namespaces: an account and a compute slot with the same 32-byte key are distinct entries. */
const ENTRY_ACCOUNT = 1
const ENTRY_SLOT = 2

/** Canonical bytes of an account entry: u8 tag | address | u64 balance | u64 nonce. */
export function accountEntry(address: Uint8Array, account: Account): Uint8Array {
  return new Writer(1 + PUBLIC_KEY_BYTES + 16)
    .u8(ENTRY_ACCOUNT)
    .fixed(address, PUBLIC_KEY_BYTES)
    .u64(account.balance)
    .u64(account.nonce)
    .finish()
}

/** Canonical bytes of a compute-slot entry: u8 tag | key | value. */
export function slotEntry(key: Uint8Array, value: Uint8Array): Uint8Array {
  return new Writer(1 + 2 * HASH_BYTES).u8(ENTRY_SLOT).fixed(key, HASH_BYTES).fixed(value, HASH_BYTES).finish()
}

/** The longest entry kind: a compute slot's (tag, key, value). */
const MAX_ENTRY_BYTES = 1 + 2 * HASH_BYTES

function checkEntryLength(entry: Uint8Array): void {
  if (entry.length > MAX_ENTRY_BYTES) throw new RangeError(`state entry of ${entry.length} bytes is longer than any entry kind`)
}

/** Scratch (per thread): the domain-prefixed entry and the ChaCha20 key; the nonce is zero. */
const keyInput = new Uint8Array(ENTRY_DOMAIN.length + MAX_ENTRY_BYTES)
keyInput.set(ENTRY_DOMAIN)
const key = new Uint8Array(HASH_BYTES)
const NONCE = new Uint8Array(12)

/** Writes `entry`'s 1024 lanes as 512 words into `out` at word `offset`. */
export function expandEntry(entry: Uint8Array, out: Uint32Array, offset: number): void {
  checkEntryLength(entry)
  keyInput.set(entry, ENTRY_DOMAIN.length)
  sodium.crypto_hash_sha256(key, keyInput.subarray(0, ENTRY_DOMAIN.length + entry.length))
  // The keystream's bytes are the lanes as little-endian u16, two per little-endian word.
  sodium.crypto_stream_chacha20_ietf(new Uint8Array(out.buffer, out.byteOffset + 4 * offset, LANE_BYTES), NONCE, key)
}

/**
 * Where lanes are summed: the memory of a LaneSums module (lane-sums.ts, WebAssembly SIMD), laid
 * out as the block's running delta, a scratch entry, then the memo's pool. Created on first use
 * (per thread: the parallel executor's workers each have their own).
 */
const DELTA_AT = 0
const SCRATCH_AT = LANE_BYTES
const POOL_AT = 2 * LANE_BYTES

/**
 * Lanes of recently written entries, keyed by the entry's bytes. A changed entry's `before` is
 * the `after` of its previous change, so with this memo an update costs one expansion instead
 * of two. A memo of a pure function: no result depends on its contents. The lanes live in one
 * preallocated pool (8,192 entries × 2 KiB = 16 MiB per thread, allocated on first use), so
 * memoising allocates no Buffer per entry. A slot freed by `take` is reused by the next `put`
 * (an account's new lanes land where its old ones were): the live entries stay in as few cache
 * lines as the state has changed entries, instead of cycling through all 16 MiB. Only a full
 * pool evicts, oldest slot first. Entries are found by a 32-bit FNV-1a of their bytes
 * (SlotIndex) and compared in full; two entries with the same key displace each other.
 */
const MEMO_ENTRIES = 8_192
/** Per slot: the entry's length, then its bytes. */
const MEMO_ENTRY_STRIDE = 1 + MAX_ENTRY_BYTES
class LanesMemo {
  readonly #slots = new SlotIndex(MEMO_ENTRIES)
  readonly #entries = new Uint8Array(MEMO_ENTRIES * MEMO_ENTRY_STRIDE)
  readonly #free: number[] = []
  /** Slots handed out so far; once all are, `next` is the slot the next eviction takes. */
  #filled = 0
  #next = 0

  /** The byte offset in `lanes` of `entry`'s lanes, or −1; they leave the memo (the entry left the state) and stay readable until the next `put`. */
  take(entry: Uint8Array): number {
    const key = entryKey(entry)
    const slot = this.#slots.get(key)
    if (slot < 0 || !this.#holds(slot, entry)) return -1
    this.#release(key, slot)
    return POOL_AT + slot * LANE_BYTES
  }

  /** Expands `entry` into a free slot (else the oldest) of `lanes` and returns its byte offset. */
  put(entry: Uint8Array, lanes: Uint32Array): number {
    checkEntryLength(entry)
    const key = entryKey(entry)
    const previous = this.#slots.get(key)
    if (previous >= 0) this.#release(key, previous)
    const slot = this.#free.pop() ?? (this.#filled < MEMO_ENTRIES ? this.#filled++ : this.#evictOldest())
    this.#slots.set(key, slot)
    this.#entries[slot * MEMO_ENTRY_STRIDE] = entry.length
    this.#entries.set(entry, slot * MEMO_ENTRY_STRIDE + 1)
    const at = POOL_AT + slot * LANE_BYTES
    expandEntry(entry, lanes, at / 4)
    return at
  }

  #holds(slot: number, entry: Uint8Array): boolean {
    const at = slot * MEMO_ENTRY_STRIDE
    return this.#entries[at] === entry.length && bytesEqualAt(this.#entries, at + 1, entry)
  }

  #release(key: number, slot: number): void {
    this.#slots.delete(key)
    this.#free.push(slot)
  }

  /** Only called with no free slot, so every slot holds an entry. */
  #evictOldest(): number {
    const slot = this.#next
    this.#next = (slot + 1) % MEMO_ENTRIES
    this.#slots.delete(this.#slots.keyAt(slot))
    return slot
  }
}

/** 32-bit FNV-1a of an entry's bytes: the memo's key. */
function entryKey(entry: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < entry.length; i++) h = Math.imul(h ^ entry[i]!, 0x01000193)
  return h >>> 0
}
const memo = new LanesMemo()
interface LaneMemory {
  readonly module: LaneSums
  readonly words: Uint32Array
}
let sums: LaneMemory | undefined
function laneMemory(): LaneMemory {
  if (sums === undefined) {
    const module = laneSums(POOL_AT + MEMO_ENTRIES * LANE_BYTES)
    sums = { module, words: new Uint32Array(module.memory.buffer) }
  }
  return sums
}

/** One entry's change within a block: `before` is absent when the entry is created. */
export interface EntryChange {
  readonly before?: Uint8Array
  readonly after: Uint8Array
}

/**
 * Σ lanes(after) − Σ lanes(before) over the changes: the partial sum a worker returns for its
 * share of a block's changed entries.
 */
export function changeDelta(changes: Iterable<EntryChange>): Uint16Array {
  const { module, words } = laneMemory()
  words.fill(0, DELTA_AT / 4, (DELTA_AT + LANE_BYTES) / 4)
  for (const change of changes) {
    if (change.before !== undefined) {
      let at = memo.take(change.before)
      if (at < 0) {
        at = SCRATCH_AT
        expandEntry(change.before, words, at / 4)
      }
      module.sub(DELTA_AT, at)
    }
    module.add(DELTA_AT, memo.put(change.after, words))
  }
  return new Uint16Array(words.buffer.slice(DELTA_AT, DELTA_AT + LANE_BYTES))
}

/** The LtHash accumulator of a whole state; immutable, so a result never aliases its base state. */
export class StateCommitment {
  readonly #lanes: Uint16Array

  private constructor(lanes: Uint16Array) {
    this.#lanes = lanes
  }

  static empty(): StateCommitment {
    return new StateCommitment(new Uint16Array(LANES))
  }

  /**
   * Recomputes the commitment of a full state from its entries, e.g. accounts and slots loaded
   * from disk after a restart: the result must equal the root stored with the last block.
   */
  static fromEntries(
    accounts: Iterable<readonly [Uint8Array, Account]>,
    slots: Iterable<readonly [Uint8Array, Uint8Array]> = [],
  ): StateCommitment {
    const changes: EntryChange[] = []
    for (const [address, account] of accounts) changes.push({ after: accountEntry(address, account) })
    for (const [key, value] of slots) changes.push({ after: slotEntry(key, value) })
    return new StateCommitment(changeDelta(changes))
  }

  /** This commitment plus partial sums (from changeDelta, possibly computed by several workers). */
  plus(deltas: Iterable<Uint16Array>): StateCommitment {
    const lanes = this.#lanes.slice()
    for (const delta of deltas) {
      if (delta.length !== LANES) throw new RangeError(`commitment delta has ${delta.length} lanes, expected ${LANES}`)
      for (let i = 0; i < LANES; i++) lanes[i] += delta[i]!
    }
    return new StateCommitment(lanes)
  }

  /** 32-byte state root: sha256(domain || lanes as little-endian u16). */
  root(): Uint8Array {
    return sha256(ROOT_DOMAIN, new Uint8Array(this.#lanes.buffer, this.#lanes.byteOffset, LANE_BYTES))
  }
}
