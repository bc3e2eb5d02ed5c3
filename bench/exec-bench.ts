import { Command } from 'commander'
import { registerExecBenchCommand } from '../src/execution/bench-cli.ts'

/** `npx node bench/exec-bench.ts [--quick] [flags]`: exec-bench without the bftlab CLI. */
const program = new Command('exec-bench-runner')
registerExecBenchCommand(program)
await program.parseAsync(['exec-bench', ...process.argv.slice(2)], { from: 'user' })
