export interface TrafficCounter {
  messages: number
  bytes: number
}

/** Counters since start. Traffic keys are a protocol id or `gossip:<topic>`. */
export interface NetworkStats {
  inbound: Record<string, TrafficCounter>
  outbound: Record<string, TrafficCounter>
  /** Frames (or gossip messages) larger than maxMessageBytes; the stream was reset. */
  droppedOversized: number
  /** Bad mode byte, bad length prefix, or protocol misuse on a stream; the stream was reset. */
  droppedMalformed: number
  /** Inbound messages dropped by the per-peer token buckets. */
  rateLimited: number
  /** Peers disconnected and put in cool-off for repeated rate-limit violations. */
  rateLimitDisconnects: number
  /** Connection attempts refused by the gater (non-validators, peers in cool-off). */
  refusedConnections: number
  /** Messages dropped by fault emulation (link down or loss), both directions. */
  faultDropped: number
  /** Outbound one-way messages dropped because the per-peer queue was full or no stream opened. */
  queueDropped: number
  /** Handler exceptions (application bugs), caught so the stream/host survives. */
  handlerErrors: number
  reconnects: number
}

export function emptyStats(): NetworkStats {
  return {
    inbound: {},
    outbound: {},
    droppedOversized: 0,
    droppedMalformed: 0,
    rateLimited: 0,
    rateLimitDisconnects: 0,
    refusedConnections: 0,
    faultDropped: 0,
    queueDropped: 0,
    handlerErrors: 0,
    reconnects: 0,
  }
}

export function countTraffic(table: Record<string, TrafficCounter>, key: string, bytes: number): void {
  const c = (table[key] ??= { messages: 0, bytes: 0 })
  c.messages++
  c.bytes += bytes
}

export const gossipKey = (topic: string): string => `gossip:${topic}`
