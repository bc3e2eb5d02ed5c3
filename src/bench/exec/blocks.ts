import { sha256 } from '../../core/hash.ts'
import { deriveSeed, keyPairFromSeed, type KeyPair } from '../../core/keys.ts'
import { Prng } from '../../core/prng.ts'
import { signTx, type Tx } from '../../core/tx.ts'
import { genesisState, type WorldState } from '../../execution/state.ts'

/** Hot-account mode: a fraction `p` of txs send to (and, if compute, write the slot of) one of `k` hot accounts. */
export interface HotSpec {
  readonly p: number
  readonly k: number
}

export interface BenchBlockSpec {
  readonly accounts: number
  readonly txs: number
  readonly computeUs: number
  readonly hot?: HotSpec
  readonly seed: number
}

export interface BenchBlock {
  readonly genesis: WorldState
  readonly txs: Tx[]
}

/** Each genesis account holds this much: enough that no bench tx ever fails for lack of funds. */
const GENESIS_BALANCE = 10n ** 15n

const keyCache: KeyPair[] = []
function benchKey(i: number): KeyPair {
  keyCache[i] ??= keyPairFromSeed(deriveSeed('exec-bench/account', i))
  return keyCache[i]!
}

/** The compute slot paired with account i, so slot contention follows account contention. */
function benchSlot(i: number): Uint8Array {
  return sha256(new TextEncoder().encode(`exec-bench/slot/${i}`))
}

/**
 * A seeded block on the Block-STM grid: p2p transfers (or compute txs of `computeUs` units
 * writing the recipient's slot) between uniformly random distinct accounts, all valid
 * (sequential nonces per sender). Signing happens here, outside any timed section.
 */
export function generateBenchBlock(spec: BenchBlockSpec): BenchBlock {
  if (spec.accounts < 2) throw new RangeError(`a bench block needs at least 2 accounts, got ${spec.accounts}`)
  const prng = new Prng(spec.seed)
  const pick = (n: number): number => Math.floor(prng.float() * n)
  const genesis = genesisState(Array.from({ length: spec.accounts }, (_, i) => ({ address: benchKey(i).publicKey, balance: GENESIS_BALANCE })))
  const nonces = new Array<bigint>(spec.accounts).fill(0n)
  const txs: Tx[] = []
  for (let t = 0; t < spec.txs; t++) {
    const from = pick(spec.accounts)
    const hot = spec.hot !== undefined && prng.float() < spec.hot.p
    let to = hot ? pick(Math.min(spec.hot!.k, spec.accounts)) : pick(spec.accounts - 1)
    if (!hot && to >= from) to++
    const compute = spec.computeUs > 0
    const body = {
      kind: compute ? ('compute' as const) : ('transfer' as const),
      from: benchKey(from).publicKey,
      to: benchKey(to).publicKey,
      amount: BigInt(1 + pick(100)),
      nonce: nonces[from]!,
      fee: 1n,
      computeUnits: compute ? spec.computeUs : 0,
      accessList: compute ? [benchSlot(to)] : [],
      payload: new Uint8Array(0),
    }
    nonces[from]!++
    txs.push(signTx(body, benchKey(from).secretKey))
  }
  return { genesis, txs }
}
