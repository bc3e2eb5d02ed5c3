import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { toHex } from '../../src/core/hash.ts'
import type { Tx } from '../../src/core/tx.ts'
import {
  FEE_SINK,
  ParallelExecutor,
  executeSequential,
  genesisState,
  receiptsHash,
  type ExecutionResult,
  type WorldState,
} from '../../src/execution/index.ts'
import { generateBenchBlock } from '../../src/bench/exec/blocks.ts'
import { keys, sign, slotKeys } from './fixtures.ts'

/** Accounts 0..5 are funded with small balances (so overdrafts happen); 6..9 are unknown. */
const FUNDED = 6

const txSpecArb = fc.record({
  kind: fc.constantFrom('transfer' as const, 'compute' as const),
  from: fc.integer({ min: 0, max: keys.length - 1 }),
  to: fc.integer({ min: -1, max: keys.length - 1 }), // -1: the fee sink
  amount: fc.bigInt({ min: 0n, max: 120n }),
  fee: fc.bigInt({ min: 0n, max: 5n }),
  nonceSkew: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -1, max: 2 }) }),
  computeUnits: fc.integer({ min: 0, max: 3 }),
  accessList: fc.array(fc.integer({ min: 0, max: slotKeys.length - 1 }), { maxLength: 3 }),
  fromSink: fc.integer({ min: 0, max: 30 }).map((n) => n === 0),
  duplicateOf: fc.option(fc.nat(), { freq: 8 }),
  unverified: fc.boolean(),
  forged: fc.integer({ min: 0, max: 10 }).map((n) => n === 0),
})

type TxSpec = typeof txSpecArb extends fc.Arbitrary<infer T> ? T : never

const balancesArb = fc.array(fc.bigInt({ min: 0n, max: 300n }), { minLength: FUNDED, maxLength: FUNDED })
const specsArb = fc.array(txSpecArb, { maxLength: 60, size: 'max' })

function genesisOf(balances: readonly bigint[]): WorldState {
  return genesisState(balances.map((balance, i) => ({ address: keys[i]!.publicKey, balance })))
}

/** Signs the specs into a block: nonces follow each sender's count unless skewed (gaps, replays). */
function blockOf(specs: readonly TxSpec[]): { txs: Tx[]; unverified: boolean[] } {
  const nextNonce = new Array<bigint>(keys.length).fill(0n)
  const txs: Tx[] = []
  const unverified: boolean[] = []
  for (const s of specs) {
    if (s.duplicateOf !== null && txs.length > 0) {
      const k = s.duplicateOf % txs.length
      txs.push(txs[k]!)
      unverified.push(unverified[k]!)
      continue
    }
    const nonce = nextNonce[s.from]! + BigInt(s.nonceSkew)
    if (nonce < 0n) continue
    nextNonce[s.from] = nonce + 1n
    const body = {
      kind: s.kind,
      from: s.fromSink ? FEE_SINK : keys[s.from]!.publicKey,
      to: s.to < 0 ? FEE_SINK : keys[s.to]!.publicKey,
      amount: s.amount,
      nonce,
      fee: s.fee,
      computeUnits: s.kind === 'compute' ? s.computeUnits : 0,
      accessList: s.kind === 'compute' ? s.accessList.map((k) => slotKeys[k]!) : [],
      payload: new Uint8Array(0),
    }
    const tx = sign(body, s.from)
    txs.push(s.forged ? { ...tx, signature: new Uint8Array(64).fill(3) } : tx)
    unverified.push(s.unverified || s.forged)
  }
  return { txs, unverified }
}

function assertSameResult(parallel: ExecutionResult, oracle: ExecutionResult, context: string): void {
  assert.equal(toHex(parallel.root), toHex(oracle.root), `root differs (${context})`)
  assert.deepEqual(parallel.receipts, oracle.receipts, `receipts differ (${context})`)
  assert.equal(toHex(receiptsHash(parallel.receipts)), toHex(receiptsHash(oracle.receipts)))
  assert.deepEqual(parallel.writes, oracle.writes, `writes differ (${context})`)
}

/** Runs `blocks` one after the other on both executors, comparing every block and the final state. */
async function assertSameChain(executor: ParallelExecutor, balances: readonly bigint[], blocks: readonly TxSpec[][], delaySeed: number): Promise<void> {
  const seqState = genesisOf(balances)
  const parState = genesisOf(balances)
  for (const specs of blocks) {
    const { txs, unverified } = blockOf(specs)
    const oracle = executeSequential(seqState, txs, { unverified })
    const result = await executor.execute(parState, txs, { unverified, testDelay: { seed: delaySeed, maxMs: 1 } })
    assertSameResult(result, oracle, `workers=${executor.workers} policy=${executor.policy}`)
    seqState.apply(oracle)
    parState.apply(result)
  }
  assert.equal(toHex(parState.root()), toHex(seqState.root()))
}

