import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ClassicLevel } from 'classic-level'
import { encodeBatch, batchDigest } from '../../src/core/batch.ts'
import { encodeBlock } from '../../src/core/block.ts'
import { sha256, toHex } from '../../src/core/hash.ts'
import { Bucket, bucketKey, heightKey, namedKey } from '../../src/storage/buckets.ts'
import { CRASH_ENV } from '../../src/storage/crash-point.ts'
import { StorageCorruptionError } from '../../src/storage/errors.ts'
import { NodeStore } from '../../src/storage/node-store.ts'
import { genesisQc } from '../../src/core/vote.ts'
import { ACCOUNTS, childOf, commitInputFor, genesis } from './fixtures/chain.ts'

const RECOVERY = { highQc: genesisQc(genesis().block.id) }

const CHILD = fileURLToPath(new URL('./fixtures/commit-child.ts', import.meta.url))

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bftlab-store-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A store with genesis and `height` committed blocks; returns the committed blocks. */
async function chainOf(dir: string, height: number) {
  const store = await NodeStore.open(dir)
  const g = genesis()
  await store.initGenesis(g)
  const blocks = [g.block]
  for (let h = 1; h <= height; h++) {
    const b = childOf(blocks[h - 1]!)
    await store.commitBlock(commitInputFor(b))
    blocks.push(b)
  }
  return { store, blocks }
}

async function rawDb(dir: string, edit: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  await edit(db)
  await db.close()
}

async function assertCorrupt(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(NodeStore.open(dir), (err: unknown) => {
    assert.ok(err instanceof StorageCorruptionError, `expected StorageCorruptionError, got ${String(err)}`)
    assert.match(err.message, pattern)
    assert.match(err.message, /delete .* resync/)
    return true
  })
}

test('a fresh directory opens empty and refuses commits before genesis', async (t) => {
  const store = await NodeStore.open(tempDir(t))
  assert.equal(store.initialized, false)
  assert.throws(() => store.committedHeight(), /initGenesis/)
  await assert.rejects(store.commitBlock(commitInputFor(childOf(genesis().block))), /initGenesis/)
  assert.equal(await store.safety.load(), undefined)
  await store.close()
})

test('blocks, proofs, receipts, tx index, accounts and batches round-trip and survive reopen', async (t) => {
  const dir = tempDir(t)
  const { store, blocks } = await chainOf(dir, 3)
  const orphan = childOf(blocks[2]!, 9)
  await store.blocks.put(orphan.id, orphan)
  const batch = { author: 1, seq: 7, txs: [] }
  await store.batches.put(batchDigest(batch), encodeBatch(batch))
  // Committed in this process (the committed-tx filter learns them at commit) and, below, after reopen (loaded from the index).
  assert.deepEqual(await store.txIndex.hasMany([commitInputFor(blocks[3]!).receipts[0]!.txHash, sha256(Uint8Array.of(1))]), [true, false])
  await store.safety.save({ highestVotedRound: 4, highestQcRound: 3 }, { highQc: { blockId: blocks[3]!.id, round: 3, signers: [0, 1, 2], signatures: [new Uint8Array(64), new Uint8Array(64), new Uint8Array(64)] } })
  await store.close()

  const reopened = await NodeStore.open(dir)
  assert.equal(reopened.committedHeight(), 3)
  assert.deepEqual(reopened.chainMeta(), {
    committedHeight: 3,
    committedBlockId: blocks[3]!.id,
    executedHeight: 3,
    stateRoot: commitInputFor(blocks[3]!).root,
  })
  for (const b of blocks) {
    assert.deepEqual(encodeBlock((await reopened.blockAt(b.height))!), encodeBlock(b))
  }
  assert.deepEqual(encodeBlock((await reopened.blocks.get(orphan.id))!), encodeBlock(orphan))
  assert.equal(await reopened.blockAt(4), undefined, 'an uncommitted block has no height entry')
  assert.deepEqual(await reopened.commitProofs.get(2), commitInputFor(blocks[2]!).proof)
  assert.deepEqual(await reopened.receipts.get(2), commitInputFor(blocks[2]!).receipts)
  assert.deepEqual(await reopened.txIndex.get(commitInputFor(blocks[2]!).receipts[0]!.txHash), { height: 2, index: 0, status: 'ok' })
  assert.deepEqual(await reopened.txIndex.hasMany([commitInputFor(blocks[1]!).receipts[0]!.txHash, sha256(Uint8Array.of(1))]), [true, false])
  assert.deepEqual(await reopened.accounts.get(toHex(ACCOUNTS[0]!)), { balance: 970n, nonce: 3n })
  assert.deepEqual(
    new Map(await reopened.accounts.entries()),
    new Map([
      [toHex(ACCOUNTS[0]!), { balance: 970n, nonce: 3n }],
      [toHex(ACCOUNTS[1]!), { balance: 1_030n, nonce: 0n }],
      [toHex(ACCOUNTS[2]!), { balance: 1_000n, nonce: 0n }],
    ]),
  )
  assert.deepEqual(await reopened.batches.get(batchDigest(batch)), encodeBatch(batch))
  assert.equal(await reopened.batches.get(sha256(Uint8Array.of(2))), undefined)
  assert.deepEqual((await reopened.safety.loadRecovery())?.highQc.signers, [0, 1, 2])
  assert.equal((await reopened.safety.loadRecovery())?.lastTc, undefined)
  await reopened.close()
})

