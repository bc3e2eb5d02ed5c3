import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'
import fc from 'fast-check'
import { toHex } from '../../src/core/hash.ts'
import type { Tx } from '../../src/core/tx.ts'
import { Prng } from '../../src/core/prng.ts'
import { KeyInterner, buildSchedule } from '../../src/execution/schedule.ts'
import {
  EMPTY_SLOT,
  OUTSTANDING,
  QUEUE_HEAD,
  QUEUE_TAIL,
  REMAINING,
  abortBlock,
  allocateBlock,
  attachBlock,
  awaitTxFilled,
  drainBlock,
  markFilled,
  publishDag,
  queuePop,
  queuePush,
  type BlockSizes,
  type BlockViews,
} from '../../src/execution/shared-block.ts'
import { FEE_SINK } from '../../src/execution/state.ts'
import { keys, sign, slotKeys } from './fixtures.ts'

const DAG_ONLY: Omit<BlockSizes, 'txs' | 'edges'> = { txBytes: 0, accounts: 0, slots: 0, accountRefs: 0, slotRefs: 0 }

/** A random DAG over n txs (each with up to 3 distinct earlier predecessors), laid out and, unless `unpublished`, published. */
function randomDag(n: number, seed: number, unpublished = false): { buffer: SharedArrayBuffer; views: BlockViews; predStart: Int32Array; preds: Int32Array; publish: () => void } {
  const prng = new Prng(seed)
  const predLists = Array.from({ length: n }, (_, i) => [...new Set(Array.from({ length: i === 0 ? 0 : prng.int(0, 3) }, () => prng.int(0, i - 1)))])
  const predStart = new Int32Array(n + 1)
  predLists.forEach((list, i) => (predStart[i + 1] = predStart[i]! + list.length))
  const preds = Int32Array.from(predLists.flat())
  const succLists = Array.from({ length: n }, (): number[] => [])
  predLists.forEach((list, i) => list.forEach((p) => succLists[p]!.push(i)))
  const { buffer, views } = allocateBlock({ ...DAG_ONLY, txs: n, edges: preds.length })
  succLists.forEach((list, i) => {
    views.succStart[i + 1] = views.succStart[i]! + list.length
    views.succs.set(list, views.succStart[i]!)
  })
  const publish = (): void => publishDag(views, Int32Array.from({ length: n }, (_, i) => i), Int32Array.from(predLists, (list) => list.length))
  if (!unpublished) publish()
  return { buffer, views, predStart, preds, publish }
}

interface DrainOutcome {
  readonly completed?: boolean
  readonly error?: string
}

/**
 * Drains a random DAG on `threads` real threads; resolves with each thread's outcome and the
 * per-tx run counts. `publishAfterMs` starts the threads first and publishes the DAG that much later.
 */
async function drainOnThreads(
  n: number,
  threads: number,
  seed: number,
  failAt = -1,
  publishAfterMs?: number,
): Promise<{ outcomes: DrainOutcome[]; runs: Int32Array; violations: number; views: BlockViews }> {
  const { buffer, views, predStart, preds, publish } = randomDag(n, seed, publishAfterMs !== undefined)
  if (publishAfterMs !== undefined) setTimeout(publish, publishAfterMs)
  const runs = new SharedArrayBuffer(4 * n)
  const done = new SharedArrayBuffer(4 * n)
  const violations = new SharedArrayBuffer(4)
  const outcomes = await Promise.all(
    Array.from({ length: threads }, (_, t) => {
      const worker = new Worker(new URL('./drain-worker.ts', import.meta.url), {
        workerData: { buffer, sizes: views.sizes, runs, done, violations, predStart, preds, seed: seed * 8 + t, failAt, stallTimeoutMs: 2000 },
      })
      return new Promise<DrainOutcome>((resolve, reject) => {
        worker.once('message', (outcome: DrainOutcome) => resolve(outcome))
        worker.once('error', reject)
      }).finally(() => worker.terminate())
    }),
  )
  return { outcomes, runs: new Int32Array(runs), violations: new Int32Array(violations)[0]!, views }
}

