import { fastify, type FastifyError, type FastifyInstance } from 'fastify'
import { unpack } from 'msgpackr'
import type { Block } from '../core/block.ts'
import { HASH_BYTES, fromHex, toHex } from '../core/hash.ts'
import { PUBLIC_KEY_BYTES } from '../core/keys.ts'
import { LIMITS } from '../core/limits.ts'
import { PeerRateLimiter, type RateLimitOptions } from '../network/ratelimit.ts'
import { encodeTx } from '../core/tx.ts'
import { registerAdminRoutes, type FaultControl } from './admin.ts'
import type { CommitFeed } from './commit-feed.ts'
import type { EvidenceView } from './evidence.ts'
import type { NodeMetrics } from './metrics.ts'
import { TxJsonError, txFromJson } from './tx-json.ts'

/** Outcome of submitting one tx (the mempool's AdmissionResult). */
export type SubmitResult =
  | { readonly hash: Uint8Array; readonly accepted: true }
  /** `reason` is a short stable code (e.g. `nonce too low`), `detail` the full explanation. */
  | { readonly hash?: Uint8Array; readonly accepted: false; readonly reason: string; readonly detail?: string }

export type TxStatus =
  | { readonly status: 'pending' }
  | { readonly status: 'committed'; readonly height: number }
  | { readonly status: 'failed'; readonly height: number; readonly reason: string }
  | { readonly status: 'unknown' }

export interface StatusView {
  readonly index: number
  readonly height: number
  readonly round: number
  readonly leader: number
  readonly peers: number
  readonly mempool: number
  readonly committedTxs: number
  readonly executedRoot: string
  /** Newest evidence records (src/node/evidence.ts), both conflicting signed messages in hex. */
  readonly evidence: readonly EvidenceView[]
  /** Evidence records this validator holds in all (LevelDB), not only those listed. */
  readonly evidenceCount: number
}

/** What the HTTP API needs from a validator; ValidatorNode implements it. */
export interface NodeApi {
  submit(encoded: readonly Uint8Array[]): Promise<SubmitResult[]>
  txStatus(hash: Uint8Array): Promise<TxStatus>
  account(address: Uint8Array): Promise<{ balance: bigint; nonce: bigint }>
  /** The committed block at `height` and the hashes of its txs in execution order. */
  committedBlock(height: number): Promise<{ block: Block; txHashes: readonly Uint8Array[] } | undefined>
  status(): StatusView
  readonly metrics: NodeMetrics
  readonly commits: CommitFeed
  /** Present on test networks only (src/node/admin.ts): backs the `/admin/*` fault endpoints. */
  readonly faultControl?: FaultControl | undefined
}

export const HTTP_LIMITS = {
  /** One JSON tx is < 1 KiB; 16 KiB leaves room for a maximal payload and access list in hex. */
  txBodyBytes: 16 * 1024,
  /** ≈ 17k canonical transfers (≈ 240 B each): a load generator's batch, well below a block. */
  txsBodyBytes: 4 * 1024 * 1024,
  /** Txs in one `POST /txs`, the same bound as one batch. */
  txsPerRequest: LIMITS.maxBatchTxs,
} as const

const MSGPACK = 'application/msgpack'

/** A client error: answered with its status and `{error: message}`, never logged as a fault. */
class ApiError extends Error {
  readonly statusCode: number
  constructor(statusCode: number, message: string) {
    super(message)
    this.statusCode = statusCode
  }
}

function parseHexParam(name: string, value: string, bytes: number): Uint8Array {
  try {
    return fromHex(value, bytes)
  } catch (err) {
    throw new ApiError(400, `${name}: ${(err as Error).message}: ${JSON.stringify(value.slice(0, 80))}`)
  }
}

/** A rejected tx: a full mempool is the server's condition (retry later), the rest are the client's. */
function rejectionStatus(reason: string): number {
  return reason === 'mempool full' ? 503 : 400
}

function resultJson(r: SubmitResult): { hash?: string; accepted: boolean; reason?: string; detail?: string } {
  return r.accepted
    ? { hash: toHex(r.hash), accepted: true }
    : { ...(r.hash !== undefined ? { hash: toHex(r.hash) } : {}), accepted: false, reason: r.reason, ...(r.detail !== undefined ? { detail: r.detail } : {}) }
}

function decodeMsgpackTxs(body: Buffer): Uint8Array[] {
  let list: unknown
  try {
    list = unpack(body)
  } catch (err) {
    throw new ApiError(400, `body: not valid msgpack: ${(err as Error).message}`)
  }
  if (!Array.isArray(list)) throw new ApiError(400, 'body: expected a msgpack array of canonical tx byte strings')
  if (list.length > HTTP_LIMITS.txsPerRequest) throw new ApiError(413, `body: ${list.length} txs exceeds the limit of ${HTTP_LIMITS.txsPerRequest} per request`)
  list.forEach((item, i) => {
    if (!(item instanceof Uint8Array)) throw new ApiError(400, `body[${i}]: expected a msgpack bin (canonical tx bytes), got ${typeof item}`)
  })
  return list as Uint8Array[]
}

/**
 * Per-client (remote address) limits on the write endpoints, the same token buckets that guard
 * the p2p side. Generous: a load generator offering 10k tx/s in ~100 requests/s of ≤ 4 MiB stays
 * far below them; they exist to stop one runaway client from starving the others. A client
 * refused `violationsBeforeDisconnect` times within the window gets its connection closed.
 */