test('compute-state writes are stored apart from accounts and reload under their key', async (t) => {
  const { store, blocks } = await chainOf(tempDir(t), 0)
  const input = commitInputFor(childOf(blocks[0]!))
  const key = toHex(sha256(Uint8Array.of(42)))
  await store.commitBlock({ ...input, writes: new Map([...input.writes, [key, sha256(Uint8Array.of(43))], ['counter', 5n]]) })
  assert.deepEqual(new Map(await store.computeState.entries()), new Map<string, unknown>([[key, sha256(Uint8Array.of(43))], ['counter', 5n]]))
  assert.equal((await store.accounts.entries()).length, 3)
  await store.close()
})

test('the tx index keeps a tx where it took effect, else at its first failure, within a block and across blocks', async (t) => {
  const { store, blocks } = await chainOf(tempDir(t), 0)
  const dup = sha256(Uint8Array.of(0xdd))
  const retried = sha256(Uint8Array.of(0xee))
  const b1 = childOf(blocks[0]!)
  await store.commitBlock({
    ...commitInputFor(b1),
    receipts: [
      { txHash: dup, status: 'ok' },
      { txHash: retried, status: 'failed', reason: 'insufficient balance' },
      { txHash: dup, status: 'failed', reason: 'duplicate' },
      { txHash: retried, status: 'failed', reason: 'duplicate' },
    ],
  })
  assert.deepEqual(await store.txIndex.get(retried), { height: 1, index: 1, status: 'failed', reason: 'insufficient balance' })
  const b2 = childOf(b1)
  await store.commitBlock({ ...commitInputFor(b2), receipts: [{ txHash: dup, status: 'failed', reason: 'nonce too low' }, { txHash: retried, status: 'failed', reason: 'bad nonce' }] })
  assert.deepEqual(await store.txIndex.get(dup), { height: 1, index: 0, status: 'ok' })
  assert.deepEqual(await store.txIndex.get(retried), { height: 1, index: 1, status: 'failed', reason: 'insufficient balance' }, 'a later failure does not replace the first')
  const b3 = childOf(b2)
  await store.commitBlock({ ...commitInputFor(b3), receipts: [{ txHash: retried, status: 'ok' }] })
  assert.deepEqual(await store.txIndex.get(retried), { height: 3, index: 0, status: 'ok' }, 'the inclusion that took effect replaces earlier failures')
  assert.equal((await store.receipts.get(1))?.length, 4, 'receipts keep every execution, duplicates included')
  await store.close()
})

test('commitBlock refuses a block that does not extend the committed tip and writes nothing', async (t) => {
  const { store, blocks } = await chainOf(tempDir(t), 2)
  const fork = childOf(blocks[1]!, 5)
  await assert.rejects(store.commitBlock(commitInputFor(fork)), /height 2, expected 3/)
  const wrongParent = childOf(childOf(blocks[1]!, 5))
  await assert.rejects(store.commitBlock(commitInputFor(wrongParent)), /not the committed block/)
  assert.equal(store.committedHeight(), 2)
  assert.equal(await store.blocks.get(fork.id), undefined)
  assert.equal(await store.txIndex.get(commitInputFor(wrongParent).receipts[0]!.txHash), undefined)
  // A refused commit does not wedge the commit queue.
  await store.commitBlock(commitInputFor(childOf(blocks[2]!)))
  assert.equal(store.committedHeight(), 3)
  await store.close()
})

