/**
 * Many encoded txs in one ArrayBuffer, so a verify task crosses the thread boundary as a single
 * transferred buffer (no structured clone of thousands of small arrays).
 *
 * Layout: u32 count | u32 length × count | tx bytes, concatenated in order (little-endian, this
 * never leaves the process).
 */
export function packTxs(encoded: readonly Uint8Array[]): ArrayBuffer {
  const header = 4 + 4 * encoded.length
  let total = header
  for (const tx of encoded) total += tx.length
  const buffer = new ArrayBuffer(total)
  const view = new DataView(buffer)
  const bytes = new Uint8Array(buffer)
  view.setUint32(0, encoded.length, true)
  let offset = header
  encoded.forEach((tx, i) => {
    view.setUint32(4 + 4 * i, tx.length, true)
    bytes.set(tx, offset)
    offset += tx.length
  })
  return buffer
}

/** Views into `buffer` (no copies), one per packed tx. */
export function unpackTxs(buffer: ArrayBuffer): Uint8Array[] {
  const view = new DataView(buffer)
  const count = view.getUint32(0, true)
  const out: Uint8Array[] = []
  let offset = 4 + 4 * count
  for (let i = 0; i < count; i++) {
    const length = view.getUint32(4 + 4 * i, true)
    out.push(new Uint8Array(buffer, offset, length))
    offset += length
  }
  return out
}
