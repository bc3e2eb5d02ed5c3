/**
 * Signature verification bound of this machine through the SignatureVerifier pool.
 * Run: npx node bench/verify-bench.ts [txs] [--json]
 */
import { availableParallelism } from 'node:os'
import { measureVerifyThroughput } from '../src/mempool/verify-throughput.ts'

const txs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 20_000)
const threadCounts = [...new Set([1, 2, availableParallelism()])]
const points = []
for (const threads of threadCounts) {
  const r = await measureVerifyThroughput({ threads, txs })
  points.push(r)
  if (!process.argv.includes('--json')) {
    console.log(`threads=${threads}  txs=${txs}  ${r.seconds.toFixed(2)} s  ${Math.round(r.verifiesPerSecond)} verifies/s`)
  }
}
if (process.argv.includes('--json')) console.log(JSON.stringify({ config: { txs, threadCounts }, env: { node: process.version, cores: availableParallelism() }, points }))
