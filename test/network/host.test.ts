import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { deriveSeed } from '../../src/core/keys.ts'
import { FaultTable } from '../../src/network/faults.ts'
import { encodeFrame, FrameDecoder, FrameError } from '../../src/network/framing.ts'
import { NetworkHost } from '../../src/network/host.ts'
import type { NetworkHostOptions, PeerAddress } from '../../src/network/host.ts'
import { libp2pKeyFromSeed, peerIdFromSeed, peerIdOfKey } from '../../src/network/identity.ts'

const TOPIC = '/bftlab/test-gossip/1'
const PROTO = '/bftlab/test/1'
const MAX_MESSAGE_BYTES = 64 * 1024
/** Index of the rate-limited host; a raw adversary node floods it. */
const LIMITED = 1

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
      const s = createServer()
      s.listen(0, '127.0.0.1', () => resolve(s))
    })),
  )
  const ports = servers.map((s) => {
    const addr = s.address()
    if (addr === null || typeof addr === 'string') throw new Error('no port')
    return addr.port
  })
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

async function until(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('NetworkHost (4 validators + 1 raw adversary validator on 127.0.0.1)', () => {
  const seeds = Array.from({ length: 5 }, (_, i) => deriveSeed('net-test', i))
  let peers: PeerAddress[] = []
  let hosts: NetworkHost[] = []
  let raw: Libp2p
  const gossipSeen: string[][] = [[], [], [], []]

  function options(i: number): NetworkHostOptions {
    return {
      seed: seeds[i]!,
      listen: peers[i]!.addr,
      peers,
      topics: [TOPIC],
      protocols: [PROTO],
      maxMessageBytes: MAX_MESSAGE_BYTES,
      reconnect: { initialBackoffMs: 100, maxBackoffMs: 500 },
      rateLimits:
        i === LIMITED ? { messagesPerSecond: 200, burstSeconds: 1, violationsBeforeDisconnect: 50, coolOffMs: 500 } : undefined,
    }
  }

  async function startHost(i: number): Promise<NetworkHost> {
    const host = await NetworkHost.start(options(i))
    host.onGossip(TOPIC, (data) => gossipSeen[i]!.push(text(data)))
    host.onRequest(PROTO, async (data, from) => bytes(`${i} answers ${from.slice(-4)}: ${text(data)}`))
    return host
  }

  before(async () => {
    const ports = await freePorts(5)
    peers = seeds.map((seed, i) => ({ peerId: peerIdFromSeed(seed), addr: `/ip4/127.0.0.1/tcp/${ports[i]}` }))
    hosts = await Promise.all([0, 1, 2, 3].map(startHost))
    // A bare libp2p node holding validator 4's key: admitted by the gater, but free to write
    // arbitrary bytes on protocol streams.
    raw = await createLibp2p({
      privateKey: await libp2pKeyFromSeed(seeds[4]!),
      addresses: { listen: [peers[4]!.addr] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    })
    await Promise.all(hosts.map((h) => h.waitForPeers(4, 10_000)))
  })

  after(async () => {
    await Promise.all(hosts.map((h) => h.stop()))
    await raw.stop()
  })

  it('derives the same peer id synchronously and from the libp2p key', async () => {
    const key = await libp2pKeyFromSeed(seeds[0]!)
    assert.equal(peerIdOfKey(key), peerIdFromSeed(seeds[0]!))
    assert.equal(hosts[0]!.peerId, peers[0]!.peerId)
  })

  it('connects every validator to every other', () => {
    for (const [i, h] of hosts.entries()) {
      const expected = peers.map((p) => p.peerId).filter((id) => id !== peers[i]!.peerId)
      assert.deepEqual(h.connectedPeers().sort(), expected.sort())
    }
  })

  it('gossip reaches every other validator exactly once, not the publisher', async () => {
    await until('topic subscriptions', () => hosts.every((h) => h.topicPeers(TOPIC).length >= 3))
    await hosts[0]!.publish(TOPIC, bytes('hello-1'))
    await hosts[0]!.publish(TOPIC, bytes('hello-1')) // same bytes: same message id, suppressed
    await until('gossip delivery', () => [1, 2, 3].every((i) => gossipSeen[i]!.includes('hello-1')))
    await new Promise((r) => setTimeout(r, 200))
    for (const i of [1, 2, 3]) assert.equal(gossipSeen[i]!.filter((m) => m === 'hello-1').length, 1)
    assert.equal(gossipSeen[0]!.includes('hello-1'), false)
  })

  it('request/response returns the handler result', async () => {
    const res = await hosts[0]!.request(peers[2]!.peerId, PROTO, bytes('ping'), 2_000)
    assert.equal(text(res), `2 answers ${peers[0]!.peerId.slice(-4)}: ping`)
    const self = await hosts[0]!.request(peers[0]!.peerId, PROTO, bytes('me'), 2_000)
    assert.equal(text(self), `0 answers ${peers[0]!.peerId.slice(-4)}: me`)
  })

  it('one-way send keeps order for 1000 messages', async () => {
    const got: number[] = []
    hosts[2]!.onMessage(PROTO, (data) => got.push(new DataView(data.buffer, data.byteOffset).getUint32(0)))
    for (let n = 0; n < 1000; n++) {
      const b = new Uint8Array(4 + (n % 7) * 100)
      new DataView(b.buffer).setUint32(0, n)
      hosts[0]!.send(peers[2]!.peerId, PROTO, b)
    }
    await until('1000 messages', () => got.length === 1000)
    assert.deepEqual(got, Array.from({ length: 1000 }, (_, n) => n))
  })

  it('refuses an outsider whose key is not in the validator set', async () => {
    const refusedBefore = hosts[0]!.stats().refusedConnections
    const [port] = await freePorts(1)
    const outsiderSeed = deriveSeed('outsider', 0)
    const outsider = await NetworkHost.start({
      ...options(0),
      seed: outsiderSeed,
      listen: `/ip4/127.0.0.1/tcp/${port}`,
      peers: [peers[0]!, { peerId: peerIdFromSeed(outsiderSeed), addr: `/ip4/127.0.0.1/tcp/${port}` }],
      reconnect: { initialBackoffMs: 5_000, maxBackoffMs: 5_000 },
    })
    try {
      await assert.rejects(outsider.request(peers[0]!.peerId, PROTO, bytes('let me in'), 2_000))
      await until('refusal counted', () => hosts[0]!.stats().refusedConnections > refusedBefore)
      assert.deepEqual(outsider.connectedPeers(), [])
      assert.equal(hosts[0]!.connectedPeers().includes(outsider.peerId), false)
    } finally {
      await outsider.stop()
    }
  })

  it('resets oversized, malformed and garbage streams and keeps serving honest requests', async () => {
    const target = peerIdFromString(peers[0]!.peerId)
    const before = hosts[0]!.stats()
    const attacks: Uint8Array[] = [
      // request whose length prefix announces maxMessageBytes + 1
      Uint8Array.of(0x02, ...varint(MAX_MESSAGE_BYTES + 1), 1, 2, 3),
      // one-way stream with a length prefix that never terminates
      Uint8Array.of(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
      // not a stream mode byte at all
      bytes('GET / HTTP/1.1\r\n\r\n'),
    ]
    for (const attack of attacks) {
      const stream = await raw.dialProtocol(target, PROTO)
      stream.send(attack)
      await until('stream reset by host', () => stream.status !== 'open', 2_000)
    }
    const stats = hosts[0]!.stats()
    assert.equal(stats.droppedOversized, before.droppedOversized + 1)
    assert.equal(stats.droppedMalformed, before.droppedMalformed + 2)
    const res = await hosts[1]!.request(peers[0]!.peerId, PROTO, bytes('still there?'), 2_000)
    assert.equal(text(res), `0 answers ${peers[1]!.peerId.slice(-4)}: still there?`)
  })

  it('rate-limits a flooding peer, then disconnects it for a cool-off', async () => {
    const target = peerIdFromString(peers[LIMITED]!.peerId)
    const stream = await raw.dialProtocol(target, PROTO)
    let delivered = 0
    hosts[LIMITED]!.onMessage(PROTO, () => delivered++)
    const frame = (n: number): Uint8Array => Uint8Array.of(...(n === 0 ? [0x01] : []), 1, n & 0xff)
    for (let n = 0; n < 1_000 && stream.status === 'open'; n++) stream.send(frame(n))
    await until('disconnect', () => hosts[LIMITED]!.stats().rateLimitDisconnects === 1)
    const stats = hosts[LIMITED]!.stats()
    assert.ok(stats.rateLimited >= 50, `rateLimited=${stats.rateLimited}`)
    assert.ok(delivered <= 200 + 10, `delivered ${delivered} despite 200 msg/s budget`)
    assert.equal(hosts[LIMITED]!.connectedPeers().includes(peers[4]!.peerId), false)
    // After the cool-off the reconnect loop brings the peer back.
    await until('reconnect after cool-off', () => hosts[LIMITED]!.connectedPeers().includes(peers[4]!.peerId), 5_000)
  })

  it('reconnects to a restarted peer', async () => {
    await hosts[3]!.stop()
    await until('drop noticed', () => !hosts[0]!.connectedPeers().includes(peers[3]!.peerId))
    await new Promise((r) => setTimeout(r, 300)) // let host 0 fail a few redials first
    hosts[3] = await startHost(3)
    await until('reconnected', () => hosts[0]!.connectedPeers().includes(peers[3]!.peerId), 5_000)
    const res = await hosts[0]!.request(peers[3]!.peerId, PROTO, bytes('back?'), 2_000)
    assert.equal(text(res), `3 answers ${peers[0]!.peerId.slice(-4)}: back?`)
    await hosts[3]!.waitForPeers(4, 5_000)
  })

  it('partition drops traffic between groups and heal restores it', async () => {
    const groups = [[peers[0]!.peerId, peers[1]!.peerId], [peers[2]!.peerId, peers[3]!.peerId]]
    for (const h of hosts) h.partition(groups)
    const received: number[] = []
    hosts[2]!.onMessage(PROTO, () => received.push(2))
    await hosts[0]!.publish(TOPIC, bytes('split-1'))
    hosts[0]!.send(peers[2]!.peerId, PROTO, bytes('across'))
    await hosts[3]!.publish(TOPIC, bytes('split-2'))
    await until('same-group gossip', () => gossipSeen[1]!.includes('split-1') && gossipSeen[2]!.includes('split-2'))
    await assert.rejects(hosts[0]!.request(peers[3]!.peerId, PROTO, bytes('x'), 1_000), /fault emulation/)
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(gossipSeen[2]!.includes('split-1') || gossipSeen[3]!.includes('split-1'), false)
    assert.equal(gossipSeen[0]!.includes('split-2') || gossipSeen[1]!.includes('split-2'), false)
    assert.deepEqual(received, [])
    assert.ok(hosts[0]!.stats().faultDropped >= 3)

    for (const h of hosts) h.heal()
    await hosts[0]!.publish(TOPIC, bytes('healed'))
    await until('gossip after heal', () => [1, 2, 3].every((i) => gossipSeen[i]!.includes('healed')))
    const res = await hosts[0]!.request(peers[3]!.peerId, PROTO, bytes('hi'), 2_000)
    assert.equal(text(res), `3 answers ${peers[0]!.peerId.slice(-4)}: hi`)
  })

  it('emulated delay holds one-way messages back and keeps them in order', async () => {
    const arrivals: { n: number; at: number }[] = []
    hosts[2]!.onMessage(PROTO, (data) => arrivals.push({ n: data[0]!, at: Date.now() }))
    hosts[0]!.setLinkFaults(peers[2]!.peerId, { delayMs: 80, jitterMs: 40 })
    const sentAt = Date.now()
    for (let n = 0; n < 20; n++) hosts[0]!.send(peers[2]!.peerId, PROTO, Uint8Array.of(n))
    await until('delayed messages', () => arrivals.length === 20)
    assert.deepEqual(arrivals.map((a) => a.n), Array.from({ length: 20 }, (_, n) => n))
    assert.ok(arrivals[0]!.at - sentAt >= 75, `first arrival after ${arrivals[0]!.at - sentAt} ms`)
    hosts[0]!.clearLinkFaults()
  })
})

function varint(value: number): number[] {
  const out: number[] = []
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80)
    value = Math.floor(value / 128)
  }
  out.push(value)
  return out
}

describe('FaultTable', () => {
  const draws = (seed: number): string[] => {
    const table = new FaultTable(seed)
    table.set('*', { lossRate: 0.3, jitterMs: 10 })
    return Array.from({ length: 200 }, () => {
      const verdict = table.outbound('peer')
      return verdict.kind === 'drop' ? verdict.reason : verdict.delayMs.toFixed(6)
    })
  }

  it('replays the same loss and jitter draws for the same seed, other draws for another', () => {
    const first = draws(42)
    assert.deepEqual(draws(42), first)
    assert.notDeepEqual(draws(43), first)
    const losses = first.filter((d) => d === 'loss').length
    assert.ok(losses > 30 && losses < 90, `${losses} of 200 dropped at lossRate 0.3`)
  })
})

describe('FrameDecoder', () => {
  it('reassembles frames split at every byte boundary and bounds the length before buffering', () => {
    const payloads = [bytes(''), bytes('a'), new Uint8Array(300).fill(7), bytes('tail')]
    const wire = Uint8Array.from(payloads.flatMap((p) => [...encodeFrame(p)]))
    const decoder = new FrameDecoder(1_000)
    const out: Uint8Array[] = []
    for (const byte of wire) out.push(...decoder.push(Uint8Array.of(byte)))
    assert.deepEqual(out.map((b) => [...b]), payloads.map((b) => [...b]))
    assert.equal(decoder.bufferedBytes, 0)

    assert.throws(() => new FrameDecoder(10).push(Uint8Array.of(...varint(11))), (e: unknown) => e instanceof FrameError && e.kind === 'oversized')
    assert.throws(() => new FrameDecoder(10).push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80)), (e: unknown) => e instanceof FrameError && e.kind === 'malformed')
  })
})
