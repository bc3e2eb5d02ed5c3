import assert from 'node:assert/strict'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { unpack } from 'msgpackr'
import { sha256, toHex } from '../../src/core/hash.ts'
import { deriveSeed, keyPairFromSeed } from '../../src/core/keys.ts'
import { Prng } from '../../src/core/prng.ts'
import { decodeTx, txHash, verifyTx } from '../../src/core/tx.ts'
import { traceMetrics } from '../../src/sim/result-point.ts'
import { runLoad, type LiveSecond } from '../../src/testnet/load.ts'
import { NodeApiError, SseFramer, followCommits, submitTxs } from '../../src/testnet/node-client.ts'
import { presignTransfers } from '../../src/testnet/presign.ts'

/** The fake chain's fixed proposal-to-commit delay, so consensus latency is known exactly. */
const CONSENSUS_MS = 30
const BLOCK_INTERVAL_MS = 50
const FROZEN_REASON = 'test: account frozen'

/**
 * The chain behind the fake validators: every BLOCK_INTERVAL_MS it commits the txs they admitted
 * as one block and announces it on every validator's /events, like a real committee whose
 * members all report the same block.
 */
class FakeChain {
  readonly subscribers = new Set<ServerResponse>()
  pending: string[] = []
  height = 0
  private timer: NodeJS.Timeout | undefined

  start(): void {
    this.timer = setInterval(() => {
      const now = Date.now()
      this.height++
      const event = { height: this.height, round: this.height, id: toHex(sha256(Buffer.from(`${this.height}:${this.pending.join()}`))), proposedAt: now - CONSENSUS_MS, committedAt: now, txs: this.pending }
      this.pending = []
      for (const s of this.subscribers) s.write(`id: ${event.height} ${event.id}\ndata: ${JSON.stringify(event)}\n\n`)
    }, BLOCK_INTERVAL_MS)
  }

  stop(): void {
    clearInterval(this.timer)
    for (const s of this.subscribers) s.destroy()
  }
}

/**
 * A stand-in validator with the real API's wire formats: checks every tx's signature and the
 * per-sender nonce order it arrives in, refuses txs from one "frozen" account, and hands
 * everything else to the shared chain.
 */
class FakeValidator {
  readonly server: Server
  readonly outOfOrder: string[] = []
  readonly badSignatures: string[] = []
  private readonly lastNonce = new Map<string, bigint>()
  private readonly frozen: string
  private readonly chain: FakeChain

  /** `replyDelayMs`: txs reach the chain at once, but the admission reply is held this long. */
  constructor(frozen: string, chain: FakeChain, replyDelayMs = 0) {
    this.frozen = frozen
    this.chain = chain
    this.server = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/txs') {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => {
          const replies = JSON.stringify(this.admit(unpack(Buffer.concat(chunks)) as Uint8Array[]))
          setTimeout(() => res.end(replies), replyDelayMs)
        })
      } else if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.write(': hello\n\n')
        chain.subscribers.add(res)
        res.on('close', () => chain.subscribers.delete(res))
      } else if (req.url === '/metrics') {
        res.end(`# HELP x\nbftlab_committed_height ${chain.height}\nbftlab_current_round ${chain.height + 1}\nbftlab_mempool_txs ${chain.pending.length}\nbftlab_timeouts_total 0\n`)
      } else {
        res.statusCode = 404
        res.end()
      }
    })
  }

  private admit(encoded: Uint8Array[]): { hash: string; accepted: boolean; reason?: string }[] {
    return encoded.map((bytes) => {
      const tx = decodeTx(bytes)
      const hash = toHex(txHash(tx))
      const from = toHex(tx.from)
      if (!verifyTx(tx)) this.badSignatures.push(hash)
      const last = this.lastNonce.get(from)
      if (last !== undefined && tx.nonce !== last + 1n) this.outOfOrder.push(`${from.slice(0, 8)}: ${last} then ${tx.nonce}`)
      this.lastNonce.set(from, tx.nonce)
      if (from === this.frozen) return { hash, accepted: false, reason: FROZEN_REASON }
      this.chain.pending.push(hash)
      return { hash, accepted: true }
    })
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((r) => this.server.close(r))
  }
}

