import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { toHex } from '../core/hash.ts'
import { loadGenesis, loadNodeConfig, type GenesisConfig } from '../node/config.ts'
import { readNodeLive, readNodeOffline, readSignedLog, type NodeView, type SignedStatement } from './check-sources.ts'

/**
 * `bftlab check`: after (or during) a testnet run, verifies from what the validators stored that
 * the run was correct — CometBFT e2e style named assertions over every node:
 *   (a) chain agreement: identical block ids (hence executedRoots) at every common height, and
 *       each node's persisted state root equal to what blocks claim for that height;
 *   (b) acknowledged txs: every tx the API accepted is committed exactly once or failed with a
 *       reason — none lost, none executed twice — and every tx index agrees with the receipts;
 *   (c) state: total supply equals genesis, no negative balance, every nonce equals its
 *       account's count of committed successful txs;
 *   (d) no double signing: no validator signed two different votes (or timeouts) for one round,
 *       across every certificate any node stored and every `signed` line the nodes logged.
 */

export type CheckStatus = 'pass' | 'fail' | 'skipped'

export interface CheckResult {
  readonly name: 'chain-agreement' | 'acknowledged-txs' | 'state' | 'double-signing'
  readonly status: CheckStatus
  readonly summary: string
  /** Each names height/tx/round, node, expected and got. */
  readonly violations: readonly string[]
}

export interface CheckReport {
  readonly dir: string
  readonly mode: 'offline' | 'live'
  readonly nodes: readonly { readonly index: number; readonly source: string; readonly height: number }[]
  readonly checks: readonly CheckResult[]
  readonly ok: boolean
}

/** Violations kept per check: the first ones locate a bug; thousands more only bury them. */
export const MAX_VIOLATIONS_PER_CHECK = 200

class Violations {
  readonly list: string[] = []
  count = 0
  add(v: string): void {
    this.count++
    if (this.list.length < MAX_VIOLATIONS_PER_CHECK) this.list.push(v)
  }
  result(name: CheckResult['name'], passSummary: string): CheckResult {
    if (this.count === 0) return { name, status: 'pass', summary: passSummary, violations: [] }
    const shown = this.count > this.list.length ? ` (first ${this.list.length} listed)` : ''
    return { name, status: 'fail', summary: `${this.count} violation(s)${shown}`, violations: this.list }
  }
}

const tipOf = (v: NodeView): number => v.blocks.length - 1

/** The node with the longest chain (lowest index on ties): the reference others must be a prefix of. */
function reference(views: readonly NodeView[]): NodeView {
  return views.reduce((best, v) => (tipOf(v) > tipOf(best) ? v : best))
}

// ---------------------------------------------------------------- (a)

export function checkChainAgreement(views: readonly NodeView[]): CheckResult {
  const out = new Violations()
  const ref = reference(views)
  for (const v of views) {
    if (v === ref) continue
    for (const b of v.blocks) {
      const r = ref.blocks[b.height]!
      if (b.id !== r.id) {
        out.add(`height ${b.height}: node ${v.index} committed block ${b.id} (executedRoot ${b.executedRoot}), node ${ref.index} committed ${r.id} (executedRoot ${r.executedRoot})`)
      }
    }
  }
  // Deferred execution: a block states the root after its `executedHeight`; a node whose
  // committed tip is that height holds that root, and the two must be the same.
  let rootChecks = 0
  for (const v of views) {
    for (const holder of views) {
      for (const c of holder.rootClaims) {
        if (c.executedHeight !== tipOf(v)) continue
        rootChecks++
        if (c.executedRoot !== v.stateRoot) {
          out.add(`state root after height ${tipOf(v)}: node ${v.index} holds ${v.stateRoot}, block ${c.blockId} at height ${c.height} (stored by node ${holder.index}) states ${c.executedRoot}`)
        }
      }
    }
  }
  const heights = views.map((v) => `node ${v.index}: ${tipOf(v)}`).join(', ')
  return out.result('chain-agreement', `identical block ids at every common height (${heights}); ${rootChecks} persisted-root comparisons`)
}

// ---------------------------------------------------------------- (b)

