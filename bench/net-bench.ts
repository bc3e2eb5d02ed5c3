/**
 * Gossip throughput of NetworkHost: 4 validators in one process on 127.0.0.1, one publisher
 * sending fixed-size messages for a fixed time, 3 receivers.
 *
 *   npx node bench/net-bench.ts [--seconds 5] [--kb 100] [--window 32]
 *
 * The publisher keeps at most `window` messages ahead of the slowest receiver, so the figure
 * is sustained delivered throughput, not how fast bytes can be queued. MB/s is payload bytes
 * delivered to ONE receiver per second (each message is delivered to all three).
 */
import { createServer } from 'node:net'
import { parseArgs } from 'node:util'
import { deriveSeed } from '../src/core/keys.ts'
import { NetworkHost } from '../src/network/host.ts'
import type { PeerAddress } from '../src/network/host.ts'
import { peerIdFromSeed } from '../src/network/identity.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    kb: { type: 'string', default: '100' },
    window: { type: 'string', default: '32' },
  },
})
const seconds = Number(values.seconds)
const messageBytes = Number(values.kb) * 1024
const window = Number(values.window)
const TOPIC = '/bftlab/bench/1'
const VALIDATORS = 4

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (addr === null || typeof addr === 'string') throw new Error('could not allocate a port')
  return addr.port
}

const seeds = Array.from({ length: VALIDATORS }, (_, i) => deriveSeed('net-bench', i))
const peers: PeerAddress[] = []
for (const seed of seeds) peers.push({ peerId: peerIdFromSeed(seed), addr: `/ip4/127.0.0.1/tcp/${await freePort()}` })

const hosts = await Promise.all(
  seeds.map((seed, i) =>
    NetworkHost.start({
      seed,
      listen: peers[i]!.addr,
      peers,
      topics: [TOPIC],
      protocols: [],
      maxMessageBytes: messageBytes + 1024,
    }),
  ),
)
await Promise.all(hosts.map((h) => h.waitForPeers(VALIDATORS - 1, 10_000)))
while (!hosts.every((h) => h.topicPeers(TOPIC).length >= VALIDATORS - 1)) await new Promise((r) => setTimeout(r, 20))

const received = new Array<number>(VALIDATORS).fill(0)
for (const [i, h] of hosts.entries()) h.onGossip(TOPIC, () => received[i]!++)
const receivers = [1, 2, 3]
const slowest = (): number => Math.min(...receivers.map((i) => received[i]!))

const payload = new Uint8Array(messageBytes)
let published = 0
const start = performance.now()
const end = start + seconds * 1000
while (performance.now() < end) {
  if (published - slowest() >= window) {
    await new Promise((r) => setImmediate(r))
    continue
  }
  // A distinct prefix per message: ids are data hashes, identical payloads would be deduplicated.
  new DataView(payload.buffer).setUint32(0, published)
  await hosts[0]!.publish(TOPIC, payload)
  published++
}
const drainDeadline = performance.now() + 5_000
while (slowest() < published && performance.now() < drainDeadline) await new Promise((r) => setTimeout(r, 5))
const elapsedSeconds = (performance.now() - start) / 1000

const delivered = slowest()
const mbPerSecond = (delivered * messageBytes) / elapsedSeconds / 1e6
console.log(
  `net-bench validators=${VALIDATORS} message=${values.kb}KB window=${window} seconds=${seconds}\n` +
    `published=${published} delivered(min over receivers)=${delivered} elapsed=${elapsedSeconds.toFixed(2)}s\n` +
    `throughput=${mbPerSecond.toFixed(1)} MB/s per receiver, ${(delivered / elapsedSeconds).toFixed(0)} msgs/s`,
)
await Promise.all(hosts.map((h) => h.stop()))
