import { setTimeout as sleep } from 'node:timers/promises'
import { emptyTrace, traceMetrics, type BlockRecord, type CommitTrace, type TraceMetrics } from '../sim/result-point.ts'
import type { PresignedTxs } from './presign.ts'
import { followCommits, fetchMetrics, submitTxs, type AdmissionReply, type CommitEvent } from './node-client.ts'
import { ResubmitSchedule } from './resubmissions.ts'
import { SampleSet } from './stats.ts'

/**
 * Open-loop load generator (Narwhal's client model): txs leave at the offered rate whether or not
 * the chain keeps up, so a saturated chain shows up as growing latency and a falling achieved
 * rate, not as a politely slower client.
 */

/**
 * Send interval. Each tick sends everything that fell due since the last one as one msgpack
 * request per target: 20 ms keeps requests few (a 2-core machine also runs the validators)
 * while adding at most 20 ms before a tx is submitted. A tx's submit time is when it fell due,
 * not when it left (see MAX_IN_FLIGHT_PER_TARGET), so this wait counts in its latency.
 */
export const TICK_MS = 20

/**
 * Requests in flight per target. One: a validator verifies the signatures of concurrent requests
 * in parallel and admits whichever finishes first, so a sender's nonce n+1 in a later request
 * could be batched before its nonce n in an earlier one and then fail execution. Serialising
 * keeps the open loop intact: txs that fall due while a request is out wait in the target's
 * queue and go together in the next request, so a slow validator shows up as larger requests
 * and a lower achieved submit rate, never as a slower schedule. Their latency counts from when
 * they fell due: stamped at the send instead, the wait for a slow admission reply would vanish
 * from e2e latency (coordinated omission; at 6,600 tx/s it was p50 130 ms, p99 950 ms).
 * Up to eight requests in flight, a sender's txs never in two, was measured and lost: txs
 * reached the validators' verify queues sooner, ahead of the peer batches that proposals and
 * votes wait for, and p50 rose by 0.3–0.4 s (docs/decisions.md, "Seventh pass").
 */
export const MAX_IN_FLIGHT_PER_TARGET = 1

/** Txs per request: the API's per-request bound is 10k txs and 4 MiB; 5k transfers ≈ 1 MB. */
export const MAX_TXS_PER_REQUEST = 5_000

/** After the last submit, wait at most this long for accepted txs to commit (the tail latency). */
export const DEFAULT_DRAIN_S = 10

/** How often commits are checked for completeness while draining. */
const DRAIN_POLL_MS = 100

/**
 * With resubmission on, a request that cannot reach its validator (killed, restarting) is
 * retried after this pause instead of its txs being counted as rejected: each sender's txs are
 * signed with consecutive nonces, so one dropped tx would make all its later ones fail.
 */
const UNREACHABLE_RETRY_MS = 500

/** Per-tx lifecycle, one byte each in a typed array (a run can hold millions of txs). */
const TxState = { unsent: 0, inFlight: 1, accepted: 2, rejected: 3 } as const

export interface LoadOptions {
  /** Validators' HTTP base URLs; sender account a always submits to target a mod T. */
  readonly targets: readonly string[]
  /** Whose `/events` to follow for commit times; the first report of a tx wins. Default: targets. */
  readonly eventSources?: readonly string[]
  readonly offeredTps: number
  /** Seconds of submission, warm-up included. */
  readonly durationS: number
  /** Seconds at the start whose txs are excluded from every figure. */
  readonly warmupS: number
  readonly drainS?: number
  readonly txs: PresignedTxs
  /**
   * Resubmit an acknowledged tx not seen committed after this many seconds, and again at
   * doubling intervals (src/testnet/resubmissions.ts) until it commits or the drain ends: what
   * a wallet holding its signed txs does. A validator's mempool is volatile: one that crashes loses the txs it acknowledged but had not
   * yet batched and gossiped, and only the client still has them. Resubmitting is safe (the chain
   * executes a tx hash once) but adds load, so it is off unless faults are expected.
   */
  readonly rebroadcastAfterS?: number
  readonly onSecond?: (s: LiveSecond) => void
  /** Called synchronously as the steady window opens and as submission ends (e.g. to sample process CPU times). */
  readonly onWindowEdge?: (edge: 'start' | 'end') => void
  /** Aborting ends submission early; the report covers what was measured until then. */
  readonly signal?: AbortSignal
}

