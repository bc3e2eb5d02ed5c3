import type { FastifyInstance } from 'fastify'
import { basename } from 'node:path'
import type { DestinationStream } from 'pino'
import { genesisBlock, type Block } from '../core/block.ts'
import { DecodeError, Reader } from '../core/codec.ts'
import { Committee } from '../core/committee.ts'
import { bytesEqual, fromHex, toHex } from '../core/hash.ts'
import { keyPairFromSeed } from '../core/keys.ts'
import { ConsensusCore } from '../consensus/core.ts'
import { RoundRobin } from '../consensus/leader.ts'
import { decodeConsensusMessage, encodeConsensusMessage } from '../consensus/messages.ts'
import type { ConsensusAction, ConsensusMessage, SendAction } from '../consensus/types.ts'
import { ParallelExecutor } from '../execution/parallel.ts'
import { WorldState, genesisState } from '../execution/state.ts'
import { BatchRejectedError, BatchStore } from '../mempool/batch-store.ts'
import { Mempool } from '../mempool/mempool.ts'
import { SignatureVerifier } from '../mempool/verifier.ts'
import { VerifiedTxs } from '../mempool/verified-txs.ts'
import { NetworkHost } from '../network/host.ts'
import { StorageCorruptionError } from '../storage/errors.ts'
import { NodeStore } from '../storage/node-store.ts'
import { faultControlFor, type FaultControl } from './admin.ts'
import { BatchQueue } from './batch-queue.ts'
import { ByzantineTransmitter } from './byzantine.ts'
import { CommitFeed } from './commit-feed.ts'
import { BlockCommitter, slotIdOfStoredKey, toStoredWrites } from './committer.ts'
import { checkByzantineOptIn, loadNodeConfig, type LoadedConfig } from './config.ts'
import { ConsensusDriver, type ProposalContents } from './consensus-driver.ts'
import { EVIDENCE_IN_MEMORY, EquivocationWatch, EvidenceLog } from './evidence.ts'
import { buildHttpApi, type NodeApi, type StatusView, type SubmitResult, type TxStatus } from './http.ts'
import { createLogger, type Logger } from './logger.ts'
import { NodeMetrics } from './metrics.ts'
import { PayloadAvailability, SYNC_BATCHES_PROTOCOL, answerBatchRequest } from './payload.ts'
import { BATCHES_TOPIC, CONSENSUS_PROTOCOL, MAX_MESSAGE_BYTES, PROPOSALS_TOPIC } from './protocols.ts'
import { RecentBlocks } from './recent-blocks.ts'
import { SerialByKey } from './serial.ts'
import { Spammer, spamChannels } from './spam.ts'
import { BlockSync, SYNC_BLOCKS_PROTOCOL } from './sync.ts'

export { BATCHES_TOPIC, CONSENSUS_PROTOCOL, MAX_MESSAGE_BYTES, PROPOSALS_TOPIC }
/** Admitted nonces per sender ahead of its account nonce: lets a client pipeline its txs. */
const NONCE_WINDOW = 1_024
/** Longest a leader waits for a batch before proposing an empty block; well below round timeouts. */
const EMPTY_PROPOSAL_WAIT_MS = 100

export interface StartOptions {
  /** Where pino writes (tests pass a sink); default stdout. */
  readonly logDestination?: DestinationStream
}

/** One validator: storage, state, network, mempool, consensus and the HTTP API, wired together. */
export class ValidatorNode implements NodeApi {
  readonly config: LoadedConfig
  readonly log: Logger
  readonly metrics: NodeMetrics
  readonly commits = new CommitFeed()
  readonly store: NodeStore
  readonly state: WorldState
  readonly network: NetworkHost
  readonly mempool: Mempool
  readonly driver: ConsensusDriver
  readonly committer: BlockCommitter
  readonly evidence: EvidenceLog
  readonly http: FastifyInstance
  readonly faultControl: FaultControl | undefined
  readonly #verifier: SignatureVerifier
  readonly #executor: ParallelExecutor | undefined
  readonly #peerIds: readonly string[]
  readonly #indexOfPeer: ReadonlyMap<string, number>
  /** Set only in the `spam` byzantine test mode. */
  readonly #spammer: Spammer | undefined
  readonly #fatalListeners: ((err: unknown) => void)[] = []
  #committedTxs = 0
  #stopping: Promise<void> | undefined

