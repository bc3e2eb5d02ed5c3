import assert from 'node:assert/strict'
import type { ByzantineMode, GenesisConfig } from '../../src/node/config.ts'
import { ValidatorNode } from '../../src/node/node.ts'
import { txToJson } from '../../src/node/tx-json.ts'
import { startChain, transfer, waitFor } from '../node/fixtures.ts'

export const VALIDATORS = 4
/** f = 1 of 4: the last validator misbehaves. */
export const BYZANTINE = 3
export const HONEST = [0, 1, 2] as const
/** Every transfer has its own sender (see startLoad); enough for the longest run at the load rate. */
const ACCOUNTS = 600

export interface ByzantineChain {
  readonly nodes: ValidatorNode[]
  readonly honest: ValidatorNode[]
  readonly byzantine: ValidatorNode
  readonly genesis: GenesisConfig
  stop(): Promise<void>
}

/**
 * Four validators in this process on 127.0.0.1, validator BYZANTINE in `mode`, on a chain whose
 * genesis opts into test behaviour. Short round timeouts: rounds the byzantine validator spoils
 * cost one base timeout each, and the test waits for several of them.
 */
export async function startByzantineChain(mode: ByzantineMode): Promise<ByzantineChain> {
  const chain = await startChain(VALIDATORS, ACCOUNTS, { baseTimeoutMs: 1_000, maxTimeoutMs: 4_000, testing: true }, (i, config) =>
    i === BYZANTINE ? { ...config, byzantine: { mode } } : config,
  )
  try {
    await Promise.all(chain.nodes.map((n) => n.network.waitForPeers(VALIDATORS - 1, 20_000)))
  } catch (err) {
    await chain.stop()
    throw err
  }
  const { nodes, genesis, stop } = chain
  return { nodes, honest: HONEST.map((i) => nodes[i]!), byzantine: nodes[BYZANTINE]!, genesis, stop }
}

/** Submit interval of the light load: ~10 transfers/s, spread over the honest validators. */
const LOAD_INTERVAL_MS = 100

/**
 * Transfers submitted to honest validators until `stop()` (or the accounts run out), which returns
 * their hashes. Each transfer comes from a sender of its own (nonce 0), so every one must commit
 * whatever order the chain includes them in: a leader turn that ends in a timeout orphans the
 * block before it, whose batches are proposed again rounds later — after later batches — so
 * pipelined nonces of one sender could legitimately fail as out of order.
 */
export function startLoad(chain: ByzantineChain): { stop(): Promise<string[]> } {
  const hashes: string[] = []
  let sent = 0
  let failure: Error | undefined
  let pending: Promise<void> = Promise.resolve()
  const timer = setInterval(() => {
    if (sent >= ACCOUNTS) return
    const account = sent++
    const node = chain.honest[account % chain.honest.length]!
    const tx = transfer(chain.genesis, account, (account + 1) % ACCOUNTS, 10n, 0n)
    pending = pending.then(async () => {
      if (failure !== undefined) return
      const res = await node.http.inject({ method: 'POST', url: '/tx', headers: { 'content-type': 'application/json' }, payload: txToJson(tx) })
      if (res.statusCode === 200) hashes.push(res.json().hash)
      else failure = new Error(`validator ${node.index} refused a transfer (${res.statusCode}): ${res.body}`)
    })
  }, LOAD_INTERVAL_MS)
  return {
    async stop() {
      clearInterval(timer)
      await pending
      if (failure !== undefined) throw failure
      return hashes
    },
  }
}

export const minHeight = (nodes: readonly ValidatorNode[]): number => Math.min(...nodes.map((n) => n.committer.height))

/**
 * The honest-progress assertion shared by every mode: under load, the honest validators commit
 * at least `blocks` more blocks, every submitted tx commits on each of them, and they hold the
 * same block at every height they all reached (no fork).
 */
export async function assertHonestProgress(chain: ByzantineChain, blocks: number, until: () => Promise<boolean> | boolean = () => true): Promise<void> {
  const start = minHeight(chain.honest)
  const load = startLoad(chain)
  let hashes: string[]
  try {
    await waitFor(`honest validators ${blocks} blocks past height ${start}`, async () => (minHeight(chain.honest) >= start + blocks && (await until()) ? true : undefined), 60_000)
  } finally {
    hashes = await load.stop()
  }
  assert.ok(hashes.length > 0, 'the load submitted no transfers')
  await waitFor(`${hashes.length} transfers committed on every honest validator`, async () => {
    for (const node of chain.honest) {
      for (const hash of hashes) if ((await node.txStatus(Buffer.from(hash, 'hex'))).status !== 'committed') return undefined
    }
    return true
  })
  await assertNoFork(chain.honest)
}

export async function assertNoFork(nodes: readonly ValidatorNode[]): Promise<void> {
  const common = minHeight(nodes)
  for (let h = 1; h <= common; h++) {
    const ids = await Promise.all(nodes.map(async (n) => (await n.http.inject(`/block/${h}`)).json().id as string))
    assert.equal(new Set(ids).size, 1, `validators ${nodes.map((n) => n.index).join(', ')} disagree on the block at height ${h}: ${ids.join(', ')}`)
  }
}

/** Sum of a metric's samples whose labels include `labels` (0 if there is none). */
export async function metric(node: ValidatorNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await node.http.inject('/metrics')).body
  let sum = 0
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const sample = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => sample[k] === v)) sum += Number(match[3])
  }
  return sum
}

export interface StatusEvidence {
  readonly kind: string
  readonly offender: number
  readonly round: number
  readonly first: string
  readonly second: string
}

export async function statusEvidence(node: ValidatorNode): Promise<{ evidence: StatusEvidence[]; evidenceCount: number }> {
  const status = (await node.http.inject('/status')).json()
  return { evidence: status.evidence, evidenceCount: status.evidenceCount }
}

/** True once every honest validator shows evidence of `kind` against the byzantine one. */
export async function everyHonestHasEvidence(chain: ByzantineChain, kind: string): Promise<boolean> {
  for (const node of chain.honest) {
    const { evidence } = await statusEvidence(node)
    if (!evidence.some((e) => e.kind === kind && e.offender === BYZANTINE)) return false
  }
  return true
}
