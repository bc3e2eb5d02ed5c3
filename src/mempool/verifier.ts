import { availableParallelism } from 'node:os'
import { Piscina } from 'piscina'
import { packTxs } from './tx-pack.ts'

/**
 * Lets a caller move its queued checks ahead later. Checks submitted with a priority wait in the
 * queue like any other until `raise()`; from then on they run before every check not raised. A
 * replica raises the checks of the batches a proposal names, because its vote waits for them,
 * while client admissions and batches no proposal needs yet can wait.
 */
export class VerifyPriority {
  #raised = false

  get raised(): boolean {
    return this.#raised
  }

  raise(): void {
    this.#raised = true
  }
}

/** What the mempool and batch store need from signature verification (tests may substitute). */
export interface TxSignatureVerifier {
  verifyTxs(encoded: readonly Uint8Array[], priority?: VerifyPriority): Promise<boolean[]>
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

/**
 * Tasks handed to the pool per worker thread: one running and one ready, so a worker never idles
 * waiting for the main thread to send the next. The rest wait in this class's queue, where a
 * raised priority can still overtake them.
 */
const IN_FLIGHT_PER_THREAD = 2

interface QueuedTask {
  readonly packed: ArrayBuffer
  readonly priority: VerifyPriority | undefined
  readonly resolve: (verdicts: ArrayBuffer) => void
  readonly reject: (err: unknown) => void
}

export interface SignatureVerifierOptions {
  /** Worker threads; defaults to the machine's parallelism. */
  readonly threads?: number
}

/**
 * Verifies tx signatures on a piscina pool, never on the main thread (docs/design.md §5: signature checks
 * dominate per-tx CPU). Each call is cut into tasks of MIN..MAX txs, one packed ArrayBuffer each,
 * transferred to a worker and answered with a transferred verdict buffer. Tasks run in submission
 * order, except that those of a raised VerifyPriority go first.
 */
export class SignatureVerifier implements TxSignatureVerifier {
  readonly threads: number
  readonly #pool: Piscina
  readonly #queue: QueuedTask[] = []
  #inPool = 0
  #closed = false

  constructor(opts: SignatureVerifierOptions = {}) {
    this.threads = opts.threads ?? availableParallelism()
    if (!Number.isInteger(this.threads) || this.threads < 1) throw new RangeError(`verifier threads must be a positive integer, got ${this.threads}`)
    this.#pool = new Piscina({
      filename: new URL('./verify-worker.ts', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
    })
  }

  /** One verdict per input, in order: true iff the bytes decode to a tx validly signed by `from`. */
  async verifyTxs(encoded: readonly Uint8Array[], priority?: VerifyPriority): Promise<boolean[]> {
    if (encoded.length === 0) return []
    if (this.#closed) throw new Error('signature verifier is closed')
    const perTask = Math.min(MAX_TXS_PER_TASK, Math.max(MIN_TXS_PER_TASK, Math.ceil(encoded.length / this.threads)))
    const tasks: Promise<ArrayBuffer>[] = []
    for (let start = 0; start < encoded.length; start += perTask) {
      const packed = packTxs(encoded.slice(start, start + perTask))
      tasks.push(new Promise((resolve, reject) => this.#queue.push({ packed, priority, resolve, reject })))
    }
    this.#dispatch()
    const verdicts: boolean[] = []
    for (const buffer of await Promise.all(tasks)) {
      for (const v of new Uint8Array(buffer)) verdicts.push(v === 1)
    }
    return verdicts
  }

  /** Hands queued tasks to the pool, raised ones first (a scan: the queue holds tens of tasks). */
  #dispatch(): void {
    while (this.#inPool < IN_FLIGHT_PER_THREAD * this.threads && this.#queue.length > 0) {
      const raised = this.#queue.findIndex((task) => task.priority?.raised === true)
      const task = this.#queue.splice(raised === -1 ? 0 : raised, 1)[0]!
      this.#inPool++
      ;(this.#pool.run(Piscina.move(task.packed)) as Promise<ArrayBuffer>).then(task.resolve, task.reject).finally(() => {
        this.#inPool--
        this.#dispatch()
      })
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const task of this.#queue.splice(0)) task.reject(new Error('signature verifier closed before this check ran'))
    await this.#pool.destroy()
  }
}
