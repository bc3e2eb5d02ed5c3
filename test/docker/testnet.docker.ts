import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { loopbackAddress, validatorService, writeComposeProject } from '../../src/testnet/compose.ts'
import { DATA_DIR_IN_IMAGE, RESULTS_DIR_IN_IMAGE } from '../../src/testnet/deploy.ts'
import { runCli, status, until, waitForHeight } from '../testnet/helpers.ts'
import { CommandError, compose, docker } from './engine.ts'
import { ensureProjectImage } from './images.ts'
import { dockerSuite, freePortPair, leftovers, log, networkNames, resourceName } from './suite.ts'

/**
 * The containerised testnet as a user runs it, on the host network (`bftlab compose --network
 * host`): 4 validator containers and the load generator container from the project image, one
 * validator killed (SIGKILL) and restarted under load, then `bftlab check` twice — live over the
 * running containers' HTTP APIs, and offline over their data volumes with every acknowledged tx —
 * and `docker-compose down -v`, after which nothing of the run is left.
 */

const VALIDATORS = 4
/** ~15,000 txs: enough to keep every block busy across the crash, modest for a shared 2-core machine. */
const LOAD = { rate: 250, durationS: 60, warmupS: 5 } as const
const KILLED = 2
const FIRST_ADDRESS = '127.0.0.10'
const PROJECT = resourceName('net')

let image = ''
let dir = ''
let file = ''
let urls: string[] = []
let networksBefore: string[] = []

before(async () => {
  if (dockerSuite.skip !== false) return
  image = await ensureProjectImage(log)
  dir = await mkdtemp(join(tmpdir(), 'bftlab-docker-testnet-'))
  file = join(dir, 'docker-compose.yml')
  const addresses = Array.from({ length: VALIDATORS }, (_, i) => loopbackAddress(FIRST_ADDRESS, i))
  const { p2pPort, httpPort } = await freePortPair(addresses)
  await writeComposeProject({ validators: VALIDATORS, variant: 'host', firstAddress: FIRST_ADDRESS, p2pPort, httpPort, image, load: LOAD, out: file })
  urls = addresses.map((a) => `http://${a}:${httpPort}`)
  networksBefore = await networkNames()
})

after(async () => {
  if (dockerSuite.skip !== false) return
  await compose(file, PROJECT, ['down', '--volumes', '--remove-orphans', '--timeout', '10'])
  await docker(['rm', '--force', resourceName('check')]).catch(() => undefined)
  assert.deepEqual(await leftovers(PROJECT), [], 'no container, volume or network of the run is left')
  assert.deepEqual(await networkNames(), networksBefore, 'the run created no network')
  await rm(dir, { recursive: true, force: true })
})

const containerOf = async (service: string): Promise<string> => (await compose(file, PROJECT, ['ps', '-q', service])).stdout.trim()
const inspect = async (container: string, format: string): Promise<string> => (await docker(['inspect', '--format', format, container])).stdout.trim()
const heights = async (indexes: readonly number[]): Promise<number[]> => Promise.all(indexes.map(async (i) => (await status(urls[i]!)).height))

/** `bftlab check` in a container of the image, over the stopped validators' data volumes. */
async function offlineCheck(checkDir: string): Promise<{ code: number; stdout: string }> {
  const volumes: string[] = []
  for (let i = 0; i < VALIDATORS; i++) {
    const { stdout } = await docker(['volume', 'ls', '--quiet', '--filter', `label=com.docker.compose.project=${PROJECT}`, '--filter', `label=com.docker.compose.volume=${validatorService(i)}-data`])
    assert.equal(stdout.trim().split('\n').length, 1, `one data volume for ${validatorService(i)}`)
    volumes.push('--volume', `${stdout.trim()}:${DATA_DIR_IN_IMAGE}/node-${i}`)
  }
  const args = ['run', '--rm', '--name', resourceName('check'), '--network', 'none', '--volume', `${checkDir}:/check:ro`, ...volumes, image, 'check', '--dir', '/check', '--acks', '/check/acks.json']
  try {
    return { code: 0, stdout: (await docker(args, { timeoutMs: 300_000 })).stdout }
  } catch (err) {
    if (!(err instanceof CommandError) || err.exitCode === undefined) throw err
    return { code: err.exitCode, stdout: err.stdout }
  }
}

