import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseLatency } from '../../src/sim/latency.ts'
import { NetworkModel, type NetworkConfig } from '../../src/sim/network.ts'
import { Prng } from '../../src/core/prng.ts'

const base: NetworkConfig = { latency: { kind: 'fixed', ms: 10 }, dropProbability: 0, partitions: [], gstMs: 0, preGstMaxExtraMs: 0, fifo: true }
const a = { id: 0, index: 0 }
const b = { id: 1, index: 1 }
const c = { id: 2, index: 2 }

function at(v: ReturnType<NetworkModel['send']>): number {
  assert.equal(v.kind, 'deliver')
  return v.kind === 'deliver' ? v.at : NaN
}

test('latency specs parse, and bad ones say what is expected', () => {
  assert.deepEqual(parseLatency('lan'), { kind: 'fixed', ms: 1 })
  assert.deepEqual(parseLatency('wan'), { kind: 'uniform', minMs: 50, maxMs: 200 })
  assert.deepEqual(parseLatency('fixed:10'), { kind: 'fixed', ms: 10 })
  assert.deepEqual(parseLatency('uniform:50-200'), { kind: 'uniform', minMs: 50, maxMs: 200 })
  assert.deepEqual(parseLatency('normal:100,20'), { kind: 'normal', meanMs: 100, stdMs: 20 })
  assert.throws(() => parseLatency('uniform:200-50'), /below min/)
  assert.throws(() => parseLatency('gaussian:1'), /expected lan, wan/)
  assert.throws(() => parseLatency('fixed:-1'), /non-negative/)
})

test('a sender\'s uplink serialises its messages at the configured bandwidth', () => {
  const net = new NetworkModel({ ...base, bandwidthMBps: 1 }, new Prng(1))
  // 1 MB/s = 1000 bytes per ms: each 2000-byte copy occupies the uplink 2 ms.
  assert.equal(at(net.send(a, b, 2000, 0)), 12)
  assert.equal(at(net.send(a, c, 2000, 0)), 14)
  assert.equal(at(net.send(b, c, 2000, 0)), 12, 'another sender has its own uplink')
})

test('partitions drop messages across groups until they heal', () => {
  const net = new NetworkModel({ ...base, partitions: [{ startMs: 100, healMs: 200, groups: [[0], [1, 2]]}] }, new Prng(1))
  assert.equal(net.send(a, b, 10, 50).kind, 'deliver')
  assert.deepEqual(net.send(a, b, 10, 150), { kind: 'drop', reason: 'partition' })
  assert.equal(net.send(b, c, 10, 150).kind, 'deliver')
  assert.equal(net.send(a, b, 10, 200).kind, 'deliver')
  assert.equal(net.lastHealMs, 200)
})

test('before GST delays exceed the link latency but every message arrives by GST + latency', () => {
  const net = new NetworkModel({ ...base, gstMs: 1_000, preGstMaxExtraMs: 5_000, fifo: false }, new Prng(9))
  let delayed = 0
  for (let t = 0; t < 1_000; t += 10) {
    const arrival = at(net.send(a, b, 10, t))
    assert.ok(arrival >= t + 10 && arrival <= 1_010, `sent at ${t}, arrives at ${arrival}`)
    if (arrival > t + 10) delayed++
  }
  assert.ok(delayed > 50)
  assert.equal(at(net.send(a, b, 10, 2_000)), 2_010, 'after GST only the link latency applies')
})

test('losses follow the probability and stop at dropUntilMs; FIFO links never reorder', () => {
  const net = new NetworkModel({ ...base, latency: { kind: 'uniform', minMs: 1, maxMs: 100 }, dropProbability: 0.5, dropUntilMs: 10_000 }, new Prng(4))
  let dropped = 0
  let last = 0
  for (let i = 0; i < 1_000; i++) {
    const v = net.send(a, b, 10, i)
    if (v.kind === 'drop') dropped++
    else {
      assert.ok(v.at >= last, 'FIFO link delivered out of order')
      last = v.at
    }
  }
  assert.ok(dropped > 400 && dropped < 600, `${dropped} of 1000 dropped at p = 0.5`)
  for (let i = 0; i < 100; i++) assert.equal(net.send(a, b, 10, 10_000 + i).kind, 'deliver')
})
