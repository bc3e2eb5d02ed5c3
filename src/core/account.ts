/** An account's state: what execution reads and writes, storage persists and admission checks against. */
export interface Account {
  readonly balance: bigint
  readonly nonce: bigint
}
