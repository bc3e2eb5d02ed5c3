import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import type { LinkFaults } from '../network/faults.ts'
import { formatIssue, type LoadedConfig } from './config.ts'

/**
 * Runtime fault control for test networks: `POST /admin/faults`, `/admin/partition` and
 * `/admin/heal` drive the network host's link emulation while the validator runs, so a
 * perturbation schedule (src/testnet/perturbations.ts) can disconnect, delay or partition live
 * validators. Validators are named by their genesis index; this module maps them to peer ids.
 */

/** The part of NetworkHost fault control the endpoints drive. */
export interface LinkFaultHost {
  setLinkFaults(peerId: string, faults: Partial<LinkFaults>): void
  partition(groups: string[][]): void
  heal(): void
}

/** A request the control refuses (unknown validator, own index, overlapping groups): a 400. */
export class AdminRequestError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AdminRequestError'
  }
}

export class FaultControl {
  readonly #index: number
  readonly #peerIds: readonly string[]
  readonly #host: LinkFaultHost

  constructor(opts: { index: number; peerIds: readonly string[] }, host: LinkFaultHost) {
    this.#index = opts.index
    this.#peerIds = opts.peerIds
    this.#host = host
  }

  /**
   * Sets the given fields on the links to `peers`; omitted fields keep their value. `'*'` is
   * expanded to every other validator rather than passed on as the host's wildcard entry,
   * because a link with its own entry (left by an earlier call or a partition) ignores '*'.
   * Returns the validator indices whose links changed.
   */
  setLinkFaults(peers: readonly number[] | '*', faults: Partial<LinkFaults>): number[] {
    const targets = peers === '*' ? this.#peerIds.map((_, i) => i).filter((i) => i !== this.#index) : [...new Set(peers)]
    for (const i of targets) this.#requirePeer(i, 'peers')
    for (const i of targets) this.#host.setLinkFaults(this.#peerIds[i]!, faults)
    return targets
  }

  /** Cuts this validator's links to every validator outside its group (unlisted ones included). */
  partition(groups: readonly (readonly number[])[]): void {
    const seen = new Map<number, number>()
    groups.forEach((group, g) => {
      for (const i of group) {
        this.#requireIndex(i, `groups[${g}]`)
        const earlier = seen.get(i)
        if (earlier !== undefined && earlier !== g) throw new AdminRequestError(`groups[${g}]: validator ${i} is already in groups[${earlier}]; groups must be disjoint`)
        seen.set(i, g)
      }
    })
    this.#host.partition(groups.map((group) => group.map((i) => this.#peerIds[i]!)))
  }

  /** Brings every link up again; configured delay, jitter and loss stay. */
  heal(): void {
    this.#host.heal()
  }

  #requireIndex(i: number, field: string): void {
    if (i >= this.#peerIds.length) throw new AdminRequestError(`${field}: validator ${i} does not exist (validators 0..${this.#peerIds.length - 1})`)
  }

  #requirePeer(i: number, field: string): void {
    this.#requireIndex(i, field)
    if (i === this.#index) throw new AdminRequestError(`${field}: validator ${i} is this validator; a link goes to another one`)
  }
}

const LOOPBACK_HOSTS = /^(127(\.[0-9]{1,3}){3}|::1|localhost)$/

/**
 * Fault control exists only when the chain declares itself a test network (genesis
 * `params.testing`, the same opt-in as the byzantine modes) and the API listens on loopback
 * only, so nobody off the machine can cut a validator's links.
 */
export function faultControlFor(config: LoadedConfig, host: LinkFaultHost): FaultControl | undefined {
  if (!config.genesis.params.testing || !LOOPBACK_HOSTS.test(config.node.httpHost)) return undefined
  return new FaultControl({ index: config.node.index, peerIds: config.genesis.validators.map((v) => v.peerId) }, host)
}

const validatorIndex = z.number().int().min(0)

const faultsBody = z
  .object({
    peers: z.union([z.array(validatorIndex).min(1), z.literal('*')]).default('*'),
    delayMs: z.number().min(0).max(60_000).optional(),
    jitterMs: z.number().min(0).max(60_000).optional(),
    lossRate: z.number().min(0).max(1).optional(),
    down: z.boolean().optional(),
  })
  .strict()
  .refine((b) => b.delayMs !== undefined || b.jitterMs !== undefined || b.lossRate !== undefined || b.down !== undefined, {
    message: 'give at least one of delayMs, jitterMs, lossRate, down',
  })

const partitionBody = z.object({ groups: z.array(z.array(validatorIndex).min(1)).min(1) }).strict()

function parseBody<S extends z.ZodType>(schema: S, body: unknown, reply: FastifyReply): z.output<S> | undefined {
  const parsed = schema.safeParse(body ?? {}, { reportInput: true })
  if (parsed.success) return parsed.data
  void reply.code(400).send({ error: parsed.error.issues.map(formatIssue).join('; ') })
  return undefined
}

function refused(err: unknown, reply: FastifyReply): FastifyReply {
  if (!(err instanceof AdminRequestError)) throw err
  return reply.code(400).send({ error: err.message })
}

/** Registers the admin routes; without a control they answer 404 saying why. */
export function registerAdminRoutes(app: FastifyInstance, control: FaultControl | undefined): void {
  if (control === undefined) {
    app.all('/admin/*', async (req, reply) =>
      reply.code(404).send({ error: `no route ${req.method} ${req.url}: admin endpoints need genesis params.testing: true and an HTTP API on loopback` }),
    )
    return
  }
  app.post('/admin/faults', async (req, reply) => {
    const body = parseBody(faultsBody, req.body, reply)
    if (body === undefined) return reply
    const { peers, ...faults } = body
    try {
      return { peers: control.setLinkFaults(peers, faults), faults }
    } catch (err) {
      return refused(err, reply)
    }
  })
  app.post('/admin/partition', async (req, reply) => {
    const body = parseBody(partitionBody, req.body, reply)
    if (body === undefined) return reply
    try {
      control.partition(body.groups)
      return { groups: body.groups }
    } catch (err) {
      return refused(err, reply)
    }
  })
  app.post('/admin/heal', async () => {
    control.heal()
    return { healed: true }
  })
}
