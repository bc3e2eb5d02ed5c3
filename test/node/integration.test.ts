import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { toHex } from '../../src/core/hash.ts'
import { genesisAccountKeyPair } from '../../src/node/config.ts'
import { txToJson } from '../../src/node/tx-json.ts'
import { startChain, transfer, waitFor, type TestChain } from './fixtures.ts'

const VALIDATORS = 4
const ACCOUNTS = 8
const TXS_PER_ACCOUNT = 3

describe('four validators in one process', () => {
  let chain: TestChain
  before(async () => {
    chain = await startChain(VALIDATORS, ACCOUNTS)
    await Promise.all(chain.nodes.map((n) => n.network.waitForPeers(VALIDATORS - 1, 20_000)))
  })
  after(async () => {
    await chain.stop()
  })

  it('commits transfers submitted to every node, with identical blocks and balances everywhere', async () => {
    const hashes: string[] = []
    // Account a sends all its txs through validator a mod n, so every validator's batches are used.
    for (let a = 0; a < ACCOUNTS; a++) {
      const node = chain.nodes[a % VALIDATORS]!
      for (let k = 0; k < TXS_PER_ACCOUNT; k++) {
        const res = await node.http.inject({ method: 'POST', url: '/tx', headers: { 'content-type': 'application/json' }, payload: txToJson(transfer(chain.genesis, a, (a + 1) % ACCOUNTS, 100n, BigInt(k))) })
        assert.equal(res.statusCode, 200, res.body)
        hashes.push(res.json().hash)
      }
    }
    const committedAt = await waitFor('every tx committed on every validator', async () => {
      const heights: number[] = []
      for (const node of chain.nodes) {
        for (const hash of hashes) {
          const s = (await node.http.inject(`/tx/${hash}`)).json()
          if (s.status !== 'committed') return undefined
          heights.push(s.height)
        }
      }
      return Math.max(...heights)
    })

    // Same block id at every height up to the highest height all validators reached.
    const common = Math.min(...chain.nodes.map((n) => n.committer.height))
    assert.ok(common >= committedAt)
    for (let h = 0; h <= common; h++) {
      const ids = await Promise.all(chain.nodes.map(async (n) => (await n.http.inject(`/block/${h}`)).json().id))
      assert.equal(new Set(ids).size, 1, `validators disagree on the block at height ${h}: ${ids.join(', ')}`)
    }

    // Every account sent 3 × (100 + fee 1) and received 3 × 100; the fee sink got the fees.
    const start = 1_000_000_000_000n
    for (let a = 0; a < ACCOUNTS; a++) {
      const addr = toHex(genesisAccountKeyPair(chain.genesis, a).publicKey)
      const views = await Promise.all(chain.nodes.map(async (n) => (await n.http.inject(`/account/${addr}`)).json()))
      for (const v of views) assert.deepEqual(v, { address: addr, balance: (start - BigInt(TXS_PER_ACCOUNT)).toString(), nonce: String(TXS_PER_ACCOUNT) })
    }

    // Roots agree: every validator checks each block's executedRoot against its own root at
    // executedHeight, so once a block vouching for a height ≥ the txs' height is committed
    // everywhere, zero mismatches means every validator computed the same state.
    const witness = await waitFor('a block whose executedRoot covers the transfers', async () => {
      for (let h = committedAt + 1; h <= chain.nodes[0]!.committer.height; h++) {
        const b = (await chain.nodes[0]!.http.inject(`/block/${h}`)).json()
        if (b.executedHeight >= committedAt) return h
      }
      return undefined
    })
    await waitFor('the witness block committed everywhere', () => (chain.nodes.every((n) => n.committer.height >= witness) ? true : undefined))
    for (const n of chain.nodes) assert.match((await n.http.inject('/metrics')).body, /^bftlab_state_root_mismatches_total 0$/m)
  })
})
