import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it, test } from 'node:test'
import { ClassicLevel } from 'classic-level'
import { toHex } from '../../src/core/hash.ts'
import { Bucket, bucketKey } from '../../src/storage/buckets.ts'
import { StorageCorruptionError } from '../../src/storage/errors.ts'
import { INITIALIZED_MARKER } from '../../src/storage/integrity.ts'
import { NodeStore } from '../../src/storage/node-store.ts'
import { LocalTestnet } from '../../src/testnet/local-testnet.ts'
import { processesMentioning, runCli, status, until } from '../testnet/helpers.ts'
import { genesis } from './fixtures/chain.ts'

/**
 * LevelDB keeps recent writes only in its write-ahead log until the log is compacted into a
 * table at the next open. Cutting that log to nothing makes the database open EMPTY: without the
 * marker kept outside LevelDB, the node would start over from genesis with no safety record.
 */
function truncateLogs(dir: string): void {
  const logs = readdirSync(dir).filter((f) => f.endsWith('.log') && f !== 'LOG')
  assert.ok(logs.length > 0, `expected a LevelDB write-ahead log in ${dir}`)
  for (const f of logs) truncateSync(join(dir, f), 0)
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bftlab-store-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('genesis writes the initialized marker; an emptied database with the marker is refused', async (t) => {
  const dir = tempDir(t)
  const store = await NodeStore.open(dir)
  const g = genesis()
  await store.initGenesis(g)
  await store.close()
  assert.deepEqual(JSON.parse(readFileSync(join(dir, INITIALIZED_MARKER), 'utf8')), { genesisBlockId: toHex(g.block.id) })

  truncateLogs(dir)
  await assert.rejects(NodeStore.open(dir), (err: unknown) => {
    assert.ok(err instanceof StorageCorruptionError, String(err))
    assert.equal(err.dir, dir)
    assert.match(err.message, new RegExp(`the database is empty, but ${join(dir, INITIALIZED_MARKER)} records that it was initialized with genesis ${toHex(g.block.id)}`))
    assert.match(err.message, /safety record/)
    return true
  })
})

test('a fresh directory has no marker and opens empty', async (t) => {
  const dir = tempDir(t)
  const store = await NodeStore.open(dir)
  assert.equal(store.initialized, false)
  await store.close()
  assert.equal(existsSync(join(dir, INITIALIZED_MARKER)), false)
})

test('an initialized directory without a marker (older, or crashed before writing it) gets one at open', async (t) => {
  const dir = tempDir(t)
  const store = await NodeStore.open(dir)
  const g = genesis()
  await store.initGenesis(g)
  await store.close()
  rmSync(join(dir, INITIALIZED_MARKER))
  await (await NodeStore.open(dir)).close()
  assert.deepEqual(JSON.parse(readFileSync(join(dir, INITIALIZED_MARKER), 'utf8')), { genesisBlockId: toHex(g.block.id) })
})

describe('a validator process refuses a damaged data dir with a precise message', { timeout: 180_000 }, () => {
  let testnet: LocalTestnet
  let dataDir: string
  let pristine: string
  let configPath: string

  before(async () => {
    testnet = await LocalTestnet.create({ validators: 1, accounts: 2 })
    configPath = testnet.configs.nodeConfigPaths[0]!
    dataDir = join(testnet.dir, 'data', 'node-0')
    pristine = join(testnet.dir, 'pristine')
    testnet.start()
    await testnet.waitReady({ timeoutMs: 60_000 })
    await until('a few committed blocks', async () => ((await status(testnet.urls[0]!)).height >= 3 ? true : undefined), 60_000)
    const exits = await testnet.stop()
    assert.equal(exits[0]?.code, 0, 'clean stop')
    cpSync(dataDir, pristine, { recursive: true })
  })
  after(async () => {
    await testnet.stop()
    assert.deepEqual(processesMentioning(testnet.dir), [])
    await testnet.remove()
  })

  function restorePristine(): void {
    rmSync(dataDir, { recursive: true, force: true })
    cpSync(pristine, dataDir, { recursive: true })
  }

  /** Starts `bftlab node`, which must exit on its own, with code 1 and no stack trace. */
  async function refusedStart(): Promise<string> {
    const run = await runCli(['node', '--config', configPath], { timeoutMs: 60_000 })
    assert.equal(run.code, 1, `the node must refuse to start\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
    assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at /, 'a refusal message, not a stack trace')
    return run.stderr
  }

  it('the write-ahead log cut to nothing: refused, naming the data dir and the marker', async () => {
    restorePristine()
    truncateLogs(dataDir)
    const stderr = await refusedStart()
    assert.match(stderr, new RegExp(`storage at ${dataDir} is corrupted: the database is empty, but ${join(dataDir, INITIALIZED_MARKER)} records`))
    assert.match(stderr, new RegExp(`delete ${dataDir} and let it resync`))
  })

  it('a committed block overwritten with garbage: refused, naming the block and the data dir', async () => {
    restorePristine()
    const store = await NodeStore.open(dataDir)
    const tip = (await store.blockAt(store.committedHeight()))!
    await store.close()
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dataDir, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    await db.put(bucketKey(Bucket.block, tip.id), Uint8Array.of(0xde, 0xad, 0xbe, 0xef))
    await db.close()
    const stderr = await refusedStart()
    assert.match(stderr, new RegExp(`storage at ${dataDir} is corrupted: block ${toHex(tip.id)} does not decode`))
  })
})