/** One line of the live table: the second just elapsed, plus the chain's current gauges. */
export interface LiveSecond {
  readonly second: number
  readonly submitted: number
  readonly rejected: number
  readonly committed: number
  readonly latencyP50Ms: number
  readonly latencyP99Ms: number
  readonly height: number
  readonly round: number
  readonly mempool: number
  readonly timeouts: number
}

/** Everything measured over the steady window: the trace's figures (src/sim/result-point.ts) and the chain's counters. */
export interface LoadResult extends TraceMetrics {
  /** Rejection reason → count: nodes' admission reasons, or `unreachable: …` for failed requests. */
  readonly rejectReasons: Readonly<Record<string, number>>
  /** Committed txs whose execution failed, as validators count them (metrics) during the window. */
  readonly failedTxs: number
  readonly rounds: number
  /** Round timeouts during the window (the validators' counter, differenced). */
  readonly timeouts: number
  readonly stateRootMismatches: number
  /**
   * Heights at which two validators' commit feeds named different blocks, over the whole run:
   * the "identical block at every height" check, from what the generator already follows.
   */
  readonly safetyViolations: number
  /** Resubmissions of acknowledged txs (`rebroadcastAfterS`), warm-up included. */
  readonly resubmittedTxs: number
  /** Hashes (hex) of every tx a validator accepted, warm-up included: `bftlab check --acks`. */
  readonly acknowledged: readonly string[]
  /** What the figures were computed from, for a caller that wants to recompute or keep them. */
  readonly trace: CommitTrace
}

/** Chain gauges summed or maxed over validators, read from their `/metrics`. */
interface ChainGauges {
  height: number
  round: number
  mempool: number
  timeouts: number
  failed: number
  mismatches: number
}

const ZERO_GAUGES: ChainGauges = { height: 0, round: 0, mempool: 0, timeouts: 0, failed: 0, mismatches: 0 }

/**
 * Validators run the same chain, so height, round and per-chain counters are the max over those
 * that answer (a node that was down reports less); the mempool is per node and is summed.
 */
async function readGauges(targets: readonly string[]): Promise<ChainGauges> {
  const answers = await Promise.allSettled(targets.map((t) => fetchMetrics(t, AbortSignal.timeout(2_000))))
  const g = { ...ZERO_GAUGES }
  for (const a of answers) {
    if (a.status !== 'fulfilled') continue
    const m = a.value
    g.height = Math.max(g.height, m.get('bftlab_committed_height') ?? 0)
    g.round = Math.max(g.round, m.get('bftlab_current_round') ?? 0)
    g.mempool += m.get('bftlab_mempool_txs') ?? 0
    g.timeouts = Math.max(g.timeouts, m.get('bftlab_timeouts_total') ?? 0)
    g.failed = Math.max(g.failed, m.get('bftlab_failed_txs_total') ?? 0)
    g.mismatches = Math.max(g.mismatches, m.get('bftlab_state_root_mismatches_total') ?? 0)
  }
  return g
}

interface BlockSeen {
  readonly id: string
  /** Index into the run's block records. */
  readonly index: number
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const { targets, offeredTps: rate, txs } = opts
  if (targets.length === 0) throw new RangeError('load: no targets')
  if (!(rate > 0)) throw new RangeError(`load: rate must be positive, got ${rate}`)
  if (!(opts.warmupS >= 0 && opts.warmupS < opts.durationS)) {
    throw new RangeError(`load: warm-up ${opts.warmupS} s must be ≥ 0 and shorter than the duration ${opts.durationS} s`)
  }
  const total = Math.min(txs.encoded.length, Math.ceil(rate * opts.durationS))
  const drainS = opts.drainS ?? DEFAULT_DRAIN_S
  const resubmissions = opts.rebroadcastAfterS === undefined ? undefined : new ResubmitSchedule(opts.rebroadcastAfterS * 1_000)

  const indexOf = new Map<string, number>()
  for (let j = 0; j < total; j++) indexOf.set(txs.hashes[j]!, j)
  const state = new Uint8Array(total)
  const submitAt = new Float64Array(total)
  const commitAt = new Float64Array(total)
  const blockOf = new Int32Array(total).fill(-1)
  const blocks = new Map<number, BlockSeen>()
  const blockRecords: BlockRecord[] = []
  const conflictingHeights = new Set<number>()
  /** Reasons of txs submitted in the steady window; warm-up rejections are not reported. */
  const rejectReasons: Record<string, number> = {}

