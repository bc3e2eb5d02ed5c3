/**
 * Hard bounds applied while decoding untrusted bytes. They exist so a peer or client cannot make
 * a node allocate unbounded memory; each is far above what honest traffic produces.
 */
export const LIMITS = {
  /** Validators per set: a signer bitmap of 2 bytes per index stays tiny up to this. */
  maxValidators: 1024,
  /** Keys a compute tx may declare; execution scheduling cost grows with this. */
  maxAccessList: 16,
  /** Opaque tx payload bytes. */
  maxTxPayload: 1024,
  /** Txs in one batch: 10k txs ≈ 2 MB, the largest message the network accepts. */
  maxBatchTxs: 10_000,
  /** Batch digests referenced by one block. */
  maxBlockBatches: 4_096,
  /** Txs inline in one full-block payload. */
  maxBlockTxs: 50_000,
} as const
