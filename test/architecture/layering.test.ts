import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/**
 * The layering rule of docs/design.md §1, checked on the code: a file under src/ imports only
 * from its own folder and from folders on lower layers, and no files import each other in a
 * cycle. The layers are read from the design's table, so the document and the check cannot
 * drift apart. Every import counts (`import type` too: a type is a dependency on the folder
 * that defines it).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const SRC = join(ROOT, 'src')
const DESIGN = join(ROOT, 'docs/design.md')

/**
 * Upward imports known and owned elsewhere, each with why it is still here. An entry that no
 * longer occurs fails the test, so the list only shrinks.
 */
const KNOWN_UPWARD: readonly { readonly from: string; readonly to: string; readonly why: string }[] = []

/** Folder → layer (1 = lowest), from the rows between the `<!-- layers` and `<!-- /layers -->` markers. */
function layersFrom(markdown: string): Map<string, number> {
  const start = markdown.indexOf('<!-- layers')
  const end = markdown.indexOf('<!-- /layers -->')
  if (start < 0 || end < start) throw new Error('docs/design.md: no layer table between <!-- layers … --> and <!-- /layers -->')
  const layers = new Map<string, number>()
  for (const row of markdown.slice(start, end).split('\n')) {
    const cells = row.split('|').map((c) => c.trim())
    const layer = Number(cells[1])
    if (!Number.isInteger(layer) || layer < 1) continue
    for (const folder of cells[2]!.matchAll(/`([^`]+)`/g)) {
      if (layers.has(folder[1]!)) throw new Error(`docs/design.md: folder ${folder[1]} is listed on two layers`)
      layers.set(folder[1]!, layer)
    }
  }
  if (layers.size === 0) throw new Error('docs/design.md: the layer table lists no folders')
  return layers
}

/** Every .ts file under `dir`, as paths relative to the repository root. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return e.name.endsWith('.ts') ? [relative(ROOT, path)] : []
  })
}

/** The repository files a source file imports (relative specifiers only; packages are not layered). */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true)
  return importedFiles.filter((i) => i.fileName.startsWith('.')).map((i) => relative(ROOT, resolve(ROOT, dirname(file), i.fileName)))
}

type ImportGraph = ReadonlyMap<string, readonly string[]>

/** The src/ folder a file belongs to (`src/node/node.ts` → `node`). */
const folderOf = (file: string): string => file.split('/')[1]!

/** Imports from a folder into another on the same or a higher layer (or one with no layer). */
function upwardImports(graph: ImportGraph, layers: ReadonlyMap<string, number>): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = []
  for (const [from, targets] of graph) {
    const own = layers.get(folderOf(from))
    for (const to of targets) {
      if (folderOf(to) === folderOf(from)) continue
      const theirs = layers.get(folderOf(to))
      if (own === undefined || theirs === undefined || theirs >= own) out.push({ from, to })
    }
  }
  return out
}

const describe = (layers: ReadonlyMap<string, number>) => (i: { from: string; to: string }): string =>
  `${i.from} (layer ${layers.get(folderOf(i.from)) ?? 'none'}) -> ${i.to} (layer ${layers.get(folderOf(i.to)) ?? 'none'})`

/** Sets of files that import each other in a cycle (strongly connected components with an edge inside; Tarjan). */
function importCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  let next = 0
  const visit = (v: string): void => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!))
      }
    }
    if (low.get(v) !== index.get(v)) return
    const component: string[] = []
    let w: string
    do {
      w = stack.pop()!
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort())
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return cycles
}

function srcGraph(): Map<string, string[]> {
  return new Map(sourceFiles(SRC).map((f) => [f, importsOf(f)]))
}

test('every src/ folder has a layer in docs/design.md §1', () => {
  const layers = layersFrom(readFileSync(DESIGN, 'utf8'))
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
  assert.deepEqual(folders.filter((f) => !layers.has(f)), [], 'folders missing from the layer table')
  assert.deepEqual([...layers.keys()].filter((f) => !folders.includes(f)), [], 'the layer table lists folders that do not exist')
})

test('no src/ file imports from its own layer or above (docs/design.md §1)', () => {
  const layers = layersFrom(readFileSync(DESIGN, 'utf8'))
  const upward = upwardImports(srcGraph(), layers)
  const isKnown = (i: { from: string; to: string }): boolean => KNOWN_UPWARD.some((k) => k.from === i.from && k.to === i.to)
  assert.deepEqual(upward.filter((i) => !isKnown(i)).map(describe(layers)), [], 'imports against the layering')
  for (const k of KNOWN_UPWARD) {
    assert.ok(upward.some((i) => i.from === k.from && i.to === k.to), `${k.from} -> ${k.to} no longer occurs: remove it from KNOWN_UPWARD (${k.why})`)
  }
})

test('no import cycles among src/ files', () => {
  assert.deepEqual(importCycles(srcGraph()), [])
})

test('the checks see what they must: an upward import, a sibling import, a cycle and a self-import', () => {
  const layers = layersFrom('<!-- layers -->\n| 1 | `core` | |\n| 2 | `consensus`, `storage` | |\n<!-- /layers -->')
  const graph: ImportGraph = new Map([
    ['src/core/a.ts', ['src/consensus/b.ts']],
    ['src/consensus/b.ts', ['src/storage/c.ts', 'src/core/d.ts']],
    ['src/storage/c.ts', ['src/core/d.ts']],
    ['src/core/d.ts', ['src/core/e.ts']],
    ['src/core/e.ts', ['src/core/d.ts', 'src/core/a.ts']],
    ['src/core/f.ts', ['src/core/f.ts']],
  ])
  assert.deepEqual(upwardImports(graph, layers).map(describe(layers)), [
    'src/core/a.ts (layer 1) -> src/consensus/b.ts (layer 2)',
    'src/consensus/b.ts (layer 2) -> src/storage/c.ts (layer 2)',
  ])
  assert.deepEqual(importCycles(graph), [['src/consensus/b.ts', 'src/core/a.ts', 'src/core/d.ts', 'src/core/e.ts', 'src/storage/c.ts'], ['src/core/f.ts']])
})
