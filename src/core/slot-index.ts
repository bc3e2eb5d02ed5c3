/**
 * Unsigned 32-bit keys → slots 0 … capacity−1 of a caller's fixed table, at most one slot per
 * key: an open-addressing index in typed arrays (linear probing, at most half full, deletion by
 * backward shift). Callers keep their entries' bytes and compare them in full after a lookup, so
 * two entries whose keys collide only displace each other.
 *
 * Not a Map: a full Map churned by one delete and one insert per entry rebuilds its whole table
 * every `size` operations (megabytes at tens of thousands of keys, on fresh pages); this index
 * allocates once.
 */
export class SlotIndex {
  readonly capacity: number
  /** Slot + 1 per position, 0 = empty; twice the capacity or more, a power of two. */
  readonly #positions: Int32Array
  readonly #mask: number
  readonly #keyOfSlot: Uint32Array

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`slot index capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
    const size = 2 ** Math.ceil(Math.log2(2 * capacity))
    this.#positions = new Int32Array(size)
    this.#mask = size - 1
    this.#keyOfSlot = new Uint32Array(capacity)
  }

  /** The slot of `key`, or −1. */
  get(key: number): number {
    return this.#positions[this.#positionOf(key)]! - 1
  }

  /** The key `slot` was last set under (meaningful only while that key is held). */
  keyAt(slot: number): number {
    return this.#keyOfSlot[slot]!
  }

  /** Puts `key` (not held: `get` is −1) at `slot` (which no held key uses). */
  set(key: number, slot: number): void {
    this.#positions[this.#positionOf(key)] = slot + 1
    this.#keyOfSlot[slot] = key
  }

  /** Forgets `key` if held. */
  delete(key: number): void {
    let hole = this.#positionOf(key)
    if (this.#positions[hole] === 0) return
    let next = hole
    for (let probes = 0; ; probes++) {
      if (probes > this.#mask) throw new Error(INDEX_FULL)
      next = (next + 1) & this.#mask
      const held = this.#positions[next]!
      if (held === 0) break
      const home = this.#keyOfSlot[held - 1]! & this.#mask
      // The entry stays unless its home lies cyclically outside (hole, next].
      const staysPut = hole <= next ? hole < home && home <= next : hole < home || home <= next
      if (!staysPut) {
        this.#positions[hole] = held
        hole = next
      }
    }
    this.#positions[hole] = 0
  }

  /** Where `key` is, or the empty position where it would go. */
  #positionOf(key: number): number {
    let position = key & this.#mask
    for (let probes = 0; probes <= this.#mask; probes++) {
      const held = this.#positions[position]!
      if (held === 0 || this.#keyOfSlot[held - 1] === key) return position
      position = (position + 1) & this.#mask
    }
    throw new Error(INDEX_FULL)
  }
}

/**
 * The index is never more than half full, so a scan through all its positions means a deletion
 * left stale entries behind (or a caller broke `set`'s contract): that throws rather than
 * spinning the event loop forever.
 */
const INDEX_FULL = 'slot index has no empty position'
