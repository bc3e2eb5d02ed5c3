import type { Command } from 'commander'
import { LIMITS } from '../../core/limits.ts'
import { DEFAULT_ACCOUNTS, PAYLOAD_MODES, makeTestnetConfigs, type PayloadMode } from '../../node/config.ts'
import { integer, oneOf } from '../options.ts'

export const DEFAULT_BASE_PORT = 9_000

interface InitFlags {
  validators: number
  dir: string
  accounts: number
  basePort: number
  payload: PayloadMode
}

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('write keys, genesis.json and node-<i>.json for a local testnet (p2p ports P…P+N−1, HTTP ports P+N…P+2N−1)')
    .requiredOption('--validators <n>', 'number of validators', integer(1, LIMITS.maxValidators))
    .requiredOption('--dir <dir>', 'output directory (created if needed)')
    .option('--accounts <k>', 'funded genesis accounts', integer(1, 10_000_000), DEFAULT_ACCOUNTS)
    .option('--base-port <p>', 'first p2p port', integer(1, 65_535), DEFAULT_BASE_PORT)
    .option('--payload <mode>', `block payload: ${PAYLOAD_MODES.join(' or ')}`, oneOf(PAYLOAD_MODES), 'batches')
    .action(async (flags: InitFlags, command: Command) => {
      if (flags.basePort + 2 * flags.validators - 1 > 65_535) {
        command.error(`error: --base-port ${flags.basePort} leaves no room for ${2 * flags.validators} ports (p2p and HTTP) below 65536`)
      }
      const out = await makeTestnetConfigs({
        validators: flags.validators,
        accounts: flags.accounts,
        basePort: flags.basePort,
        baseHttpPort: flags.basePort + flags.validators,
        dir: flags.dir,
        params: { payloadMode: flags.payload },
      })
      console.log(`wrote ${out.genesisPath} (${flags.validators} validators, ${flags.accounts} accounts, ${flags.payload} payload)`)
      for (const [i, path] of out.nodeConfigPaths.entries()) console.log(`wrote ${path} (HTTP ${out.genesis.validators[i]!.http})`)
    })
}
