import assert from 'node:assert/strict'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { unpack } from 'msgpackr'
import { toHex } from '../../src/core/hash.ts'
import { deriveSeed, keyPairFromSeed } from '../../src/core/keys.ts'
import { decodeTx, txHash, verifyTx } from '../../src/core/tx.ts'
import { runLoad, type LiveSecond } from '../../src/testnet/load.ts'
import { presignTransfers } from '../../src/testnet/presign.ts'

/** The fake chain's fixed proposal-to-commit delay, so consensus latency is known exactly. */
const CONSENSUS_MS = 30
const BLOCK_INTERVAL_MS = 50
const FROZEN_REASON = 'test: account frozen'

/**
 * A stand-in validator with the real API's wire formats: checks every tx's signature and the
 * per-sender nonce order it arrives in, refuses txs from one "frozen" account, and commits
 * everything else in a block every 50 ms, announced on /events.
 */
class FakeValidator {
  readonly server: Server
  readonly outOfOrder: string[] = []
  readonly badSignatures: string[] = []
  private readonly lastNonce = new Map<string, bigint>()
  private readonly subscribers = new Set<ServerResponse>()
  private pending: string[] = []
  private height = 0
  private timer: NodeJS.Timeout | undefined
  private readonly frozen: string

  constructor(frozen: string) {
    this.frozen = frozen
    this.server = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/txs') {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => res.end(JSON.stringify(this.admit(unpack(Buffer.concat(chunks)) as Uint8Array[]))))
      } else if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.write(': hello\n\n')
        this.subscribers.add(res)
        res.on('close', () => this.subscribers.delete(res))
      } else if (req.url === '/metrics') {
        res.end(`# HELP x\nbftlab_committed_height ${this.height}\nbftlab_current_round ${this.height + 1}\nbftlab_mempool_txs ${this.pending.length}\nbftlab_timeouts_total 0\n`)
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
      this.pending.push(hash)
      return { hash, accepted: true }
    })
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    this.timer = setInterval(() => {
      const now = Date.now()
      this.height++
      const event = { height: this.height, round: this.height, id: 'ab', proposedAt: now - CONSENSUS_MS, committedAt: now, txs: this.pending }
      this.pending = []
      for (const s of this.subscribers) s.write(`data: ${JSON.stringify(event)}\n\n`)
    }, BLOCK_INTERVAL_MS)
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    for (const s of this.subscribers) s.destroy()
    this.server.closeAllConnections()
    await new Promise((r) => this.server.close(r))
  }
}

describe('load generator against two fake validators', () => {
  const accounts = Array.from({ length: 10 }, (_, i) => ({ ...keyPairFromSeed(deriveSeed('load-test', i)), nextNonce: BigInt(i) }))
  const frozen = toHex(accounts[3]!.publicKey)
  const validators = [new FakeValidator(frozen), new FakeValidator(frozen)]
  let targets: string[] = []

  before(async () => {
    targets = await Promise.all(validators.map((v) => v.listen()))
  })
  after(async () => {
    await Promise.all(validators.map((v) => v.close()))
  })

  it('offers pre-signed txs open-loop, in nonce order per sender, and accounts for every one', async () => {
    const rate = 400
    const durationS = 3
    const txs = await presignTransfers(accounts, rate * durationS, { workers: 2 })
    const seconds: LiveSecond[] = []
    const result = await runLoad({ targets, rate, durationS, warmupS: 1, drainS: 5, txs, onSecond: (s) => seconds.push(s) })

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
    assert.ok(seconds.length >= 2, `${seconds.length} live lines`)
    assert.ok(seconds.some((s) => s.committed > 0 && s.height > 0))
  })
})
