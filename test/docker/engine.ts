import { execFile, spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'

/**
 * The Docker engine the docker suite runs against: found running, or installed (Debian's
 * docker.io) and started here. Started without its default bridge and without iptables rules
 * (`--bridge=none --iptables=false`): the suite's containers use the host network on loopback
 * addresses only, so no container network or NAT rule is ever created on the machine.
 */

/** Where a dockerd started here logs (kept after the run, for a failure's diagnosis). */
export const DOCKERD_LOG = '/var/log/bftlab-dockerd.log'
const ENGINE_START_TIMEOUT_MS = 60_000

/** Set explicitly by a developer without a Docker engine: the docker suite is skipped, not failed. */
export const SKIP_DOCKER = process.env.BFTLAB_SKIP_DOCKER === '1'

export interface RunResult {
  readonly stdout: string
  readonly stderr: string
}

/** A command that failed: its message names the command and ends with its stderr, which says why. */
export class CommandError extends Error implements RunResult {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number | undefined
  constructor(message: string, result: RunResult & { exitCode: number | undefined }, cause: unknown) {
    super(message, { cause })
    this.stdout = result.stdout
    this.stderr = result.stderr
    this.exitCode = result.exitCode
  }
}

/** Runs a command; a non-zero exit rejects with a CommandError. */
export function run(cmd: string, args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      if (err === null) return resolve({ stdout, stderr })
      const exitCode = typeof err.code === 'number' ? err.code : undefined
      const how = exitCode !== undefined ? `exit code ${exitCode}` : String(err.code ?? err.signal ?? err.message)
      reject(new CommandError(`${cmd} ${args.join(' ')} failed (${how}): ${stderr.trim().split('\n').slice(-15).join('\n') || err.message}`, { stdout, stderr, exitCode }, err))
    })
  })
}

export const docker = (args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> =>
  // The legacy builder: it takes `--network host` for RUN steps without BuildKit entitlements,
  // and is what both the docker.io client and a newer static client without buildx run.
  run('docker', args, { ...opts, env: { ...process.env, DOCKER_BUILDKIT: '0' } })

async function engineAnswers(): Promise<boolean> {
  try {
    await docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 })
    return true
  } catch {
    return false
  }
}

async function onPath(binary: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${binary}`])
    return true
  } catch {
    return false
  }
}

const isRoot = (): boolean => process.getuid?.() === 0

/** Makes sure a Docker engine answers: it is running, or this installs and starts one. */
export async function ensureEngine(log: (line: string) => void = () => {}): Promise<void> {
  if (await engineAnswers()) return
  const cannot = (why: string): Error =>
    new Error(`the docker suite needs a Docker engine, and ${why}. Set BFTLAB_SKIP_DOCKER=1 to skip the docker suite on a machine without one.`)
  if (!isRoot()) throw cannot('none answers on /var/run/docker.sock and starting one needs root')
  if (!(await onPath('dockerd'))) {
    log('installing docker.io (apt-get)')
    try {
      await run('apt-get', ['update', '-qq'], { timeoutMs: 300_000 })
      await run('apt-get', ['install', '-y', '-qq', 'docker.io'], { timeoutMs: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    } catch (err) {
      throw cannot(`installing docker.io failed: ${(err as Error).message}`)
    }
  }
  log(`starting dockerd --bridge=none --iptables=false (log: ${DOCKERD_LOG})`)
  const out = openSync(DOCKERD_LOG, 'a')
  const dockerd = spawn('dockerd', ['--bridge=none', '--iptables=false'], { detached: true, stdio: ['ignore', out, out] })
  closeSync(out)
  let exited: string | undefined
  dockerd.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}`))
  dockerd.once('error', (err) => (exited = err.message))
  // The engine outlives this process: the other docker test files and a developer's next run use it.
  dockerd.unref()
  const deadline = Date.now() + ENGINE_START_TIMEOUT_MS
  while (Date.now() < deadline && exited === undefined) {
    if (await engineAnswers()) return
    await new Promise((r) => setTimeout(r, 500))
  }
  const tail = existsSync(DOCKERD_LOG) ? readFileSync(DOCKERD_LOG, 'utf8').trim().split('\n').slice(-10).join('\n') : ''
  throw cannot(`dockerd ${exited ?? `did not answer within ${ENGINE_START_TIMEOUT_MS / 1000} s`}; the end of ${DOCKERD_LOG}:\n${tail}`)
}

/** `docker-compose` (Debian's Python client, v1) on one project file; .ci/run installs it. */
export function compose(file: string, project: string, args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run('docker-compose', ['--project-name', project, '--file', file, ...args], { timeoutMs: opts.timeoutMs ?? 300_000 }).catch((err: unknown) => {
    if ((err as { cause?: { code?: unknown } }).cause?.code === 'ENOENT') throw new Error('docker-compose is not installed (apt-get install -y docker-compose; .ci/run installs it)', { cause: err })
    throw err
  })
}