describe('load generator against two fake validators', () => {
  const accounts = Array.from({ length: 10 }, (_, i) => ({ ...keyPairFromSeed(deriveSeed('load-test', i)), nextNonce: BigInt(i) }))
  const frozen = toHex(accounts[3]!.publicKey)
  const chain = new FakeChain()
  const validators = [new FakeValidator(frozen, chain), new FakeValidator(frozen, chain)]
  let targets: string[] = []

  before(async () => {
    targets = await Promise.all(validators.map((v) => v.listen()))
    chain.start()
  })
  after(async () => {
    chain.stop()
    await Promise.all(validators.map((v) => v.close()))
  })

  it('offers pre-signed txs open-loop, in nonce order per sender, and accounts for every one', async () => {
    const rate = 400
    const durationS = 3
    const txs = await presignTransfers(accounts, rate * durationS, { workers: 2 })
    const seconds: LiveSecond[] = []
    const result = await runLoad({ targets, offeredTps: rate, durationS, warmupS: 1, drainS: 5, txs, onSecond: (s) => seconds.push(s) })

    for (const v of validators) {
      assert.deepEqual(v.badSignatures, [], 'every pre-signed tx verifies')
      assert.deepEqual(v.outOfOrder, [], 'each sender’s nonces reach its validator in order, without gaps')
    }
    assert.ok(result.submittedTxs > 0 && result.submittedTxs <= rate * durationS, `submitted ${result.submittedTxs}`)
    assert.equal(result.submittedTxs, result.committedTxs + result.rejectedTxs + result.uncommittedTxs)
    assert.equal(result.uncommittedTxs, 0, 'every accepted tx commits within the drain')
    assert.deepEqual(Object.keys(result.rejectReasons), [FROZEN_REASON])
    assert.equal(result.rejectReasons[FROZEN_REASON], result.rejectedTxs)
    // Schedule: tx j is sent by account j mod 10, so one in ten comes from the frozen account.
    assert.ok(Math.abs(result.rejectedTxs - result.submittedTxs / 10) <= 2, `${result.rejectedTxs} of ${result.submittedTxs} rejected`)
    assert.equal(result.consensusLatencyMs.p50, CONSENSUS_MS)
    assert.equal(result.consensusLatencyMs.mean, CONSENSUS_MS)
    assert.ok(result.latencyMs.p50 >= 0 && result.latencyMs.p99 >= result.latencyMs.p50)
    assert.ok(result.committedBlocks > 0 && result.consensusTps > 0 && result.e2eTps > 0)
    assert.equal(result.offeredTps, rate)
    // Every figure comes from the recorded trace through the shared definitions, nothing re-derived here.
    assert.deepEqual(traceMetrics(result.trace, rate), Object.fromEntries(Object.keys(traceMetrics(result.trace, rate)).map((k) => [k, result[k as keyof typeof result]])))
    // The chain kept up: the sustained e2e rate reads the offered rate less the frozen account's tenth, within a tick's batching.
    assert.ok(Math.abs(result.e2eTps - 0.9 * rate) <= 0.1 * rate, `e2e ${result.e2eTps} tx/s`)
    assert.equal(result.safetyViolations, 0, 'both validators report the same blocks')
    assert.ok(seconds.length >= 2, `${seconds.length} live lines`)
    assert.ok(seconds.some((s) => s.committed > 0 && s.height > 0))
  })
})

describe('load generator against a validator slow to answer', () => {
  const REPLY_DELAY_MS = 400
  const accounts = Array.from({ length: 10 }, (_, i) => ({ ...keyPairFromSeed(deriveSeed('load-slow', i)), nextNonce: 0n }))
  const chain = new FakeChain()
  const validator = new FakeValidator('', chain, REPLY_DELAY_MS)
  let target = ''

  before(async () => {
    target = await validator.listen()
    chain.start()
  })
  after(async () => {
    chain.stop()
    await validator.close()
  })

  it('counts a tx’s latency from when it fell due, including its wait behind the request in flight', async () => {
    const rate = 200
    const durationS = 3
    const txs = await presignTransfers(accounts, rate * durationS, { workers: 1 })
    const result = await runLoad({ targets: [target], offeredTps: rate, durationS, warmupS: 1, drainS: 5, txs })
    assert.equal(result.uncommittedTxs, 0)
    // One request is in flight at a time and each reply takes REPLY_DELAY_MS, while the chain
    // commits within BLOCK_INTERVAL_MS of arrival: txs falling due during a reply wait for it,
    // on average half of it. Stamped at the send, p50 would be about half a block interval.
    assert.ok(result.latencyMs.p50 >= REPLY_DELAY_MS / 3, `e2e p50 ${result.latencyMs.p50} ms with ${REPLY_DELAY_MS} ms replies`)
    assert.ok(result.latencyMs.p99 >= REPLY_DELAY_MS, `e2e p99 ${result.latencyMs.p99} ms`)
  })
})

