import fc from 'fast-check'
import { type Writer, writeBlock, writeTc, writeTimeout, writeVote } from '../../../src/core/index.ts'
import { decodeConsensusMessage, encodeConsensusMessage } from '../../../src/consensus/messages.ts'
import type { ConsensusMessage } from '../../../src/consensus/types.ts'
import { seedEncoding, type SeedEncoding } from '../mutations.ts'
import { blockArbitrary, payloadArbitrary, sampleCorpus, tcArbitrary, timeoutArbitrary, voteArbitrary } from '../values.ts'
import { canonicalDecoderTarget } from './canonical.ts'

const messageArbitrary: fc.Arbitrary<ConsensusMessage> = fc.oneof(
  blockArbitrary(payloadArbitrary(6)).map((block) => ({ type: 'proposal' as const, block })),
  voteArbitrary.map((vote) => ({ type: 'vote' as const, vote })),
  timeoutArbitrary.map((timeout) => ({ type: 'timeout' as const, timeout })),
  tcArbitrary(7).map((tc) => ({ type: 'tc' as const, tc })),
)

/** The body's own writer, used only to map the body's integer fields. */
function writeBody(w: Writer, m: ConsensusMessage): void {
  switch (m.type) {
    case 'proposal':
      return writeBlock(w, m.block)
    case 'vote':
      return writeVote(w, m.vote)
    case 'timeout':
      return writeTimeout(w, m.timeout)
    case 'tc':
      return writeTc(w, m.tc)
  }
}

/**
 * The message bytes come from messages.ts itself; the field map is the body's, shifted past the
 * tag, plus the tag byte (the wire layout is `u8 tag | body`), so mutations try unknown tags too.
 */
function messageSeed(m: ConsensusMessage): SeedEncoding {
  const bytes = encodeConsensusMessage(m).slice()
  const body = seedEncoding(writeBody, m)
  const shift = bytes.length - body.bytes.length
  return { bytes, intFields: [{ offset: 0, width: 1 }, ...body.intFields.map((f) => ({ offset: f.offset + shift, width: f.width }))] }
}

export const consensusTargets = [
  canonicalDecoderTarget({
    name: 'consensus/decodeConsensusMessage',
    decode: decodeConsensusMessage,
    encode: encodeConsensusMessage,
    corpus: (seed) => sampleCorpus(seed, messageArbitrary, undefined, 16).map(messageSeed),
  }),
]