test('commitBlock refuses a state write whose key is not a 32-byte address in hex, and writes nothing', async (t) => {
  const { store, blocks } = await chainOf(tempDir(t), 1)
  const next = childOf(blocks[1]!)
  const input = commitInputFor(next)
  const account = { balance: 1n, nonce: 0n }
  for (const key of ['zz'.repeat(32), 'ab'.repeat(31), 'ab'.repeat(33), `${'ab'.repeat(31)}a`]) {
    await assert.rejects(store.commitBlock({ ...input, writes: new Map([...input.writes, [key, account]]) }), /is not a 32-byte address in hex/, key)
  }
  assert.equal(store.committedHeight(), 1)
  await store.commitBlock(input)
  assert.deepEqual(await store.accounts.get(toHex(ACCOUNTS[0]!)), input.writes.get(toHex(ACCOUNTS[0]!)))
  await store.close()
})

test('concurrent commitBlock calls apply in call order', async (t) => {
  const { store, blocks } = await chainOf(tempDir(t), 0)
  const b1 = childOf(blocks[0]!)
  const b2 = childOf(b1)
  await Promise.all([store.commitBlock(commitInputFor(b1)), store.commitBlock(commitInputFor(b2))])
  assert.equal(store.committedHeight(), 2)
  await store.close()
})

test('safety state survives reopen and never moves backwards', async (t) => {
  const dir = tempDir(t)
  const { store } = await chainOf(dir, 0)
  await store.safety.save({ highestVotedRound: 7, highestQcRound: 6 }, RECOVERY)
  await store.close()
  const reopened = await NodeStore.open(dir)
  assert.deepEqual(await reopened.safety.load(), { highestVotedRound: 7, highestQcRound: 6 })
  await assert.rejects(reopened.safety.save({ highestVotedRound: 6, highestQcRound: 6 }, RECOVERY), /safety regression refused/)
  await assert.rejects(reopened.safety.save({ highestVotedRound: 8, highestQcRound: 5 }, RECOVERY), /safety regression refused/)
  await reopened.safety.save({ highestVotedRound: 8, highestQcRound: 7 }, RECOVERY)
  assert.deepEqual(await reopened.safety.load(), { highestVotedRound: 8, highestQcRound: 7 })
  await reopened.close()
})

function runChild(dir: string, crashAt: string | undefined, votedRound?: number) {
  const args = [CHILD, dir, ...(votedRound === undefined ? [] : [String(votedRound)])]
  const env = { ...process.env }
  delete env[CRASH_ENV]
  if (crashAt !== undefined) env[CRASH_ENV] = crashAt
  const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' })
  if (crashAt === undefined) assert.equal(r.status, 0, `child failed: ${r.stderr}`)
  else assert.equal(r.signal, 'SIGKILL', `child should have died at ${crashAt}; status ${r.status}, stderr ${r.stderr}`)
}

test('a SIGKILL before the commit batch leaves the previous height, after it the new one', async (t) => {
  const dir = tempDir(t)
  runChild(dir, undefined) // genesis + height 1
  runChild(dir, 'commit:before-batch')
  let store = await NodeStore.open(dir)
  assert.equal(store.committedHeight(), 1)
  assert.equal(await store.blockAt(2), undefined)
  assert.deepEqual(await store.accounts.get(toHex(ACCOUNTS[0]!)), { balance: 990n, nonce: 1n })
  await store.close()

  runChild(dir, 'commit:after-batch')
  store = await NodeStore.open(dir)
  assert.equal(store.committedHeight(), 2)
  assert.deepEqual(await store.accounts.get(toHex(ACCOUNTS[0]!)), { balance: 980n, nonce: 2n })
  assert.equal((await store.txIndex.get(sha256(Uint8Array.of(0x74, 2))))?.height, 2)
  await store.close()
})

test('safety written before a SIGKILL at safety:after-write is on disk', async (t) => {
  const dir = tempDir(t)
  runChild(dir, 'safety:before-write', 4)
  let store = await NodeStore.open(dir)
  assert.equal(await store.safety.load(), undefined)
  await store.close()
  runChild(dir, 'safety:after-write', 5)
  store = await NodeStore.open(dir)
  assert.deepEqual(await store.safety.load(), { highestVotedRound: 5, highestQcRound: 4 })
  await store.close()
})

