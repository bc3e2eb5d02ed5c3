import { InvalidArgumentError, type Command } from 'commander'
import { BYZANTINE_STRATEGIES } from '../../sim/byzantine.ts'
import { parseLatency, type LatencyModel } from '../../sim/latency.ts'
import { runSim, type SimOptions } from '../../sim/sweep.ts'
import { integer, number, oneOf } from '../options.ts'

function validatorList(raw: string): number[] {
  const parse = integer(1, 1024)
  const list = raw.split(',').map((s) => parse(s.trim()))
  if (list.length === 0) throw new InvalidArgumentError('expected a comma-separated list of validator counts, e.g. 4,16,64.')
  return list
}

function latencyOption(raw: string): LatencyModel {
  try {
    return parseLatency(raw)
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err))
  }
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('deterministic simulation of the real consensus core over a modelled network, CPU and load')
    .option('--validators <list>', 'comma-separated validator counts', validatorList, [4, 16, 64])
    .option('--seed <n>', 'PRNG seed: same seed and flags, same run bit for bit', integer(0), 1)
    .option('--rounds <n>', 'stop once an honest validator reaches this round', integer(1), 50)
    .option('--duration-s <s>', 'virtual time limit per point (seconds)', number(0, { exclusive: true }), 120)
    .option('--byzantine <k>', 'Byzantine validators (the last k indices)', integer(0), 0)
    .option('--strategy <name>', `Byzantine strategy: ${BYZANTINE_STRATEGIES.join(', ')}`, oneOf(BYZANTINE_STRATEGIES), 'silent')
    .option('--latency <model>', 'link latency: lan, wan, fixed:MS, uniform:MIN-MAX, normal:MEAN,STD', latencyOption, parseLatency('lan'))
    .option('--drop <p>', 'message loss probability', number(0), 0)
    .option('--gst <ms>', 'global stabilisation time (virtual ms); before it delays are unbounded', number(0), 0)
    .option('--bandwidth <MBps>', 'outbound bandwidth per validator in MB/s (default unlimited)', number(0, { exclusive: true }))
    .option('--verify-us <us>', 'CPU cost of one ed25519 verification (virtual µs)', number(0), 50)
    .option('--offered-tps <tps>', 'offered load of the load model (tx/s of virtual time)', number(0), 50_000)
    .option('--json <file>', 'write {config, env, points} (docs/design.md §12) to this file')
    .action(async (opts: SimOptions) => {
      if (opts.drop > 1) throw new InvalidArgumentError(`--drop is a probability in [0, 1], got ${opts.drop}`)
      await runSim(opts)
    })
}