describe('shared block layout', () => {
  it('gives every region its own aligned bytes, and a worker the same views', () => {
    const sizes: BlockSizes = { txs: 7, txBytes: 13, accounts: 3, slots: 5, accountRefs: 9, slotRefs: 11, edges: 6 }
    const { buffer, views } = allocateBlock(sizes)
    const regions = Object.entries(views).filter(([name]) => name !== 'sizes') as [string, Int32Array | Uint8Array | BigUint64Array][]
    const spans = regions.map(([name, view]) => ({ name, start: view.byteOffset, end: view.byteOffset + view.byteLength }))
    spans.sort((a, b) => a.start - b.start)
    for (let k = 0; k < spans.length; k++) {
      assert.equal(spans[k]!.start % 8, 0, `${spans[k]!.name} is not 8-byte aligned`)
      if (k > 0) assert.ok(spans[k - 1]!.end <= spans[k]!.start, `${spans[k - 1]!.name} overlaps ${spans[k]!.name}`)
    }
    assert.ok(spans.at(-1)!.end <= buffer.byteLength)
    assert.equal(views.txAccountIds.length, 9)
    assert.equal(views.slotValues.length, 5 * 32)
    assert.deepEqual([...views.queue], new Array(7).fill(EMPTY_SLOT))
    views.balances[2] = 12345678901234567890n
    assert.equal(attachBlock(buffer, sizes).balances[2], 12345678901234567890n)
    assert.throws(() => attachBlock(buffer, { ...sizes, slots: 6 }), /has \d+ bytes, its sizes need \d+/)
  })
})

describe('ready queue', () => {
  it('pops in push order, reports empty, and refuses a push beyond one per tx', () => {
    const { views } = allocateBlock({ ...DAG_ONLY, txs: 3, edges: 0 })
    assert.equal(queuePop(views), -1)
    queuePush(views, 2)
    queuePush(views, 0)
    assert.equal(queuePop(views), 2)
    queuePush(views, 1)
    assert.deepEqual([queuePop(views), queuePop(views), queuePop(views)], [0, 1, -1])
    assert.throws(() => queuePush(views, 1), /ready queue overflow: slot 3 of 3/)
  })
})

describe('self-scheduling over a shared DAG', () => {
  it('runs every tx exactly once, after all its predecessors, on 1..4 threads', async () => {
    for (const [threads, seed] of [[1, 1], [2, 2], [3, 3], [4, 4]] as const) {
      const { outcomes, runs, violations, views } = await drainOnThreads(3000, threads, seed)
      assert.deepEqual(outcomes, new Array(threads).fill({ completed: true }))
      assert.equal(violations, 0, `${violations} txs started before a predecessor completed (threads=${threads})`)
      assert.ok(runs.every((count) => count === 1), `some tx ran ${Math.max(...runs)} or ${Math.min(...runs)} times`)
      assert.equal(Atomics.load(views.control, REMAINING), 0)
      assert.equal(Atomics.load(views.control, OUTSTANDING), 0)
    }
  })

  it('holds threads started before the layout is published, then runs every tx exactly once', async () => {
    // Published well after the threads load (≈ 50–100 ms), so they are waiting when it lands.
    const { outcomes, runs, violations } = await drainOnThreads(3000, 2, 6, -1, 400)
    assert.deepEqual(outcomes, [{ completed: true }, { completed: true }])
    assert.equal(violations, 0)
    assert.ok(runs.every((count) => count === 1), `some tx ran ${Math.max(...runs)} or ${Math.min(...runs)} times`)
  })

  it('returns false for a block aborted before it was published, and throws for one never published', () => {
    const aborted = randomDag(10, 7, true)
    abortBlock(aborted.views)
    const ran: number[] = []
    assert.equal(drainBlock(aborted.views, (tx) => ran.push(tx), 5, 2000), false)
    assert.throws(() => drainBlock(randomDag(10, 8, true).views, (tx) => ran.push(tx), 5, 50), /neither published nor aborted within 50 ms/)
    assert.deepEqual(ran, [])
  })

  it('stops every thread when one tx throws, and reports the error once', async () => {
    const { outcomes } = await drainOnThreads(3000, 3, 9, 1500)
    assert.deepEqual(outcomes.filter((o) => o.error !== undefined), [{ error: 'injected failure at tx 1500' }])
    assert.ok(outcomes.filter((o) => o.error === undefined).every((o) => o.completed === false))
  })

  it('fails fast on a DAG that can never finish instead of waiting forever', () => {
    const { views } = allocateBlock({ ...DAG_ONLY, txs: 2, edges: 1 })
    views.succStart.set([0, 1, 1])
    views.succs[0] = 1
    // tx 1 claims two predecessors but only tx 0 will ever release it.
    publishDag(views, Int32Array.of(0, 1), Int32Array.of(0, 2))
    const ran: number[] = []
    assert.throws(() => drainBlock(views, (tx) => ran.push(tx), 5, 2000), /stalled with 1 txs unexecuted and none ready or running/)
    assert.deepEqual(ran, [0])
  })

  it('reports a tx that was never released (a lost push) after the stall timeout', () => {
    const { views } = allocateBlock({ ...DAG_ONLY, txs: 2, edges: 0 })
    publishDag(views, Int32Array.of(0, 1), Int32Array.of(0, 0))
    // Tx 1 counts as ready (OUTSTANDING) but is taken off the queue and never run.
    assert.equal(queuePop(views), 0)
    assert.equal(queuePop(views), 1)
    Atomics.store(views.control, QUEUE_HEAD, 0)
    Atomics.store(views.control, QUEUE_TAIL, 1)
    assert.throws(() => drainBlock(views, () => {}, 5, 100), /no tx completed in \d+ ms with 1 txs unexecuted/)
  })

  it('returns early, without running anything more, once the block is aborted', () => {
    const { views } = randomDag(50, 5)
    const ran: number[] = []
    const completed = drainBlock(views, (tx) => {
      ran.push(tx)
      if (ran.length === 10) abortBlock(views)
    }, 5, 2000)
    assert.equal(completed, false)
    assert.equal(ran.length, 10)
  })
})

