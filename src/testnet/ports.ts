import { createServer, type Server } from 'node:net'

/**
 * Range random base ports are drawn from: above the usual service ports and below Linux's
 * ephemeral range (32768+ by default is where outgoing connections take their local ports,
 * so a listener there can collide with a connection opened between the probe and the bind).
 */
const LOW = 10_000
const HIGH = 32_000
const ATTEMPTS = 50

function listen(port: number, host: string): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(undefined))
    server.listen(port, host, () => resolve(server))
  })
}

/**
 * A base port P such that P … P+count−1 are all free on every one of `hosts` right now. Other
 * processes could still take one before the nodes bind it; random bases make that unlikely even
 * with several testnets starting at once.
 */
export async function findFreePortRange(count: number, hosts: readonly string[] = ['127.0.0.1']): Promise<number> {
  if (!Number.isInteger(count) || count < 1 || count > HIGH - LOW) throw new RangeError(`port range size must be in 1..${HIGH - LOW}, got ${count}`)
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const base = LOW + Math.floor(Math.random() * (HIGH - LOW - count))
    const bound: Server[] = []
    for (let p = base; p < base + count && bound.length === (p - base) * hosts.length; p++) {
      for (const host of hosts) {
        const s = await listen(p, host)
        if (s === undefined) break
        bound.push(s)
      }
    }
    await Promise.all(bound.map((s) => new Promise((r) => s.close(r))))
    if (bound.length === count * hosts.length) return base
  }
  throw new Error(`no ${count} consecutive free ports on ${hosts.join(', ')} in ${LOW}..${HIGH} after ${ATTEMPTS} attempts`)
}
