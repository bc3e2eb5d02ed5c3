import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

/**
 * `npm run bench:publish`: copies a finished benchmark's report and plots from its (gitignored)
 * output folder into docs/bench/ (committed), which the README embeds. Figures are only ever
 * copied from a real run, never edited by hand, and a run that was interrupted, or whose report
 * names a plot that is missing, is refused rather than published half-done.
 */

export const DEFAULT_SOURCE = 'bench/results/default'
export const DEFAULT_TARGET = 'docs/bench'

/** The report links results.json and results.csv, so they travel with it. */
const DATA_FILES = ['report.md', 'results.json', 'results.csv'] as const

/** Files of a published folder this script owns: replaced wholesale so no stale plot survives. */
const isPublished = (name: string): boolean => name.endsWith('.svg') || (DATA_FILES as readonly string[]).includes(name)

export class PublishError extends Error {
  constructor(message: string) {
    super(`bench:publish: ${message}`)
    this.name = 'PublishError'
  }
}

/** Plot files the report embeds (`![title](file.svg)`), in order. */
export function embeddedPlots(reportMd: string): string[] {
  return [...reportMd.matchAll(/!\[[^\]]*\]\(([^)\s]+\.svg)\)/g)].map((m) => m[1]!)
}

export async function publishBench(source: string, target: string): Promise<string[]> {
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(source, name), 'utf8')
    } catch (err) {
      throw new PublishError(`${join(source, name)} is missing (${(err as Error).message}); run \`npm run bench\` first`)
    }
  }
  const report = await read('report.md')
  const results = JSON.parse(await read('results.json')) as { interrupted?: unknown }
  if (results.interrupted !== false) throw new PublishError(`${source} holds an interrupted sweep (results.json interrupted: ${String(results.interrupted)}); rerun it to completion`)
  const plots = embeddedPlots(report)
  if (plots.length === 0) throw new PublishError(`${join(source, 'report.md')} embeds no plot`)
  const present = new Set(await readdir(source))
  const missing = plots.filter((p) => !present.has(p))
  if (missing.length > 0) throw new PublishError(`${join(source, 'report.md')} embeds ${missing.join(', ')}, not in ${source}`)

  await mkdir(target, { recursive: true })
  for (const name of await readdir(target)) if (isPublished(name)) await rm(join(target, name))
  const copied: string[] = []
  for (const name of [...DATA_FILES, ...plots]) {
    await copyFile(join(source, name), join(target, name))
    copied.push(join(target, name))
  }
  return copied
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { from: { type: 'string', default: DEFAULT_SOURCE }, to: { type: 'string', default: DEFAULT_TARGET } } })
  try {
    for (const path of await publishBench(values.from, values.to)) console.log(`published ${path}`)
  } catch (err) {
    console.error((err as Error).message)
    process.exitCode = 1
  }
}
