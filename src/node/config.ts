import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { z } from 'zod'
import { PUBLIC_KEY_BYTES, SEED_BYTES, deriveSeed, keyPairFromSeed } from '../core/keys.ts'
import { fromHex, toHex } from '../core/hash.ts'
import { LIMITS } from '../core/limits.ts'
import { peerIdFromSeed } from '../network/identity.ts'

/**
 * Config files of a validator: `genesis.json` (shared by the whole chain) and `node-<i>.json`
 * (one per validator; `.toml` works too). Both are validated at start; a bad field names the
 * file and the field path, e.g. `node-0.json: httpPort: expected number, got "abc"`.
 */

export class ConfigError extends Error {
  readonly file: string
  constructor(file: string, message: string) {
    super(`${file}: ${message}`)
    this.name = 'ConfigError'
    this.file = file
  }
}

const U64_MAX = (1n << 64n) - 1n

const hexBytes = (bytes: number) =>
  z.string().transform((s, ctx) => {
    try {
      return fromHex(s, bytes)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${(err as Error).message} (expected ${bytes} bytes as ${bytes * 2} hex digits)` })
      return z.NEVER
    }
  })

/** u64 amounts travel as decimal strings: JSON numbers lose precision above 2^53. */
const u64String = z.string().transform((s, ctx) => {
  if (!/^(0|[1-9][0-9]*)$/.test(s)) {
    ctx.addIssue({ code: 'custom', message: `expected a non-negative decimal integer string, got ${JSON.stringify(s)}` })
    return z.NEVER
  }
  const v = BigInt(s)
  if (v > U64_MAX) {
    ctx.addIssue({ code: 'custom', message: `${s} exceeds the u64 maximum ${U64_MAX}` })
    return z.NEVER
  }
  return v
})

const multiaddrString = z.string().regex(/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/[0-9]{1,5}$/, 'expected a TCP multiaddr like /ip4/127.0.0.1/tcp/9000')
const port = z.number().int().min(0).max(65535)
const positiveInt = z.number().int().positive()

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const PAYLOAD_MODES = ['batches', 'full-block'] as const
export type PayloadMode = (typeof PAYLOAD_MODES)[number]

/** Byzantine test behaviours of a validator's outbound traffic (src/node/byzantine.ts, spam.ts). */
export const BYZANTINE_MODES = ['silent', 'equivocate', 'double-vote', 'withhold-votes', 'invalid-signatures', 'spam'] as const
export type ByzantineMode = (typeof BYZANTINE_MODES)[number]

/** Consensus and dissemination parameters: every validator must run with the same values. */
const paramsSchema = z
  .object({
    payloadMode: z.enum(PAYLOAD_MODES).default('batches'),
    /** Txs per batch: large enough to amortise a gossip message, small enough to ship in ms. */
    batchSize: positiveInt.max(LIMITS.maxBatchTxs).default(500),
    /** A partly filled batch is sealed after this long, bounding added latency at low load. */
    maxBatchDelayMs: positiveInt.default(100),
    baseTimeoutMs: positiveInt.default(1_000),
    maxTimeoutMs: positiveInt.default(10_000),
    maxBlockBatches: positiveInt.max(LIMITS.maxBlockBatches).default(64),
    /** Txs per block in both payload modes (batches mode: whole batches while within it). */
    maxBlockTxs: positiveInt.max(LIMITS.maxBlockTxs).default(5_000),
    /**
     * This chain is a test network: its validators may run the byzantine test behaviours of
     * the node config (`byzantine`). Declared in genesis, which every validator shares, so a
     * production node config copied from a test setup is refused rather than misbehaving.
     */
    testing: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.maxTimeoutMs >= p.baseTimeoutMs, { message: 'maxTimeoutMs must be ≥ baseTimeoutMs', path: ['maxTimeoutMs'] })

export type ChainParams = z.output<typeof paramsSchema>

const genesisSchema = z
  .object({
    chainId: z.string().min(1).max(64),
    validators: z
      .array(
        z
          .object({
            index: z.number().int().min(0),
            publicKey: hexBytes(PUBLIC_KEY_BYTES),
            peerId: z.string().min(1),
            p2p: multiaddrString,
            http: z.url(),
          })
          .strict(),
      )
      .min(1)
      .max(LIMITS.maxValidators),
    accounts: z.array(z.object({ address: hexBytes(PUBLIC_KEY_BYTES), balance: u64String }).strict()),
    /** Accounts funded at genesis are `deriveSeed(accountsSeedLabel, i)` so load generators can sign. */
    accountsSeedLabel: z.string().min(1).optional(),
    params: paramsSchema.default(paramsSchema.parse({})),
  })
  .strict()
  .superRefine((g, ctx) => {
    g.validators.forEach((v, i) => {
      if (v.index !== i) ctx.addIssue({ code: 'custom', path: ['validators', i, 'index'], message: `expected ${i} (validators are listed in index order), got ${v.index}` })
    })
    const seen = new Map<string, number>()
    g.accounts.forEach((a, i) => {
      const key = toHex(a.address)
      const first = seen.get(key)
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['accounts', i, 'address'], message: `duplicate of accounts[${first}]` })
      else seen.set(key, i)
    })
  })

export type GenesisConfig = z.output<typeof genesisSchema>
export type GenesisFile = z.input<typeof genesisSchema>
export type ValidatorInfo = GenesisConfig['validators'][number]

const linkFaultsSchema = z
  .object({
    delayMs: z.number().min(0).default(0),
    jitterMs: z.number().min(0).default(0),
    lossRate: z.number().min(0).max(1).default(0),
  })
  .strict()

const nodeSchema = z
  .object({
    index: z.number().int().min(0),
    seed: hexBytes(SEED_BYTES),
    /** Path of genesis.json, relative to this config file. */
    genesis: z.string().min(1),
    /** LevelDB directory, relative to this config file. */
    dataDir: z.string().min(1),
    listen: multiaddrString,
    httpHost: z.string().min(1).default('127.0.0.1'),
    httpPort: port,
    /** Piscina threads for block execution; 0 executes on the main thread's sequential path. */
    executorWorkers: z.number().int().min(0).max(64).default(1),
    verifyWorkers: positiveInt.max(64).default(1),
    mempoolMaxTxs: positiveInt.default(200_000),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    /** Emulated faults on every outbound link of this validator (benchmark network profiles). */
    faults: linkFaultsSchema.optional(),
    /**
     * Seed of this validator's emulated-fault draws (loss, jitter), so a lossy run can be
     * replayed. Default: the validator index, so validators draw independent streams.
     */
    faultSeed: z.number().int().min(0).max(0xffff_ffff).optional(),
    /**
     * Test-only misbehaviour, so fault tests can run a byzantine validator as a real process.
     * Refused unless the genesis sets `params.testing: true` (checkByzantineOptIn).
     */
    byzantine: z
      .object({
        /** Sign votes without checking the voting rule (the consensus core's `brokenVoteRule`). */
        brokenVoteRule: z.boolean().default(false),
        /**
         * What the validator does to its own outbound consensus traffic: `silent` sends nothing,
         * `equivocate` proposes two conflicting blocks to two halves of its peers, `double-vote`
         * signs a second vote for a conflicting block id, `withhold-votes` never sends votes,
         * `invalid-signatures` corrupts every signature it sends, `spam` also floods every
         * protocol and topic with malformed and maximum-size messages (loopback testnets only).
         */
        mode: z.enum(BYZANTINE_MODES).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()

export type NodeConfig = z.output<typeof nodeSchema>
export type NodeConfigFile = z.input<typeof nodeSchema>

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing'
  const s = JSON.stringify(input)
  return s !== undefined && s.length <= 60 ? s : typeof input
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`
  return out === '' ? '(root)' : out
}

/** One zod issue as `field.path[2]: what was expected, got what`: how every config and request error names its field. */
export function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path)
  if (issue.code === 'invalid_type') {
    return `${where}: expected ${issue.expected}, got ${describeInput(issue.input)}`
  }
  if (issue.code === 'unrecognized_keys') return `${where}: unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
  return `${where}: ${issue.message}`
}

function parseWith<S extends z.ZodType>(schema: S, data: unknown, file: string): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true })
  if (!result.success) throw new ConfigError(file, result.error.issues.map(formatIssue).join('; '))
  return result.data
}

export function parseGenesis(data: unknown, file = 'genesis'): GenesisConfig {
  return parseWith(genesisSchema, data, file)
}

export function parseNodeConfig(data: unknown, file = 'node config'): NodeConfig {
  return parseWith(nodeSchema, data, file)
}

/**
 * Reads a JSON file, or TOML when the name ends in `.toml`. A missing file or a syntax error is
 * reported through `fail(fileName, message)`, so each caller throws its own error type.
 */
export async function readDataFile(path: string, fail: (file: string, message: string) => Error): Promise<unknown> {
  const name = basename(path)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw fail(name, `cannot read ${path}: ${(err as Error).message}`)
  }
  try {
    return path.endsWith('.toml') ? parseToml(text) : JSON.parse(text)
  } catch (err) {
    throw fail(name, `syntax error: ${(err as Error).message}`)
  }
}

const readConfigFile = (path: string): Promise<unknown> => readDataFile(path, (file, message) => new ConfigError(file, message))

export async function loadGenesis(path: string): Promise<GenesisConfig> {
  return parseGenesis(await readConfigFile(path), basename(path))
}

/** A node config with its genesis, paths resolved against the config file's directory. */
export interface LoadedConfig {
  readonly node: NodeConfig
  readonly genesis: GenesisConfig
  readonly configPath: string
}

/**
 * Loads a node config and its genesis, and checks that they belong together: the node's index
 * exists in genesis and its seed yields that validator's public key and peer id (a swapped seed
 * would otherwise surface later as every vote failing verification).
 */
export async function loadNodeConfig(path: string): Promise<LoadedConfig> {
  const configPath = resolve(path)
  const name = basename(configPath)
  const parsed = parseNodeConfig(await readConfigFile(configPath), name)
  const base = dirname(configPath)
  const node: NodeConfig = { ...parsed, genesis: resolve(base, parsed.genesis), dataDir: resolve(base, parsed.dataDir) }
  const genesis = await loadGenesis(node.genesis)
  checkNodeMatchesGenesis(node, genesis, name)
  checkByzantineOptIn(node, genesis, name)
  return { node, genesis, configPath }
}

const LOOPBACK_MULTIADDR = /^\/(ip4\/127\.[0-9.]+|ip6\/::1)\/tcp\//

/**
 * Byzantine behaviour needs the chain's explicit consent (genesis `params.testing`), and flooding
 * (`spam`) additionally needs every validator on loopback, so a misconfigured node cannot attack
 * a real network or saturate a shared link. Called at config load and again at node start.
 */
export function checkByzantineOptIn(node: NodeConfig, genesis: GenesisConfig, file: string): void {
  const byzantine = node.byzantine
  if (byzantine === undefined || (!byzantine.brokenVoteRule && byzantine.mode === undefined)) return
  const what = byzantine.mode !== undefined ? `byzantine.mode: "${byzantine.mode}"` : 'byzantine.brokenVoteRule: true'
  if (!genesis.params.testing) {
    throw new ConfigError(file, `${what} is refused: genesis ${genesis.chainId} does not set params.testing: true, and byzantine behaviour is for test networks only`)
  }
  if (byzantine.mode !== 'spam') return
  const remote = genesis.validators.filter((v) => !LOOPBACK_MULTIADDR.test(v.p2p))
  if (remote.length > 0) {
    throw new ConfigError(file, `${what} is refused: it floods peers and is allowed on loopback only, but validator ${remote[0]!.index} is at ${remote[0]!.p2p}`)
  }
}

export function checkNodeMatchesGenesis(node: NodeConfig, genesis: GenesisConfig, file: string): void {
  const v = genesis.validators[node.index]
  if (v === undefined) throw new ConfigError(file, `index: ${node.index} is not a validator of ${genesis.chainId} (n=${genesis.validators.length})`)
  const { publicKey } = keyPairFromSeed(node.seed)
  if (toHex(publicKey) !== toHex(v.publicKey)) {
    throw new ConfigError(file, `seed: derives public key ${toHex(publicKey)}, but genesis validator ${node.index} has ${toHex(v.publicKey)}`)
  }
  const peerId = peerIdFromSeed(node.seed)
  if (peerId !== v.peerId) throw new ConfigError(file, `seed: derives peer id ${peerId}, but genesis validator ${node.index} has ${v.peerId}`)
}

// ---------------------------------------------------------------- testnet generation

export interface TestnetOptions {
  readonly validators: number
  /** Funded accounts (their keys derive from `accountsSeedLabel`). */
  readonly accounts: number
  /** Validator i listens for p2p on basePort + i and for HTTP on baseHttpPort + i. */
  readonly basePort: number
  readonly baseHttpPort: number
  readonly dir: string
  readonly params?: Partial<ChainParams>
  readonly chainId?: string
  /** The run's seed: validator i gets `faultSeed` nodeFaultSeed(seed, i). Absent: the node default. */
  readonly faultSeed?: number
  /** Genesis balance of every funded account. */
  readonly accountBalance?: bigint
  /**
   * Host name validator i is reachable at (docker-compose service names, say). Default
   * 127.0.0.1; any other host makes the node listen on 0.0.0.0.
   */
  readonly hostOf?: (index: number) => string
  /** Overrides merged into every node config (log level, worker counts …). */
  readonly node?: Partial<Omit<NodeConfigFile, 'index' | 'seed' | 'genesis' | 'dataDir' | 'listen' | 'httpPort'>>
  /**
   * Validator i's key seed. Default: derived from the chain id, so the same options give the same
   * files; deployments (`bftlab compose`, `bftlab k8s`) pass fresh random seeds, so their keys
   * cannot be derived from anything public.
   */
  readonly validatorSeed?: (index: number) => Uint8Array
}

export interface TestnetConfigs {
  readonly genesisPath: string
  readonly nodeConfigPaths: readonly string[]
  readonly genesis: GenesisFile
  readonly nodes: readonly NodeConfigFile[]
}

/** Funded accounts of a generated testnet: enough senders that each carries only a few tx/s at the default load (nonce windows never throttle). */
export const DEFAULT_ACCOUNTS = 1_000
const LOCALHOST = '127.0.0.1'
const DEFAULT_ACCOUNT_BALANCE = 1_000_000_000_000n

export const validatorSeedLabel = (chainId: string): string => `bftlab/${chainId}/validator`
export const accountSeedLabel = (chainId: string): string => `bftlab/${chainId}/account`

/** Validator `index`'s fault seed in a run seeded `seed`: distinct per validator, the same on every replay. */
export function nodeFaultSeed(seed: number, index: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) + index) >>> 0
}

export function tcpMultiaddr(host: string, p: number): string {
  return `/${/^[0-9.]+$/.test(host) ? 'ip4' : 'dns4'}/${host}/tcp/${p}`
}

/**
 * Deterministic testnet: the same options always give byte-identical files, so `bftlab init`
 * is reproducible and a load generator can re-derive every account key from genesis alone.
 */
export function testnetConfigs(opts: Omit<TestnetOptions, 'dir'>): { genesis: GenesisFile; nodes: NodeConfigFile[] } {
  if (!Number.isInteger(opts.validators) || opts.validators < 1 || opts.validators > LIMITS.maxValidators) {
    throw new RangeError(`validators must be an integer in 1..${LIMITS.maxValidators}, got ${opts.validators}`)
  }
  if (!Number.isInteger(opts.accounts) || opts.accounts < 0) throw new RangeError(`accounts must be a non-negative integer, got ${opts.accounts}`)
  const lastPort = Math.max(opts.basePort, opts.baseHttpPort) + opts.validators - 1
  if (opts.basePort < 1 || opts.baseHttpPort < 1 || lastPort > 65535) {
    throw new RangeError(`ports ${opts.basePort}/${opts.baseHttpPort} + ${opts.validators} validators leave 1..65535`)
  }
  const chainId = opts.chainId ?? 'bftlab-local'
  const hostOf = opts.hostOf ?? (() => LOCALHOST)
  const balance = (opts.accountBalance ?? DEFAULT_ACCOUNT_BALANCE).toString()
  const seeds = Array.from({ length: opts.validators }, (_, i) => opts.validatorSeed?.(i) ?? deriveSeed(validatorSeedLabel(chainId), i))
  const accountsLabel = accountSeedLabel(chainId)
  const genesis: GenesisFile = {
    chainId,
    validators: seeds.map((seed, i) => ({
      index: i,
      publicKey: toHex(keyPairFromSeed(seed).publicKey),
      peerId: peerIdFromSeed(seed),
      p2p: tcpMultiaddr(hostOf(i), opts.basePort + i),
      http: `http://${hostOf(i)}:${opts.baseHttpPort + i}`,
    })),
    accounts: Array.from({ length: opts.accounts }, (_, i) => ({
      address: toHex(keyPairFromSeed(deriveSeed(accountsLabel, i)).publicKey),
      balance,
    })),
    accountsSeedLabel: accountsLabel,
    params: paramsSchema.parse(opts.params ?? {}),
  }
  const nodes: NodeConfigFile[] = seeds.map((seed, i) => {
    const local = hostOf(i) === LOCALHOST
    return {
      ...opts.node,
      index: i,
      seed: toHex(seed),
      genesis: 'genesis.json',
      dataDir: `data/node-${i}`,
      listen: tcpMultiaddr(local ? LOCALHOST : '0.0.0.0', opts.basePort + i),
      httpHost: local ? LOCALHOST : '0.0.0.0',
      httpPort: opts.baseHttpPort + i,
      ...(opts.faultSeed !== undefined ? { faultSeed: nodeFaultSeed(opts.faultSeed, i) } : {}),
    }
  })
  // Round-trip through the schemas so a generator bug fails here, not at node start.
  parseGenesis(genesis, 'generated genesis.json')
  nodes.forEach((n, i) => parseNodeConfig(n, `generated node-${i}.json`))
  return { genesis, nodes }
}

