import { randomSeed } from '../core/keys.ts'
import { parseGenesis, parseNodeConfig, tcpMultiaddr, testnetConfigs, type GenesisFile, type NodeConfigFile } from '../node/config.ts'

/**
 * Genesis and node configs for validators that run in containers (`bftlab compose`, `bftlab k8s`):
 * each validator has an address of its own, so all listen on the same ports, and keeps its
 * LevelDB where its volume is mounted.
 *
 * Validator keys are drawn at random for every generation: unlike `bftlab init`'s reproducible
 * keys (derived from the chain id), nobody can re-derive them from the published genesis, and
 * they exist only in the output the generator writes (node configs, a Secret), never in the
 * image or the repository. Funded accounts stay derivable from genesis on purpose: that is how
 * a load generator signs for them.
 */

/** Ports inside each container (every container has its own address, so validators need no offsets). */
export const P2P_PORT = 9000
export const HTTP_PORT = 8000
/** Where the image keeps a validator's LevelDB (a volume per validator is mounted there). */
export const DATA_DIR_IN_IMAGE = '/data'
/** Where the image keeps a load generator's result files (a volume is mounted there). */
export const RESULTS_DIR_IN_IMAGE = '/app/results'
/** Funded accounts in a generated genesis: enough for the load generator to spread nonces over. */
export const DEFAULT_ACCOUNTS = 1_000
/** Open-loop load the generated load generator offers. */
export const DEFAULT_LOAD = { rate: 1_000, durationS: 120, warmupS: 10 } as const
/**
 * The generated load generator resubmits a tx not committed after this many seconds: a
 * validator container that is killed loses the txs in its mempool, and a deployment is where
 * containers get killed and restarted. Several commit latencies under load (about 1 s).
 */
export const LOAD_REBROADCAST_S = 5

export interface LoadSettings {
  readonly rate: number
  readonly durationS: number
  readonly warmupS: number
}

/** Where validator i is reached and what it binds. */
export interface Placement {
  /** Host name or IPv4 address peers and clients dial (DNS names become /dns4/ addresses). */
  readonly advertise: string
  /** Address the validator binds its p2p and HTTP listeners to. */
  readonly listen: string
}

export interface DeploymentOptions {
  readonly validators: number
  readonly accounts: number
  readonly chainId: string
  readonly placement: (index: number) => Placement
  readonly p2pPort: number
  readonly httpPort: number
  /** Path of genesis.json as the validator sees it (absolute, or relative to its node config). */
  readonly genesisPath: string
}

export function deploymentConfigs(opts: DeploymentOptions): { genesis: GenesisFile; nodes: NodeConfigFile[] } {
  const base = testnetConfigs({
    validators: opts.validators,
    accounts: opts.accounts,
    basePort: opts.p2pPort,
    baseHttpPort: opts.httpPort,
    chainId: opts.chainId,
    validatorSeed: () => randomSeed(),
  })
  const genesis: GenesisFile = {
    ...base.genesis,
    validators: base.genesis.validators.map((v, i) => {
      const { advertise } = opts.placement(i)
      return { ...v, p2p: tcpMultiaddr(advertise, opts.p2pPort), http: `http://${advertise}:${opts.httpPort}` }
    }),
  }
  const nodes: NodeConfigFile[] = base.nodes.map((node, i) => {
    const { listen } = opts.placement(i)
    return { ...node, genesis: opts.genesisPath, listen: tcpMultiaddr(listen, opts.p2pPort), httpHost: listen, httpPort: opts.httpPort, dataDir: DATA_DIR_IN_IMAGE }
  })
  // Re-validated after the overrides above, so a generator bug fails here and not in a container.
  parseGenesis(genesis, 'generated genesis.json')
  nodes.forEach((node, i) => parseNodeConfig(node, `generated node-${i}.json`))
  return { genesis, nodes }
}

/** The load generator's arguments inside a container: the whole genesis as targets, results into the results volume. */
export function loadArgs(genesisPath: string, load: LoadSettings): string[] {
  return [
    'load',
    '--accounts-from',
    genesisPath,
    '--rate',
    String(load.rate),
    '--duration',
    String(load.durationS),
    '--warmup',
    String(load.warmupS),
    '--rebroadcast',
    String(LOAD_REBROADCAST_S),
    '--json',
    `${RESULTS_DIR_IN_IMAGE}/load.json`,
    '--acks',
    `${RESULTS_DIR_IN_IMAGE}/acks.json`,
  ]
}

/** The image has node but no curl or wget: health is one fetch of /status. */
export const statusProbe = (url: string): string => `fetch('${url}/status').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`