test('a missing chain meta record is reported as corruption', async (t) => {
  const dir = tempDir(t)
  const { store } = await chainOf(dir, 2)
  await store.close()
  await rawDb(dir, (db) => db.del(namedKey(Bucket.meta, 'chain')))
  await assertCorrupt(dir, /chain meta record is missing/)
})

test('a garbage block value is reported with the block id', async (t) => {
  const dir = tempDir(t)
  const { store, blocks } = await chainOf(dir, 3)
  await store.close()
  await rawDb(dir, (db) => db.put(bucketKey(Bucket.block, blocks[2]!.id), Uint8Array.of(1, 2, 3)))
  await assertCorrupt(dir, new RegExp(`block ${toHex(blocks[2]!.id)} does not decode`))
})

test('a block value altered but still decodable is caught by its hash', async (t) => {
  const dir = tempDir(t)
  const { store, blocks } = await chainOf(dir, 3)
  await store.close()
  await rawDb(dir, (db) => db.put(bucketKey(Bucket.block, blocks[3]!.id), encodeBlock(childOf(blocks[2]!, 7))))
  await assertCorrupt(dir, /stored bytes hash to block/)
})

test('a gap in the committed height index is reported with the missing height', async (t) => {
  const dir = tempDir(t)
  const { store } = await chainOf(dir, 4)
  await store.close()
  await rawDb(dir, (db) => db.del(heightKey(Bucket.committedBlockId, 2)))
  await assertCorrupt(dir, /no entry for height 2/)
})

test('a missing commit proof and broken chain links are reported', async (t) => {
  const dir = tempDir(t)
  const { store, blocks } = await chainOf(dir, 3)
  await store.close()
  await rawDb(dir, (db) => db.del(heightKey(Bucket.commitProof, 3)))
  await assertCorrupt(dir, /commit proof of height 3 is missing/)

  const dir2 = tempDir(t)
  const second = await chainOf(dir2, 3)
  await second.store.close()
  const stranger = childOf(second.blocks[0]!, 3)
  await rawDb(dir2, async (db) => {
    await db.put(bucketKey(Bucket.block, stranger.id), encodeBlock(stranger))
    await db.put(heightKey(Bucket.committedBlockId, 1), stranger.id)
  })
  await assertCorrupt(dir2, new RegExp(`height 2 extends ${toHex(blocks[1]!.id)}, but height 1 holds ${toHex(stranger.id)}`))
})

test('a corrupted safety record is reported at open', async (t) => {
  const dir = tempDir(t)
  const { store } = await chainOf(dir, 0)
  await store.safety.save({ highestVotedRound: 3, highestQcRound: 2 }, RECOVERY)
  await store.close()
  await rawDb(dir, (db) => db.put(namedKey(Bucket.safety, 'safety'), Uint8Array.of(0xc1)))
  await assertCorrupt(dir, /safety state does not decode/)
})

test('a truncated LevelDB table file is reported as corruption naming the file', async (t) => {
  const dir = tempDir(t)
  const { store } = await chainOf(dir, 30)
  await store.close()
  // Reopening replays the write-ahead log into a table file (.ldb); that file is then cut.
  await (await NodeStore.open(dir)).close()
  const tables = readdirSync(dir).filter((f) => f.endsWith('.ldb'))
  assert.ok(tables.length > 0, 'expected LevelDB to have written a table file')
  for (const f of tables) truncateSync(join(dir, f), Math.floor(statSync(join(dir, f)).size / 2))
  await assertCorrupt(dir, /LevelDB cannot read .*\.ldb/)
})

test('a torn write-ahead log loses whole commits only: what opens is a consistent prefix', async (t) => {
  const source = tempDir(t)
  const { store } = await chainOf(source, 30)
  await store.close()
  const log = readdirSync(source).find((f) => f.endsWith('.log'))!
  const size = statSync(join(source, log)).size
  for (const fraction of [0.9, 0.6, 0.3]) {
    const dir = tempDir(t)
    cpSync(source, dir, { recursive: true })
    truncateSync(join(dir, log), Math.floor(size * fraction))
    const torn = await NodeStore.open(dir)
    const h = torn.initialized ? torn.committedHeight() : 0
    assert.ok(h < 30, `cut at ${fraction} should lose the newest commits`)
    if (torn.initialized) {
      // The state rows and the height written in the same batch survive or vanish together.
      assert.deepEqual(await torn.accounts.get(toHex(ACCOUNTS[0]!)), { balance: 1_000n - 10n * BigInt(h), nonce: BigInt(h) })
    }
    await torn.close()
  }
})
