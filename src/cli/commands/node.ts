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
      // A validator that cannot commit must not keep voting on blocks it will never execute:
      // it stops, and the command fails (exit code 1).
      const fatal = new Promise<{ err: unknown }>((resolve) => node.onFatal((err) => resolve({ err })))
      const outcome = await Promise.race([stop.then((reason) => ({ reason })), fatal])
      node.log.info('reason' in outcome ? { reason: outcome.reason } : { err: outcome.err }, 'stopping validator')
      await node.stop()
      if ('err' in outcome) throw new Error(`validator ${node.index} stopped: a commit failed (${(outcome.err as Error)?.message ?? String(outcome.err)})`)
    })
}
