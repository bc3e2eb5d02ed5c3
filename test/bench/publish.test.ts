import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { embeddedPlots, publishBench, README_END, README_START } from '../../src/bench/publish.ts'
import { writeBenchOutput } from '../../src/bench/results.ts'
import { fakeCapacityBench } from './fixtures.ts'

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bftlab-publish-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A bench output folder as `bftlab bench` writes it (contents are stand-ins; only names matter here). */
async function benchOutput(name: string, opts: { interrupted?: boolean; plots?: string[]; present?: string[] } = {}): Promise<string> {
  const dir = join(root, name)
  const plots = opts.plots ?? ['a.svg', 'b.svg']
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'report.md'), `# Benchmark\n\n${plots.map((p) => `![${p} title](${p})`).join('\n\n')}\n`)
  await writeFile(join(dir, 'results.json'), JSON.stringify({ interrupted: opts.interrupted ?? false }))
  await writeFile(join(dir, 'results.csv'), 'source\n')
  await writeFile(join(dir, 'testnet.log'), 'not published')
  for (const p of opts.present ?? plots) await writeFile(join(dir, p), `<svg id="${name}/${p}"/>`)
  return dir
}

test('the report, its data and exactly the plots it embeds are copied; stale plots are removed', async () => {
  const target = join(root, 'docs')
  await publishBench(await benchOutput('first', { plots: ['old.svg', 'a.svg'] }), target)
  const copied = await publishBench(await benchOutput('second'), target)
  assert.equal(copied.length, 5)
  assert.deepEqual((await readdir(target)).sort(), ['a.svg', 'b.svg', 'report.md', 'results.csv', 'results.json'])
  assert.equal(await readFile(join(target, 'a.svg'), 'utf8'), '<svg id="second/a.svg"/>')
})

test('an interrupted sweep or a report naming a missing plot is refused', async () => {
  const target = join(root, 'refused')
  await assert.rejects(publishBench(await benchOutput('cut', { interrupted: true }), target), /interrupted sweep/)
  await assert.rejects(publishBench(await benchOutput('gap', { present: ['a.svg'] }), target), /embeds b\.svg, not in/)
  await assert.rejects(publishBench(join(root, 'nothing-here'), target), /report\.md is missing.*npm run bench/)
})

test('embedded plots are read from markdown image links only', () => {
  assert.deepEqual(embeddedPlots('![T](x.svg)\n[link](y.svg)\n![U](z.svg)'), [
    { title: 'T', file: 'x.svg' },
    { title: 'U', file: 'z.svg' },
  ])
})

test("the README's generated block is rewritten from the run: the capacity table and the published plots", async () => {
  const source = join(root, 'capacity-run')
  await writeBenchOutput(source, await fakeCapacityBench())
  const readme = join(root, 'README.md')
  await writeFile(readme, `# Title\n\nBefore.\n\n${README_START}\nold table\n${README_END}\n\nAfter.\n`)
  await publishBench(source, join(root, 'docs', 'bench'), readme)
  const text = await readFile(readme, 'utf8')
  assert.ok(text.startsWith('# Title\n\nBefore.\n\n' + README_START) && text.endsWith(`${README_END}\n\nAfter.\n`), text)
  assert.doesNotMatch(text, /old table/)
  assert.match(text, /`fake` experiment, commit `abc123`, 2 × test cpu, 20,000 verifies\/s\/core/)
  assert.match(text, /\| n \| payload \| capacity tx\/s \| p50 ms \| p99 ms \| capacity\/bound \| validator CPU µs\/tx \|/)
  assert.match(text, /\| 4 \| batches \| ≥ 2,80\d/)
  assert.match(text, /!\[Capacity vs validator count\]\(docs\/bench\/capacity-vs-validators\.svg\)/)
  // A README without the block is refused, never appended to.
  await writeFile(readme, '# No block\n')
  await assert.rejects(publishBench(source, join(root, 'docs', 'bench'), readme), /has no .* block to replace/)
})
