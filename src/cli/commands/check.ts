import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { formatCheckReport, readAcks, runCheck } from '../../testnet/check.ts'

export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('verify a testnet run: chain agreement, no lost or doubly executed tx, conserved supply and nonces, no double signing')
    .requiredOption('--dir <dir>', 'testnet directory (genesis.json, node-<i>.json, data dirs, node-<i>.log)')
    .option('--live', 'read running nodes through their HTTP API instead of their stopped data dirs')
    .option('--acks <file>', 'JSON array of tx hashes the API accepted: each must be committed once or failed with a reason')
    .option('--json <file>', 'write the report as JSON here')
    .action(async (flags: { dir: string; live?: boolean; acks?: string; json?: string }) => {
      const acks = flags.acks === undefined ? undefined : await readAcks(flags.acks)
      const report = await runCheck({ dir: flags.dir, live: flags.live === true, ...(acks !== undefined ? { acks } : {}) })
      console.log(formatCheckReport(report))
      if (flags.json !== undefined) await writeFile(flags.json, JSON.stringify(report, null, 2) + '\n')
      // A thrown error makes the CLI exit with code 1 (src/cli/bftlab.ts).
      if (!report.ok) throw new Error(`check failed: ${report.checks.filter((c) => c.status === 'fail').map((c) => c.name).join(', ')}`)
    })
}
