import type { Command } from 'commander'
import { loadGenesis } from '../../node/config.ts'
import { genesisAccounts, withChainNonces } from '../../testnet/accounts.ts'
import { writeAcks } from '../../testnet/check.ts'
import { describeEnvironment, measureVerifiesPerSec } from '../../core/environment.ts'
import { runLoad } from '../../testnet/load.ts'
import { presignTransfers } from '../../testnet/presign.ts'
import { formatLiveSecond, formatSummary, liveHeader, loadPoint, writeResultJson, type ResultDocument } from '../../testnet/report.ts'
import { interruptSignal } from '../interrupt.ts'
import { number, urlList } from '../options.ts'

interface LoadFlags {
  targets?: string[]
  events?: string[]
  rate: number
  duration: number
  warmup: number
  accountsFrom: string
  json?: string
  acks?: string
  rebroadcast?: number
}

export function registerLoadCommand(program: Command): void {
  program
    .command('load')
    .description("open-loop load against running validators: pre-signed transfers from genesis accounts, commit times from /events")
    .requiredOption('--rate <tx/s>', 'offered load', number(0, { exclusive: true }))
    .requiredOption('--duration <s>', 'seconds of load, warm-up included', number(0, { exclusive: true }))
    .option('--targets <urls>', "comma-separated validator HTTP URLs (default: every validator in genesis)", urlList)
    .option('--events <urls>', 'validators whose /events time commits (default: the targets)', urlList)
    .option('--warmup <s>', 'seconds at the start excluded from the figures', number(0), 0)
    .option('--accounts-from <genesis>', 'genesis.json whose funded accounts sign the load', 'genesis.json')
    .option('--json <file>', 'write the result document (docs/design.md §12) here')
    .option('--acks <file>', 'write the hashes of every tx a validator accepted here (JSON array), for `bftlab check --acks`')
    .option('--rebroadcast <s>', 'resubmit an accepted tx not committed after this many seconds (survives a validator crash losing its mempool)', number(0, { exclusive: true }))
    .action(async (flags: LoadFlags, command: Command) => {
      if (flags.warmup >= flags.duration) command.error(`error: --warmup ${flags.warmup} must be shorter than --duration ${flags.duration}`)
      const genesis = await loadGenesis(flags.accountsFrom)
      const targets = flags.targets ?? genesis.validators.map((v) => v.http)
      const signers = genesisAccounts(genesis, flags.accountsFrom)
      if (signers.length < targets.length) {
        command.error(`error: ${signers.length} genesis accounts cannot cover ${targets.length} targets (each account submits to one target)`)
      }
      const env = describeEnvironment(measureVerifiesPerSec())
      const accounts = await withChainNonces(targets[0]!, signers)
      const txs = await presignTransfers(accounts, Math.ceil(flags.rate * flags.duration))
      const interrupt = interruptSignal('stopping the load')
      try {
        console.log(liveHeader())
        const load = await runLoad({
          targets,
          ...(flags.events !== undefined ? { eventSources: flags.events } : {}),
          offeredTps: flags.rate,
          durationS: flags.duration,
          warmupS: flags.warmup,
          txs,
          ...(flags.rebroadcast !== undefined ? { rebroadcastAfterS: flags.rebroadcast } : {}),
          signal: interrupt.signal,
          onSecond: (s) => console.log(formatLiveSecond(s)),
        })
        const config = { command: 'load', targets, offeredTps: flags.rate, durationS: flags.duration, warmupS: flags.warmup, accounts: accounts.length }
        const doc: ResultDocument = { config, env, points: [loadPoint(genesis.validators.length, load, env)] }
        console.log(formatSummary(doc, doc.points[0]!))
        if (flags.json !== undefined) {
          await writeResultJson(flags.json, doc)
          console.log(`result written to ${flags.json}`)
        }
        if (flags.acks !== undefined) {
          await writeAcks(flags.acks, load.acknowledged)
          console.log(`${load.acknowledged.length} acknowledged tx hashes written to ${flags.acks}`)
        }
      } finally {
        interrupt.dispose()
      }
    })
}
