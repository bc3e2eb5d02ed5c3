import type { Command } from 'commander'
import { LIMITS } from '../../core/limits.ts'
import { LOG_LEVELS, PAYLOAD_MODES, type LogLevel, type PayloadMode } from '../../node/config.ts'
import { runTestnet } from '../../testnet/testnet.ts'
import { integer, number, oneOf } from '../options.ts'
import { DEFAULT_ACCOUNTS } from './init.ts'
import { interruptSignal } from '../interrupt.ts'

/**
 * `npm start` defaults: 4 validators (the smallest n = 3f+1 with f = 1) for 30 s at 2000 tx/s,
 * a rate near what this 2-core machine sustains with 4 validators sharing it.
 */
export const TESTNET_DEFAULTS = { validators: 4, durationS: 30, rate: 2_000, warmupS: 5 } as const

interface TestnetFlags {
  validators: number
  duration: number
  rate: number
  warmup: number
  accounts: number
  payload: PayloadMode
  dir?: string
  json?: string
  keep?: boolean
  basePort?: number
  logLevel: LogLevel
}

export function registerTestnetCommand(program: Command): void {
  program
    .command('testnet')
    .description('run a local multi-process testnet on 127.0.0.1 under open-loop load; live table, then a summary')
    .option('--validators <n>', 'number of validator processes', integer(1, LIMITS.maxValidators), TESTNET_DEFAULTS.validators)
    .option('--duration <s>', 'seconds of load, warm-up included', number(0, { exclusive: true }), TESTNET_DEFAULTS.durationS)
    .option('--rate <tx/s>', 'offered load', number(0, { exclusive: true }), TESTNET_DEFAULTS.rate)
    .option('--warmup <s>', 'seconds at the start excluded from the figures', number(0), TESTNET_DEFAULTS.warmupS)
    .option('--accounts <k>', 'funded accounts the load is spread over', integer(1, 10_000_000), DEFAULT_ACCOUNTS)
    .option('--payload <mode>', `block payload: ${PAYLOAD_MODES.join(' or ')}`, oneOf(PAYLOAD_MODES), 'batches')
    .option('--dir <dir>', 'keep configs, data and logs here (default: a temp dir, deleted afterwards)')
    .option('--keep', 'keep the temp dir')
    .option('--json <file>', 'write the result document (DESIGN §12) here')
    .option('--base-port <p>', 'first p2p port (HTTP follows the p2p range); default: a free range', integer(1, 65_535))
    .option('--log-level <level>', 'validator log level', oneOf(LOG_LEVELS), 'info')
    .action(async (flags: TestnetFlags, command: Command) => {
      if (flags.warmup >= flags.duration) command.error(`error: --warmup ${flags.warmup} must be shorter than --duration ${flags.duration}`)
      if (flags.basePort !== undefined && flags.basePort + 2 * flags.validators - 1 > 65_535) {
        command.error(`error: --base-port ${flags.basePort} leaves no room for ${2 * flags.validators} ports below 65536`)
      }
      const interrupt = interruptSignal('stopping the testnet')
      try {
        await runTestnet(
          {
            validators: flags.validators,
            durationS: flags.duration,
            rate: flags.rate,
            warmupS: flags.warmup,
            accounts: flags.accounts,
            payload: flags.payload,
            keep: flags.keep === true,
            logLevel: flags.logLevel,
            ...(flags.dir !== undefined ? { dir: flags.dir } : {}),
            ...(flags.json !== undefined ? { json: flags.json } : {}),
            ...(flags.basePort !== undefined ? { basePort: flags.basePort } : {}),
          },
          { out: (line) => console.log(line), signal: interrupt.signal },
        )
      } finally {
        interrupt.dispose()
      }
    })
}