describe('parallel executor equals the sequential oracle', () => {
  // Pools are created per suite, not per file: a dozen worker threads at once would each pipe
  // stdout into this process (MaxListenersExceeded warnings).
  let executors: ParallelExecutor[] = []
  before(() => {
    executors = [1, 2, 3, 4].map((workers) => new ParallelExecutor({ workers, policy: 'parallel' }))
  })
  after(() => Promise.all(executors.map((e) => e.close())))

  it('for random blocks, 1..4 workers and shuffled completion order', async () => {
    await fc.assert(
      fc.asyncProperty(
        balancesArb,
        specsArb,
        fc.constantFrom(...executors),
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        async (balances, specs, executor, delaySeed, maxDelayMs) => {
          const genesis = genesisOf(balances)
          const { txs, unverified } = blockOf(specs)
          const oracle = executeSequential(genesis, txs, { unverified })
          const testDelay = { seed: delaySeed, maxMs: maxDelayMs }
          const result = await executor.execute(genesis, txs, { unverified, testDelay })
          assertSameResult(result, oracle, `workers=${executor.workers} delay=${delaySeed}/${maxDelayMs}`)
          assert.equal(result.stats.path, 'parallel')
        },
      ),
      { numRuns: 80 },
    )
  })

  it('on each pool, block after block', async () => {
    await fc.assert(
      fc.asyncProperty(balancesArb, fc.array(specsArb, { minLength: 1, maxLength: 3 }), fc.nat(), async (balances, blocks, delaySeed) => {
        for (const executor of executors) await assertSameChain(executor, balances, blocks, delaySeed)
      }),
      { numRuns: 15 },
    )
  })

  it('conserves total supply in every block', async () => {
    await fc.assert(
      fc.asyncProperty(balancesArb, specsArb, async (balances, specs) => {
        const genesis = genesisOf(balances)
        const { txs, unverified } = blockOf(specs)
        const before = genesis.totalSupply()
        const result = await executors[1]!.execute(genesis, txs, { unverified })
        genesis.apply(result)
        assert.equal(genesis.totalSupply(), before)
      }),
      { numRuns: 40 },
    )
  })
})

describe('bench blocks on two workers', () => {
  let executor: ParallelExecutor
  before(() => {
    executor = new ParallelExecutor({ workers: 2, policy: 'parallel' })
  })
  after(() => executor.close())

  it('split the commitment partial sums and signature checks across workers, same result', async () => {
    // 1,000 accounts and 600 txs change far more entries than the main-thread threshold.
    const { genesis, txs } = generateBenchBlock({ accounts: 1000, txs: 600, computeUs: 1, seed: 7 })
    const unverified = txs.map((_, i) => i % 3 === 0 || i % 50 === 0)
    const forged = txs.map((tx, i) => (i % 50 === 0 ? { ...tx, signature: new Uint8Array(64).fill(9) } : tx))
    const oracle = executeSequential(genesis, forged, { unverified })
    const result = await executor.execute(genesis, forged, { unverified, testDelay: { seed: 3, maxMs: 2 } })
    assertSameResult(result, oracle, 'large block')
    assert.equal(oracle.receipts.filter((r) => r.reason === 'invalid signature').length, 12)
    assert.ok(oracle.writes.accounts.size > 256)
  })

  it('a pool thread that runs ahead of the encoding waits for each chunk of txs, same result', async () => {
    // Transfers among 40 accounts: the first chunk of 32 txs declares most accounts, so during
    // the calling thread's pause the pool thread reaches txs whose keys are filled but whose
    // bytes are not encoded yet.
    const { genesis, txs } = generateBenchBlock({ accounts: 40, txs: 160, computeUs: 0, seed: 5 })
    const oracle = executeSequential(genesis, txs)
    const result = await executor.execute(genesis, txs, { testFillPauseMs: 25 })
    assertSameResult(result, oracle, 'streamed fill')
    assert.equal(result.stats.path, 'parallel')
  })
})

describe('auto policy', () => {
  let executor: ParallelExecutor
  before(() => {
    executor = new ParallelExecutor({ workers: 2, policy: 'auto' })
  })
  after(() => executor.close())

  it('matches the oracle whichever path it picks', async () => {
    await fc.assert(
      fc.asyncProperty(balancesArb, fc.array(specsArb, { minLength: 1, maxLength: 3 }), fc.nat(), (balances, blocks, delaySeed) =>
        assertSameChain(executor, balances, blocks, delaySeed),
      ),
      { numRuns: 15 },
    )
  })
})
