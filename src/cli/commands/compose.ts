import type { Command } from 'commander'
import { LIMITS } from '../../core/limits.ts'
import { DEFAULT_ACCOUNTS, DEFAULT_LOAD, HTTP_PORT, P2P_PORT } from '../../testnet/deploy.ts'
import { DEFAULT_FIRST_LOOPBACK, loopbackAddress, writeComposeProject } from '../../testnet/compose.ts'
import { integer, number, oneOf } from '../options.ts'

const NETWORKS = ['bridge', 'host'] as const

interface ComposeFlags {
  validators: number
  out: string
  network: (typeof NETWORKS)[number]
  swarm?: boolean
  image: string
  accounts: number
  firstAddress: string
  p2pPort: number
  httpPort: number
  rate: number
  duration: number
  warmup: number
}

export function registerComposeCommand(program: Command): void {
  program
    .command('compose')
    .description('write a docker-compose file + configs (fresh validator keys) for N validators, a load generator, Prometheus and Grafana')
    .requiredOption('--validators <n>', 'number of validators', integer(1, LIMITS.maxValidators))
    .option('--out <file>', 'compose file to write (configs go to configs/ beside it)', 'docker-compose.yml')
    .option('--network <mode>', `bridge: a bridge network with a static address per validator; host: the host's network, validator i on loopback address --first-address + i (one machine, no container network)`, oneOf(NETWORKS), 'bridge')
    .option('--swarm', 'docker stack deploy variant: overlay network, DNS addresses, deploy: keys with placement, no build:')
    .option('--image <ref>', 'image for every bftlab service (Swarm: a registry reference every host can pull)', 'bftlab:latest')
    .option('--accounts <k>', 'funded accounts in genesis', integer(1, 10_000_000), DEFAULT_ACCOUNTS)
    .option('--first-address <ip>', "--network host: validator 0's loopback address", DEFAULT_FIRST_LOOPBACK)
    .option('--p2p-port <p>', 'libp2p port every validator listens on', integer(1, 65_535), P2P_PORT)
    .option('--http-port <p>', 'HTTP API and /metrics port every validator listens on', integer(1, 65_535), HTTP_PORT)
    .option('--rate <tx/s>', "load generator's offered load", number(0, { exclusive: true }), DEFAULT_LOAD.rate)
    .option('--duration <s>', "load generator's seconds of load, warm-up included", number(0, { exclusive: true }), DEFAULT_LOAD.durationS)
    .option('--warmup <s>', "load generator's seconds excluded from its figures", number(0), DEFAULT_LOAD.warmupS)
    .action(async (flags: ComposeFlags, command: Command) => {
      if (flags.swarm === true && flags.network === 'host') command.error('error: --swarm and --network host exclude each other (Swarm services run on an overlay network)')
      if (flags.warmup >= flags.duration) command.error(`error: --warmup ${flags.warmup} must be shorter than --duration ${flags.duration}`)
      if (flags.p2pPort === flags.httpPort) command.error(`error: --p2p-port and --http-port are both ${flags.p2pPort}`)
      if (flags.network === 'host') {
        try {
          loopbackAddress(flags.firstAddress, flags.validators - 1)
        } catch (err) {
          command.error(`error: --first-address: ${(err as Error).message}`)
        }
      }
      const written = await writeComposeProject({
        validators: flags.validators,
        out: flags.out,
        variant: flags.swarm === true ? 'swarm' : flags.network,
        image: flags.image,
        accounts: flags.accounts,
        firstAddress: flags.firstAddress,
        p2pPort: flags.p2pPort,
        httpPort: flags.httpPort,
        load: { rate: flags.rate, durationS: flags.duration, warmupS: flags.warmup },
      })
      for (const path of written) console.log(`wrote ${path}`)
    })
}