  // Per-second counters for the live line, reset each second.
  let secSubmitted = 0
  let secRejected = 0
  let secLatencies = new SampleSet()
  /**
   * Accepted txs not yet seen committed, warm-up included: the drain waits for this to reach 0.
   * Warm-up txs are out of the figures but not out of `acknowledged`, which `bftlab check --acks`
   * holds to "committed once": a drain that ended with one still awaiting its resubmission would
   * report it lost.
   */
  let awaitingCommit = 0

  const onCommit = (e: CommitEvent): void => {
    const now = Date.now()
    const seen = blocks.get(e.height)
    if (seen === undefined) {
      blocks.set(e.height, { id: e.id, index: blockRecords.length })
      blockRecords.push({ proposedMs: e.proposedAt, committedMs: e.committedAt, txs: e.txs.length })
    } else if (seen.id !== e.id) conflictingHeights.add(e.height)
    const block = blocks.get(e.height)!.index
    for (const h of e.txs) {
      const j = indexOf.get(h)
      if (j === undefined || commitAt[j] !== 0) continue
      // e2e uses this process's clock at both ends; consensus latency uses the nodes' clocks.
      commitAt[j] = now
      blockOf[j] = block
      if (state[j] === TxState.accepted) awaitingCommit--
      if (submitAt[j] !== 0) secLatencies.add(now - submitAt[j]!)
    }
  }

  // The clock starts after the baseline gauge read below; until then nothing is submitted.
  let startedAt = Infinity
  /** When the open-loop schedule wants tx j out: its submit time, wherever it waited since. */
  const dueAt = (j: number): number => startedAt + (j * 1_000) / rate
  let windowStart = Infinity

  const following = new AbortController()
  // A block seen from one validator is not parsed again from the others (the first report wins
  // anyway); one with another id at a known height is, so onCommit records the conflict.
  const alreadyHave = (height: number, blockId: string): boolean => blocks.get(height)?.id === blockId
  const followers = (opts.eventSources ?? targets).map((src) => followCommits(src, onCommit, following.signal, alreadyHave))
  const before = await readGauges(targets)
  startedAt = Date.now()
  windowStart = startedAt + opts.warmupS * 1_000

  const queues: number[][] = targets.map(() => [])
  /** Until when a target that could not be reached is left alone (resubmission on only). */
  const unreachableUntil = new Float64Array(targets.length)
  let submitting = true
  const inFlight = new Array<number>(targets.length).fill(0)
  const requests = new Set<Promise<void>>()

  let resubmitted = 0
  const queueResubmissions = (now: number): void => {
    resubmitted += resubmissions?.takeDue(now, (j) => commitAt[j] !== 0, (j) => queues[txs.senderOf(j) % targets.length]!.push(j)) ?? 0
  }

  const reject = (j: number, reason: string): void => {
    state[j] = TxState.rejected
    if (submitAt[j]! >= windowStart) rejectReasons[reason] = (rejectReasons[reason] ?? 0) + 1
    secRejected++
  }

  const send = (t: number): void => {
    const queue = queues[t]!
    while (queue.length > 0 && inFlight[t]! < MAX_IN_FLIGHT_PER_TARGET && Date.now() >= unreachableUntil[t]!) {
      const batch = queue.splice(0, MAX_TXS_PER_REQUEST)
      for (const j of batch) {
        // A resubmitted tx keeps its first submit time and its acknowledged state: whatever the
        // node answers now (typically "duplicate" or "already committed"), the chain decides its fate.
        if (state[j] === TxState.accepted) continue
        submitAt[j] = dueAt(j)
        state[j] = TxState.inFlight
        secSubmitted++
      }
      inFlight[t]!++
      const request = submitTxs(targets[t]!, batch.map((j) => txs.encoded[j]!))
        .then((replies: AdmissionReply[]) => {
          const at = Date.now()
          replies.forEach((r, i) => {
            const j = batch[i]!
            if (state[j] !== TxState.inFlight) return
            if (!r.accepted) return reject(j, r.reason ?? 'no reason given')
            state[j] = TxState.accepted
            resubmissions?.add(j, at)
            // A commit event can overtake the HTTP reply; such a tx is not awaited.
            if (commitAt[j] === 0) awaitingCommit++
          })
        })
        .catch((err: unknown) => {
          const e = err as { code?: string; cause?: { code?: string }; message?: string }
          const cause = e.code ?? e.cause?.code ?? e.message
          const unsent = batch.filter((j) => state[j] === TxState.inFlight)
          if (resubmissions !== undefined && submitting) {
            for (const j of unsent) state[j] = TxState.unsent
            queue.unshift(...unsent)
            unreachableUntil[t] = Date.now() + UNREACHABLE_RETRY_MS
            return
          }
          for (const j of unsent) reject(j, `unreachable: ${cause}`)
        })
        .finally(() => {
          inFlight[t]!--
          requests.delete(request)
        })
      requests.add(request)
    }
  }