describe('pre-state filled after publishing', () => {
  /** One published tx declaring accounts 0 and 3 and slot 1, its pre-state not filled yet. */
  function oneTxBlock(): { buffer: SharedArrayBuffer; views: BlockViews } {
    const block = allocateBlock({ txs: 1, txBytes: 1, accounts: 4, slots: 2, accountRefs: 2, slotRefs: 1, edges: 0 })
    const { views } = block
    views.txAccountStart.set([0, 2])
    views.txAccountIds.set([0, 3])
    views.txSlotStart.set([0, 1])
    views.txSlotIds.set([1])
    publishDag(views, Int32Array.of(0), Int32Array.of(0))
    return block
  }
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

  it('holds a tx on another thread until its bytes and all its keys are declared, and then it reads the fill', async () => {
    const { buffer, views } = oneTxBlock()
    const worker = new Worker(new URL('./fill-worker.ts', import.meta.url), { workerData: { buffer, sizes: views.sizes } })
    try {
      const seen = new Promise((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
      })
      await sleep(300)
      // Slots are complete but account 3 is not: the tx must keep waiting.
      markFilled(views, 1, 3, 2)
      await sleep(100)
      views.balances[3] = 42n
      // Every key is, but the tx's bytes are not.
      markFilled(views, 0, 4, 2)
      await sleep(100)
      views.txBytes[0] = 7
      markFilled(views, 1, 4, 2)
      assert.deepEqual(await seen, { ready: true, txByte: 7, balance: 42n, filled: [1, 4, 2] })
    } finally {
      await worker.terminate()
    }
  })

  it('returns false once the block is aborted, and throws when the fill never comes', () => {
    const aborted = oneTxBlock().views
    markFilled(aborted, 1, 4, 1)
    abortBlock(aborted)
    assert.equal(awaitTxFilled(aborted, 0, 5, 2000), false)
    const starved = oneTxBlock().views
    markFilled(starved, 1, 4, 1)
    assert.throws(() => awaitTxFilled(starved, 0, 5, 50), /1 txs and the pre-state of 4 accounts and 2 slots were not filled within 50 ms/)
    const unencoded = oneTxBlock().views
    markFilled(unencoded, 0, 4, 2)
    assert.throws(() => awaitTxFilled(unencoded, 0, 5, 50), /1 txs and the pre-state of 4 accounts and 2 slots were not filled within 50 ms/)
  })
})

