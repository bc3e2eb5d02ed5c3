/**
 * The simulator's agenda: callbacks ordered by virtual time. Ties are broken by insertion order
 * (a monotonically increasing sequence number), so two events at the same instant always run in
 * the order they were scheduled — the property that makes a run reproducible bit for bit.
 */
interface Entry {
  readonly time: number
  readonly seq: number
  readonly run: () => void
}

function before(x: Entry, y: Entry): boolean {
  return x.time < y.time || (x.time === y.time && x.seq < y.seq)
}

export class EventQueue {
  readonly #heap: Entry[] = []
  #seq = 0
  #now = 0

  /** Current virtual time in ms: the time of the event being run (0 before the first). */
  get now(): number {
    return this.#now
  }

  get size(): number {
    return this.#heap.length
  }

  /** Runs `run` at virtual time `time` (≥ now: the past cannot be scheduled). */
  at(time: number, run: () => void): void {
    if (!(time >= this.#now)) throw new RangeError(`cannot schedule at ${time} ms: virtual time is already ${this.#now} ms`)
    const heap = this.#heap
    const entry: Entry = { time, seq: this.#seq++, run }
    let i = heap.length
    heap.push(entry)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(entry, heap[parent]!)) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = entry
  }

  after(delayMs: number, run: () => void): void {
    this.at(this.#now + delayMs, run)
  }

  /** Time of the next event, or undefined when the agenda is empty. */
  peekTime(): number | undefined {
    return this.#heap[0]?.time
  }

  /** Pops and runs the earliest event; false when there is none. */
  step(): boolean {
    const heap = this.#heap
    const top = heap[0]
    if (top === undefined) return false
    const last = heap.pop()!
    if (heap.length > 0) {
      let i = 0
      const size = heap.length
      for (;;) {
        const left = 2 * i + 1
        if (left >= size) break
        const right = left + 1
        const child = right < size && before(heap[right]!, heap[left]!) ? right : left
        if (!before(heap[child]!, last)) break
        heap[i] = heap[child]!
        i = child
      }
      heap[i] = last
    }
    this.#now = top.time
    top.run()
    return true
  }
}
