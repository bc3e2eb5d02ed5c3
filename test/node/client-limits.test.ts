import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildHttpApi, DEFAULT_CLIENT_LIMITS } from '../../src/node/http.ts'
import { txToJson } from '../../src/node/tx-json.ts'
import { startChain, transfer } from './fixtures.ts'

test('a client over its request budget gets 429, then its connection closed; other clients are unaffected', { timeout: 60_000 }, async () => {
  const chain = await startChain(1, 4)
  const app = buildHttpApi(chain.nodes[0]!, { ...DEFAULT_CLIENT_LIMITS, messagesPerSecond: 5, burstSeconds: 1, violationsBeforeDisconnect: 3 })
  try {
    const post = (ip: string, nonce: bigint) =>
      app.inject({ method: 'POST', url: '/tx', remoteAddress: ip, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(txToJson(transfer(chain.genesis, 0, 1, 1n, nonce))) })
    const flood = []
    for (let i = 0; i < 8; i++) flood.push(await post('127.0.0.9', BigInt(i)))
    assert.deepEqual(flood.map((r) => r.statusCode), [200, 200, 200, 200, 200, 429, 429, 429])
    assert.match(flood[5]!.json().error, /client 127\.0\.0\.9 exceeds 5 requests\/s/)
    assert.equal(flood[6]!.headers['connection'], 'keep-alive')
    assert.equal(flood[7]!.headers['connection'], 'close', 'the third refusal closes the connection')
    assert.match(flood[7]!.json().error, /connection closed/)
    const other = await post('127.0.0.10', 8n)
    assert.equal(other.statusCode, 200, other.body)
    assert.equal((await app.inject({ method: 'GET', url: '/status', remoteAddress: '127.0.0.9' })).statusCode, 200, 'reads are not charged')
  } finally {
    await app.close()
    await chain.stop()
  }
})
