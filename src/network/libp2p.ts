import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import type { ValidatorGater } from './gater.ts'

/** A validator's libp2p node: tcp + noise + yamux, identify, and gossipsub as `pubsub`. */
export type Libp2pNode = Libp2p<{ identify: Identify; pubsub: GossipSub }>

/**
 * A gossipsub RPC carries the payload plus topic and any piggybacked control messages; 64 KiB
 * covers that with room to spare while keeping the decoder's allocation bounded by roughly one
 * maximum message.
 */
export const GOSSIP_RPC_OVERHEAD_BYTES = 64 * 1024

export const DEFAULT_DIAL_TIMEOUT_MS = 5_000

/** Gossip message ids hash the data, so republishing identical bytes is a no-op everywhere. */
export function gossipMessageId(topic: string, data: Uint8Array): Uint8Array {
  return createHash('sha256').update(topic).update(data).digest()
}

export interface Libp2pOptions {
  readonly privateKey: Ed25519PrivateKey
  readonly listen: string
  readonly gater: ValidatorGater
  readonly topics: readonly string[]
  readonly maxMessageBytes: number
  readonly dialTimeoutMs: number
}

/** Creates (and starts) the libp2p node with the transport and gossip settings validators need. */
export function createLibp2pNode(opts: Libp2pOptions): Promise<Libp2pNode> {
  return createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: [opts.listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: opts.gater.connectionGater(),
    connectionManager: {
      // Every validator connects from 127.0.0.1 in local testnets; the default of 5 inbound
      // attempts/s per host would throttle a restarting committee. The gater does admission.
      inboundConnectionThreshold: 10_000,
      maxIncomingPendingConnections: 1_000,
      dialTimeout: opts.dialTimeoutMs,
    },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        emitSelf: false,
        // Unsigned gossip: only validators can connect (gater, peer ids authenticated by the
        // noise handshake), and every payload carries its own proof — proposals are signed by
        // validator keys, batches are checked tx by tx. A libp2p signature per message added
        // an ed25519 sign per publish and a verify per receipt on the main thread (~10% of a
        // loaded node's CPU, docs/decisions.md "Where the CPU goes") and proved nothing more.
        // The sender a handler sees is the peer that relayed the message to us.
        globalSignaturePolicy: 'StrictNoSign',
        allowPublishToZeroTopicPeers: true,
        // The message id is a hash of the data, so republishing identical bytes is a no-op.
        ignoreDuplicatePublishError: true,
        // Validators are fully connected, so the publisher's flood reaches every one of them
        // and relaying adds only copies: with all validators as gossipsub direct peers (or in a
        // mesh) each receiver forwarded every message to the others, three copies per receiver
        // at n = 4 (loopback traffic at 5,000 tx/s fell from 10.8 to 6.0 MB/s without them,
        // docs/decisions.md). So no mesh: a validator that missed a message over a broken link
        // pulls it through gossipsub's IHAVE/IWANT at the next heartbeat, and a batch a
        // proposal names is fetched by digest (docs/design.md, "Batches"); reconnection is the
        // keeper's job.
        floodPublish: true,
        D: 0,
        Dlo: 0,
        Dhi: 0,
        Dout: 0,
        Dscore: 0,
        fallbackToFloodsub: false,
        doPX: false,
        msgIdFn: (msg: Message) => gossipMessageId(msg.topic, msg.data),
        maxInboundDataLength: opts.maxMessageBytes + GOSSIP_RPC_OVERHEAD_BYTES,
        allowedTopics: [...opts.topics],
        // All validators of a local testnet share one IP; colocation scoring would penalise them.
        scoreParams: { IPColocationFactorWeight: 0 },
      }),
    },
  })
}
