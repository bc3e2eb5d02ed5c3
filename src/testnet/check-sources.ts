import { createReadStream, existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { decodeBatch } from '../core/batch.ts'
import type { Block } from '../core/block.ts'
import { fromHex, toHex } from '../core/hash.ts'
import type { TimeoutCert } from '../core/timeout.ts'
import { txHash, type Tx } from '../core/tx.ts'
import type { QuorumCert } from '../core/vote.ts'
import type { TxStatus } from '../node/http.ts'
import { StorageCorruptionError } from '../storage/errors.ts'
import { NodeStore } from '../storage/node-store.ts'
import { fetchJson } from './node-client.ts'

/**
 * What `bftlab check` reads from one validator: from its data dir (stopped node, everything the
 * store holds) or from its HTTP API (live node, what the API exposes). Fields the source cannot
 * provide are undefined, and the checks that need them report `skipped` instead of guessing.
 */

export interface ReceiptView {
  readonly txHash: string
  readonly status: 'ok' | 'failed'
  readonly reason?: string
  /** Sender address hex; offline only (decoded from the block's batches or inline txs). */
  readonly sender?: string
}

export interface BlockView {
  readonly height: number
  readonly id: string
  readonly round: number
  readonly executedRoot: string
  readonly executedHeight: number
  readonly txHashes: readonly string[]
  /** Offline only: the receipts stored with the block, in block order. */
  readonly receipts?: readonly ReceiptView[]
}

/** A block's `executedRoot`: the state root its proposer had after `executedHeight`. */
export interface RootClaim {
  readonly executedHeight: number
  readonly executedRoot: string
  readonly blockId: string
  readonly height: number
}

const rootClaim = (b: { executedHeight: number; executedRoot: string; id: string; height: number }): RootClaim => ({
  executedHeight: b.executedHeight,
  executedRoot: b.executedRoot,
  blockId: b.id,
  height: b.height,
})

/** One signed statement attributed to a validator, and where it was found. */
export interface SignedStatement {
  readonly kind: 'vote' | 'timeout'
  readonly signer: number
  readonly round: number
  /** vote: the block id; timeout: the high-QC round it was signed with (what the signature covers). */
  readonly statement: string
  readonly where: string
}

export interface NodeView {
  readonly index: number
  /** Data dir or base URL. */
  readonly source: string
  /** Committed blocks at heights 0..tip, in order. */
  readonly blocks: readonly BlockView[]
  /** The node's state root after executing up to its committed tip. */
  readonly stateRoot: string
  /** Every block this node holds (committed or only certified) as a claim "root after height h is r". */
  readonly rootClaims: readonly RootClaim[]
  /** Every account (offline), or the genesis accounts as the API reports them (live). */
  readonly accounts: ReadonlyMap<string, { readonly balance: bigint; readonly nonce: bigint }>
  /** True when `accounts` is the whole state, so supply and nonces can be checked exactly. */
  readonly completeState: boolean
  /** How this node reports a tx (tx index offline, `GET /tx/:hash` live). */
  readonly txStatus: (hash: string) => Promise<TxStatus>
  /** Votes and timeouts found in this node's certificates (offline only). */
  readonly certified: readonly SignedStatement[]
}

export function qcStatements(qc: QuorumCert, where: string): SignedStatement[] {
  const blockId = toHex(qc.blockId)
  return qc.signers.map((signer) => ({ kind: 'vote', signer, round: qc.round, statement: blockId, where }))
}

export function tcStatements(tc: TimeoutCert, where: string): SignedStatement[] {
  return tc.entries.map((e) => ({ kind: 'timeout', signer: e.signer, round: tc.round, statement: String(e.highQcRound), where }))
}

/** The txs of a committed block in execution order (the order its receipts are stored in). */
async function txsOf(store: NodeStore, block: Block): Promise<readonly Tx[]> {
  if (block.payload.kind === 'txs') return block.payload.txs
  const txs: Tx[] = []
  for (const digest of block.payload.digests) {
    const bytes = await store.batches.get(digest)
    if (bytes === undefined) {
      throw new StorageCorruptionError(store.dir, `batch ${toHex(digest)} of committed block ${toHex(block.id)} at height ${block.height} is missing`)
    }
    txs.push(...decodeBatch(bytes).txs)
  }
  return txs
}

/**
 * Reads a stopped validator's data dir through NodeStore (which checks its integrity first).
 * Nothing is written, except the initialized marker of a directory that predates it.
 */
export async function readNodeOffline(index: number, dataDir: string): Promise<NodeView> {
  const store = await NodeStore.open(dataDir)
  try {
    const tip = store.committedHeight()
    const blocks: BlockView[] = []
    const certified: SignedStatement[] = []
    const txIndex = new Map<string, TxStatus>()
    for (let h = 0; h <= tip; h++) {
      const block = (await store.blockAt(h))!
      const stored = (await store.receipts.get(h)) ?? []
      const txs = h === 0 ? [] : await txsOf(store, block)
      if (txs.length !== stored.length) {
        throw new StorageCorruptionError(dataDir, `committed block at height ${h} holds ${txs.length} txs but ${stored.length} receipts`)
      }
      const receipts = stored.map((r, i): ReceiptView => {
        const hash = toHex(r.txHash)
        if (hash !== toHex(txHash(txs[i]!))) throw new StorageCorruptionError(dataDir, `receipt ${i} of height ${h} is for tx ${hash}, but the block's tx ${i} is ${toHex(txHash(txs[i]!))}`)
        return { txHash: hash, status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}), sender: toHex(txs[i]!.from) }
      })
      blocks.push({
        height: h,
        id: toHex(block.id),
        round: block.round,
        executedRoot: toHex(block.executedRoot),
        executedHeight: block.executedHeight,
        txHashes: receipts.map((r) => r.txHash),
        receipts,
      })
      const proof = await store.commitProofs.get(h)
      if (proof !== undefined) certified.push(...qcStatements(proof, `node ${index} commit proof of height ${h}`))
    }
    const rootClaims: RootClaim[] = []
    for (const [, block] of await store.blocks.entries()) {
      if (block.height > 0) rootClaims.push(rootClaim({ ...block, id: toHex(block.id), executedRoot: toHex(block.executedRoot) }))
      const where = `node ${index} stored block ${toHex(block.id)} (round ${block.round})`
      certified.push(...qcStatements(block.parentQc, `${where} parent QC`))
      if (block.tc !== undefined) certified.push(...tcStatements(block.tc, `${where} TC`))
    }
    const recovery = await store.safety.loadRecovery()
    if (recovery !== undefined) {
      certified.push(...qcStatements(recovery.highQc, `node ${index} recovery high QC`))
      if (recovery.lastTc !== undefined) certified.push(...tcStatements(recovery.lastTc, `node ${index} recovery last TC`))
    }
    // The tx index is read now, while the store is open; checks query it by hash afterwards.
    for (const b of blocks) {
      for (const r of b.receipts!) {
        if (txIndex.has(r.txHash)) continue
        const record = await store.txIndex.get(fromHex(r.txHash))
        txIndex.set(r.txHash, record === undefined ? { status: 'unknown' } : record.status === 'ok' ? { status: 'committed', height: record.height } : { status: 'failed', height: record.height, reason: record.reason ?? '' })
      }
    }
    const accounts = new Map(await store.accounts.entries())
    return {
      index,
      source: dataDir,
      blocks,
      stateRoot: toHex(store.chainMeta().stateRoot),
      rootClaims,
      accounts,
      completeState: true,
      txStatus: async (hash) => txIndex.get(hash) ?? { status: 'unknown' },
      certified,
    }
  } finally {
    await store.close()
  }
}

