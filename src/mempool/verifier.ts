import { availableParallelism } from 'node:os'
import { Piscina } from 'piscina'
import { packTxs } from './tx-pack.ts'

/** What the mempool and batch store need from signature verification (tests may substitute). */
export interface TxSignatureVerifier {
  verifyTxs(encoded: readonly Uint8Array[]): Promise<boolean[]>
}

/**
 * Smallest slice of a call worth its own task: a task costs a message round trip (tens of µs)
 * while one ed25519 verify is ~50 µs, so below this a split costs more than it parallelizes.
 */
const MIN_TXS_PER_TASK = 64

/**
 * Largest task: ~2,048 × 50 µs ≈ 100 ms of work. Bigger inputs are split so a huge batch from one
 * peer cannot hold a worker long enough to stall every other caller queued behind it.
 */
const MAX_TXS_PER_TASK = 2_048

export interface SignatureVerifierOptions {
  /** Worker threads; defaults to the machine's parallelism. */
  readonly threads?: number
}

/**
 * Verifies tx signatures on a piscina pool, never on the main thread (DESIGN §6: signature checks
 * dominate per-tx CPU). Each call is cut into tasks of MIN..MAX txs, one packed ArrayBuffer each,
 * transferred to a worker and answered with a transferred verdict buffer.
 */
export class SignatureVerifier implements TxSignatureVerifier {
  readonly threads: number
  private readonly pool: Piscina

  constructor(opts: SignatureVerifierOptions = {}) {
    this.threads = opts.threads ?? availableParallelism()
    if (!Number.isInteger(this.threads) || this.threads < 1) throw new RangeError(`verifier threads must be a positive integer, got ${this.threads}`)
    this.pool = new Piscina({
      filename: new URL('./verify-worker.ts', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
    })
  }

  /** One verdict per input, in order: true iff the bytes decode to a tx validly signed by `from`. */
  async verifyTxs(encoded: readonly Uint8Array[]): Promise<boolean[]> {
    if (encoded.length === 0) return []
    const perTask = Math.min(MAX_TXS_PER_TASK, Math.max(MIN_TXS_PER_TASK, Math.ceil(encoded.length / this.threads)))
    const tasks: Promise<ArrayBuffer>[] = []
    for (let start = 0; start < encoded.length; start += perTask) {
      const packed = packTxs(encoded.slice(start, start + perTask))
      tasks.push(this.pool.run(Piscina.move(packed)) as Promise<ArrayBuffer>)
    }
    const verdicts: boolean[] = []
    for (const buffer of await Promise.all(tasks)) {
      for (const v of new Uint8Array(buffer)) verdicts.push(v === 1)
    }
    return verdicts
  }

  async close(): Promise<void> {
    await this.pool.destroy()
  }
}
