import assert from 'node:assert/strict'
import { test } from 'node:test'
import { txToJson } from '../../src/node/tx-json.ts'
import { startChain, transfer, waitFor } from './fixtures.ts'

test('a failed commit is fatal: listeners hear it and the validator stops executing', { timeout: 60_000 }, async () => {
  const chain = await startChain(1, 4)
  try {
    const node = chain.nodes[0]!
    const fatal: unknown[] = []
    node.onFatal((err) => fatal.push(err))
    node.store.commitBlock = () => Promise.reject(new Error('disk full (injected)'))
    const res = await node.http.inject({ method: 'POST', url: '/tx', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(txToJson(transfer(chain.genesis, 0, 1, 5n, 0n))) })
    assert.equal(res.statusCode, 200, res.body)
    const err = await waitFor('the fatal commit error', () => fatal[0])
    assert.match((err as Error).message, /disk full \(injected\)/)
    const height = node.committer.height
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.equal(node.committer.height, height, 'nothing is executed after the failure')
  } finally {
    await chain.stop()
  }
})
