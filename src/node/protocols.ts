/** Gossip topics and stream protocols validators speak (sync ones live with their code: sync.ts, payload.ts). */
export const BATCHES_TOPIC = 'bftlab/batches/1'
export const PROPOSALS_TOPIC = 'bftlab/proposals/1'
/** One-way votes, timeouts and TCs addressed to specific validators. */
export const CONSENSUS_PROTOCOL = '/bftlab/consensus/1'

/**
 * Largest network message: a full batch (10k txs ≈ 2.4 MB) or a full block with 5k inline txs
 * (≈ 1.2 MB) fits; a peer cannot make us buffer more than this per message.
 */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024
