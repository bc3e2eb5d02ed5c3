import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ValidatorNode } from './node.ts'

/**
 * Runs one validator until SIGINT/SIGTERM, then shuts down cleanly (HTTP, consensus, pending
 * commit, network, workers, storage — in that order, so nothing is written after the store
 * closes). Backs `bftlab node --config F`. A second signal during shutdown exits at once.
 */
export async function runNode(configPath: string): Promise<ValidatorNode> {
  const node = await ValidatorNode.start(configPath)
  let signalled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(130)
    signalled = true
    node.log.info({ signal }, 'shutting down')
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        node.log.fatal({ err }, 'unclean shutdown')
        node.log.flush()
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // A validator that cannot commit must not keep voting on blocks it will never execute.
  node.onFatal(() => {
    node.stop().finally(() => {
      node.log.flush()
      process.exit(1)
    })
  })
  return node
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { config: { type: 'string' } } })
  if (values.config === undefined) {
    process.stderr.write('usage: node src/node/main.ts --config node-<i>.json\n')
    process.exit(2)
  }
  runNode(values.config).catch((err: unknown) => {
    process.stderr.write(`bftlab node: ${(err as Error).message}\n`)
    process.exit(1)
  })
}
