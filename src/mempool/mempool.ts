import { encodeBatchIndexed, batchDigestOfEncoding, type Batch } from '../core/batch.ts'
import { DecodeError } from '../core/codec.ts'
import { toHex } from '../core/hash.ts'
import { decodeTxAliasing, txBodyHash, type Tx } from '../core/tx.ts'
import type { StoredBatch } from './batch-store.ts'
import type { TxSignatureVerifier } from './verifier.ts'
import { verifyOnce, type VerifiedTxs } from './verified-txs.ts'

const U64_MAX = (1n << 64n) - 1n

export type RejectReason =
  | 'decode'
  | 'duplicate'
  | 'already committed'
  | 'invalid signature'
  | 'unknown sender'
  | 'nonce too low'
  | 'nonce too high'
  | 'nonce conflict'
  | 'amount overflow'
  | 'insufficient balance'
  | 'mempool full'

export type AdmissionResult =
  | { readonly hash: Uint8Array; readonly accepted: true }
  /** `hash` is absent only when the bytes do not decode; `detail` is for the client, `reason` for metrics. */
  | { readonly hash?: Uint8Array; readonly accepted: false; readonly reason: RejectReason; readonly detail: string }

/** Executed account state as the mempool reads it (structurally the execution WorldState's view). */
export interface AccountView {
  getAccount(address: Uint8Array): { readonly balance: bigint; readonly nonce: bigint } | undefined
}

export interface MempoolOptions {
  /** Pending txs (admitted, not yet committed) plus txs in signature verification. */
  readonly maxTxs: number
  readonly batchSize: number
  readonly maxBatchDelayMs: number
  /** This validator's index: the `author` of the batches it packs. */
  readonly author: number
  /** Admitted nonces lie in [account nonce, account nonce + nonceWindow). */
  readonly nonceWindow: number
}

export interface MempoolModules {
  readonly accounts: AccountView
  readonly verifier: TxSignatureVerifier
  readonly verified: VerifiedTxs
  /** Which of these tx hashes are already committed (the store's tx index). */
  readonly isCommitted?: (hashes: readonly Uint8Array[]) => Promise<boolean[]> | boolean[]
  /** A sealed batch with its encoding, digest and each tx's encoding and hash (nothing to decode or hash again). */
  readonly onBatch: (packed: StoredBatch) => void
}

export interface MempoolStats {
  readonly pending: number
  readonly unbatched: number
  readonly admitted: number
  readonly rejected: Readonly<Record<RejectReason, number>>
  /** Pending txs dropped because a commit made their nonce stale. */
  readonly evicted: number
  readonly batches: number
}

interface PendingTx {
  readonly tx: Tx
  /** Its canonical encoding, as the client sent it. */
  readonly encoded: Uint8Array
  readonly hash: Uint8Array
  readonly key: string
  readonly sender: string
  /** amount + fee, the most this tx can take from its sender's balance. */
  readonly cost: bigint
}

interface SenderPending {
  readonly address: Uint8Array
  spend: bigint
  readonly nonces: Map<bigint, string>
}

/** A decoded, not-yet-admitted tx of one submit call. */
interface Candidate {
  readonly index: number
  readonly tx: Tx
  readonly encoded: Uint8Array
  readonly hash: Uint8Array
  readonly key: string
}

const REASONS: readonly RejectReason[] = [
  'decode', 'duplicate', 'already committed', 'invalid signature', 'unknown sender', 'nonce too low',
  'nonce too high', 'nonce conflict', 'amount overflow', 'insufficient balance', 'mempool full',
]

/**
 * Admits client txs and packs them into batches (docs/design.md §5). Admission, in order: decode,
 * duplicate (pending or committed), capacity, signature (off-thread, batched, skipped for txs
 * already verified), then against executed state plus what this pool already holds: known sender,
 * nonce window, one pending tx per (sender, nonce), amount + fee within u64 and within the balance
 * left after the sender's other pending txs. A rejected tx changes nothing.
 *
 * Admitted txs stay pending (counted for duplicates, nonces and spend) until `markCommitted`, also
 * after they have been packed into a batch.
 */
export class Mempool {
  readonly #opts: MempoolOptions
  readonly #modules: MempoolModules
  readonly #pending = new Map<string, PendingTx>()
  /** Admitted txs not yet packed, in admission order. */
  readonly #unbatched = new Map<string, PendingTx>()
  readonly #senders = new Map<string, SenderPending>()
  /** Slots held by txs in signature verification, so concurrent submits cannot overshoot maxTxs. */
  #verifying = 0
  #nextSeq = 0
  #batchTimer: NodeJS.Timeout | undefined
  #closed = false
  #admitted = 0
  #evicted = 0
  readonly #rejected = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<RejectReason, number>