describe('commit event stream', () => {
  it('skips the data of a block the caller already has, unparsed, and follows frames without an id', async () => {
    const event = (height: number, id: string) => JSON.stringify({ height, round: height, id, proposedAt: 1, committedAt: 2, txs: [] })
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(`: hello\n\nid: 1 aa\ndata: ${event(1, 'aa')}\n\n`)
      // Already held: never parsed, so bytes that are not JSON cannot fail the stream.
      res.write(`id: 1 aa\ndata: not json\n\nid: 2 bb\ndata: ${event(2, 'bb')}\n\ndata: ${event(3, 'cc')}\n\n`)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const seen: string[] = []
    const controller = new AbortController()
    const following = followCommits(
      base,
      (e) => {
        seen.push(`${e.height} ${e.id}`)
        if (seen.length === 3) controller.abort()
      },
      controller.signal,
      (height, id) => seen.includes(`${height} ${id}`),
    )
    await following
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    assert.deepEqual(seen, ['1 aa', '2 bb', '3 cc'])
  })

  it('frames a byte stream the same wherever its chunks are cut, blank lines and multi-byte characters included (seeded)', () => {
    const frames = [': hello', 'id: 1 aa\ndata: {"txs":["é€"]}', 'data: x', 'id: 2 bb\ndata: {"n":2}', 'data: 💡']
    const stream = Buffer.from(frames.map((f) => `${f}\n\n`).join(''))
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = new Prng(seed)
      const framer = new SseFramer()
      const got: string[] = []
      for (let at = 0; at < stream.length; ) {
        const size = random.int(1, 6)
        for (const frame of framer.push(stream.subarray(at, at + size))) got.push(frame.toString('utf8'))
        at += size
      }
      assert.deepEqual(got, frames, `seed ${seed}`)
    }
    // Every cut at once: one byte per chunk.
    const framer = new SseFramer()
    const oneByOne = [...stream].flatMap((b) => framer.push(Uint8Array.of(b)).map((f) => f.toString('utf8')))
    assert.deepEqual(oneByOne, frames)
  })
})

describe('tx submission', () => {
  it('sends the txs as one msgpack array on a kept-alive connection and names every wrong answer', async () => {
    const bodies: Uint8Array[][] = []
    const sockets = new Set<unknown>()
    let answer: (txs: Uint8Array[]) => { status: number; body: string } = (txs) => ({ status: 200, body: JSON.stringify(txs.map(() => ({ accepted: true }))) })
    const server = createServer((req, res) => {
      sockets.add(req.socket)
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const txs = unpack(Buffer.concat(chunks)) as Uint8Array[]
        bodies.push(txs)
        const { status, body } = answer(txs)
        res.writeHead(status, { 'content-type': 'application/json' }).end(body)
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const txs = [new Uint8Array([1, 2, 3]), new Uint8Array([4])]
    try {
      assert.deepEqual(await submitTxs(base, txs), [{ accepted: true }, { accepted: true }])
      assert.deepEqual(await submitTxs(base, txs), [{ accepted: true }, { accepted: true }])
      assert.deepEqual(bodies.map((b) => b.map((t) => [...t])), [[[1, 2, 3], [4]], [[1, 2, 3], [4]]])
      assert.equal(sockets.size, 1, 'the second request reuses the first one’s connection')

      answer = () => ({ status: 503, body: '{"error":"mempool full"}' })
      await assert.rejects(submitTxs(base, txs), (err: Error) => err instanceof NodeApiError && /HTTP 503: \{"error":"mempool full"\}/.test(err.message))
      answer = () => ({ status: 200, body: '[{"accepted":true}]' })
      await assert.rejects(submitTxs(base, txs), (err: Error) => err instanceof NodeApiError && /expected 2 admission results, got 1/.test(err.message))
      answer = () => ({ status: 200, body: 'not json' })
      await assert.rejects(submitTxs(base, txs), SyntaxError)
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
    // The load generator reports an unreachable validator by this code: a refused connection, or
    // a reset if the kept-alive socket's close has not reached the agent yet.
    await assert.rejects(submitTxs(base, txs), (err: NodeJS.ErrnoException) => /^ECONN(REFUSED|RESET)$/.test(err.code ?? ''))
  })
})
