import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DestinationStream } from 'pino'
import { signTx, type Tx } from '../../src/core/tx.ts'
import { genesisAccountKeyPair, loadNodeConfig, makeTestnetConfigs, type ChainParams, type GenesisConfig } from '../../src/node/config.ts'
import { ValidatorNode } from '../../src/node/node.ts'
import { findFreePortRange } from '../../src/testnet/ports.ts'

/** Discards node logs; set BFTLAB_TEST_LOGS=1 to see them on stderr. */
export const quietLogs: DestinationStream = process.env.BFTLAB_TEST_LOGS ? process.stderr : { write: () => {} }

export interface TestChain {
  readonly nodes: ValidatorNode[]
  readonly genesis: GenesisConfig
  stop(): Promise<void>
}

/**
 * n validators in this process on 127.0.0.1, each with its own temp data dir. `configure` may
 * rewrite a validator's generated node config (a Byzantine mode, say) before it starts.
 */
export async function startChain(
  n: number,
  accounts: number,
  params: Partial<ChainParams> = {},
  configure?: (index: number, config: Record<string, unknown>) => Record<string, unknown>,
): Promise<TestChain> {
  const dir = await mkdtemp(join(tmpdir(), 'bftlab-node-test-'))
  const basePort = await findFreePortRange(2 * n)
  const made = await makeTestnetConfigs({
    validators: n,
    accounts,
    basePort,
    baseHttpPort: basePort + n,
    dir,
    params: { baseTimeoutMs: 2_000, maxTimeoutMs: 8_000, ...params },
    node: { executorWorkers: 0, verifyWorkers: 1, logLevel: 'warn' },
  })
  if (configure !== undefined) {
    for (const [i, path] of made.nodeConfigPaths.entries()) {
      await writeFile(path, JSON.stringify(configure(i, JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>)))
    }
  }
  const nodes: ValidatorNode[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    for (const path of made.nodeConfigPaths) nodes.push(await ValidatorNode.start(await loadNodeConfig(path), { logDestination: quietLogs }))
  } catch (err) {
    await stop()
    throw err
  }
  return { nodes, genesis: (await loadNodeConfig(made.nodeConfigPaths[0]!)).genesis, stop }
}

export function transfer(genesis: GenesisConfig, from: number, to: number, amount: bigint, nonce: bigint, fee = 1n): Tx {
  const sender = genesisAccountKeyPair(genesis, from)
  return signTx(
    { kind: 'transfer', from: sender.publicKey, to: genesisAccountKeyPair(genesis, to).publicKey, amount, nonce, fee, computeUnits: 0, accessList: [], payload: new Uint8Array() },
    sender.secretKey,
  )
}

export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
