import type { Command } from 'commander'
import { LIMITS } from '../../core/limits.ts'
import { DEFAULT_ACCOUNTS, LOG_LEVELS, PAYLOAD_MODES, type LogLevel, type PayloadMode } from '../../node/config.ts'
import { COMPACT_SYNTAX_HELP, formatStep, readSchedule } from '../../testnet/perturbation-schedule.ts'
import { runTestnet } from '../../testnet/testnet.ts'
import { integer, number, oneOf } from '../options.ts'
import { interruptSignal } from '../interrupt.ts'

/**
 * `npm start` defaults: 4 validators (the smallest n = 3f+1 with f = 1) for 30 s at 5000 tx/s.
 * The 2-core reference machine sustains ≈ 6,600–6,900 tx/s with 4 validators sharing it, with
 * p50 < 1 s end to end up to ≈ 6,000–6,500 (docs/decisions.md, "Third pass"); 5000 shows a
 * loaded chain with headroom for a busier machine.
 */
export const TESTNET_DEFAULTS = { validators: 4, durationS: 30, offeredTps: 5_000, warmupS: 5 } as const

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
  perturb?: string
  acks?: string
  rebroadcast?: number
  seed?: number
}

/**
 * Resubmission interval under `--perturb`: a few commit latencies (about 1 s here under load),
 * so txs a crashed validator lost come back soon, while txs merely slowed by a fault are not
 * resubmitted many times over.
 */
const PERTURBED_REBROADCAST_S = 5

export function registerTestnetCommand(program: Command): void {
  program
    .command('testnet')
    .description('run a local multi-process testnet on 127.0.0.1 under open-loop load; live table, then a summary')
    .option('--validators <n>', 'number of validator processes', integer(1, LIMITS.maxValidators), TESTNET_DEFAULTS.validators)
    .option('--duration <s>', 'seconds of load, warm-up included', number(0, { exclusive: true }), TESTNET_DEFAULTS.durationS)
    .option('--rate <tx/s>', 'offered load', number(0, { exclusive: true }), TESTNET_DEFAULTS.offeredTps)
    .option('--warmup <s>', 'seconds at the start excluded from the figures', number(0), TESTNET_DEFAULTS.warmupS)
    .option('--accounts <k>', 'funded accounts the load is spread over', integer(1, 10_000_000), DEFAULT_ACCOUNTS)
    .option('--payload <mode>', `block payload: ${PAYLOAD_MODES.join(' or ')}`, oneOf(PAYLOAD_MODES), 'batches')
    .option('--dir <dir>', 'keep configs, data and logs here (default: a temp dir, deleted afterwards)')
    .option('--keep', 'keep the temp dir')
    .option('--json <file>', 'write the result document (docs/design.md §12) here')
    .option('--base-port <p>', 'first p2p port (HTTP follows the p2p range); default: a free range', integer(1, 65_535))
    .option('--log-level <level>', 'validator log level', oneOf(LOG_LEVELS), 'info')
    .option('--perturb <schedule|file>', COMPACT_SYNTAX_HELP)
    .option('--acks <file>', 'write the hashes of every tx a validator accepted here (JSON array), for `bftlab check --acks`')
    .option('--seed <n>', "seed of the validators' emulated-fault draws (loss, jitter) under --perturb; default: each validator's index", integer(0, 0xffff_ffff))
    .option('--rebroadcast <s>', `resubmit an accepted tx not committed after this many seconds (default: ${PERTURBED_REBROADCAST_S} with --perturb, else never)`, number(0, { exclusive: true }))
    .action(async (flags: TestnetFlags, command: Command) => {
      if (flags.warmup >= flags.duration) command.error(`error: --warmup ${flags.warmup} must be shorter than --duration ${flags.duration}`)
      if (flags.basePort !== undefined && flags.basePort + 2 * flags.validators - 1 > 65_535) {
        command.error(`error: --base-port ${flags.basePort} leaves no room for ${2 * flags.validators} ports below 65536`)
      }
      const perturbations = flags.perturb === undefined ? undefined : await readSchedule(flags.perturb, flags.validators).catch((err: unknown) => command.error(`error: ${(err as Error).message}`))
      const late = perturbations?.find((step) => step.at >= flags.duration)
      if (late !== undefined) command.error(`error: --perturb step ${formatStep(late)} starts at ${late.at} s, after the load ends (--duration ${flags.duration})`)
      const rebroadcastS = flags.rebroadcast ?? (perturbations !== undefined ? PERTURBED_REBROADCAST_S : undefined)
      const interrupt = interruptSignal('stopping the testnet')
      try {
        await runTestnet(
          {
            validators: flags.validators,
            durationS: flags.duration,
            offeredTps: flags.rate,
            warmupS: flags.warmup,
            accounts: flags.accounts,
            payload: flags.payload,
            keep: flags.keep === true,
            logLevel: flags.logLevel,
            ...(flags.dir !== undefined ? { dir: flags.dir } : {}),
            ...(flags.json !== undefined ? { json: flags.json } : {}),
            ...(flags.basePort !== undefined ? { basePort: flags.basePort } : {}),
            ...(perturbations !== undefined ? { perturbations } : {}),
            ...(flags.acks !== undefined ? { acks: flags.acks } : {}),
            ...(rebroadcastS !== undefined ? { rebroadcastS } : {}),
            ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
          },
          { out: (line) => console.log(line), signal: interrupt.signal },
        )
      } finally {
        interrupt.dispose()
      }
    })
}
