import fc from 'fast-check'
import { pack } from 'msgpackr'
import { DecodeError, decodeTx, encodeTx, txHash } from '../../../src/core/index.ts'
import { CommitFeed } from '../../../src/node/commit-feed.ts'
import { buildHttpApi, DEFAULT_CLIENT_LIMITS, type NodeApi, type SubmitResult } from '../../../src/node/http.ts'
import { NodeMetrics } from '../../../src/node/metrics.ts'
import { txToJson } from '../../../src/node/tx-json.ts'
import { FuzzViolation, defineTarget, type FuzzTarget, type Outcome } from '../engine.ts'
import { byteInputs, describeBytes } from '../mutations.ts'
import { txArbitrary } from '../values.ts'

/**
 * The two submit endpoints end to end through fastify's `inject` (no socket): body parsing,
 * the msgpack `/txs` list decoding and the JSON `/tx` decoding as a client reaches them. A 500
 * is the failure: it means something other than a typed client error escaped a handler.
 */
interface SubmitRequest {
  readonly url: '/tx' | '/txs'
  readonly body: Uint8Array
}

/** Client errors the API answers on bad input: malformed (400), too large (413), wrong type (415). */
const CLIENT_STATUSES = new Set([200, 400, 413, 415])

/** A mempool stand-in that decodes like the real one and accepts every well-formed tx. */
function fakeNode(): NodeApi {
  return {
    async submit(encoded) {
      return encoded.map((bytes): SubmitResult => {
        try {
          return { hash: txHash(decodeTx(bytes)), accepted: true }
        } catch (err) {
          if (err instanceof DecodeError) return { accepted: false, reason: 'malformed', detail: err.message }
          throw err
        }
      })
    },
    async txStatus() {
      return { status: 'unknown' }
    },
    async account() {
      return { balance: 0n, nonce: 0n }
    },
    async committedBlock() {
      return undefined
    },
    status() {
      return { index: 0, height: 0, round: 0, leader: 0, peers: 0, mempool: 0, committedTxs: 0, executedRoot: '', evidence: [], evidenceCount: 0 }
    },
    metrics: new NodeMetrics(),
    commits: new CommitFeed(),
  }
}

const CONTENT_TYPE = { '/tx': 'application/json', '/txs': 'application/msgpack' } as const

function nestedJson(field: string, depth: number): Uint8Array {
  return new TextEncoder().encode(`{"${field}":${'['.repeat(depth)}${']'.repeat(depth)}}`)
}

/** One app for every input: `inject` opens no socket, so nothing is left to close. */
// The fuzzer is one client sending far faster than any real one: per-client limits are tested
// in test/node/client-limits.test.ts and would only answer 429 here.
const app = buildHttpApi(fakeNode(), { ...DEFAULT_CLIENT_LIMITS, messagesPerSecond: Infinity, bytesPerSecond: Infinity })

const target: FuzzTarget<SubmitRequest> = {
  name: 'node/http POST /tx, /txs',
  inputs(seed) {
    const txs = fc.sample(txArbitrary, { seed, numRuns: 16 })
    const msgpackCorpus = [pack(txs.map(encodeTx)), pack(txs.slice(0, 1).map(encodeTx)), pack([]), pack(txs.map((tx) => encodeTx(tx).subarray(1)))]
    const jsonCorpus = txs.map((tx) => new TextEncoder().encode(JSON.stringify(txToJson(tx))))
    const asSeeds = (list: Uint8Array[]) => list.map((bytes) => ({ bytes: bytes.slice(), intFields: [] }))
    const txsBody = fc.oneof(
      { weight: 4, arbitrary: byteInputs(asSeeds(msgpackCorpus), msgpackCorpus) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => pack(v)) },
    )
    const txBody = fc.oneof(
      { weight: 4, arbitrary: byteInputs(asSeeds(jsonCorpus), jsonCorpus) },
      // Nesting up to what the 16 KiB body limit admits: 8k levels of `[]`.
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('kind', 'from', 'amount', 'accessList'), fc.integer({ min: 1, max: 8_000 })).map(([f, d]) => nestedJson(f, d)) },
    )
    const arbitrary = fc.oneof(
      txsBody.map((body) => ({ url: '/txs' as const, body })),
      txBody.map((body) => ({ url: '/tx' as const, body })),
    )
    return { arbitrary, sweep: [] }
  },
  async check(request): Promise<Outcome> {
    const res = await app.inject({ method: 'POST', url: request.url, headers: { 'content-type': CONTENT_TYPE[request.url] }, payload: Buffer.from(request.body) })
    if (!CLIENT_STATUSES.has(res.statusCode)) {
      throw new FuzzViolation('typed-error', `POST ${request.url} answered ${res.statusCode}: ${res.body.slice(0, 300)}`)
    }
    return res.statusCode === 200 ? 'accepted' : 'rejected'
  },
  describe: (request) => `POST ${request.url} body ${describeBytes(request.body)}`,
  size: (request) => request.body.length,
}

export const httpTargets = [defineTarget(target)]
