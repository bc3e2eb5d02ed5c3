import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

export const run = promisify(execFile)

/**
 * A Debian tool the deployment tests drive (docker-compose, kubectl, promtool): undefined when it
 * is installed, else the skip reason naming the package (.ci/run installs them all, so CI runs
 * every such test).
 */
export async function toolSkip(binary: string, versionArgs: readonly string[], debianPackage: string): Promise<string | false> {
  try {
    await run(binary, versionArgs)
    return false
  } catch {
    return `${binary} not installed (apt-get install -y ${debianPackage}; .ci/run installs it)`
  }
}

export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
