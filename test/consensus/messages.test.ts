import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { DecodeError } from '../../src/core/codec.ts'
import { signTimeout } from '../../src/core/timeout.ts'
import { signVote } from '../../src/core/vote.ts'
import { decodeConsensusMessage, encodeConsensusMessage } from '../../src/consensus/messages.ts'
import type { ConsensusMessage } from '../../src/consensus/types.ts'
import { blockAt, genesis, keys, qcFor, tcFor } from './fixtures.ts'

const b1 = blockAt(1, genesis)
const b2 = blockAt(2, b1)
const afterTc = blockAt(4, b2, { tc: tcFor(3, qcFor(b2)) })

const samples: ConsensusMessage[] = [
  { type: 'proposal', block: b1 },
  { type: 'proposal', block: afterTc },
  { type: 'vote', vote: signVote(b2.id, 2, 3, keys[3]!.secretKey) },
  { type: 'timeout', timeout: signTimeout(3, qcFor(b2), 1, keys[1]!.secretKey) },
  { type: 'tc', tc: tcFor(3, qcFor(b2), [0, 2, 3]) },
]

test('every message type round-trips to an equal value and identical bytes', () => {
  for (const m of samples) {
    const bytes = encodeConsensusMessage(m)
    const decoded = decodeConsensusMessage(bytes)
    assert.deepEqual(decoded, m, `${m.type} round-trips`)
    assert.deepEqual(encodeConsensusMessage(decoded), bytes)
  }
})

test('bad input: unknown tag, truncation, trailing bytes and non-bytes throw DecodeError', () => {
  const vote = encodeConsensusMessage(samples[2]!)
  assert.throws(() => decodeConsensusMessage(new Uint8Array([])), DecodeError)
  assert.throws(() => decodeConsensusMessage(new Uint8Array([9, ...vote.subarray(1)])), /unknown message tag 9/)
  assert.throws(() => decodeConsensusMessage(vote.subarray(0, vote.length - 1)), DecodeError)
  assert.throws(() => decodeConsensusMessage(new Uint8Array([...vote, 0])), /trailing bytes/)
  assert.throws(() => decodeConsensusMessage('not bytes' as unknown as Uint8Array), DecodeError)
})

test('arbitrary bytes and corrupted messages either decode or throw DecodeError, nothing else', () => {
  const encoded = samples.map(encodeConsensusMessage)
  fc.assert(
    fc.property(fc.oneof(
      fc.uint8Array({ maxLength: 600, size: 'max' }),
      fc.tuple(fc.constantFrom(...encoded), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([bytes, at, value]) => {
        const copy = bytes.slice()
        copy[at % copy.length] = value
        return copy
      }),
    ), (bytes) => {
      try {
        decodeConsensusMessage(bytes)
      } catch (err) {
        assert.ok(err instanceof DecodeError, `unexpected ${(err as Error).name}: ${(err as Error).message}`)
      }
    }),
    { numRuns: 2000, seed: 42 },
  )
})
