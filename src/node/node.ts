import type { FastifyInstance } from 'fastify'
import { basename } from 'node:path'
import type { DestinationStream } from 'pino'
import type { Block } from '../core/block.ts'
import { Committee } from '../core/committee.ts'
import { toHex } from '../core/hash.ts'
import { keyPairFromSeed } from '../core/keys.ts'
import { ConsensusCore } from '../consensus/core.ts'
import { RoundRobin } from '../consensus/leader.ts'
import { ParallelExecutor } from '../execution/parallel.ts'
import type { WorldState } from '../execution/state.ts'
import { SYNC_BATCHES_PROTOCOL } from '../mempool/availability.ts'
import type { Mempool } from '../mempool/mempool.ts'
import { PayloadManager } from '../mempool/payload-manager.ts'
import { SignatureVerifier } from '../mempool/verifier.ts'
import { VerifiedTxs } from '../mempool/verified-txs.ts'
import { NetworkHost } from '../network/host.ts'
import { StorageCorruptionError } from '../storage/errors.ts'
import { NodeStore } from '../storage/node-store.ts'
import { faultControlFor, type FaultControl } from './admin.ts'
import { ByzantineTransmitter } from './byzantine.ts'
import { CommitFeed } from './commit-feed.ts'
import { BlockCommitter } from './committer.ts'
import { checkByzantineOptIn, loadNodeConfig, type LoadedConfig } from './config.ts'
import { ConsensusDriver } from './consensus-driver.ts'
import { ConsensusNetwork } from './consensus-network.ts'
import { ConsensusObserver } from './consensus-observer.ts'
import { EVIDENCE_IN_MEMORY, EquivocationWatch, EvidenceLog } from './evidence.ts'
import { buildHttpApi, type NodeApi, type StatusView, type SubmitResult, type TxStatus } from './http.ts'
import { createLogger, type NodeLogger } from './logger.ts'
import { NodeMetrics } from './metrics.ts'
import { ValidatorPeers } from './peers.ts'
import { BATCHES_TOPIC, CONSENSUS_PROTOCOL, MAX_MESSAGE_BYTES, PROPOSALS_TOPIC } from './protocols.ts'
import { RecentBlocks } from './recent-blocks.ts'
import { Spammer, spamChannels } from './spam.ts'
import { initChain, loadState } from './state-store.ts'
import { BlockSync, SYNC_BLOCKS_PROTOCOL } from './sync.ts'

export { BATCHES_TOPIC, CONSENSUS_PROTOCOL, MAX_MESSAGE_BYTES, PROPOSALS_TOPIC }
/** Admitted nonces per sender ahead of its account nonce: lets a client pipeline its txs. */
const NONCE_WINDOW = 1_024

export interface StartOptions {
  /** Where pino writes (tests pass a sink); default stdout. */
  readonly logDestination?: DestinationStream
}

/** What a validator opens and reads back before its components are wired. */
interface Resources {
  readonly config: LoadedConfig
  readonly log: NodeLogger
  readonly store: NodeStore
  readonly state: WorldState
  readonly network: NetworkHost
  readonly verifier: SignatureVerifier
  readonly executor: ParallelExecutor | undefined
  readonly genesis: Block
  /** The last committed block, where the core and the committer resume. */
  readonly committed: Block
  readonly safety: Awaited<ReturnType<NodeStore['safety']['load']>>
  readonly recovery: Awaited<ReturnType<NodeStore['safety']['loadRecovery']>>
  readonly evidence: Awaited<ReturnType<NodeStore['evidence']['newest']>>
}

/**
 * One validator: the components of docs/design.md ("Components") wired together, as
 * asonnino/hotstuff's `Consensus::spawn` wires Core, Proposer and Helper. The payload manager
 * owns batches end to end; the committer turns committed blocks into state; the driver runs the
 * consensus core; the consensus network carries its messages; block sync fetches what is
 * missing; the HTTP API reads through `NodeApi`.
 */
