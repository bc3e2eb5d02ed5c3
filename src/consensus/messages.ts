import { DecodeError, Writer, decodeWith, type Reader } from '../core/codec.ts'
import { readBlock, writeBlock } from '../core/block.ts'
import { readTc, readTimeout, writeTc, writeTimeout } from '../core/timeout.ts'
import { readVote, writeVote } from '../core/vote.ts'
import type { ConsensusMessage } from './types.ts'

/*
 * Wire layout: u8 tag | canonical body (src/core layouts). The tag values are part of the
 * protocol: never renumber them, only append.
 */
const TAG = { proposal: 0, vote: 1, timeout: 2, tc: 3 } as const

export function encodeConsensusMessage(m: ConsensusMessage): Uint8Array {
  const w = new Writer(m.type === 'proposal' ? 1024 : 256)
  switch (m.type) {
    case 'proposal':
      writeBlock(w.u8(TAG.proposal), m.block)
      break
    case 'vote':
      writeVote(w.u8(TAG.vote), m.vote)
      break
    case 'timeout':
      writeTimeout(w.u8(TAG.timeout), m.timeout)
      break
    case 'tc':
      writeTc(w.u8(TAG.tc), m.tc)
      break
  }
  return w.finish()
}

function readConsensusMessage(r: Reader): ConsensusMessage {
  const tag = r.u8('consensusMessage.tag')
  switch (tag) {
    case TAG.proposal:
      return { type: 'proposal', block: readBlock(r) }
    case TAG.vote:
      return { type: 'vote', vote: readVote(r) }
    case TAG.timeout:
      return { type: 'timeout', timeout: readTimeout(r) }
    case TAG.tc:
      return { type: 'tc', tc: readTc(r) }
    default:
      throw new DecodeError('consensusMessage.tag', `unknown message tag ${tag}`)
  }
}

/** Decodes untrusted bytes from a peer; throws only DecodeError (trailing bytes included). */
export function decodeConsensusMessage(bytes: Uint8Array): ConsensusMessage {
  return decodeWith(bytes, 'consensusMessage', readConsensusMessage)
}
