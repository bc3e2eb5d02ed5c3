import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before } from 'node:test'
import { readdirSync, readFileSync } from 'node:fs'
import { toHex } from '../../src/core/hash.ts'
import { loadGenesis } from '../../src/node/config.ts'
import type { StatusView, TxStatus } from '../../src/node/http.ts'
import { genesisAccounts } from '../../src/testnet/accounts.ts'
import { LocalTestnet, type LocalTestnetOptions } from '../../src/testnet/local-testnet.ts'
import { fetchJson, submitTxs } from '../../src/testnet/node-client.ts'
import type { LoadAccount, PresignedTxs } from '../../src/testnet/presign.ts'
import { CLI_ENTRY } from '../../src/testnet/processes.ts'

export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `bftlab …` as a real process under the pinned Node, the way a user or CI would. */
export function runCli(args: readonly string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_ENTRY, ...args], { timeout: opts.timeoutMs ?? 60_000, cwd: opts.cwd }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * Pids of live processes whose command line mentions `needle` (a testnet's temp dir appears in
 * every node's `--config` argument), found via /proc so orphans re-parented to init count too.
 */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry) || Number(entry) === process.pid) continue
    let cmdline: string
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
    } catch {
      continue // exited while we looked
    }
    if (cmdline.includes(needle)) pids.push(Number(entry))
  }
  return pids
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) {
      last = ` (last error: ${(err as Error).message})`
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/**
 * Runs a fresh testnet of real node processes for the enclosing `describe`: started and ready
 * before its tests, stopped after them, with proof that no node process outlives it.
 */
export function useTestnet(opts: LocalTestnetOptions): { testnet: () => LocalTestnet; accounts: () => LoadAccount[] } {
  let testnet: LocalTestnet | undefined
  let accounts: LoadAccount[] = []
  before(async () => {
    testnet = await LocalTestnet.create(opts)
    testnet.start()
    await testnet.waitReady({ timeoutMs: 60_000 })
    accounts = await freshAccounts(testnet)
  })
  after(async () => {
    if (testnet === undefined) return
    await testnet.stop()
    assert.deepEqual(processesMentioning(testnet.dir), [], 'no node process survives the testnet')
    await testnet.remove()
  })
  return {
    testnet: () => testnet ?? assert.fail('testnet not started'),
    accounts: () => accounts,
  }
}

/** The genesis-funded accounts of a fresh testnet, ready to sign from nonce 0. */
export async function freshAccounts(testnet: LocalTestnet): Promise<LoadAccount[]> {
  const genesis = await loadGenesis(testnet.genesisPath)
  return genesisAccounts(genesis, testnet.genesisPath).map((a) => ({ ...a, nextNonce: 0n }))
}

export function status(url: string): Promise<StatusView> {
  return fetchJson<StatusView>(url, '/status', AbortSignal.timeout(5_000))
}

export function txStatus(url: string, hash: string): Promise<TxStatus> {
  return fetchJson<TxStatus>(url, `/tx/${hash}`, AbortSignal.timeout(5_000))
}

/** Waits until every given node has committed at least `height`. */
export async function waitForHeight(urls: readonly string[], height: number, timeoutMs: number): Promise<void> {
  await until(
    `height ${height} on ${urls.join(', ')}`,
    async () => ((await Promise.all(urls.map(status))).every((s) => s.height >= height) ? true : undefined),
    timeoutMs,
  )
}

/** Waits until every hash reads `committed` on every node; returns the heights they landed at. */
export async function waitCommitted(urls: readonly string[], hashes: readonly string[], timeoutMs: number): Promise<Map<string, number>> {
  const heights = new Map<string, number>()
  for (const url of urls) {
    await until(
      `${hashes.length} txs committed on ${url}`,
      async () => {
        for (const h of hashes) {
          const s = await txStatus(url, h)
          if (s.status !== 'committed') return undefined
          heights.set(h, s.height)
        }
        return true
      },
      timeoutMs,
    )
  }
  return heights
}

/**
 * Block ids at heights 1..height on each node, which must all be identical: the CometBFT e2e
 * check "identical headers at every height". Returns the (common) ids.
 */
export async function commonChain(urls: readonly string[], height: number): Promise<string[]> {
  const chains = await Promise.all(
    urls.map(async (url) => {
      const ids: string[] = []
      for (let h = 1; h <= height; h++) ids.push((await fetchJson<{ id: string }>(url, `/block/${h}`)).id)
      return ids
    }),
  )
  for (let i = 1; i < chains.length; i++) {
    const h = chains[i]!.findIndex((id, k) => id !== chains[0]![k])
    if (h >= 0) throw new Error(`${urls[i]} disagrees with ${urls[0]} at height ${h + 1}: ${chains[i]![h]} vs ${chains[0]![h]}`)
  }
  return chains[0]!
}

/** balance/nonce of every account as each node sees it, as comparable strings. */
export async function accountStates(url: string, accounts: readonly LoadAccount[]): Promise<string[]> {
  return Promise.all(
    accounts.map(async (a) => {
      const v = await fetchJson<{ balance: string; nonce: string }>(url, `/account/${toHex(a.publicKey)}`)
      return `${v.balance}/${v.nonce}`
    }),
  )
}

/**
 * Submits txs [from, to) of the schedule, each at node (sender mod n) so every node admits some,
 * expects every one accepted, and returns their hashes.
 */
export async function submitAtSenderNodes(testnet: LocalTestnet, txs: PresignedTxs, from: number, to: number): Promise<string[]> {
  const byNode: number[][] = testnet.urls.map(() => [])
  for (let j = from; j < to; j++) byNode[txs.senderOf(j) % testnet.size]!.push(j)
  const replies = await Promise.all(byNode.map((js, i) => submitTxs(testnet.urls[i]!, js.map((j) => txs.encoded[j]!))))
  replies.forEach((rs, i) => rs.forEach((r, k) => assert.ok(r.accepted, `node ${i} refused tx ${byNode[i]![k]}: ${r.reason}`)))
  return txs.hashes.slice(from, to)
}
