import { bytesEqual, toHex } from '../core/hash.ts'
import { ConfigError, genesisAccountKeyPair, type GenesisConfig } from '../node/config.ts'
import { fetchJson } from './node-client.ts'
import type { LoadAccount } from './presign.ts'

/** Concurrent `GET /account` requests while reading start nonces: enough to be quick, few enough not to flood a node. */
const NONCE_QUERY_CONCURRENCY = 32

/**
 * Re-derives the keys of the genesis-funded accounts (as `src/node/config.ts` generated them)
 * and checks each against its genesis address, so a genesis from another generator fails here
 * with the account named instead of as a flood of signature rejections.
 */
export function genesisAccounts(genesis: GenesisConfig, file: string): Omit<LoadAccount, 'nextNonce'>[] {
  if (genesis.accounts.length === 0) throw new ConfigError(file, 'accounts: genesis funds no accounts, nothing to sign load with')
  return genesis.accounts.map((a, i) => {
    const pair = genesisAccountKeyPair(genesis, i)
    if (!bytesEqual(pair.publicKey, a.address)) {
      throw new ConfigError(file, `accounts[${i}]: address ${toHex(a.address)} is not derived from ${genesis.accountsSeedLabel}/${i}, cannot sign for it`)
    }
    return { publicKey: pair.publicKey, secretKey: pair.secretKey }
  })
}

/**
 * Asks a validator for each account's next nonce, so `bftlab load` can run repeatedly against
 * one chain: txs signed from nonce 0 again would all be rejected as stale.
 */
export async function withChainNonces(target: string, accounts: readonly Omit<LoadAccount, 'nextNonce'>[]): Promise<LoadAccount[]> {
  const out: LoadAccount[] = new Array(accounts.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < accounts.length) {
      const i = next++
      const a = accounts[i]!
      const { nonce } = await fetchJson<{ nonce: string }>(target, `/account/${toHex(a.publicKey)}`)
      out[i] = { ...a, nextNonce: BigInt(nonce) }
    }
  }
  await Promise.all(Array.from({ length: Math.min(NONCE_QUERY_CONCURRENCY, accounts.length) }, worker))
  return out
}