  let due = 0
  let gauges = before
  let gaugeRead: Promise<void> | undefined
  let nextSecond = startedAt + 1_000
  let second = 0

  const emitSecond = (): void => {
    second++
    const latency = secLatencies.summary()
    const line: LiveSecond = {
      second,
      submitted: secSubmitted,
      rejected: secRejected,
      committed: secLatencies.count,
      latencyP50Ms: latency.p50,
      latencyP99Ms: latency.p99,
      height: gauges.height,
      round: gauges.round,
      mempool: gauges.mempool,
      timeouts: gauges.timeouts - before.timeouts,
    }
    secSubmitted = 0
    secRejected = 0
    secLatencies = new SampleSet()
    opts.onSecond?.(line)
    // Gauges for the next line are read in the background so a slow node never delays sending.
    gaugeRead ??= readGauges(targets).then((g) => {
      gauges = g
      gaugeRead = undefined
    })
  }

  // Counters (failed txs, rounds, timeouts) are differenced from the start of the steady window.
  let atWindowStart: Promise<ChainGauges> | undefined
  while (!opts.signal?.aborted) {
    const now = Date.now()
    if (now >= windowStart && atWindowStart === undefined) {
      opts.onWindowEdge?.('start')
      atWindowStart = readGauges(targets)
    }
    const elapsedS = (now - startedAt) / 1_000
    if (elapsedS >= opts.durationS) break
    const nowDue = Math.min(total, Math.floor(rate * elapsedS))
    for (; due < nowDue; due++) queues[txs.senderOf(due) % targets.length]!.push(due)
    queueResubmissions(now)
    for (let t = 0; t < targets.length; t++) send(t)
    if (now >= nextSecond) {
      emitSecond()
      nextSecond += 1_000
    }
    await sleep(TICK_MS)
  }
  const submissionEnd = Date.now()
  if (atWindowStart !== undefined) opts.onWindowEdge?.('end')
  submitting = false
  // What is still queued and never sent stays unsent (out of every figure); resubmissions go on.
  for (let t = 0; t < targets.length; t++) queues[t] = queues[t]!.filter((j) => state[j] === TxState.accepted)
  while (requests.size > 0) await Promise.race(requests)

  const drainDeadline = Date.now() + drainS * 1_000
  while (!opts.signal?.aborted && Date.now() < drainDeadline && awaitingCommit > 0) {
    queueResubmissions(Date.now())
    for (let t = 0; t < targets.length; t++) send(t)
    await sleep(DRAIN_POLL_MS)
  }
  while (requests.size > 0) await Promise.race(requests)
  await gaugeRead
  const start = (await atWindowStart) ?? before
  const after = await readGauges(targets)
  following.abort()
  await Promise.all(followers)

  const acknowledged: string[] = []
  for (let j = 0; j < total; j++) if (state[j] === TxState.accepted) acknowledged.push(txs.hashes[j]!)
  const trace = emptyTrace(total, windowStart, submissionEnd)
  trace.blocks.push(...blockRecords)
  for (let j = 0; j < total; j++) {
    if (state[j] === TxState.unsent) continue
    trace.submitMs[j] = submitAt[j]!
    if (commitAt[j] !== 0) trace.commitMs[j] = commitAt[j]!
    trace.block[j] = blockOf[j]!
    if (state[j] === TxState.rejected) trace.rejected[j] = 1
  }
  return {
    ...traceMetrics(trace, rate),
    rejectReasons,
    failedTxs: after.failed - start.failed,
    rounds: after.round - start.round,
    timeouts: after.timeouts - start.timeouts,
    stateRootMismatches: after.mismatches,
    safetyViolations: conflictingHeights.size,
    resubmittedTxs: resubmitted,
    acknowledged,
    trace,
  }
}