describe('DAG builder (integer key ids, CSR)', () => {
  it('interns keys by their bytes: first-seen ids, equal bytes in any buffer or offset share one, table growth keeps them, even when every hash collides', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1500), { minLength: 1, maxLength: 3000, size: 'max' }), fc.nat(255), fc.boolean(), (picks, shared, colliding) => {
        // Key j: 28 bytes shared by every key (only the last word differs), then j.
        const keyBytes = (j: number): Uint8Array => {
          const key = new Uint8Array(32).fill(shared)
          new DataView(key.buffer).setUint32(28, j)
          return key
        }
        // Zero multipliers hash every key alike: only the byte comparison tells keys apart.
        const interner = colliding ? new KeyInterner(32, new Int32Array(8)) : new KeyInterner()
        const reference = new Map<string, number>()
        for (const [n, j] of (colliding ? picks.slice(0, 300) : picks).entries()) {
          // Every occurrence is a fresh copy at a varying offset in a larger buffer.
          const backing = new Uint8Array(40 + (n % 8))
          backing.set(keyBytes(j), n % 8)
          const key = backing.subarray(n % 8, (n % 8) + 32)
          const hex = toHex(key)
          if (!reference.has(hex)) reference.set(hex, reference.size)
          assert.equal(interner.intern(key), reference.get(hex))
        }
        assert.equal(interner.size, reference.size)
        for (const [hex, id] of reference) assert.equal(interner.hex(id), hex)
      }),
      { numRuns: 30 },
    )
    assert.throws(() => new KeyInterner().intern(new Uint8Array(31)), /32 bytes, got 31/)
  })

  const txArb = fc.record({
    from: fc.integer({ min: 0, max: 5 }),
    to: fc.integer({ min: -1, max: 5 }),
    nonce: fc.integer({ min: 0, max: 3 }),
    compute: fc.boolean(),
    accessList: fc.array(fc.integer({ min: 0, max: slotKeys.length - 1 }), { maxLength: 3 }),
    excluded: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  })

  it('matches a brute-force reference: keys, predecessors, successors, duplicates flag', () => {
    fc.assert(
      fc.property(fc.array(txArb, { maxLength: 40, size: 'max' }), (specs) => {
        const txs: Tx[] = specs.map((s) =>
          sign(
            {
              kind: s.compute ? 'compute' : 'transfer',
              from: keys[s.from]!.publicKey,
              to: s.to < 0 ? FEE_SINK : keys[s.to]!.publicKey,
              amount: 1n,
              nonce: BigInt(s.nonce),
              fee: 1n,
              computeUnits: s.compute ? 1 : 0,
              accessList: s.compute ? s.accessList.map((k) => slotKeys[k]!) : [],
              payload: new Uint8Array(0),
            },
            s.from,
          ),
        )
        const excluded = specs.map((s) => (s.excluded ? 'duplicate' : undefined))
        const schedule = buildSchedule(txs, undefined, excluded)

        // Reference: string keys ('a'/'s' + hex), last toucher per key, in block order.
        const expectedKeys = (tx: Tx): string[] => {
          const accounts = [tx.from, ...(toHex(tx.to) === toHex(FEE_SINK) || toHex(tx.to) === toHex(tx.from) ? [] : [tx.to])]
          return [...accounts.map((k) => 'a' + toHex(k)), ...(tx.kind === 'compute' ? tx.accessList : []).map((k) => 's' + toHex(k))]
        }
        const last = new Map<string, number>()
        const maxNonce = new Map<string, bigint>()
        let duplicatesPossible = false
        txs.forEach((tx, i) => {
          if (excluded[i] !== undefined) {
            assert.equal(schedule.txAccountStart[i + 1], schedule.txAccountStart[i])
            assert.equal(schedule.predCount[i], 0)
            return
          }
          const ids = [
            ...[...schedule.txAccountIds.subarray(schedule.txAccountStart[i]!, schedule.txAccountStart[i + 1]!)].map((id) => 'a' + schedule.accounts.hex(id)),
            ...[...schedule.txSlotIds.subarray(schedule.txSlotStart[i]!, schedule.txSlotStart[i + 1]!)].map((id) => 's' + schedule.slots.hex(id)),
          ]
          assert.deepEqual(ids, expectedKeys(tx), `keys of tx ${i}`)
          const preds = new Set<number>()
          for (const key of ids) {
            const prev = last.get(key)
            if (prev !== undefined && prev !== i) preds.add(prev)
            last.set(key, i)
          }
          assert.equal(schedule.predCount[i], preds.size, `predecessors of tx ${i}`)
          for (const p of preds) {
            const succs = [...schedule.succs.subarray(schedule.succStart[p]!, schedule.succStart[p + 1]!)]
            assert.ok(succs.includes(i), `tx ${i} missing from the successors of tx ${p}`)
          }
          const sender = toHex(tx.from)
          if (maxNonce.has(sender) && tx.nonce <= maxNonce.get(sender)!) duplicatesPossible = true
          if (!maxNonce.has(sender) || tx.nonce > maxNonce.get(sender)!) maxNonce.set(sender, tx.nonce)
        })
        const edges = [...schedule.predCount].reduce((a, b) => a + b, 0)
        assert.equal(schedule.succs.length, edges)
        assert.deepEqual([...schedule.executable], txs.flatMap((_, i) => (excluded[i] === undefined ? [i] : [])))
        assert.equal(schedule.mayHaveDuplicates, duplicatesPossible)
        const keyBytes = schedule.accounts.bytes()
        for (let id = 0; id < schedule.accounts.size; id++) assert.equal(toHex(keyBytes.subarray(32 * id, 32 * id + 32)), schedule.accounts.hex(id))
      }),
      { numRuns: 200 },
    )
  })
})
