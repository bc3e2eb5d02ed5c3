/**
 * LtHash lane arithmetic in WebAssembly SIMD: `add(dst, src)` and `sub(dst, src)` update the
 * 1024 u16 lanes (2 KiB) at byte offset `dst` of the module's memory by the lanes at `src`,
 * lane-wise mod 2^16, eight lanes per `i16x8` instruction. JavaScript has no 16-bit vector type:
 * its best is two lanes per 32-bit word with masks for the carries (≈ 4× the instructions, each
 * array access bounds-checked), and the sums were the largest self time of a validator's main
 * thread under load (docs/decisions.md, "Sixth pass").
 *
 * The module is a few dozen bytes written out below rather than a build artifact: the function
 * bodies are one loop each, and the tests pin both against the plain mod-2^16 sum.
 */

/**
 * The part of the WebAssembly JS API used here: this project's TypeScript libraries (es2023 and
 * Node's) do not declare it, and the DOM library would declare far more than Node has.
 */
declare const WebAssembly: {
  readonly Module: new (bytes: Uint8Array) => object
  readonly Instance: new (module: object) => { readonly exports: object }
}

/** unsigned LEB128 */
function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}

const name = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)]
const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content]
const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]

const I32 = 0x7f
const OP = {
  loop: 0x03, end: 0x0b, brIf: 0x0d, localGet: 0x20, localTee: 0x22,
  i32Const: 0x41, i32LtU: 0x49, i32Add: 0x6a, simd: 0xfd,
} as const
/** SIMD sub-opcodes (after 0xfd, as unsigned LEB128). */
const SIMD = { v128Load: 0x00, v128Store: 0x0b, i16x8Add: 0x8e, i16x8Sub: 0x91 } as const
/** memarg: alignment 2^4 = 16 bytes (a hint), offset 0. */
const MEMARG = [4, 0]

/** (dst, src) → (): for i in 0, 16, …, 2032: mem[dst+i] = op(mem[dst+i], mem[src+i]) as i16x8. */
function laneLoop(simdOp: number): number[] {
  const [dst, src, i] = [0, 1, 2]
  const at = (base: number): number[] => [OP.localGet, base, OP.localGet, i, OP.i32Add]
  const code = [
    OP.loop, 0x40,
    ...at(dst),
    ...at(dst), OP.simd, ...uleb(SIMD.v128Load), ...MEMARG,
    ...at(src), OP.simd, ...uleb(SIMD.v128Load), ...MEMARG,
    OP.simd, ...uleb(simdOp),
    OP.simd, ...uleb(SIMD.v128Store), ...MEMARG,
    OP.localGet, i, OP.i32Const, 16, OP.i32Add, OP.localTee, i,
    OP.i32Const, 0x80, 0x10, // 2048, signed LEB128
    OP.i32LtU, OP.brIf, 0,
    OP.end,
    OP.end,
  ]
  const body = [...vector([[1, I32]]), ...code]
  return [...uleb(body.length), ...body]
}

/** The module: memory of `pages` 64 KiB pages (exported), functions add and sub. */
function laneModuleBytes(pages: number): Uint8Array {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([[0x60, ...vector([[I32], [I32]]), ...vector([])]])),
    ...section(3, vector([[0], [0]])),
    ...section(5, vector([[0x00, ...uleb(pages)]])),
    ...section(7, vector([[...name('add'), 0x00, 0], [...name('sub'), 0x00, 1], [...name('memory'), 0x02, 0]])),
    ...section(10, vector([laneLoop(SIMD.i16x8Add), laneLoop(SIMD.i16x8Sub)])),
  ])
}

export interface LaneSums {
  /** The module's memory: the lanes the functions work on live here. */
  readonly memory: { readonly buffer: ArrayBuffer }
  /** Lanes at `dst` += lanes at `src` (byte offsets, 16-byte aligned). */
  readonly add: (dst: number, src: number) => void
  /** Lanes at `dst` −= lanes at `src`. */
  readonly sub: (dst: number, src: number) => void
}

/** A module instance with at least `bytes` of memory; its buffer never grows (views stay valid). */
export function laneSums(bytes: number): LaneSums {
  const pages = Math.ceil(bytes / 65_536)
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(laneModuleBytes(pages)))
  return exports as unknown as LaneSums
}