test('4 validator containers + the load generator: a validator killed and restarted under load, then `bftlab check` live and offline', { ...dockerSuite, timeout: 900_000 }, async () => {
  const started = Date.now()
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`
  // `up` creates the load generator only once every validator's healthcheck passes.
  await compose(file, PROJECT, ['up', '--detach', '--no-build', ...Array.from({ length: VALIDATORS }, (_, i) => validatorService(i)), 'load'])
  await waitForHeight(urls, 3, 180_000)
  log(`${elapsed()}: ${VALIDATORS} validator containers committing`)
  await until('the load generator to get txs committed', async () => ((await status(urls[0]!)).committedTxs > 0 ? true : undefined), 120_000)
  log(`${elapsed()}: txs committed under load`)

  await compose(file, PROJECT, ['kill', validatorService(KILLED)])
  const killed = await containerOf(validatorService(KILLED))
  assert.equal(await inspect(killed, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 137', 'SIGKILL, and the restart policy leaves a killed container down')
  const others = Array.from({ length: VALIDATORS }, (_, i) => i).filter((i) => i !== KILLED)
  const atKill = await heights(others)
  await until('the other three to commit 3 more blocks without the killed validator', async () => ((await heights(others)).every((h, k) => h >= atKill[k]! + 3) ? true : undefined), 120_000)
  await assert.rejects(status(urls[KILLED]!), 'the killed validator does not answer')
  log(`${elapsed()}: ${validatorService(KILLED)} killed; the others went from heights ${atKill.join('/')} to ${(await heights(others)).join('/')}`)

  await compose(file, PROJECT, ['start', validatorService(KILLED)])
  const atRestart = Math.max(...(await heights(others)))
  const caughtUp = await until(
    `the restarted validator to reach height ${atRestart + 1}`,
    async () => {
      const { height } = await status(urls[KILLED]!)
      return height > atRestart ? height : undefined
    },
    180_000,
  )
  log(`${elapsed()}: ${validatorService(KILLED)} restarted from its volume and caught up to height ${caughtUp} (the others were at ${atRestart} when it restarted)`)

  const load = await containerOf('load')
  const { stdout: exit } = await docker(['wait', load], { timeoutMs: (LOAD.durationS + 180) * 1000 })
  const { stdout: loadLog } = await docker(['logs', load])
  assert.equal(exit.trim(), '0', `the load generator failed:\n${loadLog.slice(-3000)}`)
  const summary = loadLog.split('\n').find((l) => l.trimStart().startsWith('txs '))
  log(`${elapsed()}: load generator done: ${summary?.trim()}`)

  // Live: the running containers' HTTP APIs, the restarted one included. After the load: the live
  // mode reads accounts one request at a time, so a transfer committed between two reads would
  // count twice in the supply.
  const live = await runCli(['check', '--live', '--dir', join(dir, 'configs', 'compose')], { timeoutMs: 180_000 })
  assert.equal(live.code, 0, `live check failed:\n${live.stdout}\n${live.stderr}`)
  assert.match(live.stdout, /PASS +\(a\) chain agreement/)
  assert.match(live.stdout, /PASS +\(c\) supply/)
  log(`${elapsed()}: live check passed`)

  const checkDir = join(dir, 'check')
  await mkdir(checkDir)
  await docker(['cp', `${load}:${RESULTS_DIR_IN_IMAGE}/acks.json`, join(checkDir, 'acks.json')])
  const acks = JSON.parse(await readFile(join(checkDir, 'acks.json'), 'utf8')) as string[]
  assert.ok(acks.length >= LOAD.rate * (LOAD.durationS - LOAD.warmupS) * 0.5, `only ${acks.length} txs acknowledged`)
  await compose(file, PROJECT, ['stop', '--timeout', '20'])

  // Offline: every store, with every acknowledged tx, exact supply and nonces, and the certificates.
  await writeFile(join(checkDir, 'genesis.json'), await readFile(join(dir, 'configs', 'compose', 'genesis.json')))
  for (let i = 0; i < VALIDATORS; i++) {
    const node = JSON.parse(await readFile(join(dir, 'configs', 'compose', `node-${i}.json`), 'utf8')) as Record<string, unknown>
    await writeFile(join(checkDir, `node-${i}.json`), JSON.stringify({ ...node, dataDir: `${DATA_DIR_IN_IMAGE}/node-${i}` }))
  }
  const offline = await offlineCheck(checkDir)
  log(offline.stdout.trim())
  assert.equal(offline.code, 0, 'offline check failed')
  assert.equal(offline.stdout.match(/^ {2}PASS /gm)?.length, 4, 'all four checks ran and passed')
  assert.match(offline.stdout, new RegExp(`${acks.length} acknowledged txs all in the chain once`))
  assert.match(offline.stdout, /total supply [0-9]+ conserved on every node/)
  const nodeHeights = [...offline.stdout.matchAll(/node ([0-9]+) height ([0-9]+)/g)].map((m) => Number(m[2]))
  assert.equal(nodeHeights.length, VALIDATORS)
  assert.ok(Math.min(...nodeHeights) > caughtUp, 'the restarted validator kept committing')

  // The same check must fail on a tx that was acknowledged but never committed.
  const lost = 'ab'.repeat(32)
  await writeFile(join(checkDir, 'acks.json'), JSON.stringify([...acks, lost]))
  const negative = await offlineCheck(checkDir)
  assert.equal(negative.code, 1, 'a lost acknowledged tx fails the check')
  assert.match(negative.stdout, new RegExp(`FAIL +\\(b\\) acknowledged txs[\\s\\S]*tx ${lost}: acknowledged by the API but in no committed block`))
  log(`${elapsed()}: offline check passed, and failed on a fabricated acknowledged tx`)
})
