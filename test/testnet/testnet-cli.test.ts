import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CLI_ENTRY } from '../../src/testnet/processes.ts'
import type { ResultDocument } from '../../src/testnet/report.ts'
import { processesMentioning, runCli, until } from './helpers.ts'

/** docs/design.md §12 point fields a testnet run must report. */
const POINT_FIELDS = [
  'validators', 'offeredTps', 'achievedSubmitTps', 'consensusTps', 'e2eTps', 'latencyMs', 'consensusLatencyMs',
  'boundTps', 'tpsToBound', 'committedTxs', 'rejectedTxs', 'failedTxs', 'committedBlocks', 'rounds', 'timeouts',
] as const

/** What only node processes have on their command line (`--config <dir>/node-<i>.json`), not the orchestrator. */
const nodeConfigs = (dir: string): string => join(dir, 'node-')

describe('bftlab testnet', { timeout: 120_000 }, () => {
  let root: string
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'bftlab-testnet-cli-'))
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('runs 4 validators under load, then writes the result document and leaves no process behind', async () => {
    const dir = join(root, 'run')
    const json = join(root, 'result.json')
    const run = await runCli(['testnet', '--validators', '4', '--duration', '8', '--warmup', '2', '--rate', '200', '--dir', dir, '--json', json], { timeoutMs: 100_000 })
    assert.equal(run.code, 0, `stderr: ${run.stderr}\nstdout: ${run.stdout}`)
    assert.match(run.stdout, /commit tx\/s/, 'live table header')
    assert.match(run.stdout, /end-to-end .* tx\/s/, 'summary')
    assert.deepEqual(processesMentioning(nodeConfigs(dir)), [])

    const doc = JSON.parse(await readFile(json, 'utf8')) as ResultDocument<{ validators: number; offeredTps: number }>
    assert.equal(doc.config.validators, 4)
    assert.equal(doc.config.offeredTps, 200)
    for (const field of ['gitCommit', 'node', 'cpuModel', 'cores', 'verifiesPerSec'] as const) assert.ok(doc.env[field] !== undefined, `env.${field}`)
    assert.ok(doc.env.verifiesPerSec > 0)
    assert.equal(doc.points.length, 1)
    const point = doc.points[0]!
    for (const field of POINT_FIELDS) assert.ok(point[field] !== undefined && point[field] !== null, `points[0].${field}`)
    assert.ok(point.committedTxs > 0, 'txs committed in the steady window')
    assert.ok(point.committedBlocks > 0)
    assert.ok(point.e2eTps > 0 && point.consensusTps > 0)
    assert.equal(point.stateRootMismatches, 0)
    assert.equal(point.tpsToBound, point.e2eTps / point.boundTps!)
    assert.equal(point.boundTps, (doc.env.verifiesPerSec * doc.env.cores) / 4)
  })

  /** Starts `bftlab testnet` in the background and resolves once three live lines are out. */
  async function startLoaded(dir: string) {
    const child = spawn(process.execPath, [CLI_ENTRY, 'testnet', '--validators', '4', '--duration', '300', '--warmup', '1', '--rate', '100', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    const output = { stdout: '', stderr: '' }
    child.stdout.on('data', (d: Buffer) => (output.stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output.stderr += d.toString()))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    try {
      await until('three live lines', async () => (/commit tx\/s.*(\n.*){3}\n/.test(output.stdout) ? true : undefined), 90_000)
    } catch (err) {
      child.kill('SIGKILL')
      throw new Error(`${(err as Error).message}\nstdout: ${output.stdout}\nstderr: ${output.stderr}`)
    }
    return { child, output, exited }
  }

  it('stops every node and still prints a summary on Ctrl-C (SIGINT)', async () => {
    const dir = join(root, 'interrupted')
    const { child, output, exited } = await startLoaded(dir)
    try {
      assert.equal(processesMentioning(nodeConfigs(dir)).length, 4, 'four node processes while running')
      child.kill('SIGINT')
      assert.deepEqual(await exited, { code: 0, signal: null }, `stderr: ${output.stderr}`)
    } finally {
      child.kill('SIGKILL')
    }
    assert.match(output.stderr, /SIGINT: stopping the testnet/)
    assert.match(output.stdout, /bftlab result/)
    assert.deepEqual(processesMentioning(nodeConfigs(dir)), [], 'no node survives the interrupted testnet')
  })

  it('leaves no orphan even when the orchestrator itself is SIGKILLed', async () => {
    const dir = join(root, 'killed')
    const { child, exited } = await startLoaded(dir)
    assert.equal(processesMentioning(nodeConfigs(dir)).length, 4, 'four node processes while running')
    child.kill('SIGKILL')
    assert.equal((await exited).signal, 'SIGKILL')
    // Nodes notice their supervisor's IPC channel closing and shut down by themselves.
    await until('every node to exit', async () => (processesMentioning(nodeConfigs(dir)).length === 0 ? true : undefined), 30_000)
  })
})