interface Inclusion {
  readonly height: number
  readonly status?: 'ok' | 'failed'
  readonly reason?: string
}

function inclusionsOf(v: NodeView): Map<string, Inclusion[]> {
  const seen = new Map<string, Inclusion[]>()
  for (const b of v.blocks) {
    b.txHashes.forEach((hash, i) => {
      const r = b.receipts?.[i]
      const inc: Inclusion = r === undefined ? { height: b.height } : { height: b.height, status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}) }
      const list = seen.get(hash)
      if (list === undefined) seen.set(hash, [inc])
      else list.push(inc)
    })
  }
  return seen
}

const heightsOf = (incs: readonly Inclusion[]): string => incs.map((i) => `${i.height}${i.status !== undefined ? ` (${i.status})` : ''}`).join(', ')

export async function checkAcknowledgedTxs(views: readonly NodeView[], acks: readonly string[] | undefined): Promise<CheckResult> {
  const out = new Violations()
  const ref = reference(views)
  const refIncl = inclusionsOf(ref)
  const failedReasons = new Map<string, number>()
  const countFailed = (reason: string | undefined): void => {
    // Grouped by the stable reason code before any detail (`bad nonce: expected 3, got 5`).
    const key = reason === undefined || reason === '' ? 'no reason' : reason.split(':')[0]!
    failedReasons.set(key, (failedReasons.get(key) ?? 0) + 1)
  }
  for (const hash of acks ?? []) {
    const incs = refIncl.get(hash)
    if (incs === undefined) {
      out.add(`tx ${hash}: acknowledged by the API but in no committed block (node ${ref.index}, heights 0..${tipOf(ref)}): lost`)
      continue
    }
    if (incs.every((i) => i.status === 'failed')) {
      countFailed(incs[0]!.reason)
    } else if (incs[0]!.status === undefined) {
      // Live: the blocks carry no receipts; the node's own answer tells failed from committed.
      const s = await ref.txStatus(hash)
      if (s.status === 'failed') countFailed(s.reason)
    }
  }
  // Over every committed tx, not only the acknowledged ones.
  for (const v of views) {
    for (const [hash, incs] of inclusionsOf(v)) {
      const oks = incs.filter((i) => i.status === 'ok')
      if (oks.length > 1) out.add(`tx ${hash}: executed ${oks.length} times on node ${v.index}, at heights ${heightsOf(oks)}`)
      for (const i of incs) {
        if (i.status === 'failed' && (i.reason === undefined || i.reason === '')) out.add(`tx ${hash}: failed at height ${i.height} on node ${v.index} without a reason`)
      }
    }
  }
  // The tx index (what /tx/:hash answers) must name the inclusion that took effect (the `ok`
  // one), else the tx's first inclusion, with its outcome. Live, the blocks carry no receipts:
  // any inclusion's height is accepted.
  const indexed = async (v: NodeView, hashes: Iterable<string>, incl: Map<string, Inclusion[]>): Promise<void> => {
    for (const hash of hashes) {
      const incs = incl.get(hash)
      if (incs === undefined) continue
      const s = await v.txStatus(hash)
      const got = s.status === 'committed' || s.status === 'failed' ? `${s.status} at height ${s.height}` : s.status
      const live = incs[0]!.status === undefined
      const want = incs.find((i) => i.status === 'ok') ?? incs[0]!
      const expected = live ? `committed or failed at height ${heightsOf(incs)}` : `${want.status === 'ok' ? 'committed' : 'failed'} at height ${want.height}`
      const statusOk = live ? s.status === 'committed' || s.status === 'failed' : s.status === (want.status === 'ok' ? 'committed' : 'failed')
      const heightOk = 'height' in s && (live ? incs.some((i) => i.height === s.height) : s.height === want.height)
      if (!statusOk || !heightOk) out.add(`tx ${hash}: node ${v.index}'s tx index says ${got}, its blocks say ${expected}`)
      else if (s.status === 'failed' && s.reason === '') out.add(`tx ${hash}: node ${v.index} reports it failed at height ${s.height} without a reason`)
    }
  }
  for (const v of views) {
    const incl = v === ref ? refIncl : inclusionsOf(v)
    // Offline the index is local and cheap to read in full; live, each lookup is a request.
    await indexed(v, v.completeState ? incl.keys() : (acks ?? []), incl)
  }
  const failed = [...failedReasons].sort((a, b) => b[1] - a[1])
  const failedNote = failed.length === 0 ? 'none failed' : `failed: ${failed.map(([reason, n]) => `${n} ${reason}`).join(', ')}`
  const ackNote = acks === undefined ? 'no --acks list given: lost-tx check not run' : `${acks.length} acknowledged txs all in the chain once (${failedNote})`
  return out.result('acknowledged-txs', `${ackNote}; no tx executed twice; tx indexes match the blocks`)
}

