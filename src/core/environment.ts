import { execFileSync } from 'node:child_process'
import { availableParallelism, cpus } from 'node:os'
import { sign, keyPairFromSeed, verify, deriveSeed } from './keys.ts'

/** The machine a measurement ran on (docs/design.md §11: every result echoes it). */
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
 * Distinct signatures the probe cycles through. Real load never verifies one signature twice;
 * libsodium's verify is variable-time, and one signature checked over and over (its branches and
 * data kept warm in the core) read ≈ 7 % more verifies/s here than 256 or more distinct ones:
 * 35.8–36.0 against 38.5–39.2 µs per verify (docs/decisions.md, "Seventh pass").
 */
export const PROBE_SIGNATURES = 1_024

/** Tx-sized messages, each signed by its own key: what the probe verifies. */
export function probeInputs(count = PROBE_SIGNATURES): { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }[] {
  return Array.from({ length: count }, (_, i) => {
    const { publicKey, secretKey } = keyPairFromSeed(deriveSeed('verify-probe', i))
    const message = new Uint8Array(180).fill(7)
    new DataView(message.buffer).setUint32(0, i)
    return { publicKey, message, signature: sign(message, secretKey) }
  })
}

/**
 * Single-core ed25519 verifies/s with the node's own `verify` (sodium-native) over distinct
 * tx-sized messages and keys. Signature checking is the dominant per-tx CPU cost (docs/design.md §5), so
 * this rate times the cores gives the throughput a machine can possibly verify. Only libsodium's
 * call is timed: the validators' decoding, packing and worker hand-off count against them.
 */
export function measureVerifiesPerSec(durationMs = VERIFY_PROBE_MS): number {
  const inputs = probeInputs()
  let verified = 0
  const start = performance.now()
  let elapsed = 0
  do {
    for (let i = 0; i < VERIFIES_PER_CHECK; i++) {
      const { publicKey, message, signature } = inputs[(verified + i) % PROBE_SIGNATURES]!
      if (!verify(signature, message, publicKey)) throw new Error('verify probe: a valid signature failed to verify')
    }
    verified += VERIFIES_PER_CHECK
    elapsed = performance.now() - start
  } while (elapsed < durationMs)
  return verified / (elapsed / 1_000)
}

/**
 * The verify bound (docs/design.md §11): every validator verifies every tx once, and all validators share
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
