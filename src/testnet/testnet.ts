import { loadGenesis, type LogLevel, type PayloadMode } from '../node/config.ts'
import { genesisAccounts, withChainNonces } from './accounts.ts'
import { describeEnvironment, measureVerifiesPerSec } from './environment.ts'
import { runLoad } from './load.ts'
import { LocalTestnet } from './local-testnet.ts'
import { presignTransfers } from './presign.ts'
import { formatLiveSecond, formatSummary, liveHeader, resultPoint, writeResultJson, type ResultDocument } from './report.ts'

export interface TestnetRunConfig {
  readonly validators: number
  readonly durationS: number
  readonly rate: number
  readonly warmupS: number
  readonly accounts: number
  readonly payload: PayloadMode
  readonly dir?: string
  readonly basePort?: number
  readonly keep: boolean
  readonly logLevel: LogLevel
  readonly json?: string
}

/**
 * Time allowed for every node to start and see all its peers. Node start (LevelDB, worker
 * pools, libp2p dial-ups and identify) takes seconds when n processes start at once on 2 cores.
 */
const READY_TIMEOUT_MS = 60_000

/**
 * `bftlab testnet`: measures this machine's verify rate, starts `validators` node processes on
 * 127.0.0.1, drives them with open-loop load while printing one line per second, then stops
 * them and prints (and optionally writes) the result. Aborting `signal` (Ctrl-C) ends the load
 * early and still stops everything and reports what was measured.
 */
export async function runTestnet(config: TestnetRunConfig, io: { out: (line: string) => void; signal: AbortSignal }): Promise<ResultDocument<TestnetRunConfig>> {
  const { out, signal } = io
  // Measured before any node starts: with validators running, the probe would share their cores.
  const env = describeEnvironment(measureVerifiesPerSec())
  const testnet = await LocalTestnet.create({
    validators: config.validators,
    accounts: config.accounts,
    params: { payloadMode: config.payload },
    logLevel: config.logLevel,
    ...(config.dir !== undefined ? { dir: config.dir } : {}),
    ...(config.basePort !== undefined ? { basePort: config.basePort } : {}),
    onUnexpectedExit: (e) => out(`! node ${e.index} (pid ${e.pid}) exited unexpectedly: code ${e.code}, signal ${e.signal}; see ${testnet.logPath(e.index)}`),
  })
  try {
    out(`starting ${config.validators} validators in ${testnet.dir} (HTTP ${testnet.urls[0]} …)`)
    testnet.start()
    await testnet.waitReady({ timeoutMs: READY_TIMEOUT_MS, signal })
    const genesis = await loadGenesis(testnet.genesisPath)
    const accounts = await withChainNonces(testnet.urls[0]!, genesisAccounts(genesis, testnet.genesisPath))
    const txs = await presignTransfers(accounts, Math.ceil(config.rate * config.durationS))
    out(`all validators connected; offering ${config.rate} tx/s for ${config.durationS} s (first ${config.warmupS} s are warm-up)`)
    out(liveHeader())
    const load = await runLoad({
      targets: testnet.urls,
      rate: config.rate,
      durationS: config.durationS,
      warmupS: config.warmupS,
      txs,
      signal,
      onSecond: (s) => out(formatLiveSecond(s)),
    })
    const doc: ResultDocument<TestnetRunConfig> = { config, env, points: [resultPoint(config.validators, load, env)] }
    out(formatSummary(doc, doc.points[0]!))
    if (config.json !== undefined) {
      await writeResultJson(config.json, doc)
      out(`result written to ${config.json}`)
    }
    return doc
  } finally {
    await testnet.stop()
    if (config.keep || config.dir !== undefined) out(`configs, data and logs kept in ${testnet.dir}`)
    else await testnet.remove()
  }
}
