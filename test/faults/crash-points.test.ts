import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { CRASH_AFTER_ENV, CRASH_ENV, STORE_CRASH_POINTS } from '../../src/storage/crash-point.ts'
import { formatCheckReport, runCheck } from '../../src/testnet/check.ts'
import { LocalTestnet } from '../../src/testnet/local-testnet.ts'
import { submitTxs } from '../../src/testnet/node-client.ts'
import { presignTransfers } from '../../src/testnet/presign.ts'
import { NodeProcesses, type NodeExit } from '../../src/testnet/processes.ts'
import { freshAccounts, processesMentioning, runCli, status, until, waitForHeight } from '../testnet/helpers.ts'

/**
 * Crash-point sweep (CometBFT e2e "perturbations" with named crash points): one 4-validator
 * testnet under load; for each point NodeStore passes through, one validator is restarted with
 * BFTLAB_CRASH_AT set, dies there by SIGKILL on its CRASH_AFTER-th pass, and is restarted without
 * it. It must come back and catch up; at the end the stopped data dirs and logs must pass every
 * `bftlab check` assertion (same chain, no acknowledged tx lost or executed twice, supply and
 * nonces, no double vote or timeout across all incarnations).
 *
 * No node-level points are added: the commit is one store batch (commit:before/after-batch cover
 * both sides of it) and votes leave right after saveSafety resolves, so "after persist, before
 * send" is exactly safety:after-write.
 */

const VALIDATORS = 4
/** Node 0 takes all the load and is never crashed, so no acknowledged tx sits in a dying mempool. */
const LOAD_TARGET = 0
/**
 * The point fires on its 12th pass: safety writes happen about once per round and commits once
 * per block, so the victim dies a few seconds after rejoining, holding fresh votes and commits.
 */
const CRASH_AFTER = 12
/** Offered load: enough to fill blocks with txs on every crash, light for a loaded 2-core machine. */
const TXS_PER_TICK = 10
const TICK_MS = 100
/** Presigned txs: more than the sweep can submit at TXS_PER_TICK / TICK_MS. */
const PRESIGNED = 25_000
const CRASH_TIMEOUT_MS = 60_000
const CATCH_UP_TIMEOUT_MS = 90_000

describe('crash-point sweep', { timeout: 300_000 }, () => {
  let testnet: LocalTestnet
  let crashing: NodeProcesses | undefined

  before(async () => {
    testnet = await LocalTestnet.create({ validators: VALIDATORS, accounts: 40, logLevel: 'debug' })
    testnet.start()
    await testnet.waitReady({ timeoutMs: 90_000 })
  })
  after(async () => {
    await crashing?.killAll()
    await testnet.stop()
    assert.deepEqual(processesMentioning(testnet.dir), [], 'no node process survives the sweep')
    await testnet.remove()
  })

  /** Runs node `index` with the crash point armed; resolves with its (unrequested) exit. */
  async function crashAt(index: number, point: string): Promise<NodeExit> {
    let died!: (exit: NodeExit) => void
    const exited = new Promise<NodeExit>((resolve) => (died = resolve))
    crashing = new NodeProcesses({
      specs: testnet.processes.specs.filter((s) => s.index === index),
      env: { ...process.env, [CRASH_ENV]: point, [CRASH_AFTER_ENV]: String(CRASH_AFTER) },
      onUnexpectedExit: died,
    })
    crashing.start(index)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`node ${index} did not crash at ${point} within ${CRASH_TIMEOUT_MS} ms`)), CRASH_TIMEOUT_MS)
    })
    try {
      return await Promise.race([exited, timeout])
    } catch (err) {
      await crashing.killAll()
      throw new Error(`${(err as Error).message}; ${testnet.logPath(index)} ends with:\n${await testnet.logTail(index)}`)
    } finally {
      clearTimeout(timer)
      crashing = undefined
    }
  }

  it('a validator crashed at each store crash point recovers and catches up; nothing is lost, nothing signed twice', async (t) => {
    const accounts = await freshAccounts(testnet)
    const txs = await presignTransfers(accounts, PRESIGNED)
    const acks: string[] = []
    const loading = new AbortController()
    const load = (async () => {
      for (let next = 0; next < PRESIGNED && !loading.signal.aborted; next += TXS_PER_TICK) {
        const chunk = txs.encoded.slice(next, next + TXS_PER_TICK)
        const replies = await submitTxs(testnet.urls[LOAD_TARGET]!, chunk)
        replies.forEach((r, i) => {
          if (r.accepted) acks.push(txs.hashes[next + i]!)
        })
        await sleep(TICK_MS)
      }
    })()

    try {
      for (const [k, point] of STORE_CRASH_POINTS.entries()) {
        const victim = 1 + (k % (VALIDATORS - 1))
        await testnet.processes.stop(victim)
        const exit = await crashAt(victim, point)
        assert.equal(exit.signal, 'SIGKILL', `node ${victim} should have died at ${point}, exited with code ${exit.code}`)
        const others = testnet.urls.filter((_, i) => i !== victim)
        const atCrash = Math.max(...(await Promise.all(others.map(status))).map((s) => s.height))
        testnet.processes.start(victim)
        // Catching up past the others' height at restart, then committing new blocks with them.
        await waitForHeight([testnet.urls[victim]!], atCrash + 3, CATCH_UP_TIMEOUT_MS)
      }
    } finally {
      loading.abort()
      await load
    }
    assert.ok(acks.length > 0, 'the load generator got acknowledgements')

    // Drain: node 0's mempool empties once everything it accepted is committed.
    await until('node 0 mempool drained', async () => ((await status(testnet.urls[LOAD_TARGET]!)).mempool === 0 ? true : undefined), CATCH_UP_TIMEOUT_MS)
    const height = Math.max(...(await Promise.all(testnet.urls.map(status))).map((s) => s.height))
    await waitForHeight(testnet.urls, height, CATCH_UP_TIMEOUT_MS)
    await testnet.stop()

    const report = await runCheck({ dir: testnet.dir, acks })
    t.diagnostic(formatCheckReport(report))
    assert.ok(report.ok, formatCheckReport(report))
    assert.deepEqual(report.checks.map((c) => c.status), ['pass', 'pass', 'pass', 'pass'], formatCheckReport(report))
    assert.ok(report.nodes.every((n) => n.height >= height), `every node reached height ${height}: ${JSON.stringify(report.nodes)}`)

    // The same verdict through the CLI, which is what CI and operators run.
    const acksPath = join(testnet.dir, 'acks.json')
    await writeFile(acksPath, JSON.stringify(acks))
    const cli = await runCli(['check', '--dir', testnet.dir, '--acks', acksPath], { timeoutMs: 120_000 })
    assert.equal(cli.code, 0, cli.stdout + cli.stderr)
    assert.match(cli.stdout, /all checks passed/)
  })
})
