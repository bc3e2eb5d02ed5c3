import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { presignTransfers } from '../../src/testnet/presign.ts'
import { accountStates, commonChain, status, submitAtSenderNodes, useTestnet, waitCommitted } from './helpers.ts'

const VALIDATORS = 4
const ACCOUNTS = 8
const TXS_PER_ACCOUNT = 5

describe('4 validator processes on 127.0.0.1', { timeout: 120_000 }, () => {
  const net = useTestnet({ validators: VALIDATORS, accounts: ACCOUNTS })

  it('commits txs submitted at every node, with one chain and one state everywhere', async () => {
    const testnet = net.testnet()
    const accounts = net.accounts()
    const txs = await presignTransfers(accounts, ACCOUNTS * TXS_PER_ACCOUNT)
    // Sender s submits only at node s mod 4, so every node admits and batches some of the txs.
    await submitAtSenderNodes(testnet, txs, 0, txs.encoded.length)

    const heights = await waitCommitted(testnet.urls, txs.hashes, 60_000)
    const top = Math.max(...heights.values())
    const statuses = await Promise.all(testnet.urls.map(status))
    const chain = await commonChain(testnet.urls, Math.min(...statuses.map((s) => s.height)))
    assert.ok(chain.length >= top, `every node has the blocks up to ${top}`)

    const states = await Promise.all(testnet.urls.map((u) => accountStates(u, accounts)))
    for (let i = 1; i < VALIDATORS; i++) assert.deepEqual(states[i], states[0], `node ${i} state equals node 0's`)
    for (const s of states[0]!) assert.equal(s.split('/')[1], String(TXS_PER_ACCOUNT), 'each account executed all its txs')
  })
})
