/**
 * The database on disk does not hold what this node wrote there (truncated files, a damaged
 * value, a missing key). Never retried: the node must stop and an operator must act, so the
 * message says what is damaged and what to do.
 */
export class StorageCorruptionError extends Error {
  readonly dir: string
  constructor(dir: string, what: string, options?: { cause?: unknown }) {
    super(`storage at ${dir} is corrupted: ${what}. Stop the node, delete ${dir} and let it resync from peers.`, options)
    this.name = 'StorageCorruptionError'
    this.dir = dir
  }
}