// ---------------------------------------------------------------- (c)

export function checkState(views: readonly NodeView[], genesis: GenesisConfig): CheckResult {
  const out = new Violations()
  const genesisSupply = genesis.accounts.reduce((sum, a) => sum + a.balance, 0n)
  for (const v of views) {
    let supply = 0n
    for (const [address, a] of v.accounts) {
      supply += a.balance
      if (a.balance < 0n) out.add(`account ${address} on node ${v.index}: negative balance ${a.balance}`)
    }
    if (v.completeState ? supply !== genesisSupply : supply > genesisSupply) {
      out.add(`total supply on node ${v.index} at height ${tipOf(v)}: expected ${v.completeState ? '' : 'at most '}${genesisSupply} (genesis), got ${supply}`)
    }
    if (!v.completeState) continue
    const okTxs = new Map<string, bigint>()
    for (const b of v.blocks) {
      for (const r of b.receipts ?? []) if (r.status === 'ok' && r.sender !== undefined) okTxs.set(r.sender, (okTxs.get(r.sender) ?? 0n) + 1n)
    }
    for (const [address, a] of v.accounts) {
      const expected = okTxs.get(address) ?? 0n
      if (a.nonce !== expected) out.add(`account ${address} on node ${v.index} at height ${tipOf(v)}: nonce ${a.nonce}, but it sent ${expected} successful txs`)
    }
    for (const [sender, n] of okTxs) if (!v.accounts.has(sender)) out.add(`account ${sender} sent ${n} successful txs on node ${v.index} but is not in its state`)
  }
  const exact = views.every((v) => v.completeState)
  return out.result(
    'state',
    exact
      ? `total supply ${genesisSupply} conserved on every node; no negative balance; every nonce equals its successful txs`
      : `genesis accounts hold at most the genesis supply ${genesisSupply}, none negative (live: exact supply and nonces need the offline check)`,
  )
}

// ---------------------------------------------------------------- (d)

export function checkDoubleSigning(statements: readonly SignedStatement[], byzantine: ReadonlySet<number> = new Set()): CheckResult {
  const out = new Violations()
  const bySlot = new Map<string, Map<string, SignedStatement>>()
  for (const s of statements) {
    if (byzantine.has(s.signer)) continue
    const slot = `${s.kind}|${s.round}|${s.signer}`
    let distinct = bySlot.get(slot)
    if (distinct === undefined) bySlot.set(slot, (distinct = new Map()))
    if (!distinct.has(s.statement)) distinct.set(s.statement, s)
  }
  for (const distinct of bySlot.values()) {
    if (distinct.size < 2) continue
    const [first] = distinct.values()
    const what = first!.kind === 'vote' ? 'votes for blocks' : 'timeouts with high-QC rounds'
    const detail = [...distinct.values()].map((s) => `${s.statement} (${s.where})`).join(' vs ')
    out.add(`validator ${first!.signer} signed two ${what} in round ${first!.round}: ${detail}`)
  }
  if (statements.length === 0) {
    return { name: 'double-signing', status: 'skipped', summary: 'no certificates or `signed` log lines found (live nodes need logLevel debug and their log files in --dir)', violations: [] }
  }
  return out.result('double-signing', `${bySlot.size} (kind, round, validator) slots from ${statements.length} signed statements, each with one statement`)
}

// ---------------------------------------------------------------- running