export class ValidatorNode implements NodeApi {
  readonly config: LoadedConfig
  readonly log: NodeLogger
  readonly metrics = new NodeMetrics()
  readonly commits = new CommitFeed()
  readonly store: NodeStore
  readonly state: WorldState
  readonly network: NetworkHost
  readonly payloads: PayloadManager
  readonly driver: ConsensusDriver
  readonly committer: BlockCommitter
  readonly evidence: EvidenceLog
  readonly http: FastifyInstance
  readonly faultControl: FaultControl | undefined
  readonly #verifier: SignatureVerifier
  readonly #executor: ParallelExecutor | undefined
  /** Set only in the `spam` byzantine test mode. */
  readonly #spammer: Spammer | undefined
  readonly #fatalListeners: ((err: unknown) => void)[] = []
  #stopping: Promise<void> | undefined

  private constructor(r: Resources) {
    const { config, log, store, state, network, verifier, executor, committed, safety, recovery } = r
    const { node: nc, genesis: g } = config
    const params = g.params
    this.config = config
    this.log = log
    this.store = store
    this.state = state
    this.network = network
    this.#verifier = verifier
    this.#executor = executor
    const index = nc.index
    const metrics = this.metrics
    const committee = new Committee(g.validators.map((v) => v.publicKey))
    const peers = new ValidatorPeers(g.validators.map((v) => v.peerId), index, network, params.baseTimeoutMs)
    const { secretKey } = keyPairFromSeed(nc.seed)

    this.evidence = new EvidenceLog({ committee, store: store.evidence, metrics, log }, r.evidence)
    const equivocations = new EquivocationWatch(committee, (first, second) => {
      this.evidence.record({ kind: 'equivocation', offender: first.author, first: { type: 'proposal', block: first }, second: { type: 'proposal', block: second } })
    })
    // Every block we learn of (proposal, fetched ancestor, synced, our own) is checked for equivocation.
    const recent = new RecentBlocks((block) => equivocations.observe(block))

    const core = new ConsensusCore({
      index,
      committee,
      secretKey,
      genesis: r.genesis,
      leaderElection: new RoundRobin(committee.n),
      baseTimeoutMs: params.baseTimeoutMs,
      maxTimeoutMs: params.maxTimeoutMs,
      committed,
      ...(safety !== undefined ? { safety } : {}),
      ...(recovery !== undefined ? { highQc: recovery.highQc } : {}),
      ...(recovery?.lastTc !== undefined ? { lastTc: recovery.lastTc } : {}),
      ...(nc.byzantine?.brokenVoteRule ? { testFaults: { brokenVoteRule: true } } : {}),
    })

    this.payloads = new PayloadManager(
      {
        self: index,
        mode: params.payloadMode,
        maxBlockBatches: params.maxBlockBatches,
        maxBlockTxs: params.maxBlockTxs,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        mempool: { maxTxs: nc.mempoolMaxTxs, batchSize: params.batchSize, maxBatchDelayMs: params.maxBatchDelayMs, nonceWindow: NONCE_WINDOW },
      },
      {
        store: store.batches,
        verifier,
        verified: new VerifiedTxs(),
        accounts: { getAccount: (address) => state.get(address) },
        isCommitted: (hashes) => store.txIndex.hasMany(hashes),
        network: {
          publish: (encoded) => network.publish(BATCHES_TOPIC, encoded),
          request: (peer, data) => peers.request(peer, SYNC_BATCHES_PROTOCOL, data),
          peersFor: (first) => peers.askOrder(first),
        },
        pendingBranch: () => recent.branch(core.highQc.blockId, this.committer.height),
        metrics,
        log,
      },
    )

    this.committer = new BlockCommitter(
      {
        store,
        state,
        executor,
        payloads: this.payloads,
        metrics,
        commits: this.commits,
        log,
        onFatal: (err) => {
          for (const listener of this.#fatalListeners) listener(err)
        },
      },
      committed,
    )

    const sync = new BlockSync({
      committee,
      genesisId: r.genesis.id,
      store,
      recent,
      committer: this.committer,
      request: (peer, data) => peers.request(peer, SYNC_BLOCKS_PROTOCOL, data),
      peersFor: (first) => peers.askOrder(first),
      maxMessageBytes: MAX_MESSAGE_BYTES,
      log,
      metrics,
      onSynced: (blocks) => {
        for (const block of blocks) this.driver.enqueue({ type: 'blockFetched', block })
      },
    })

    const messages = new ConsensusNetwork({ network, peers, recent, sync, metrics, log, deliver: (event) => this.driver.enqueue(event) })
    const mode = nc.byzantine?.mode
    const transmitter = mode === undefined ? messages : new ByzantineTransmitter(mode, { index, secretKey, validators: committee.n }, (action) => messages.transmit(action))
    this.#spammer = mode === 'spam' ? new Spammer({ channels: spamChannels(index), peers: peers.others(), maxMessageBytes: MAX_MESSAGE_BYTES }, network, log) : undefined
    if (mode !== undefined) log.warn({ mode }, 'byzantine test mode enabled')

    const observer = new ConsensusObserver({ metrics, log, evidence: this.evidence })
    this.driver = new ConsensusDriver(
      core,
      index,
      {
        persistSafety: (s, rec) => store.safety.save(s, rec),
        transmit: (action) => transmitter.transmit(action),
        fetchPayload: (block) => this.payloads.available(block),
        fetchBlock: (id, from) => {
          sync.catchUp(from)
          return sync.fetchBlock(id, from)
        },
        buildProposal: async (round) => ({ payload: await this.payloads.buildProposal(round), executedRoot: this.committer.root, executedHeight: this.committer.height }),
        commit: (blocks, proof) => {
          sync.retainCertified(proof)
          this.committer.enqueue(blocks, proof).catch(() => undefined)
        },
        timerExpired: (round) => observer.timerExpired(round),
        observe: (action) => observer.observe(action),
      },
      log.child({ module: 'consensus' }),
    )

    network.onGossip(BATCHES_TOPIC, (data, from) => this.payloads.receive(data, from))
    network.onRequest(SYNC_BATCHES_PROTOCOL, (data, from) => this.payloads.answer(data, from))
    network.onRequest(SYNC_BLOCKS_PROTOCOL, (data, from) => sync.answer(data, from))
    messages.listen()
    this.faultControl = faultControlFor(config, network)
    this.http = buildHttpApi(this)
  }

  get index(): number {
    return this.config.node.index
  }

  get mempool(): Mempool {
    return this.payloads.mempool
  }

  /**
   * Opens storage (refusing a corrupted one), rebuilds and checks the state, joins the network,
   * and starts consensus and the HTTP API. Everything opened is closed again if a later step fails.
   */
  static async start(configOrPath: string | LoadedConfig, opts: StartOptions = {}): Promise<ValidatorNode> {
    const config = typeof configOrPath === 'string' ? await loadNodeConfig(configOrPath) : configOrPath
    const { node: nc, genesis } = config
    checkByzantineOptIn(nc, genesis, basename(config.configPath))
    const log = createLogger({ level: nc.logLevel, index: nc.index, ...(opts.logDestination ? { destination: opts.logDestination } : {}) })
    const cleanup: (() => Promise<void> | void)[] = []
    try {
      const store = await NodeStore.open(nc.dataDir)
      cleanup.push(() => store.close())
      const genesisBlk = await initChain(store, genesis, nc.genesis)
      const state = await loadState(store)
      const network = await NetworkHost.start({
        seed: nc.seed,
        listen: nc.listen,
        peers: genesis.validators.map((v) => ({ peerId: v.peerId, addr: v.p2p })),
        topics: [BATCHES_TOPIC, PROPOSALS_TOPIC],
        protocols: [CONSENSUS_PROTOCOL, SYNC_BLOCKS_PROTOCOL, SYNC_BATCHES_PROTOCOL],
        maxMessageBytes: MAX_MESSAGE_BYTES,
        logger: log.child({ module: 'network' }),
        faultSeed: nc.faultSeed ?? nc.index,
      })
      cleanup.push(() => network.stop())
      if (nc.faults !== undefined) network.setLinkFaults('*', nc.faults)
      const verifier = new SignatureVerifier({ threads: nc.verifyWorkers })
      cleanup.push(() => verifier.close())
      const executor = nc.executorWorkers > 0 ? new ParallelExecutor({ workers: nc.executorWorkers }) : undefined
      if (executor) cleanup.push(() => executor.close())

      const committed = (await store.blockAt(store.committedHeight()))!
      const node = new ValidatorNode({
        config,
        log,
        store,
        state,
        network,
        verifier,
        executor,
        genesis: genesisBlk,
        committed,
        safety: await store.safety.load(),
        recovery: await store.safety.loadRecovery(),
        evidence: await store.evidence.newest(EVIDENCE_IN_MEMORY),
      })
      cleanup.push(() => node.http.close())
      await node.http.listen({ host: nc.httpHost, port: nc.httpPort })
      node.driver.start()
      node.#spammer?.start()
      log.info({ height: committed.height, round: node.driver.core.round, http: `${nc.httpHost}:${nc.httpPort}`, peerId: network.peerId }, 'validator started')
      return node
    } catch (err) {
      for (const close of cleanup.reverse()) await Promise.resolve(close()).catch(() => undefined)
      if (err instanceof StorageCorruptionError) log.fatal({ dir: err.dir }, err.message)
      log.flush()
      throw err
    }
  }

  // ---------------------------------------------------------------- NodeApi

  async submit(encoded: readonly Uint8Array[]): Promise<SubmitResult[]> {
    const started = performance.now()
    const results = await this.mempool.submit(encoded)
    this.metrics.verifyDuration.observe((performance.now() - started) / 1000)
    this.metrics.rejectedTxs.inc(results.reduce((n, r) => n + (r.accepted ? 0 : 1), 0))
    this.metrics.mempoolTxs.set(this.mempool.size)
    return results
  }

  async txStatus(hash: Uint8Array): Promise<TxStatus> {
    const record = await this.store.txIndex.get(hash)
    if (record !== undefined) {
      return record.status === 'ok' ? { status: 'committed', height: record.height } : { status: 'failed', height: record.height, reason: record.reason ?? 'failed' }
    }
    return this.mempool.isPending(hash) ? { status: 'pending' } : { status: 'unknown' }
  }

  async account(address: Uint8Array): Promise<{ balance: bigint; nonce: bigint }> {
    return this.state.get(address) ?? { balance: 0n, nonce: 0n }
  }

  async committedBlock(height: number): Promise<{ block: Block; txHashes: readonly Uint8Array[] } | undefined> {
    if (height > this.committer.height) return undefined
    const block = await this.store.blockAt(height)
    if (block === undefined) return undefined
    const receipts = (await this.store.receipts.get(height)) ?? []
    return { block, txHashes: receipts.map((r) => r.txHash) }
  }

  status(): StatusView {
    const round = this.driver.core.round
    this.metrics.peers.set(this.network.connectedPeers().length)
    this.metrics.mempoolTxs.set(this.mempool.size)
    return {
      index: this.index,
      height: this.committer.height,
      round,
      leader: round % this.config.genesis.validators.length,
      peers: this.network.connectedPeers().length,
      mempool: this.mempool.size,
      committedTxs: this.committer.committedTxs,
      executedRoot: toHex(this.committer.root),
      evidence: this.evidence.views(),
      evidenceCount: this.evidence.count,
    }
  }

  /** Called when the validator can no longer go on (a commit failed); the process should stop. */
  onFatal(listener: (err: unknown) => void): void {
    this.#fatalListeners.push(listener)
  }

  /** Clean shutdown: stop accepting work, let the current commit finish, close everything. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#spammer?.stop()
      this.driver.stop()
      this.commits.close()
      await this.http.close()
      this.payloads.close()
      await this.committer.stop()
      await this.network.stop()
      await this.#verifier.close()
      await this.#executor?.close()
      await this.evidence.flush()
      await this.store.close()
      this.log.info('validator stopped')
      this.log.flush()
    })()
    return this.#stopping
  }
}
