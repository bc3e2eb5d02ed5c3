import { readdir, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { CommanderError, type Command } from 'commander'
import { interruptSignal } from '../interrupt.ts'
import { describeEnvironment, measureVerifiesPerSec } from '../../core/environment.ts'
import { ExperimentError, experimentFromFlags, readExperimentFile, type Experiment, type ExperimentFlags } from '../../bench/experiment.ts'
import { SIM_PAYLOAD_MODES, simSeriesRunner, testnetSeriesRunner } from '../../bench/point-runners.ts'
import { StagedOutput, writeBenchOutput } from '../../bench/results.ts'
import { runBench, simPayloadModes } from '../../bench/runner.ts'

/** Where results go without --out: one folder per experiment name. */
export const DEFAULT_RESULTS_DIR = 'bench/results'

interface BenchFlags extends ExperimentFlags {
  experiment?: string
  sim?: boolean
  out?: string
}

/** Everything the flags decide, checked before any process starts or any file is written. */
async function experimentOf(flags: BenchFlags): Promise<Experiment> {
  if (flags.experiment === undefined) return experimentFromFlags(flags)
  return experimentFromFlags(flags, await readExperimentFile(flags.experiment), basename(flags.experiment))
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('capacity (or fixed-rate) sweeps over validator counts on local testnets, optionally the simulator too: results.json, results.csv, SVG plots, report.md')
    .option('--experiment <file>', 'experiment file (.toml or .json, see configs/experiments/); the flags below override its fields')
    .option('--validators <list>', 'validator counts, e.g. 4,7,10')
    .option('--rates <list|capacity>', 'offered tx/s per point, e.g. 1000,2000, or "capacity" to search each series for its capacity')
    .option('--payload-modes <list>', 'batches, full-block or both (comma-separated)')
    .option('--duration <s>', 'measured seconds per run (after warm-up)')
    .option('--warmup <s>', 'seconds of load before measuring')
    .option('--runs <k>', 'repetitions of each rate of a fixed list (mean ± stdev)')
    .option('--latency-cap <ms>', 'p50 latency a rate must stay under to count towards capacity (and the p99 cap of the latency-cap plot); default 1000')
    .option('--start-tps <tx/s>', 'capacity search: first rate tried (default: a fraction of the verify bound)')
    .option('--min-tps <tx/s>', 'capacity search: lowest rate halving may reach (default 50)')
    .option('--max-tps <tx/s>', 'capacity search: highest rate doubling may reach (default 64000)')
    .option('--final-runs <k>', 'capacity search: runs at the rate found (≥ 3, default 3)')
    .option('--name <name>', 'experiment name (names the default output folder)')
    .option('--sim', 'also run the sweep through the simulator, for the same counts and for sim.validators (default 64,128,256 on a WAN profile)')
    .option('--out <dir>', `output folder (default ${DEFAULT_RESULTS_DIR}/<name>); replaced only once the sweep has finished`)
    .action(async (flags: BenchFlags, command: Command) => {
      if (flags.experiment === undefined && flags.validators === undefined) {
        command.error('error: give --experiment <file>, or --validators and --rates (e.g. --validators 4,7,10 --rates capacity)', { exitCode: 2 })
      }
      let experiment: Experiment
      try {
        experiment = await experimentOf(flags)
        if (flags.sim === true) simPayloadModes(experiment, SIM_PAYLOAD_MODES)
      } catch (err) {
        // Bad input: nothing has started and nothing is written.
        if (err instanceof ExperimentError) command.error(`error: ${(err as Error).message}`, { exitCode: 2 })
        throw err
      }
      const output = await StagedOutput.create(flags.out ?? join(DEFAULT_RESULTS_DIR, experiment.name))
      const testnetLog = join(output.dir, 'testnet.log')
      await writeFile(testnetLog, '')
      console.error(`bench ${experiment.name}: measuring this machine's verify rate …`)
      // Measured before any validator runs, so the probe has the cores to itself.
      const env = describeEnvironment(measureVerifiesPerSec())
      const interrupt = interruptSignal('stopping the benchmark after the current run; partial results will be written')
      try {
        const results = await runBench({
          experiment,
          env,
          openTestnetSeries: testnetSeriesRunner(experiment, testnetLog, env, interrupt.signal),
          ...(flags.sim === true ? { sim: { openSeries: simSeriesRunner(experiment, env), payloadModes: SIM_PAYLOAD_MODES } } : {}),
          signal: interrupt.signal,
        })
        await writeBenchOutput(output.dir, results)
        if (results.noCapacity.length > 0) {
          // Refused as a result, kept as a record: the output folder stays as it was.
          const kept = await output.commitAside('no-capacity')
          command.error(`error: ${results.noCapacity.map((c) => c.message).join('\nerror: ')}\nNothing was written to ${output.out}; everything measured is in ${kept}`, { exitCode: 2 })
        }
        await output.commit()
        for (const name of await readdir(output.out)) console.log(`wrote ${join(output.out, name)}`)
      } catch (err) {
        if (err instanceof CommanderError) throw err
        console.error(`bench: the sweep failed; its validator log is kept in ${testnetLog}`)
        throw err
      } finally {
        interrupt.dispose()
      }
    })
}