export interface CheckOptions {
  readonly dir: string
  /** Read running nodes over HTTP instead of their (stopped) data dirs. */
  readonly live?: boolean
  /** Tx hashes (hex) the API acknowledged. */
  readonly acks?: readonly string[]
}

/** Reads `--acks F`: a JSON array of tx hashes (64 hex digits each). */
export async function readAcks(path: string): Promise<string[]> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new Error(`--acks ${path}: cannot read a JSON array of tx hashes: ${(err as Error).message}`)
  }
  if (!Array.isArray(parsed)) throw new Error(`--acks ${path}: expected a JSON array of tx hashes, got ${typeof parsed}`)
  return parsed.map((h: unknown, i) => {
    if (typeof h !== 'string' || !/^[0-9a-fA-F]{64}$/.test(h)) throw new Error(`--acks ${path}: entry [${i}] is not a tx hash (64 hex digits): ${JSON.stringify(h)?.slice(0, 80)}`)
    return h.toLowerCase()
  })
}

/** Writes what `--acks F` reads: the acknowledged tx hashes as one JSON array. */
export async function writeAcks(path: string, hashes: readonly string[]): Promise<void> {
  await writeFile(path, JSON.stringify(hashes) + '\n')
}

/** Reads every node of the testnet in `dir` (genesis.json, node-<i>.json, node-<i>.log) and runs the four checks. */
export async function runCheck(opts: CheckOptions): Promise<CheckReport> {
  const dir = resolve(opts.dir)
  const genesisPath = join(dir, 'genesis.json')
  const genesis = await loadGenesis(genesisPath)
  const byzantine = new Set<number>()
  const views: NodeView[] = []
  for (const v of genesis.validators) {
    const configPath = join(dir, `node-${v.index}.json`)
    if (opts.live) {
      const accounts = genesis.accounts.map((a) => toHex(a.address))
      views.push(await readNodeLive(v.index, v.http, accounts).catch((err: unknown) => {
        throw new Error(`node ${v.index}: cannot read ${v.http} (${(err as Error).message}); is it running?`, { cause: err })
      }))
      continue
    }
    const { node } = await loadNodeConfig(configPath)
    // A validator configured to misbehave is not held to the honest-signing rule.
    if (node.byzantine !== undefined) byzantine.add(v.index)
    views.push(await readNodeOffline(v.index, node.dataDir).catch((err: unknown) => {
      throw new Error(`node ${v.index} (${configPath}): ${(err as Error).message} (for running nodes use --live)`, { cause: err })
    }))
  }
  const statements: SignedStatement[] = views.flatMap((v) => v.certified)
  for (const v of genesis.validators) statements.push(...(await readSignedLog(join(dir, `node-${v.index}.log`), v.index)))
  const checks = [
    checkChainAgreement(views),
    await checkAcknowledgedTxs(views, opts.acks),
    checkState(views, genesis),
    checkDoubleSigning(statements, byzantine),
  ]
  return {
    dir,
    mode: opts.live ? 'live' : 'offline',
    nodes: views.map((v) => ({ index: v.index, source: v.source, height: tipOf(v) })),
    checks,
    ok: checks.every((c) => c.status !== 'fail'),
  }
}

const TITLES: Record<CheckResult['name'], string> = {
  'chain-agreement': '(a) chain agreement',
  'acknowledged-txs': '(b) acknowledged txs',
  state: '(c) supply, balances, nonces',
  'double-signing': '(d) no double signing',
}

export function formatCheckReport(r: CheckReport): string {
  const lines = [`bftlab check ${r.dir} (${r.mode}; ${r.nodes.map((n) => `node ${n.index} height ${n.height}`).join(', ')})`]
  for (const c of r.checks) {
    lines.push(`  ${c.status.toUpperCase().padEnd(7)} ${TITLES[c.name].padEnd(30)} ${c.summary}`)
    for (const v of c.violations) lines.push(`          - ${v}`)
  }
  lines.push(r.ok ? 'all checks passed' : `${r.checks.filter((c) => c.status === 'fail').length} check(s) FAILED`)
  return lines.join('\n')
}
