import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../testnet/helpers.ts'

/**
 * `bftlab bench` refuses bad input with exit code 2 and a message naming the flag, and never
 * leaves a half-written output folder: a previous result stays whole. A sweep refused for a
 * series without capacity keeps its record in `<out>.no-capacity`, named in the message.
 */
describe('bftlab bench: bad input', { timeout: 180_000 }, () => {
  let root: string
  let out: string
  const MARKER = 'a previous result'

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'bftlab-bench-cli-'))
    out = join(root, 'out')
    await mkdir(out)
    await writeFile(join(out, 'report.md'), MARKER)
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  async function assertUntouched(): Promise<void> {
    assert.deepEqual(await readdir(root), ['out'], 'no other folder (no staged output) is left beside it')
    assert.deepEqual(await readdir(out), ['report.md'])
    assert.equal(await readFile(join(out, 'report.md'), 'utf8'), MARKER)
  }

  for (const [what, args, named] of [
    ['a latency cap of zero', ['--validators', '4', '--rates', 'capacity', '--latency-cap', '0'], /--latency-cap \(latencyCapMs\): must be > 0 ms/],
    ['a negative latency cap', ['--validators', '4', '--rates', 'capacity', '--latency-cap', '-1'], /--latency-cap/],
    ['search flags with a fixed rate list', ['--validators', '4', '--rates', '100,200', '--max-tps', '5000'], /--max-tps \(capacity\): capacity search options apply to rates = "capacity" only/],
    ['repetitions of a fixed list with a search', ['--validators', '4', '--rates', 'capacity', '--runs', '3'], /--runs \(runs\): runs repeats each rate of a fixed list/],
    ['a rate range upside down', ['--validators', '4', '--rates', 'capacity', '--min-tps', '900', '--max-tps', '100'], /--max-tps \(capacity\.maxTps\): maxTps must be ≥ minTps/],
    ['fewer than three final runs', ['--validators', '4', '--rates', 'capacity', '--final-runs', '2'], /--final-runs \(capacity\.finalRuns\)/],
  ] as const) {
    it(`refuses ${what} before anything runs`, async () => {
      const run = await runCli(['bench', ...args, '--out', out])
      assert.equal(run.code, 2, `stderr: ${run.stderr}`)
      assert.match(run.stderr, named)
      await assertUntouched()
    })
  }

  it('refuses a search in which no rate meets the criteria, naming the flags, and keeps what it measured beside the output folder', async () => {
    // p50 ≤ 1 ms is out of reach of any real chain: the first rate (here also minTps) misses.
    const run = await runCli(['bench', '--validators', '4', '--rates', 'capacity', '--min-tps', '50', '--max-tps', '50', '--latency-cap', '1', '--duration', '2', '--warmup', '1', '--out', out], { timeoutMs: 170_000 })
    assert.equal(run.code, 2, `stderr: ${run.stderr}`)
    assert.match(run.stderr, /testnet n=4 batches: no rate meets the capacity criteria: even --min-tps 50 tx\/s misses them \(p50 \d+ ms > --latency-cap 1 ms\)/)
    assert.match(run.stderr, new RegExp(`Nothing was written to ${out}; everything measured is in ${out}\\.no-capacity`))
    const aside = join(root, 'out.no-capacity')
    assert.match(await readFile(join(aside, 'report.md'), 'utf8'), /No capacity: testnet n=4 batches: no rate meets the capacity criteria/)
    await rm(aside, { recursive: true })
    await assertUntouched()
  })
})