/** Concurrent API requests per node while reading a live chain. */
const LIVE_CONCURRENCY = 16
const LIVE_TIMEOUT_MS = 10_000

async function mapConcurrent<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(LIVE_CONCURRENCY, items.length) }, worker))
  return out
}

interface BlockJson {
  height: number
  id: string
  round: number
  executedRoot: string
  executedHeight: number
  txs: string[]
}

/**
 * Reads a running validator through its HTTP API: committed blocks up to its current height,
 * the genesis accounts, and `/tx/:hash` on demand. The API exposes neither receipts per block
 * nor certificates, so exact supply/nonce and stored-certificate checks need the offline mode.
 */
export async function readNodeLive(index: number, url: string, genesisAccounts: readonly string[]): Promise<NodeView> {
  const get = <T>(path: string): Promise<T> => fetchJson<T>(url, path, AbortSignal.timeout(LIVE_TIMEOUT_MS))
  // One /status answer gives a consistent pair: the committed height and the root after it.
  const { height, executedRoot } = await get<{ height: number; executedRoot: string }>('/status')
  const heights = Array.from({ length: height + 1 }, (_, h) => h)
  const blocks = await mapConcurrent(heights, async (h) => {
    const b = await get<BlockJson>(`/block/${h}`)
    return { height: b.height, id: b.id, round: b.round, executedRoot: b.executedRoot, executedHeight: b.executedHeight, txHashes: b.txs }
  })
  const accounts = new Map<string, { balance: bigint; nonce: bigint }>()
  await mapConcurrent(genesisAccounts, async (address) => {
    const a = await get<{ balance: string; nonce: string }>(`/account/${address}`)
    accounts.set(address, { balance: BigInt(a.balance), nonce: BigInt(a.nonce) })
  })
  return {
    index,
    source: url,
    blocks,
    stateRoot: executedRoot,
    rootClaims: blocks.filter((b) => b.height > 0).map(rootClaim),
    accounts,
    completeState: false,
    txStatus: (hash) => get<TxStatus>(`/tx/${hash}`),
    certified: [],
  }
}

/**
 * The `signed` debug lines (src/node/consensus-driver.ts) of one node's log file, across all of
 * its incarnations. Lines that are not JSON (the process manager's banners, stack traces) are
 * skipped; a line cut short by a SIGKILL is too. Missing file: no statements.
 */
export async function readSignedLog(path: string, signer: number): Promise<SignedStatement[]> {
  if (!existsSync(path)) return []
  const out: SignedStatement[] = []
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  let lineNo = 0
  for await (const line of lines) {
    lineNo++
    if (!line.includes('"signed"')) continue
    let entry: { msg?: unknown; kind?: unknown; round?: unknown; blockId?: unknown; highQcRound?: unknown }
    try {
      entry = JSON.parse(line) as typeof entry
    } catch {
      continue
    }
    if (entry.msg !== 'signed' || typeof entry.round !== 'number') continue
    const where = `${path}:${lineNo}`
    if (entry.kind === 'vote' && typeof entry.blockId === 'string') out.push({ kind: 'vote', signer, round: entry.round, statement: entry.blockId, where })
    else if (entry.kind === 'timeout' && typeof entry.highQcRound === 'number') out.push({ kind: 'timeout', signer, round: entry.round, statement: String(entry.highQcRound), where })
  }
  return out
}
