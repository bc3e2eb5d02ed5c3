import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { COMPOSE_SUBNET, validatorAddress, writeComposeProject } from '../../src/testnet/compose.ts'
import { HTTP_PORT } from '../../src/testnet/deploy.ts'
import { NodeProcesses } from '../../src/testnet/processes.ts'
import { commonChain, processesMentioning, waitForHeight } from '../testnet/helpers.ts'

const VALIDATORS = 4

/**
 * Docker's bridge network gives each container its own address with the same ports; the loopback
 * range does the same on one host (Linux routes all of 127/8 to lo). Only the subnet prefix and the
 * wildcard bind address change, everything else is the generated file as a container mounts it.
 */
const onLoopback = (text: string): string => text.replaceAll(`${COMPOSE_SUBNET.split('.').slice(0, 2).join('.')}.`, '127.28.')

const dir = mkdtempSync(join(tmpdir(), 'bftlab-compose-run-'))
let nodes: NodeProcesses | undefined
after(async () => {
  await nodes?.stopAll()
  assert.deepEqual(processesMentioning(dir), [], 'no node process survives')
  rmSync(dir, { recursive: true, force: true })
})

test('the node configs `bftlab compose` generates start validators that reach consensus', { timeout: 120_000 }, async () => {
  await writeComposeProject({ validators: VALIDATORS, out: join(dir, 'docker-compose.yml') })
  const configDir = join(dir, 'configs', 'compose')
  writeFileSync(join(configDir, 'genesis.json'), onLoopback(readFileSync(join(configDir, 'genesis.json'), 'utf8')))
  const specs = Array.from({ length: VALIDATORS }, (_, i) => {
    const path = join(configDir, `node-${i}.json`)
    const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    const address = onLoopback(validatorAddress(i))
    assert.equal(config['dataDir'], '/data', 'the generated config is the one a container mounts')
    const local = { ...config, dataDir: join(dir, `data-${i}`), listen: String(config['listen']).replace('0.0.0.0', address), httpHost: address }
    writeFileSync(path, JSON.stringify(local, null, 2))
    return { index: i, configPath: path, logPath: join(dir, `node-${i}.log`) }
  })
  nodes = new NodeProcesses({ specs })
  nodes.startAll()
  const urls = specs.map((_, i) => `http://${onLoopback(validatorAddress(i))}:${HTTP_PORT}`)
  await waitForHeight(urls, 3, 90_000)
  const chain = await commonChain(urls, 3)
  assert.equal(chain.length, 3)
})
