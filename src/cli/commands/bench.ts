import { mkdir, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { Command } from 'commander'
import { interruptSignal } from '../interrupt.ts'
import { describeEnvironment, measureVerifiesPerSec } from '../../core/environment.ts'
import { experimentFromFlags, readExperimentFile, type ExperimentFlags } from '../../bench/experiment.ts'
import { SIM_PAYLOAD_MODES, simPointRunner, testnetPointRunner } from '../../bench/point-runners.ts'
import { writeBenchOutput } from '../../bench/results.ts'
import { runBench } from '../../bench/runner.ts'

/** Where results go without --out: one folder per experiment name. */
export const DEFAULT_RESULTS_DIR = 'bench/results'

interface BenchFlags extends ExperimentFlags {
  experiment?: string
  sim?: boolean
  out?: string
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('sweep validator counts × offered load on local testnets (and optionally the simulator): results.json, results.csv, SVG plots, report.md')
    .option('--experiment <file>', 'experiment file (.toml or .json, see configs/experiments/); the flags below override its fields')
    .option('--validators <list>', 'validator counts, e.g. 4,7,10')
    .option('--rates <list|saturate>', 'offered tx/s per point, e.g. 1000,2000, or "saturate" to step the rate up until the system stops keeping up')
    .option('--payload-modes <list>', 'batches, full-block or both (comma-separated)')
    .option('--duration <s>', 'measured seconds per run (after warm-up)')
    .option('--warmup <s>', 'seconds of load before measuring')
    .option('--runs <k>', 'repetitions per point (mean ± stdev)')
    .option('--name <name>', 'experiment name (names the default output folder)')
    .option('--sim', 'also run the sweep through the simulator, for the same counts and for sim.validators (default 64,128,256 on a WAN profile)')
    .option('--out <dir>', `output folder (default ${DEFAULT_RESULTS_DIR}/<name>)`)
    .action(async (flags: BenchFlags, command: Command) => {
      if (flags.experiment === undefined && flags.validators === undefined) {
        command.error('error: give --experiment <file>, or --validators and --rates (e.g. --validators 4,7,10 --rates 1000,2000)')
      }
      const experiment =
        flags.experiment === undefined
          ? experimentFromFlags(flags)
          : experimentFromFlags(flags, await readExperimentFile(flags.experiment), basename(flags.experiment))
      const out = flags.out ?? join(DEFAULT_RESULTS_DIR, experiment.name)
      const testnetLog = join(out, 'testnet.log')
      await mkdir(out, { recursive: true })
      await writeFile(testnetLog, '')
      console.error(`bench ${experiment.name}: measuring this machine's verify rate …`)
      // Measured before any validator runs, so the probe has the cores to itself.
      const env = describeEnvironment(measureVerifiesPerSec())
      const interrupt = interruptSignal('stopping the benchmark after the current run; partial results will be written')
      try {
        const results = await runBench({
          experiment,
          env,
          runTestnetPoint: testnetPointRunner(testnetLog, env, interrupt.signal),
          ...(flags.sim === true ? { sim: { runPoint: simPointRunner(experiment, env), payloadModes: SIM_PAYLOAD_MODES } } : {}),
          signal: interrupt.signal,
        })
        for (const path of await writeBenchOutput(out, results)) console.log(`wrote ${path}`)
      } finally {
        interrupt.dispose()
      }
    })
}