  constructor(opts: MempoolOptions, modules: MempoolModules) {
    for (const field of ['maxTxs', 'batchSize', 'nonceWindow'] as const) {
      if (!Number.isInteger(opts[field]) || opts[field] < 1) throw new RangeError(`mempool ${field} must be a positive integer, got ${opts[field]}`)
    }
    if (!(opts.maxBatchDelayMs >= 0)) throw new RangeError(`mempool maxBatchDelayMs must be ≥ 0, got ${opts.maxBatchDelayMs}`)
    this.#opts = opts
    this.#modules = modules
  }

  get size(): number {
    return this.#pending.size
  }

  /** Admitted here and neither committed nor evicted yet. */
  isPending(hash: Uint8Array): boolean {
    return this.#pending.has(toHex(hash))
  }

  /** `encodedTxs` must not change afterwards: admitted txs are views into them. */
  async submit(encodedTxs: readonly Uint8Array[]): Promise<AdmissionResult[]> {
    if (this.#closed) throw new Error('mempool is closed')
    const results: AdmissionResult[] = new Array(encodedTxs.length)
    const reject = (index: number, reason: RejectReason, detail: string, hash?: Uint8Array): void => {
      this.#rejected[reason]++
      results[index] = { ...(hash ? { hash } : {}), accepted: false, reason, detail }
    }

    let candidates: Candidate[] = []
    const inThisCall = new Set<string>()
    encodedTxs.forEach((encoded, index) => {
      let tx: Tx
      try {
        tx = decodeTxAliasing(encoded)
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err
        return reject(index, 'decode', err.message)
      }
      const hash = txBodyHash(encoded)
      const key = toHex(hash)
      if (this.#pending.has(key) || inThisCall.has(key)) return reject(index, 'duplicate', `tx ${key} is already pending`, hash)
      inThisCall.add(key)
      candidates.push({ index, tx, encoded, hash, key })
    })

    if (this.#modules.isCommitted && candidates.length > 0) {
      const committed = await this.#modules.isCommitted(candidates.map((c) => c.hash))
      candidates.forEach((c, i) => {
        if (committed[i]) reject(c.index, 'already committed', `tx ${c.key} is already committed`, c.hash)
      })
      candidates = candidates.filter((_, i) => !committed[i])
    }

    // Shed load before spending CPU on signatures; the reserved slots keep the bound exact.
    const free = Math.max(0, this.#opts.maxTxs - this.#pending.size - this.#verifying)
    for (const c of candidates.slice(free)) reject(c.index, 'mempool full', `mempool holds its limit of ${this.#opts.maxTxs} txs; retry later`, c.hash)
    candidates = candidates.slice(0, free)

    this.#verifying += candidates.length
    let signatureOk: boolean[]
    try {
      signatureOk = await verifyOnce(candidates, this.#modules.verified, this.#modules.verifier)
    } finally {
      this.#verifying -= candidates.length
    }

    candidates.forEach((c, i) => {
      if (!signatureOk[i]) return reject(c.index, 'invalid signature', `tx ${c.key}: signature is not valid for sender ${toHex(c.tx.from)}`, c.hash)
      const refusal = this.#admit(c)
      if (refusal) reject(c.index, refusal.reason, refusal.detail, c.hash)
      else results[c.index] = { hash: c.hash, accepted: true }
    })
    this.#packBatches()
    return results
  }

  /** Stateful checks and insertion, synchronous so no other submit interleaves. */
  #admit(c: Candidate): { reason: RejectReason; detail: string } | undefined {
    const { tx, key } = c
    if (this.#pending.has(key)) return { reason: 'duplicate', detail: `tx ${key} is already pending` }
    const sender = toHex(tx.from)
    const account = this.#modules.accounts.getAccount(tx.from)
    if (account === undefined) return { reason: 'unknown sender', detail: `sender ${sender} has no account` }
    if (tx.nonce < account.nonce) return { reason: 'nonce too low', detail: `nonce ${tx.nonce} is below account nonce ${account.nonce}` }
    const windowEnd = account.nonce + BigInt(this.#opts.nonceWindow)
    if (tx.nonce >= windowEnd) {
      return { reason: 'nonce too high', detail: `nonce ${tx.nonce} is outside the window [${account.nonce}, ${windowEnd}) of sender ${sender}` }
    }
    const pendingOfSender = this.#senders.get(sender)
    const holder = pendingOfSender?.nonces.get(tx.nonce)
    if (holder !== undefined) return { reason: 'nonce conflict', detail: `pending tx ${holder} already uses nonce ${tx.nonce} of sender ${sender}` }
    const cost = tx.amount + tx.fee
    if (cost > U64_MAX) return { reason: 'amount overflow', detail: `amount ${tx.amount} + fee ${tx.fee} exceeds u64` }
    const spend = (pendingOfSender?.spend ?? 0n) + cost
    if (spend > account.balance) {
      return { reason: 'insufficient balance', detail: `amount + fee ${cost} plus pending spend ${spend - cost} exceeds balance ${account.balance}` }
    }

    const entry: PendingTx = { tx, encoded: c.encoded, hash: c.hash, key, sender, cost }
    this.#pending.set(key, entry)
    this.#unbatched.set(key, entry)
    const senderEntry = pendingOfSender ?? { address: tx.from, spend: 0n, nonces: new Map<bigint, string>() }
    senderEntry.spend = spend
    senderEntry.nonces.set(tx.nonce, key)
    this.#senders.set(sender, senderEntry)
    this.#admitted++
    return undefined
  }

  /** Emits every full batch now; a partial one waits at most maxBatchDelayMs. */
  #packBatches(): void {
    while (this.#unbatched.size >= this.#opts.batchSize) this.#emitBatch(this.#opts.batchSize)
    if (this.#unbatched.size === 0) {
      this.#stopBatchTimer()
    } else if (this.#batchTimer === undefined && !this.#closed) {
      this.#batchTimer = setTimeout(() => {
        this.#batchTimer = undefined
        this.#emitBatch(this.#unbatched.size)
      }, this.#opts.maxBatchDelayMs)
      // A waiting partial batch must not keep an otherwise finished process alive.
      this.#batchTimer.unref()
    }
  }

  #emitBatch(count: number): void {
    const txs: Tx[] = []
    const txBytes: Uint8Array[] = []
    const hashes: Uint8Array[] = []
    for (const [key, entry] of this.#unbatched) {
      if (txs.length === count) break
      txs.push(entry.tx)
      txBytes.push(entry.encoded)
      hashes.push(entry.hash)
      this.#unbatched.delete(key)
    }
    const batch: Batch = { author: this.#opts.author, seq: this.#nextSeq++, txs }
    const indexed = encodeBatchIndexed(batch, txBytes)
    this.#modules.onBatch({ ...indexed, digest: batchDigestOfEncoding(indexed.encoded), hashes })
  }

  /**
   * After a block commits: drops its txs (freeing their pending spend and nonces), then evicts
   * pending txs of the touched accounts whose nonce the new state has passed — they can no
   * longer execute. `txIds` are the block's tx hashes in hex; `touchedAccounts` are address hex
   * strings, e.g. the keys of the block's state writes (other keys are ignored).
   */
  markCommitted(txIds: Iterable<string>, touchedAccounts: Iterable<string>): void {
    for (const id of txIds) this.#remove(id)
    for (const sender of touchedAccounts) {
      const pendingOfSender = this.#senders.get(sender)
      if (pendingOfSender === undefined) continue
      const account = this.#modules.accounts.getAccount(pendingOfSender.address)
      for (const [nonce, key] of pendingOfSender.nonces) {
        if (account === undefined || nonce < account.nonce) {
          this.#remove(key)
          this.#evicted++
        }
      }
    }
    // Nothing left to pack: a timer armed for removed txs would only emit an empty batch.
    if (this.#unbatched.size === 0) this.#stopBatchTimer()
  }

  #stopBatchTimer(): void {
    clearTimeout(this.#batchTimer)
    this.#batchTimer = undefined
  }

  #remove(key: string): void {
    const entry = this.#pending.get(key)
    if (entry === undefined) return
    this.#pending.delete(key)
    this.#unbatched.delete(key)
    const pendingOfSender = this.#senders.get(entry.sender)!
    pendingOfSender.spend -= entry.cost
    pendingOfSender.nonces.delete(entry.tx.nonce)
    if (pendingOfSender.nonces.size === 0) this.#senders.delete(entry.sender)
  }

  stats(): MempoolStats {
    return {
      pending: this.#pending.size,
      unbatched: this.#unbatched.size,
      admitted: this.#admitted,
      rejected: { ...this.#rejected },
      evicted: this.#evicted,
      batches: this.#nextSeq,
    }
  }

  /** Stops the batch timer; txs not yet packed are dropped with the pool. */
  close(): void {
    this.#closed = true
    this.#stopBatchTimer()
  }
}
