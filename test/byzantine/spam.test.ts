import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodeBatch } from '../../src/core/batch.ts'
import { DecodeError } from '../../src/core/codec.ts'
import { decodeConsensusMessage } from '../../src/consensus/messages.ts'
import { SYNC_BATCHES_PROTOCOL, decodeBatchRequest } from '../../src/mempool/availability.ts'
import { createLogger } from '../../src/node/logger.ts'
import { BATCHES_TOPIC, CONSENSUS_PROTOCOL, PROPOSALS_TOPIC } from '../../src/node/protocols.ts'
import { Spammer, spamChannels } from '../../src/node/spam.ts'
import { SYNC_BLOCKS_PROTOCOL, decodeSyncRequest } from '../../src/node/sync.ts'

const decoders: Record<string, (bytes: Uint8Array) => unknown> = {
  [BATCHES_TOPIC]: decodeBatch,
  [PROPOSALS_TOPIC]: decodeConsensusMessage,
  [CONSENSUS_PROTOCOL]: decodeConsensusMessage,
  [SYNC_BLOCKS_PROTOCOL]: decodeSyncRequest,
  [SYNC_BATCHES_PROTOCOL]: decodeBatchRequest,
}

describe('spam', () => {
  it('covers every channel with a message its decoder refuses for a count above its bound', () => {
    const channels = spamChannels(3)
    assert.deepEqual(channels.map((c) => c.name).sort(), Object.keys(decoders).sort())
    for (const c of channels) {
      assert.throws(() => decoders[c.name]!(c.oversizedList), (err: unknown) => err instanceof DecodeError && /count:? [0-9]+ (exceeds limit|outside)/.test(err.message), c.name)
    }
  })

  it('floods at a fixed rate, one request in flight per peer, channel and kind, and a max-size message every 2 s', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const sent: { how: string; channel: string; peer?: string; bytes: number }[] = []
    const never = new Promise<Uint8Array>(() => {})
    const network = {
      publish: async (topic: string, data: Uint8Array) => void sent.push({ how: 'publish', channel: topic, bytes: data.length }),
      send: (peer: string, protocol: string, data: Uint8Array) => void sent.push({ how: 'send', channel: protocol, peer, bytes: data.length }),
      request: (peer: string, protocol: string, data: Uint8Array) => {
        sent.push({ how: 'request', channel: protocol, peer, bytes: data.length })
        return never
      },
    }
    const maxMessageBytes = 64 * 1024
    const spammer = new Spammer({ channels: spamChannels(3), peers: ['a', 'b', 'c'], maxMessageBytes }, network, createLogger({ level: 'silent', index: 3 }))
    spammer.start()
    t.mock.timers.tick(100)
    // 2 topics × 2 + consensus 2 × 3 peers + 2 request protocols × 2 kinds × 3 peers.
    assert.equal(sent.length, 4 + 6 + 12)
    t.mock.timers.tick(1_900)
    // 20 volleys; unanswered requests are not repeated, so only gossip and one-way sends continue.
    assert.equal(sent.filter((s) => s.how === 'request').length, 12)
    assert.equal(sent.filter((s) => s.how === 'publish').length, 20 * 4 + 1)
    assert.equal(sent.filter((s) => s.how === 'send').length, 20 * 6)
    // The 20th volley adds one maximum-size message (rotating channel: here the proposals topic).
    assert.deepEqual(sent.filter((s) => s.bytes === maxMessageBytes).map((s) => s.channel), [PROPOSALS_TOPIC])
    assert.equal(spammer.sent, sent.length)
    spammer.stop()
    t.mock.timers.tick(1_000)
    assert.equal(spammer.sent, sent.length, 'nothing after stop')
  })
})