  private constructor(parts: {
    config: LoadedConfig
    log: Logger
    metrics: NodeMetrics
    store: NodeStore
    state: WorldState
    network: NetworkHost
    verifier: SignatureVerifier
    executor: ParallelExecutor | undefined
    build: (node: ValidatorNode) => Wired
  }) {
    this.config = parts.config
    this.log = parts.log
    this.metrics = parts.metrics
    this.store = parts.store
    this.state = parts.state
    this.network = parts.network
    this.#verifier = parts.verifier
    this.#executor = parts.executor
    this.#peerIds = parts.config.genesis.validators.map((v) => v.peerId)
    this.#indexOfPeer = new Map(this.#peerIds.map((id, i) => [id, i]))
    const { mempool, driver, committer, evidence, spammer } = parts.build(this)
    this.mempool = mempool
    this.driver = driver
    this.committer = committer
    this.evidence = evidence
    this.#spammer = spammer
    this.faultControl = faultControlFor(parts.config, parts.network)
    this.http = buildHttpApi(this)
  }

  get index(): number {
    return this.config.node.index
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
      const initial = genesisState(genesis.accounts)
      const genesisBlk = genesisBlock(genesis.chainId, initial.root())
      if (!store.initialized) {
        await store.initGenesis({ block: genesisBlk, writes: toStoredWrites({ accounts: new Map([...initial.accountEntries()].map(([a, acc]) => [toHex(a), acc])), slots: new Map() }), root: initial.root() })
      }
      const state = await loadState(store)
      const stored = await store.blockAt(0)
      if (stored === undefined || !bytesEqual(stored.id, genesisBlk.id)) {
        throw new Error(`storage at ${nc.dataDir} holds another chain (genesis ${stored ? toHex(stored.id) : 'missing'}, expected ${toHex(genesisBlk.id)} from ${nc.genesis}); use a fresh dataDir`)
      }
      const metrics = new NodeMetrics()
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
      const safety = await store.safety.load()
      const recovery = await store.safety.loadRecovery()
      const storedEvidence = await store.evidence.newest(EVIDENCE_IN_MEMORY)
      const node = new ValidatorNode({
        config,
        log,
        metrics,
        store,
        state,
        network,
        verifier,
        executor,
        build: (self) => self.#wire(genesisBlk, committed, safety, recovery, storedEvidence),
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

  /** Builds the modules that call back into the node and registers the network handlers. */
  #wire(
    genesis: Block,
    committed: Block,
    safety: Awaited<ReturnType<NodeStore['safety']['load']>>,
    recovery: Awaited<ReturnType<NodeStore['safety']['loadRecovery']>>,
    storedEvidence: Awaited<ReturnType<NodeStore['evidence']['newest']>>,
  ): Wired {
    const { node: nc, genesis: g } = this.config
    const params = g.params
    const committee = new Committee(g.validators.map((v) => v.publicKey))
    const election = new RoundRobin(committee.n)
    const verified = new VerifiedTxs()
    const queue = new BatchQueue()
    const evidence = new EvidenceLog({ committee, store: this.store.evidence, metrics: this.metrics, log: this.log }, storedEvidence)
    const equivocations = new EquivocationWatch(committee, (first, second) => {
      evidence.record({ kind: 'equivocation', offender: first.author, first: { type: 'proposal', block: first }, second: { type: 'proposal', block: second } })
    })
    // Every block we learn of (proposal, fetched ancestor, synced, our own) is checked for equivocation.
    const recent = new RecentBlocks((block) => equivocations.observe(block))
    const batches = new BatchStore({}, { store: this.store.batches, verifier: this.#verifier, verified })
    const others = (first: number): number[] => {
      const order = [first, ...committee.publicKeys.map((_, i) => (first + 1 + i) % committee.n)]
      return [...new Set(order)].filter((i) => i !== this.index)
    }
    const request = (peer: number, protocol: string, data: Uint8Array): Promise<Uint8Array> =>
      this.network.request(this.#peerIds[peer]!, protocol, data, params.baseTimeoutMs)
    const payload = new PayloadAvailability(batches, { peersFor: others, request: (peer, data) => request(peer, SYNC_BATCHES_PROTOCOL, data) }, MAX_MESSAGE_BYTES, this.log)
    /** Per-author order of batch hand-offs: our own to gossip, peers' to the proposal queue. */
    const batchOrder = new SerialByKey()

    const mempool = new Mempool(
      { maxTxs: nc.mempoolMaxTxs, batchSize: params.batchSize, maxBatchDelayMs: params.maxBatchDelayMs, author: this.index, nonceWindow: NONCE_WINDOW },
      {
        accounts: { getAccount: (address) => this.state.get(address) },
        verifier: this.#verifier,
        verified,
        isCommitted: (hashes) => this.store.txIndex.hasMany(hashes),
        onBatch: (packed) => {
          this.metrics.batchSize.observe(packed.batch.txs.length)
          queue.add(packed.batch, packed.digest)
          if (params.payloadMode === 'full-block') return
          // Published in seq order: storing finishes out of order (LevelDB puts complete on
          // several threads), and peers queue an author's batches as they arrive, so batch n+1
          // gossiped before batch n would be proposed first and its txs fail as "bad nonce".
          const stored = batches.putPacked(packed)
          void batchOrder.run('own', () =>
            stored.then(
              () => this.network.publish(BATCHES_TOPIC, packed.encoded).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'batch gossip failed')),
              (err: unknown) => this.log.error({ err }, 'own batch could not be stored'),
            ),
          )
        },
      },
    )

    const committer = new BlockCommitter(
      {
        index: this.index,
        store: this.store,
        state: this.state,
        executor: this.#executor,
        batches,
        verifier: this.#verifier,
        verified,
        payload,
        mempool,
        queue,
        metrics: this.metrics,
        commits: this.commits,
        log: this.log,
        onFatal: (err) => {
          for (const listener of this.#fatalListeners) listener(err)
        },
        onCommitted: (_block, receipts) => {
          for (const r of receipts) if (r.status === 'ok') this.#committedTxs++
        },
      },
      committed,
    )

    const { secretKey } = keyPairFromSeed(nc.seed)
    const core = new ConsensusCore({
      index: this.index,
      committee,
      secretKey,
      genesis,
      leaderElection: election,
      baseTimeoutMs: params.baseTimeoutMs,
      maxTimeoutMs: params.maxTimeoutMs,
      committed,
      ...(safety !== undefined ? { safety } : {}),
      ...(recovery !== undefined ? { highQc: recovery.highQc } : {}),
      ...(recovery?.lastTc !== undefined ? { lastTc: recovery.lastTc } : {}),
      ...(nc.byzantine?.brokenVoteRule ? { testFaults: { brokenVoteRule: true } } : {}),
    })

    const sync = new BlockSync({
      committee,
      genesisId: genesis.id,
      store: this.store,
      recent,
      committer,
      request: (peer, data) => request(peer, SYNC_BLOCKS_PROTOCOL, data),
      peersFor: others,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      log: this.log,
      metrics: this.metrics,
      onSynced: (blocks) => {
        for (const block of blocks) driver.enqueue({ type: 'blockFetched', block })
      },
    })

    /**
     * The uncommitted blocks a proposal extends: from the high QC's block down to (excluding) the
     * executed height, whose batches have left the queue. A block missing from `recent` ends the
     * walk early; at worst a batch is then proposed twice on a branch (a duplicate receipt).
     */
    const pendingBranch = (): Block[] => {
      const branch: Block[] = []
      for (let block = recent.get(driver.core.highQc.blockId); block !== undefined && block.height > committer.height; block = recent.get(block.parentQc.blockId)) {
        branch.push(block)
      }
      return branch
    }

    const honest = (action: SendAction): void => this.#transmit(action, recent)
    const mode = nc.byzantine?.mode
    const byzantine = mode === undefined ? undefined : new ByzantineTransmitter(mode, { index: this.index, secretKey, validators: committee.n }, honest)
    const spammer =
      mode === 'spam'
        ? new Spammer({ channels: spamChannels(this.index), peers: this.#peerIds.filter((_, i) => i !== this.index), maxMessageBytes: MAX_MESSAGE_BYTES }, this.network, this.log)
        : undefined
    if (mode !== undefined) this.log.warn({ mode }, 'byzantine test mode enabled')

    const driver: ConsensusDriver = new ConsensusDriver(
      core,
      this.index,
      {
        persistSafety: (s, recovery) => this.store.safety.save(s, recovery),
        transmit: byzantine === undefined ? honest : (action) => byzantine.transmit(action),
        fetchPayload: (block) => payload.ensure(block),
        fetchBlock: (id, from) => {
          sync.catchUp(from)
          return sync.fetchBlock(id, from)
        },
        buildProposal: async (round): Promise<ProposalContents> => {
          // An idle chain would otherwise commit empty blocks as fast as the network allows,
          // each an fsynced write on every validator; waiting briefly for a batch costs
          // nothing under load (batches are always queued) and keeps idle disk use bounded.
          if (!queue.hasEligible(pendingBranch())) await queue.waitForBatch(EMPTY_PROPOSAL_WAIT_MS)
          const pending = pendingBranch()
          return {
            payload:
              params.payloadMode === 'batches'
                ? { kind: 'batches', digests: queue.takeDigests(pending, params.maxBlockBatches, params.maxBlockTxs) }
                : { kind: 'txs', txs: queue.takeTxs(round, pending, params.maxBlockTxs) },
            executedRoot: committer.root,
            executedHeight: committer.height,
          }
        },
        commit: (blocks, proof) => {
          // The block the proof certifies backs our commit in sync answers; keep it on disk.
          const certified = recent.get(proof.blockId)
          if (certified !== undefined) this.store.blocks.put(certified.id, certified).catch((err: unknown) => this.log.warn({ err }, 'storing certified block failed'))
          committer.enqueue(blocks, proof).catch(() => undefined)
        },
        timerExpired: (round) => {
          this.metrics.timeouts.inc()
          this.log.info({ round }, 'round timer expired')
        },
        observe: (action) => this.#observe(action),
      },
      this.log.child({ module: 'consensus' }),
    )

    // Batches of one author are verified concurrently but queued in arrival order: verification
    // finishing out of order would let an author's batch n+1 be proposed before batch n, and the
    // txs of a sender whose nonces span both would then fail as "bad nonce". Keyed by the author
    // the batch names, not by the peer that relayed it (gossip is unsigned, so a relayed copy
    // may arrive first); a false author only reorders that batch, which is then checked anyway.
    this.network.onGossip(BATCHES_TOPIC, (data, from) => {
      const stored = batches.put(data, from)
      void batchOrder.run(batchAuthorOf(data) ?? from, () =>
        stored
          .then(
            (batch) => queue.add(batch.batch, batch.digest),
            (err: unknown) => {
              if (!(err instanceof BatchRejectedError)) throw err
              this.metrics.droppedMessages.inc({ reason: 'invalid batch' })
              this.log.warn({ peer: from, err: err.message }, 'invalid batch dropped')
            },
          )
          .catch((err: unknown) => this.log.error({ err }, 'storing a gossiped batch failed')),
      )
    })
    // Proposals normally arrive by gossip; a leader may also send one directly (and an
    // equivocating one sends each version to different validators): both paths are the same.
    const onConsensusMessage = (message: ConsensusMessage, from: string): void => {
      if (message.type === 'proposal') {
        recent.add(message.block)
        if (message.block.height > committer.height + SYNC_TRIGGER_GAP) sync.catchUp(this.#indexOfPeer.get(from) ?? message.block.author)
      }
      this.#deliver(message, from, driver)
    }
    this.network.onGossip(PROPOSALS_TOPIC, (data, from) => {
      const message = this.#decode(data, from)
      if (message === undefined) return
      if (message.type !== 'proposal') {
        this.metrics.droppedMessages.inc({ reason: 'wrong topic' })
        return
      }
      onConsensusMessage(message, from)
    })
    this.network.onMessage(CONSENSUS_PROTOCOL, (data, from) => {
      const message = this.#decode(data, from)
      if (message !== undefined) onConsensusMessage(message, from)
    })
    this.network.onRequest(SYNC_BLOCKS_PROTOCOL, (data, from) => sync.answer(data, from))
    this.network.onRequest(SYNC_BATCHES_PROTOCOL, async (data, from) => {
      try {
        return await answerBatchRequest(batches, data, MAX_MESSAGE_BYTES)
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err
        this.metrics.droppedMessages.inc({ reason: 'malformed batch request' })
        this.log.debug({ peer: from, err: err.message }, 'malformed batch request')
        return undefined
      }
    })
    return { mempool, driver, committer, evidence, spammer }
  }

  /** Untrusted bytes become a message or a counted, logged drop; never an exception. */
  #decode(data: Uint8Array, from: string): ConsensusMessage | undefined {
    try {
      return decodeConsensusMessage(data)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      this.metrics.droppedMessages.inc({ reason: 'decode' })
      this.log.debug({ peer: from, err: err.message }, 'undecodable consensus message dropped')
      return undefined
    }
  }

  /** Signatures are checked by the core (with its QC cache), which reports failures as `rejected`. */
  #deliver(message: ConsensusMessage, fromPeer: string, driver: ConsensusDriver): void {
    const from = this.#indexOfPeer.get(fromPeer)
    if (from === undefined) {
      this.metrics.droppedMessages.inc({ reason: 'unknown peer' })
      return
    }
    this.metrics.messagesIn.inc({ type: message.type })
    driver.enqueue({ type: 'message', from, message })
  }

  #transmit(action: SendAction, recent: RecentBlocks): void {
    const { message } = action
    const bytes = encodeConsensusMessage(message)
    this.metrics.messagesOut.inc({ type: message.type })
    // Our own proposals back fetchBlock and sync answers, however they were sent.
    if (message.type === 'proposal') recent.add(message.block)
    try {
      if (action.type === 'send') {
        this.network.send(this.#peerIds[action.to]!, CONSENSUS_PROTOCOL, bytes)
      } else if (message.type === 'proposal') {
        this.network.publish(PROPOSALS_TOPIC, bytes).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'proposal gossip failed'))
      } else {
        // Timeouts and TCs go directly to each validator: ordered, and not subject to gossip scoring.
        for (const [i, peer] of this.#peerIds.entries()) if (i !== this.index) this.network.send(peer, CONSENSUS_PROTOCOL, bytes)
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, type: message.type }, 'consensus message not sent')
    }
  }

  #observe(action: Extract<ConsensusAction, { type: 'roundChanged' | 'evidence' | 'rejected' }>): void {
    switch (action.type) {
      case 'roundChanged':
        this.metrics.currentRound.set(action.round)
        this.metrics.roundChanges.inc({ reason: action.reason })
        this.log.debug({ round: action.round, reason: action.reason }, 'round changed')
        return
      case 'evidence':
        this.evidence.record(action)
        return
      case 'rejected':
        this.metrics.droppedMessages.inc({ reason: INVALID_SIGNATURE.test(action.reason) ? 'invalid signature' : 'rejected by consensus' })
        this.log.debug({ from: action.from, reason: action.reason }, 'consensus rejected a message')
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
      committedTxs: this.#committedTxs,
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
      this.mempool.close()
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

/** What `#wire` builds for the constructor. */
interface Wired {
  readonly mempool: Mempool
  readonly driver: ConsensusDriver
  readonly committer: BlockCommitter
  readonly evidence: EvidenceLog
  readonly spammer: Spammer | undefined
}

/**
 * The core's rejection reasons are free text; the ones from a failed signature check (core
 * `verify*` errors: "invalid signature", "invalid signature of validator i") get their own drop
 * reason, so forged or corrupted traffic shows apart from stale or misrouted messages.
 */
const INVALID_SIGNATURE = /invalid signature/

/**
 * A proposal this many heights above our committed height means we fell behind: fetch committed
 * blocks by range instead of walking ancestors one request at a time. Normal operation has
 * proposals at committed + 2 (two uncommitted blocks in the 2-chain pipeline).
 */
const SYNC_TRIGGER_GAP = 4

/** The author field leading a batch's encoding (core/batch.ts layout), or undefined if too short. */
function batchAuthorOf(encoded: Uint8Array): string | undefined {
  try {
    return `author ${new Reader(encoded).u16('batch.author')}`
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    return undefined
  }
}

/** Rebuilds the in-memory state from the store and checks it against the stored root. */
async function loadState(store: NodeStore): Promise<WorldState> {
  const accounts = await store.accounts.entries()
  const slots: [Uint8Array, Uint8Array][] = []
  for (const [key, value] of await store.computeState.entries()) {
    const id = slotIdOfStoredKey(key)
    if (id === undefined || !(value instanceof Uint8Array)) throw new StorageCorruptionError(store.dir, `compute state entry ${key} is not a slot written by this node`)
    slots.push([fromHex(id), value])
  }
  const state = WorldState.fromEntries(accounts.map(([hex, a]) => [fromHex(hex), a] as const), slots)
  const stored = store.chainMeta().stateRoot
  if (!bytesEqual(state.root(), stored)) {
    throw new StorageCorruptionError(store.dir, `state root recomputed from the stored accounts is ${toHex(state.root())}, but the chain meta records ${toHex(stored)}`)
  }
  return state
}
