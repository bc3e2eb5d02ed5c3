/**
 * Canonical binary encoding for everything that is hashed or signed.
 *
 * Layout rules (big-endian, no padding, no field names, no optional reordering):
 *   u8 / u16 / u32      fixed-width unsigned integers
 *   u64                 8 bytes, values are bigint in [0, 2^64)
 *   fixed(n)            exactly n raw bytes (hashes, keys, signatures)
 *   bytes               u32 length + raw bytes, bounded by the caller's limit
 *   list<T>             u32 count + items, bounded by the caller's limit
 *   option<T>           u8 0 (absent) | u8 1 + T
 *
 * The same value always produces the same bytes: there are no maps, no insertion-order
 * dependence and no distinction between Buffer and Uint8Array (both are copied as raw bytes).
 * msgpackr is used for transport/storage envelopes only, never for what is hashed.
 *
 * Decoding untrusted bytes: every read is bounds-checked and every count is limited before any
 * allocation, and the only error that escapes is `DecodeError` (naming the field).
 */

export class DecodeError extends Error {
  readonly field: string
  constructor(field: string, message: string) {
    super(`decode ${field}: ${message}`)
    this.name = 'DecodeError'
    this.field = field
  }
}

const U64_MAX = (1n << 64n) - 1n

export class Writer {
  #buf: Buffer
  #len = 0

  constructor(initial = 256) {
    this.#buf = Buffer.allocUnsafe(initial)
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return
    let size = Math.max(1, this.#buf.length) * 2
    while (size < this.#len + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.#buf.copy(next, 0, 0, this.#len)
    this.#buf = next
  }

  u8(v: number): this {
    this.#reserve(1)
    this.#buf.writeUInt8(v, this.#len)
    this.#len += 1
    return this
  }

  u16(v: number): this {
    this.#reserve(2)
    this.#buf.writeUInt16BE(v, this.#len)
    this.#len += 2
    return this
  }

  u32(v: number): this {
    this.#reserve(4)
    this.#buf.writeUInt32BE(v, this.#len)
    this.#len += 4
    return this
  }

  u64(v: bigint): this {
    if (v < 0n || v > U64_MAX) throw new RangeError(`u64 out of range: ${v}`)
    this.#reserve(8)
    this.#buf.writeBigUInt64BE(v, this.#len)
    this.#len += 8
    return this
  }

  fixed(bytes: Uint8Array, n: number): this {
    if (bytes.length !== n) throw new RangeError(`expected ${n} bytes, got ${bytes.length}`)
    this.#reserve(n)
    this.#buf.set(bytes, this.#len)
    this.#len += n
    return this
  }

  bytes(bytes: Uint8Array): this {
    this.u32(bytes.length)
    this.#reserve(bytes.length)
    this.#buf.set(bytes, this.#len)
    this.#len += bytes.length
    return this
  }

  /** Appends already-canonical bytes verbatim (a nested encoding). */
  raw(bytes: Uint8Array): this {
    this.#reserve(bytes.length)
    this.#buf.set(bytes, this.#len)
    this.#len += bytes.length
    return this
  }

  list<T>(items: readonly T[], write: (w: this, item: T) => void): this {
    this.u32(items.length)
    for (const item of items) write(this, item)
    return this
  }

  option<T>(value: T | undefined, write: (w: this, item: T) => void): this {
    if (value === undefined) return this.u8(0)
    this.u8(1)
    write(this, value)
    return this
  }

  /** Returns a plain Uint8Array view of exactly the written bytes. */
  finish(): Uint8Array {
    return new Uint8Array(this.#buf.buffer, this.#buf.byteOffset, this.#len)
  }
}

export class Reader {
  readonly #view: DataView
  #pos = 0
  readonly bytes: Uint8Array
  readonly #aliasing: boolean

  /**
   * `aliasing`: fixed() and bytesField() return views into `bytes` rather than copies, for a
   * caller whose decoded value is dropped before `bytes` can change (no allocation per field).
   */
  constructor(bytes: Uint8Array, aliasing = false) {
    this.bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.#aliasing = aliasing
  }

  get offset(): number {
    return this.#pos
  }

  get remaining(): number {
    return this.bytes.length - this.#pos
  }

  #need(n: number, field: string): void {
    if (this.#pos + n > this.bytes.length) {
      throw new DecodeError(field, `truncated: need ${n} bytes at offset ${this.#pos}, have ${this.remaining}`)
    }
  }

  u8(field: string): number {
    this.#need(1, field)
    return this.#view.getUint8(this.#pos++)
  }

  u16(field: string): number {
    this.#need(2, field)
    const v = this.#view.getUint16(this.#pos)
    this.#pos += 2
    return v
  }

  u32(field: string): number {
    this.#need(4, field)
    const v = this.#view.getUint32(this.#pos)
    this.#pos += 4
    return v
  }

  u64(field: string): bigint {
    this.#need(8, field)
    const v = this.#view.getBigUint64(this.#pos)
    this.#pos += 8
    return v
  }

  /** A u64 that must fit a JS number exactly (rounds, heights, timestamps). */
  safeU64(field: string): number {
    const v = this.u64(field)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(field, `value ${v} exceeds 2^53-1`)
    return Number(v)
  }

  /** Copies n bytes out (unless aliasing) so decoded values never alias the (reusable) input buffer. */
  fixed(n: number, field: string): Uint8Array {
    this.#need(n, field)
    const out = this.#aliasing ? this.bytes.subarray(this.#pos, this.#pos + n) : this.bytes.slice(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }

  bytesField(field: string, maxLength: number): Uint8Array {
    const len = this.u32(field)
    if (len > maxLength) throw new DecodeError(field, `length ${len} exceeds limit ${maxLength}`)
    return this.fixed(len, field)
  }

  list<T>(field: string, maxCount: number, read: (r: this, index: number) => T): T[] {
    const count = this.u32(field)
    if (count > maxCount) throw new DecodeError(field, `count ${count} exceeds limit ${maxCount}`)
    const out: T[] = []
    for (let i = 0; i < count; i++) out.push(read(this, i))
    return out
  }

  option<T>(field: string, read: (r: this) => T): T | undefined {
    const tag = this.u8(field)
    if (tag === 0) return undefined
    if (tag !== 1) throw new DecodeError(field, `invalid option tag ${tag}`)
    return read(this)
  }

  /** Canonical decoding: trailing bytes would give two encodings of one value. */
  end(field: string): void {
    if (this.remaining !== 0) throw new DecodeError(field, `${this.remaining} trailing bytes`)
  }
}

/**
 * Runs a decoder over untrusted bytes: anything other than a DecodeError thrown inside (a
 * RangeError from a DataView, say) is converted, so callers only ever handle DecodeError.
 */
export function decodeWith<T>(bytes: Uint8Array, field: string, read: (r: Reader) => T, aliasing = false): T {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError(field, 'input is not a byte array')
  try {
    const r = new Reader(bytes, aliasing)
    const value = read(r)
    r.end(field)
    return value
  } catch (err) {
    if (err instanceof DecodeError) throw err
    throw new DecodeError(field, (err as Error).message)
  }
}
