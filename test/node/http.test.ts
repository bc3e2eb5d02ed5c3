import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pack } from 'msgpackr'
import { toHex } from '../../src/core/hash.ts'
import { encodeTx } from '../../src/core/tx.ts'
import { genesisAccountKeyPair } from '../../src/node/config.ts'
import { txToJson } from '../../src/node/tx-json.ts'
import { startChain, transfer, waitFor, type TestChain } from './fixtures.ts'

describe('HTTP API of a single validator (real mempool, store, consensus)', () => {
  let chain: TestChain
  const balance = 1_000_000_000_000n
  before(async () => {
    chain = await startChain(1, 4)
  })
  after(async () => {
    await chain.stop()
  })

  const app = () => chain.nodes[0]!.http
  const postTx = (body: unknown) =>
    app().inject({ method: 'POST', url: '/tx', headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) })
  const accountOf = async (i: number) => (await app().inject(`/account/${toHex(genesisAccountKeyPair(chain.genesis, i).publicKey)}`)).json()

  async function refused(body: unknown, status: number, pattern: RegExp): Promise<void> {
    const res = await postTx(body)
    assert.equal(res.statusCode, status, res.body)
    assert.match(res.json().error, pattern)
  }

  it('refuses bad txs with a precise 4xx and leaves state unchanged', async () => {
    const good = txToJson(transfer(chain.genesis, 0, 1, 5n, 0n))
    await refused('{"kind": "transfer",', 400, /^body: malformed JSON/)
    await refused({ ...good, from: 'zz' }, 400, /^from: not a hex string/)
    await refused({ ...good, amount: '-3' }, 400, /^amount: must not be negative, got "-3"$/)
    await refused({ ...good, amount: 2.5 }, 400, /^amount: must be an integer, got 2.5$/)
    await refused({ ...good, amount: '18446744073709551616' }, 400, /^amount: 18446744073709551616 exceeds the u64 maximum/)
    const forged = { ...good, signature: good.signature.replace(/^../, good.signature.startsWith('00') ? '01' : '00') }
    await refused(forged, 400, /^invalid signature: /)
    await refused(txToJson(transfer(chain.genesis, 0, 1, balance, 0n)), 400, /^insufficient balance: /)
    await refused(txToJson(transfer(chain.genesis, 0, 1, 5n, 5_000n)), 400, /^nonce too high: /)
    const huge = await app().inject({ method: 'POST', url: '/tx', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ ...good, payload: 'ab'.repeat(20_000) }) })
    assert.equal(huge.statusCode, 413)
    assert.match(huge.json().error, /exceeds the 16384-byte limit of POST \/tx/)
    const account = await accountOf(0)
    assert.deepEqual(account, { address: toHex(genesisAccountKeyPair(chain.genesis, 0).publicKey), balance: balance.toString(), nonce: '0' })
  })

  it('commits a valid tx, then refuses its replay and a stale nonce', async () => {
    const tx = transfer(chain.genesis, 1, 2, 7n, 0n)
    const res = await postTx(txToJson(tx))
    assert.equal(res.statusCode, 200, res.body)
    const hash = res.json().hash as string
    const status = await waitFor('tx commit', async () => {
      const s = (await app().inject(`/tx/${hash}`)).json()
      return s.status === 'committed' ? s : undefined
    })
    assert.ok(status.height >= 1)
    await refused(txToJson(tx), 400, /^already committed: /)
    await refused(txToJson(transfer(chain.genesis, 1, 3, 1n, 0n)), 400, /^nonce too low: /)
    assert.deepEqual(await accountOf(1), { address: toHex(genesisAccountKeyPair(chain.genesis, 1).publicKey), balance: (balance - 8n).toString(), nonce: '1' })
    assert.equal((await accountOf(2)).balance, (balance + 7n).toString())

    const block = (await app().inject(`/block/${status.height}`)).json()
    assert.ok(block.txs.includes(hash))
    assert.equal(block.height, status.height)
    assert.match(block.id, /^[0-9a-f]{64}$/)
  })

  it('takes msgpack batches with per-tx results', async () => {
    const txs = [transfer(chain.genesis, 3, 0, 1n, 0n), transfer(chain.genesis, 3, 0, 1n, 1n)].map(encodeTx)
    const garbage = new Uint8Array([1, 2, 3])
    const res = await app().inject({ method: 'POST', url: '/txs', headers: { 'content-type': 'application/msgpack' }, payload: Buffer.from(pack([...txs, garbage])) })
    assert.equal(res.statusCode, 200, res.body)
    const results = res.json()
    assert.equal(results.length, 3)
    assert.deepEqual(results.slice(0, 2).map((r: { accepted: boolean }) => r.accepted), [true, true])
    assert.equal(results[2].accepted, false)
    assert.equal(results[2].reason, 'decode')

    const notMsgpack = await app().inject({ method: 'POST', url: '/txs', headers: { 'content-type': 'application/msgpack' }, payload: Buffer.from([0x93, 0x01]) })
    assert.equal(notMsgpack.statusCode, 400)
    assert.match(notMsgpack.json().error, /^body: not valid msgpack/)
    const notArray = await app().inject({ method: 'POST', url: '/txs', headers: { 'content-type': 'application/msgpack' }, payload: Buffer.from(pack({ a: 1 })) })
    assert.equal(notArray.statusCode, 400)
    assert.match(notArray.json().error, /expected a msgpack array/)
    const notBin = await app().inject({ method: 'POST', url: '/txs', headers: { 'content-type': 'application/msgpack' }, payload: Buffer.from(pack(['x'])) })
    assert.match(notBin.json().error, /^body\[0\]: expected a msgpack bin/)
    const oversized = await app().inject({ method: 'POST', url: '/txs', headers: { 'content-type': 'application/msgpack' }, payload: Buffer.alloc(4 * 1024 * 1024 + 1) })
    assert.equal(oversized.statusCode, 413)
  })

  it('validates path parameters and serves status and metrics', async () => {
    assert.match((await app().inject('/tx/1234')).json().error, /^hash: expected 32 bytes of hex, got 2/)
    assert.match((await app().inject('/account/xyz')).json().error, /^addr: not a hex string/)
    assert.equal((await app().inject('/block/-1')).statusCode, 400)
    assert.equal((await app().inject('/block/1.5')).statusCode, 400)
    assert.equal((await app().inject('/block/99999999')).statusCode, 404)
    assert.equal((await app().inject(`/tx/${'00'.repeat(32)}`)).json().status, 'unknown')
    const status = (await app().inject('/status')).json()
    assert.equal(status.index, 0)
    assert.ok(status.height >= 1)
    assert.match(status.executedRoot, /^[0-9a-f]{64}$/)
    const metrics = await app().inject('/metrics')
    assert.match(metrics.body, /^bftlab_committed_height \d+$/m)
    assert.match(metrics.body, /^bftlab_committed_txs_total [1-9]/m)
  })

  it('streams commit events over SSE', async () => {
    const node = chain.nodes[0]!
    const port = (node.http.server.address() as { port: number }).port
    const controller = new AbortController()
    const res = await fetch(`http://127.0.0.1:${port}/events`, { signal: controller.signal })
    assert.equal(res.headers.get('content-type'), 'text/event-stream')
    const reader = res.body!.getReader()
    const posted = await postTx(txToJson(transfer(chain.genesis, 2, 0, 1n, 0n)))
    const hash = posted.json().hash as string
    let text = ''
    const event = await waitFor('SSE event with the tx', async () => {
      const { value } = await reader.read()
      text += new TextDecoder().decode(value)
      for (const frame of text.split('\n\n')) {
        const [idLine, dataLine] = frame.split('\n')
        if (!dataLine?.startsWith('data: ')) continue
        const e = JSON.parse(dataLine.slice(6))
        if (e.txs.includes(hash)) return { ...e, idLine }
      }
      return undefined
    })
    assert.ok(event.height >= 1 && event.committedAt >= event.proposedAt)
    assert.equal(event.idLine, `id: ${event.height} ${event.id}`, 'the SSE id names the block')
    controller.abort()
  })
})
