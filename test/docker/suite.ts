import { findFreePortRange } from '../../src/testnet/ports.ts'
import { docker, SKIP_DOCKER } from './engine.ts'

/**
 * What every docker suite file shares: the explicit skip, the names of what it creates (all
 * start with RESOURCE_PREFIX, so a leftover is found, and `.ci/run` can remove it, by name), and
 * free ports on the loopback addresses its host-network containers bind.
 */

export const RESOURCE_PREFIX = 'bftlabtest'

/** Spread as test options: skipped only when BFTLAB_SKIP_DOCKER=1 says so. */
export const dockerSuite = { skip: SKIP_DOCKER ? 'BFTLAB_SKIP_DOCKER=1: the docker suite is skipped on request' : false } as const

/** A name for this run's container or compose project: unique per test process. */
export const resourceName = (what: string): string => `${RESOURCE_PREFIX}${process.pid}${what}`

export const log = (line: string): void => console.log(line)

/** Containers (running or not), volumes and networks whose names contain `needle`. */
export async function leftovers(needle: string): Promise<string[]> {
  const [containers, volumes, networks] = await Promise.all([
    docker(['ps', '--all', '--filter', `name=${needle}`, '--format', 'container {{.Names}}']),
    docker(['volume', 'ls', '--filter', `name=${needle}`, '--format', 'volume {{.Name}}']),
    docker(['network', 'ls', '--filter', `name=${needle}`, '--format', 'network {{.Name}}']),
  ])
  return [containers, volumes, networks].flatMap((r) => r.stdout.split('\n').filter((l) => l.trim() !== ''))
}

/** Every network the engine has, by name: a run must leave this set as it found it. */
export async function networkNames(): Promise<string[]> {
  return (await docker(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n').filter((l) => l !== '').sort()
}

/**
 * Two ports (p2p, HTTP) free on every one of `hosts` right now, for containers that each bind
 * their own loopback address on the same ports.
 */
export async function freePortPair(hosts: readonly string[]): Promise<{ p2pPort: number; httpPort: number }> {
  const p2pPort = await findFreePortRange(2, hosts)
  return { p2pPort, httpPort: p2pPort + 1 }
}
