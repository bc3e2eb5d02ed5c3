import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fastify, type FastifyInstance } from 'fastify'
import type { LinkFaults } from '../../src/network/faults.ts'
import { faultControlFor, FaultControl, registerAdminRoutes, type LinkFaultHost } from '../../src/node/admin.ts'
import { parseGenesis, parseNodeConfig, testnetConfigs, type LoadedConfig } from '../../src/node/config.ts'

const PEERS = ['peer-0', 'peer-1', 'peer-2', 'peer-3']

/** Records what the endpoints asked of the network host, by peer id. */
class RecordingHost implements LinkFaultHost {
  readonly calls: string[] = []
  setLinkFaults(peerId: string, faults: Partial<LinkFaults>): void {
    this.calls.push(`set ${peerId} ${JSON.stringify(faults)}`)
  }
  partition(groups: string[][]): void {
    this.calls.push(`partition ${JSON.stringify(groups)}`)
  }
  heal(): void {
    this.calls.push('heal')
  }
}

function adminApp(control: FaultControl | undefined): FastifyInstance {
  const app = fastify()
  registerAdminRoutes(app, control)
  return app
}

const post = (app: FastifyInstance, url: string, body?: unknown) =>
  app.inject({ method: 'POST', url, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) } : {}) })

describe('admin fault endpoints', () => {
  it('translate validator indices to peer ids; * means every other validator', async () => {
    const host = new RecordingHost()
    const app = adminApp(new FaultControl({ index: 1, peerIds: PEERS }, host))
    const all = await post(app, '/admin/faults', { peers: '*', down: true })
    assert.equal(all.statusCode, 200, all.body)
    assert.deepEqual(all.json(), { peers: [0, 2, 3], faults: { down: true } })
    const some = await post(app, '/admin/faults', { peers: [3, 0, 3], delayMs: 200, jitterMs: 20, lossRate: 0.1 })
    assert.equal(some.statusCode, 200, some.body)
    const partition = await post(app, '/admin/partition', { groups: [[0, 1], [2, 3]] })
    assert.equal(partition.statusCode, 200, partition.body)
    assert.equal((await post(app, '/admin/heal')).statusCode, 200)
    assert.deepEqual(host.calls, [
      'set peer-0 {"down":true}',
      'set peer-2 {"down":true}',
      'set peer-3 {"down":true}',
      'set peer-3 {"delayMs":200,"jitterMs":20,"lossRate":0.1}',
      'set peer-0 {"delayMs":200,"jitterMs":20,"lossRate":0.1}',
      'partition [["peer-0","peer-1"],["peer-2","peer-3"]]',
      'heal',
    ])
  })

  it('refuse malformed or impossible requests with a 400 naming the field, changing nothing', async () => {
    const host = new RecordingHost()
    const app = adminApp(new FaultControl({ index: 1, peerIds: PEERS }, host))
    const refused = async (url: string, body: unknown, pattern: RegExp): Promise<void> => {
      const res = await post(app, url, body)
      assert.equal(res.statusCode, 400, res.body)
      assert.match(res.json().error, pattern)
    }
    await refused('/admin/faults', { peers: [0] }, /give at least one of delayMs, jitterMs, lossRate, down/)
    await refused('/admin/faults', { peers: [0], lossRate: 1.5 }, /^lossRate: /)
    await refused('/admin/faults', { peers: [0], delayMs: 'slow' }, /^delayMs: expected number, got "slow"/)
    await refused('/admin/faults', { peers: [9], down: true }, /^peers: validator 9 does not exist \(validators 0\.\.3\)/)
    await refused('/admin/faults', { peers: [1], down: true }, /^peers: validator 1 is this validator/)
    await refused('/admin/faults', { peers: [0], down: true, everything: 1 }, /unknown field\(s\) "everything"/)
    await refused('/admin/partition', { groups: [[0, 1], [1, 2]] }, /^groups\[1\]: validator 1 is already in groups\[0\]/)
    await refused('/admin/partition', { groups: [[0, 7]] }, /^groups\[0\]: validator 7 does not exist/)
    await refused('/admin/partition', { groups: [] }, /^groups: /)
    const malformed = await app.inject({ method: 'POST', url: '/admin/faults', headers: { 'content-type': 'application/json' }, payload: '{"peers": [' })
    assert.equal(malformed.statusCode, 400)
    assert.deepEqual(host.calls, [], 'no refused request reached the network host')
  })

  it('answer 404 with the reason when fault control is off', async () => {
    const app = adminApp(undefined)
    for (const url of ['/admin/faults', '/admin/partition', '/admin/heal']) {
      const res = await post(app, url, { peers: '*', down: true })
      assert.equal(res.statusCode, 404)
      assert.match(res.json().error, /admin endpoints need genesis params\.testing: true and an HTTP API on loopback/)
    }
  })

  it('exist only on a test network whose API listens on loopback', () => {
    const loaded = (testing: boolean, httpHost: string): LoadedConfig => {
      const made = testnetConfigs({ validators: 4, accounts: 1, basePort: 30_000, baseHttpPort: 30_004, params: { testing } })
      return { genesis: parseGenesis(made.genesis), node: parseNodeConfig({ ...made.nodes[0], httpHost }), configPath: 'node-0.json' }
    }
    const host = new RecordingHost()
    assert.ok(faultControlFor(loaded(true, '127.0.0.1'), host) instanceof FaultControl)
    assert.ok(faultControlFor(loaded(true, '::1'), host) instanceof FaultControl)
    assert.equal(faultControlFor(loaded(false, '127.0.0.1'), host), undefined, 'not a test network')
    assert.equal(faultControlFor(loaded(true, '0.0.0.0'), host), undefined, 'reachable from other machines')
    assert.equal(faultControlFor(loaded(true, '10.1.2.3'), host), undefined, 'reachable from other machines')
  })
})
