import { execFileSync } from 'node:child_process'
import { availableParallelism, cpus } from 'node:os'
import { sign, keyPairFromSeed, verify, deriveSeed } from './keys.ts'

/** The machine a measurement ran on (DESIGN §11: every result echoes it). */
export interface RunEnvironment {
  readonly gitCommit: string
  readonly node: string
  readonly cpuModel: string
  readonly cores: number
  readonly verifiesPerSec: number
}

/**
 * How long the verify-rate probe runs. One second averages over timer and frequency-scaling
 * noise on a shared machine while keeping startup short.
 */
export const VERIFY_PROBE_MS = 1_000

/** Verifies per clock read: reading the clock every call would dominate a ~50 µs operation's cost. */
const VERIFIES_PER_CHECK = 64

/**
 * Single-core ed25519 verifies/s with the node's own `verify` (sodium-native), over a tx-sized
 * message. Signature checking is the dominant per-tx CPU cost (DESIGN §6), so this rate times
 * the cores gives the throughput a machine can possibly verify.
 */
export function measureVerifiesPerSec(durationMs = VERIFY_PROBE_MS): number {
  const { publicKey, secretKey } = keyPairFromSeed(deriveSeed('verify-probe', 0))
  const message = new Uint8Array(180).fill(7)
  const signature = sign(message, secretKey)
  let verified = 0
  const start = performance.now()
  let elapsed = 0
  do {
    for (let i = 0; i < VERIFIES_PER_CHECK; i++) {
      if (!verify(signature, message, publicKey)) throw new Error('verify probe: a valid signature failed to verify')
    }
    verified += VERIFIES_PER_CHECK
    elapsed = performance.now() - start
  } while (elapsed < durationMs)
  return verified / (elapsed / 1_000)
}

/**
 * The verify bound (DESIGN §11): every validator verifies every tx once, and all validators share
 * this machine's cores, so the whole testnet cannot commit faster than this.
 */
export function verifyBoundTps(verifiesPerSec: number, cores: number, validators: number): number {
  return (verifiesPerSec * cores) / validators
}

/**
 * The checkout's commit, suffixed `-dirty` when tracked files differ from it (a result measured on
 * uncommitted code must not carry the name of code it did not run); 'unknown' outside a git work
 * tree (e.g. a docker image without .git).
 */
export function gitCommit(dir?: string): string {
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  try {
    const head = git('rev-parse', 'HEAD')
    return git('status', '--porcelain', '--untracked-files=no') === '' ? head : `${head}-dirty`
  } catch {
    return 'unknown'
  }
}

/** A gitCommit value for humans: the first 12 hex digits, and the `-dirty` mark if any. */
export function shortCommit(commit: string): string {
  return commit.replace(/^([0-9a-f]{12})[0-9a-f]+/, '$1')
}

export function describeEnvironment(verifiesPerSec: number): RunEnvironment {
  return {
    gitCommit: gitCommit(),
    node: process.version,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    verifiesPerSec: Math.round(verifiesPerSec),
  }
}
