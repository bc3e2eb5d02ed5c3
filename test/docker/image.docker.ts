import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { writeComposeProject } from '../../src/testnet/compose.ts'
import { status, until } from '../testnet/helpers.ts'
import { docker } from './engine.ts'
import { ensureProjectImage } from './images.ts'
import { dockerSuite, freePortPair, leftovers, log, resourceName } from './suite.ts'

/**
 * The image itself: the CLI starts in it (every command's module graph loads), it holds no
 * validator key, and `node --config` runs a validator that commits blocks and stops cleanly on
 * SIGTERM — the ways the published image was broken before (every container exited at start on a
 * module the Dockerfile did not copy).
 */

let image = ''
const NODE_CONTAINER = resourceName('node')
const ADDRESS = '127.0.0.30'
let dir = ''

before(async () => {
  if (dockerSuite.skip !== false) return
  image = await ensureProjectImage(log)
  dir = await mkdtemp(join(tmpdir(), 'bftlab-docker-image-'))
})

after(async () => {
  if (dockerSuite.skip !== false) return
  await docker(['rm', '--force', '--volumes', NODE_CONTAINER]).catch(() => undefined)
  assert.deepEqual(await leftovers(NODE_CONTAINER), [], 'nothing of this run is left behind')
  await rm(dir, { recursive: true, force: true })
})

test('`docker run IMAGE --help` starts the CLI and lists every command', dockerSuite, async () => {
  const { stdout } = await docker(['run', '--rm', '--network', 'none', image, '--help'])
  for (const command of ['init', 'node', 'testnet', 'load', 'check', 'compose', 'k8s', 'bench', 'sim', 'exec-bench']) {
    assert.match(stdout, new RegExp(`^  ${command} `, 'm'), `command ${command} in the image's --help`)
  }
  // Each command's own help parses its options inside the image too.
  const { stdout: nodeHelp } = await docker(['run', '--rm', '--network', 'none', image, 'node', '--help'])
  assert.match(nodeHelp, /--config <file>/)
})

test('the image holds the sources and production dependencies only: no validator key, no tests, no dev tools', dockerSuite, async () => {
  const script = [
    'cd /app',
    // Any JSON with a validator seed, wherever it is.
    `grep -rlE '"seed"[[:space:]]*:' --include='*.json' --exclude-dir=node_modules . || true`,
    'echo ---',
    'ls -A /app /app/configs',
    'echo ---',
    'ls node_modules/typescript node_modules/node node_modules/fast-check node_modules/kubernetes-models 2>&1 | grep -c "No such file" || true',
    'echo ---',
    'id -u',
  ].join('; ')
  const { stdout } = await docker(['run', '--rm', '--network', 'none', '--entrypoint', 'sh', image, '-c', script])
  const [seeds, listing, missingDev, uid] = stdout.split('---\n').map((s) => s.trim())
  assert.equal(seeds, '', `files with validator seeds in the image: ${seeds}`)
  assert.deepEqual(listing!.split('\n').filter((l) => l !== '' && !l.endsWith(':')).sort(), ['configs', 'experiments', 'node_modules', 'package-lock.json', 'package.json', 'results', 'src', 'testnet'])
  assert.equal(missingDev, '4', 'no devDependency is installed in the image')
  assert.equal(uid, '1000', 'the image runs as the unprivileged node user')
})

test('`IMAGE node --config` starts a validator that commits blocks and stops cleanly on SIGTERM', dockerSuite, async () => {
  const { p2pPort, httpPort } = await freePortPair([ADDRESS])
  await writeComposeProject({ validators: 1, variant: 'host', firstAddress: ADDRESS, p2pPort, httpPort, image, out: join(dir, 'docker-compose.yml') })
  await docker([
    'run',
    '--detach',
    '--name',
    NODE_CONTAINER,
    '--network',
    'host',
    '--volume',
    `${join(dir, 'configs', 'compose')}:/app/testnet:ro`,
    image,
    'node',
    '--config',
    '/app/testnet/node-0.json',
  ])
  const url = `http://${ADDRESS}:${httpPort}`
  const height = await until(
    'the containerised validator to commit height 3',
    async () => {
      const { height } = await status(url)
      return height >= 3 ? height : undefined
    },
    180_000,
  )
  log(`validator in ${NODE_CONTAINER} committed height ${height} on ${url}`)
  await docker(['stop', '--time', '20', NODE_CONTAINER])
  const { stdout: exitCode } = await docker(['inspect', '--format', '{{.State.ExitCode}}', NODE_CONTAINER])
  assert.equal(exitCode.trim(), '0', 'SIGTERM stops the validator cleanly (exit code 0, not killed)')
  const { stdout: logs } = await docker(['logs', NODE_CONTAINER])
  assert.match(logs, /"msg":"stopping validator"/)
  assert.match(logs, /"reason":"SIGTERM"/)
})
