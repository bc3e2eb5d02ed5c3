import { deepStrictEqual } from 'node:assert/strict'
import fc from 'fast-check'
import { decodeTx, encodeTx } from '../../../src/core/index.ts'
import { TxJsonError, txFromJson, txToJson } from '../../../src/node/tx-json.ts'
import { FuzzViolation, decodeTyped, defineTarget, mustSucceed, type FuzzTarget, type Outcome } from '../engine.ts'
import { txArbitrary } from '../values.ts'

/**
 * `POST /tx` bodies after JSON.parse: random JSON, and valid tx JSON with fields deleted,
 * retyped, out of range, of the wrong length, deeply nested or a megabyte long, and extra keys.
 */

const FIELDS = ['kind', 'from', 'to', 'amount', 'nonce', 'fee', 'computeUnits', 'accessList', 'payload', 'signature'] as const

/** The request body limit (fastify's default, 1 MiB) bounds the strings a client can send. */
const BODY_LIMIT_BYTES = 1024 * 1024

/** Arrays nested `depth` deep, as JSON.parse builds them from `[[[…]]]` (built without recursion). */
export function nestedArrays(depth: number): unknown[] {
  let value: unknown[] = []
  for (let i = 1; i < depth; i++) value = [value]
  return value
}

function nestingDepth(value: unknown): number {
  let depth = 0
  for (let v = value; Array.isArray(v); v = v[0]) depth++
  return depth
}

/** Built once: generating a megabyte per input would dominate the run. */
const LONG_STRINGS = ['ab'.repeat(BODY_LIMIT_BYTES / 2), '9'.repeat(BODY_LIMIT_BYTES), 'x'.repeat(BODY_LIMIT_BYTES)]

const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null, true, false, 0, -1, -0, 1.5, 1e21, 2 ** 53, 2 ** 64, 1e308, Number.MAX_SAFE_INTEGER, 0xffff_ffff, 2 ** 32,
    '', '-1', '-0', '01', '00', '1e3', '0x10', ' 1', '1 ', '+1', '.', '1.', '.5', '1.0', '١', '18446744073709551615',
    '18446744073709551616', '9'.repeat(400), 'zz', 'ab', 'abc', 'AB'.repeat(32), 'transfer', 'compute', 'Transfer',
    [], {}, ['x'], [null],
  ),
  fc.jsonValue({ maxDepth: 3 }),
  fc.tuple(fc.nat({ max: 80 }), fc.boolean(), fc.boolean()).map(([n, odd, upper]) => {
    const hex = 'ab'.repeat(n) + (odd ? 'c' : '')
    return upper ? hex.toUpperCase() : hex
  }),
  fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 40 })).map(([n, bytes]) => Array.from({ length: n }, () => 'cd'.repeat(bytes))),
  fc.constantFrom(...LONG_STRINGS),
  // Shallow mostly; up to 100k levels, well past any recursive walker's stack (≈10k frames).
  fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 100_000 })).map(nestedArrays),
)

type JsonMutation =
  | { readonly op: 'set'; readonly field: (typeof FIELDS)[number]; readonly value: unknown }
  | { readonly op: 'delete'; readonly field: (typeof FIELDS)[number] }
  | { readonly op: 'extra'; readonly key: string; readonly value: unknown }

const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), field: fc.constantFrom(...FIELDS), value: weirdValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), field: fc.constantFrom(...FIELDS) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('extra' as const),
      key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'Kind', 'hash')),
      value: weirdValue,
    }),
  },
)

/** Applies mutations to a copy; keys become own properties, as JSON.parse makes even `__proto__`. */
function mutateJson(valid: Record<string, unknown>, mutations: readonly JsonMutation[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...valid }
  for (const m of mutations) {
    if (m.op === 'delete') delete out[m.field]
    else Object.defineProperty(out, m.op === 'set' ? m.field : m.key, { value: m.value, enumerable: true, writable: true, configurable: true })
  }
  return out
}

/**
 * Properties: only TxJsonError escapes; an accepted tx is one the canonical codec can encode
 * and decode back unchanged (the JSON and binary paths accept the same txs); and the JSON form
 * round-trips.
 */
function check(json: unknown): Outcome {
  const parsed = decodeTyped(txFromJson, json, TxJsonError)
  if (!parsed.ok) return 'rejected'
  const tx = parsed.value
  const bytes = mustSucceed('codec-agreement', 'encodeTx of an accepted JSON tx', () => encodeTx(tx))
  mustSucceed('codec-agreement', 'decodeTx(encodeTx(tx)) of an accepted JSON tx', () => deepStrictEqual(decodeTx(bytes), tx))
  mustSucceed('round-trip', 'txFromJson(txToJson(tx))', () => deepStrictEqual(txFromJson(txToJson(tx)), tx))
  return 'accepted'
}

/** A printable summary: long strings and deep nesting are abbreviated (the seed replays them). */
export function describeJson(value: unknown, depth = 0): string {
  const MAX_ITEMS = 20
  if (typeof value === 'string') return value.length > 80 ? `${JSON.stringify(value.slice(0, 40))}…(${value.length} chars)` : JSON.stringify(value)
  if (Array.isArray(value)) {
    if (depth >= 8) return `[…arrays nested ${nestingDepth(value)} deep]`
    const items = value.slice(0, MAX_ITEMS).map((v) => describeJson(v, depth + 1))
    return `[${items.join(',')}${value.length > MAX_ITEMS ? `,…${value.length} items` : ''}]`
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${describeJson(v, depth + 1)}`)
    return `{${entries.join(',')}}`
  }
  return Object.is(value, -0) ? '-0' : String(value)
}

/** Roughly the JSON text length of a value (for the hang bound, which covers inputs ≤ 64 KiB). */
function jsonSize(value: unknown): number {
  if (typeof value === 'string') return value.length
  if (Array.isArray(value)) return nestingDepth(value) * 2 + value.length
  if (typeof value === 'object' && value !== null) return Object.values(value).reduce<number>((n, v) => n + jsonSize(v), 0)
  return 8
}

const target: FuzzTarget<unknown> = {
  name: 'node/txFromJson',
  inputs(seed) {
    const valid = fc.sample(txArbitrary, { seed, numRuns: 16 }).map((tx) => ({ ...txToJson(tx) }) as Record<string, unknown>)
    const mutated = fc
      .tuple(fc.constantFrom(...valid), fc.array(jsonMutation, { minLength: 1, maxLength: 3 }))
      .map(([json, mutations]) => mutateJson(json, mutations))
    const arbitrary = fc.oneof(
      { weight: 1, arbitrary: fc.jsonValue() },
      { weight: 1, arbitrary: weirdValue },
      { weight: 1, arbitrary: fc.constantFrom(...valid) },
      { weight: 8, arbitrary: mutated },
    )
    // Sweep: each field of each valid tx replaced by each fixed weird value, and deleted.
    function* sweep(): Generator<unknown> {
      const weird = fc.sample(weirdValue, { seed, numRuns: 64 })
      for (const json of valid) {
        for (const field of FIELDS) {
          yield mutateJson(json, [{ op: 'delete', field }])
          for (const value of weird) yield mutateJson(json, [{ op: 'set', field, value }])
        }
      }
    }
    return { arbitrary, sweep: sweep() }
  },
  check,
  describe: describeJson,
  size: jsonSize,
}

export const txJsonTargets = [defineTarget(target)]
