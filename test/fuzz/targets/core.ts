import type fc from 'fast-check'
import {
  type Writer,
  decodeBatch, decodeBlock, decodeQc, decodeTc, decodeTimeout, decodeTx, decodeVote,
  encodeBatch, encodeBlock, encodeQc, encodeTc, encodeTimeout, encodeTx, encodeVote,
  writeBatch, writeBlock, writeQc, writeTc, writeTimeout, writeTx, writeVote,
} from '../../../src/core/index.ts'
import { seedEncoding } from '../mutations.ts'
import {
  batchArbitrary, blockArbitrary, payloadArbitrary, qcArbitrary, sampleCorpus, tcArbitrary, timeoutArbitrary,
  txArbitrary, voteArbitrary,
} from '../values.ts'
import { canonicalDecoderTarget } from './canonical.ts'

/** A corpus builder from value generators and the codec's writer. */
function corpusOf<T>(write: (w: Writer, value: T) => void, small: fc.Arbitrary<T>, large?: fc.Arbitrary<T>) {
  return (seed: number) => sampleCorpus(seed, small, large).map((v) => seedEncoding(write, v))
}

/*
 * The large corpus entries stay below 64 KiB (the hang bound's input size) but are long enough
 * that count inflation and truncation land hundreds of items deep.
 */
export const coreTargets = [
  canonicalDecoderTarget({ name: 'core/decodeTx', decode: decodeTx, encode: encodeTx, corpus: corpusOf(writeTx, txArbitrary) }),
  canonicalDecoderTarget({
    name: 'core/decodeBatch', decode: decodeBatch, encode: encodeBatch,
    corpus: corpusOf(writeBatch, batchArbitrary(3), batchArbitrary(100, 80)),
  }),
  canonicalDecoderTarget({
    name: 'core/decodeBlock', decode: decodeBlock, encode: encodeBlock,
    corpus: corpusOf(writeBlock, blockArbitrary(payloadArbitrary(6)), blockArbitrary(payloadArbitrary(1500, 1000))),
  }),
  canonicalDecoderTarget({ name: 'core/decodeVote', decode: decodeVote, encode: encodeVote, corpus: corpusOf(writeVote, voteArbitrary) }),
  canonicalDecoderTarget({
    name: 'core/decodeQc', decode: decodeQc, encode: encodeQc,
    corpus: corpusOf(writeQc, qcArbitrary(7), qcArbitrary(300, 200)),
  }),
  canonicalDecoderTarget({
    name: 'core/decodeTimeout', decode: decodeTimeout, encode: encodeTimeout, corpus: corpusOf(writeTimeout, timeoutArbitrary),
  }),
  canonicalDecoderTarget({
    name: 'core/decodeTc', decode: decodeTc, encode: encodeTc, corpus: corpusOf(writeTc, tcArbitrary(7), tcArbitrary(300, 200)),
  }),
]
