import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { signBlock } from '../../src/core/block.ts'
import { keyPairFromSeed } from '../../src/core/keys.ts'
import { txHash } from '../../src/core/tx.ts'
import { genesisQc } from '../../src/core/vote.ts'
import { loadNodeConfig, makeTestnetConfigs } from '../../src/node/config.ts'
import { ValidatorNode } from '../../src/node/node.ts'
import { findFreePortRange } from '../../src/testnet/ports.ts'
import { quietLogs, transfer } from './fixtures.ts'

/**
 * Another leader's full block carries its txs inline, never signature-checked here. The
 * committer checks them on the verify workers before execution; a forged one must still end as
 * an `invalid signature` receipt, exactly as the oracle records it, and the valid one commit.
 * Only validator 0 of 4 runs, so nothing but the block handed to its committer gets committed.
 */
test("a foreign full block's forged tx fails as invalid signature, its valid tx commits", { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bftlab-full-block-'))
  const basePort = await findFreePortRange(8)
  const made = await makeTestnetConfigs({
    validators: 4,
    accounts: 4,
    basePort,
    baseHttpPort: basePort + 4,
    dir,
    params: { payloadMode: 'full-block' },
    node: { executorWorkers: 0, verifyWorkers: 1, logLevel: 'warn' },
  })
  const config = await loadNodeConfig(made.nodeConfigPaths[0]!)
  const node = await ValidatorNode.start(config, { logDestination: quietLogs })
  try {
    const { genesis } = config
    const valid = transfer(genesis, 0, 1, 7n, 0n)
    const forged = { ...transfer(genesis, 2, 3, 9n, 0n), signature: transfer(genesis, 1, 3, 9n, 0n).signature }
    const parent = node.committer.lastCommitted
    const author = await loadNodeConfig(made.nodeConfigPaths[1]!)
    const block = signBlock(
      {
        height: parent.height + 1,
        round: 1,
        author: 1,
        timestamp: Date.now(),
        parentQc: genesisQc(parent.id),
        payload: { kind: 'txs', txs: [valid, forged] },
        executedRoot: node.committer.root,
        executedHeight: parent.height,
      },
      keyPairFromSeed(author.node.seed).secretKey,
    )
    await node.committer.enqueue([block], { blockId: block.id, round: block.round, signers: [], signatures: [] })

    assert.deepEqual(await node.txStatus(txHash(valid)), { status: 'committed', height: block.height })
    assert.deepEqual(await node.txStatus(txHash(forged)), { status: 'failed', height: block.height, reason: 'invalid signature' })
    const sender = await node.account(forged.from)
    assert.equal(sender.nonce, 0n, 'the forged tx changed nothing')
  } finally {
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  }
})
