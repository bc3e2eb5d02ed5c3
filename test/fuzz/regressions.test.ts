import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FrameDecoder, encodeFrame } from '../../src/network/framing.ts'
import fc from 'fast-check'
import { TxJsonError, txFromJson, txToJson } from '../../src/node/tx-json.ts'
import { nestedArrays } from './targets/tx-json.ts'
import { txArbitrary } from './values.ts'

/** Minimal cases of what the fuzzer found; each must keep passing once fixed. */

test('txFromJson: a deeply nested field is a TxJsonError, not a stack overflow (fuzz: node/txFromJson)', () => {
  // `{"kind":[[[…]]]}` with 10k levels is a 20 KB body; ~5k levels (10 KB) already overflowed
  // the error message's JSON.stringify, under the 16 KiB body limit of POST /tx.
  for (const field of ['kind', 'from', 'amount']) {
    assert.throws(() => txFromJson({ kind: 'transfer', [field]: nestedArrays(10_000) }), TxJsonError)
  }
})

/**
 * The fuzzer's finding: Array#shift per consumed chunk made reassembly quadratic — a 1 MiB frame
 * sent one byte per chunk took ~460 s. Linear reassembly takes a second or two, so the test's
 * time limit is a hang detector (two orders of magnitude of slack), not a speed assertion.
 */
test('FrameDecoder: a 1 MiB frame fed one byte per chunk is reassembled (fuzz: network/FrameDecoder)', { timeout: 120_000 }, () => {
  const payload = new Uint8Array(1 << 20).fill(7)
  const stream = encodeFrame(payload)
  const decoder = new FrameDecoder(1 << 20)
  const frames: Uint8Array[] = []
  for (let i = 0; i < stream.length; i++) frames.push(...decoder.push(stream.subarray(i, i + 1)))
  assert.equal(frames.length, 1)
  assert.deepEqual(frames[0], payload)
  assert.equal(decoder.bufferedBytes, 0)
})

test('txFromJson: computeUnits -0 decodes to 0, so the tx equals its canonical re-decoding (fuzz: node/txFromJson)', () => {
  const [sample] = fc.sample(txArbitrary, { seed: 1, numRuns: 1 })
  const tx = txFromJson({ ...txToJson(sample!), computeUnits: -0 })
  assert.ok(Object.is(tx.computeUnits, 0))
})