export const DEFAULT_CLIENT_LIMITS: RateLimitOptions = {
  messagesPerSecond: 2_000,
  bytesPerSecond: 64 * 1024 * 1024,
  burstSeconds: 1,
  violationsBeforeDisconnect: 100,
  violationWindowMs: 10_000,
  coolOffMs: 0,
}

/**
 * The validator's HTTP API (docs/design.md §9). Every client mistake (malformed JSON, bad hex, invalid
 * signature, stale nonce, oversized body…) is a 4xx with `{error}` naming the field or rule; the
 * handlers only read state or submit to the mempool, so a refused request changes nothing.
 */
export function buildHttpApi(api: NodeApi, clientLimits: RateLimitOptions = DEFAULT_CLIENT_LIMITS): FastifyInstance {
  const app = fastify({ logger: false, bodyLimit: HTTP_LIMITS.txBodyBytes })
  const clients = new PeerRateLimiter(clientLimits)

  // Charged before the body is parsed (declared length), so a refused flood costs no parsing.
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST') return
    const bytes = Number(req.headers['content-length'] ?? 0) || 0
    const verdict = clients.admit(req.ip, bytes)
    if (verdict === 'accept') return
    api.metrics.droppedMessages.inc({ reason: 'client rate limit' })
    if (verdict === 'disconnect') reply.header('connection', 'close')
    return reply.code(429).send({
      error: `client ${req.ip} exceeds ${clientLimits.messagesPerSecond} requests/s or ${clientLimits.bytesPerSecond} body bytes/s; slow down` +
        (verdict === 'disconnect' ? ' (connection closed after repeated violations)' : ''),
    })
  })

  app.addContentTypeParser(MSGPACK, { parseAs: 'buffer', bodyLimit: HTTP_LIMITS.txsBodyBytes }, (_req, body, done) => done(null, body))

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode ?? 500
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = req.routeOptions.bodyLimit ?? HTTP_LIMITS.txBodyBytes
      return reply.code(413).send({ error: `body of ${req.headers['content-length'] ?? 'unknown'} bytes exceeds the ${limit}-byte limit of ${req.method} ${req.url}` })
    }
    if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return reply.code(400).send({ error: `body: malformed JSON: ${err.message}` })
    }
    if (status >= 500) req.log.error({ err }, 'http handler failed')
    return reply.code(status).send({ error: err.message })
  })
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url}` }))

  app.post('/tx', async (req, reply) => {
    let encoded: Uint8Array
    try {
      encoded = encodeTx(txFromJson(req.body))
    } catch (err) {
      if (err instanceof TxJsonError) throw new ApiError(400, err.message)
      throw err
    }
    const [result] = await api.submit([encoded])
    if (result === undefined) throw new Error('mempool returned no admission result for one tx')
    if (!result.accepted) {
      return reply.code(rejectionStatus(result.reason)).send({ error: `${result.reason}: ${result.detail ?? 'refused by the mempool'}`, ...resultJson(result) })
    }
    return resultJson(result)
  })

  app.post('/txs', { bodyLimit: HTTP_LIMITS.txsBodyBytes }, async (req) => {
    if (!Buffer.isBuffer(req.body)) throw new ApiError(415, `body: POST /txs takes content-type ${MSGPACK}`)
    const results = await api.submit(decodeMsgpackTxs(req.body))
    return results.map(resultJson)
  })

  app.get<{ Params: { hash: string } }>('/tx/:hash', async (req) => {
    const status = await api.txStatus(parseHexParam('hash', req.params.hash, HASH_BYTES))
    return status
  })

  app.get<{ Params: { addr: string } }>('/account/:addr', async (req) => {
    const account = await api.account(parseHexParam('addr', req.params.addr, PUBLIC_KEY_BYTES))
    return { address: req.params.addr.toLowerCase(), balance: account.balance.toString(), nonce: account.nonce.toString() }
  })

  app.get<{ Params: { height: string } }>('/block/:height', async (req) => {
    const raw = req.params.height
    if (!/^(0|[1-9][0-9]{0,15})$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      throw new ApiError(400, `height: expected a non-negative integer, got ${JSON.stringify(raw.slice(0, 40))}`)
    }
    const found = await api.committedBlock(Number(raw))
    if (found === undefined) throw new ApiError(404, `height: no committed block at height ${raw} (committed height ${api.status().height})`)
    return blockJson(found.block, found.txHashes)
  })

  app.get('/status', async () => api.status())

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', api.metrics.contentType)
    return api.metrics.text()
  })

  app.get('/events', (_req, reply) => {
    reply.hijack()
    api.commits.subscribe(reply.raw)
  })

  registerAdminRoutes(app, api.faultControl)

  return app
}

export function blockJson(block: Block, txHashes: readonly Uint8Array[]) {
  return {
    height: block.height,
    id: toHex(block.id),
    round: block.round,
    author: block.author,
    timestamp: block.timestamp,
    parent: toHex(block.parentQc.blockId),
    parentRound: block.parentQc.round,
    ...(block.tc !== undefined ? { tcRound: block.tc.round } : {}),
    payloadKind: block.payload.kind,
    ...(block.payload.kind === 'batches' ? { batches: block.payload.digests.map(toHex) } : {}),
    txs: txHashes.map(toHex),
    executedRoot: toHex(block.executedRoot),
    executedHeight: block.executedHeight,
  }
}
