#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { registerBenchCommand } from './commands/bench.ts'
import { registerCheckCommand } from './commands/check.ts'
import { registerComposeCommand } from './commands/compose.ts'
import { registerExecBenchCommand } from './commands/exec-bench.ts'
import { registerInitCommand } from './commands/init.ts'
import { registerK8sCommand } from './commands/k8s.ts'
import { registerLoadCommand } from './commands/load.ts'
import { registerNodeCommand } from './commands/node.ts'
import { registerSimCommand } from './commands/sim.ts'
import { registerTestnetCommand } from './commands/testnet.ts'

/**
 * `bftlab`: parses flags and hands over to the modules (docs/design.md, "Commands"). Each
 * command is a thin adapter in its own file under `src/cli/commands/`, so adding a command is
 * one file, one import and one call below.
 *
 * Exit codes: 0 success, 1 the command failed, 2 usage error (unknown flag, bad value,
 * missing required option), 130 interrupted twice.
 */

export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

function buildProgram(): Command {
  const program = new Command('bftlab')
    .description('BFT consensus testbed: 2-chain HotStuff validators, local testnets, load, simulation, benchmarks')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
  registerInitCommand(program)
  registerNodeCommand(program)
  registerTestnetCommand(program)
  registerLoadCommand(program)
  registerCheckCommand(program)
  registerComposeCommand(program)
  registerK8sCommand(program)
  registerBenchCommand(program)
  registerSimCommand(program)
  registerExecBenchCommand(program)
  exitWithUsageCodes(program)
  return program
}

/**
 * Commander exits by itself on a usage error; overriding makes it throw instead, on every
 * subcommand however it was registered, so `main` can map usage errors to exit code 2.
 */
function exitWithUsageCodes(command: Command): void {
  command.exitOverride()
  for (const sub of command.commands) exitWithUsageCodes(sub)
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" with exit code 0; commander already printed every message.
      return err.exitCode === 0 ? 0 : EXIT_USAGE
    }
    console.error(`bftlab: ${err instanceof Error ? err.message : String(err)}`)
    if (process.env.BFTLAB_DEBUG !== undefined && err instanceof Error) console.error(err.stack)
    return EXIT_FAILURE
  }
}

process.exitCode = await main(process.argv)
