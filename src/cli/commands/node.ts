import type { Command } from 'commander'
import { ValidatorNode } from '../../node/node.ts'

/** Signals that ask a validator to shut down cleanly (flush, close LevelDB and libp2p). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const

/**
 * Resolves on the first stop request: a signal, or the supervisor's IPC channel closing. A
 * node spawned by `bftlab testnet` holds that channel (src/testnet/processes.ts); when the
 * orchestrator dies without stopping it, even by SIGKILL, the channel closes and the node
 * stops instead of living on as an orphan holding its ports and data dir.
 */
function stopRequested(): Promise<string> {
  return new Promise((resolve) => {
    for (const sig of STOP_SIGNALS) process.once(sig, () => resolve(sig))
    if (process.channel !== undefined) {
      process.channel.unref()
      process.once('disconnect', () => resolve('supervisor gone (IPC channel closed)'))
    }
  })
}

export function registerNodeCommand(program: Command): void {
  program
    .command('node')
    .description('run one validator until SIGINT/SIGTERM')
    .requiredOption('--config <file>', 'node-<i>.json (or .toml) written by `bftlab init`')
    .action(async (flags: { config: string }) => {
      const stop = stopRequested()
      const node = await ValidatorNode.start(flags.config)
      const reason = await stop
      node.log.info({ reason }, 'stopping validator')
      await node.stop()
    })
}