/** Writes `genesis.json` and `node-<i>.json` into `dir` (created if needed). Backs `bftlab init`. */
export async function makeTestnetConfigs(opts: TestnetOptions): Promise<TestnetConfigs> {
  const { genesis, nodes } = testnetConfigs(opts)
  const dir = resolve(opts.dir)
  await mkdir(dir, { recursive: true })
  const genesisPath = join(dir, 'genesis.json')
  await writeFile(genesisPath, JSON.stringify(genesis, null, 2) + '\n')
  const nodeConfigPaths: string[] = []
  for (const [i, n] of nodes.entries()) {
    const path = join(dir, `node-${i}.json`)
    await writeFile(path, JSON.stringify(n, null, 2) + '\n')
    nodeConfigPaths.push(path)
  }
  return { genesisPath, nodeConfigPaths, genesis, nodes }
}

/** Key pair of funded account i of a genesis made by `testnetConfigs`. */
export function genesisAccountKeyPair(genesis: Pick<GenesisConfig, 'accountsSeedLabel' | 'chainId'>, i: number) {
  if (genesis.accountsSeedLabel === undefined) throw new ConfigError('genesis', `accountsSeedLabel: absent, account keys of ${genesis.chainId} are not derivable`)
  return keyPairFromSeed(deriveSeed(genesis.accountsSeedLabel, i))
}
