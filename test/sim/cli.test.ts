import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)
const BFTLAB = new URL('../../src/cli/bftlab.ts', import.meta.url).pathname

test('bftlab sim prints a table and the seed, and writes docs/design.md §12 JSON', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bftlab-sim-'))
  try {
    const out = join(dir, 'out.json')
    const { stdout } = await run(process.execPath, [BFTLAB, 'sim', '--validators', '4,7', '--seed', '5', '--rounds', '12', '--latency', 'fixed:10', '--json', out])
    assert.match(stdout, /seed 5/)
    assert.match(stdout, /msgs\/blk/)
    assert.match(stdout, /least-squares slope/)
    const json = JSON.parse(await readFile(out, 'utf8')) as { config: { seed: number }; env: { node: string }; points: Record<string, unknown>[] }
    assert.equal(json.config.seed, 5)
    assert.equal(typeof json.env.node, 'string')
    assert.deepEqual(json.points.map((p) => p.validators), [4, 7])
    for (const p of json.points) {
      for (const field of ['committedBlocks', 'rounds', 'timeouts', 'msgsPerBlock', 'bytesPerBlock', 'consensusTps', 'safetyViolations']) {
        assert.equal(typeof p[field], 'number', `point field ${field}`)
      }
      assert.deepEqual(Object.keys(p.consensusLatencyMs as object).sort(), ['mean', 'p50', 'p95', 'p99'])
      assert.ok((p.committedBlocks as number) > 0)
      assert.equal(p.safetyViolations, 0)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('bftlab sim refuses a bad latency spec with a usage error', async () => {
  await assert.rejects(run(process.execPath, [BFTLAB, 'sim', '--latency', 'fast']), (err: { code?: number; stderr?: string }) => {
    assert.equal(err.code, 2)
    assert.match(err.stderr ?? '', /expected lan, wan/)
    return true
  })
})
