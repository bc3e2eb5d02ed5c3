import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { Account } from '../../src/core/account.ts'
import { toHex } from '../../src/core/hash.ts'
import { StateCommitment, WorldState, executeSequential, genesisState } from '../../src/execution/index.ts'
import { keys, slotKeys, transfer } from './fixtures.ts'

const accountArb = fc.record({ balance: fc.bigInt({ min: 0n, max: 10n ** 12n }), nonce: fc.bigInt({ min: 0n, max: 1000n }) })
const entriesArb = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: keys.length - 1 }), accountArb), { minLength: 1, maxLength: keys.length, selector: ([i]) => i })

function accountEntries(entries: [number, Account][]): [Uint8Array, Account][] {
  return entries.map(([i, account]) => [keys[i]!.publicKey, account])
}

describe('state commitment (LtHash)', () => {
  it('is independent of insertion order', () => {
    fc.assert(
      fc.property(entriesArb, fc.infiniteStream(fc.nat()), (entries, perm) => {
        const shuffled = entries.map((e) => [perm.next().value, e] as const).sort((a, b) => a[0] - b[0]).map(([, e]) => e)
        const slots: [Uint8Array, Uint8Array][] = slotKeys.map((k, i) => [k, slotKeys[(i + 1) % slotKeys.length]!])
        const a = StateCommitment.fromEntries(accountEntries(entries), slots).root()
        const b = StateCommitment.fromEntries(accountEntries(shuffled), [...slots].reverse()).root()
        assert.deepEqual(a, b)
      }),
      { numRuns: 50 },
    )
  })

  it('changes when any balance or nonce changes', () => {
    fc.assert(
      fc.property(entriesArb, fc.nat(), fc.boolean(), fc.bigInt({ min: 1n, max: 1000n }), (entries, at, balanceField, bump) => {
        const target = at % entries.length
        const changed = entries.map(([i, a], k): [number, Account] =>
          k !== target ? [i, a] : [i, balanceField ? { ...a, balance: a.balance + bump } : { ...a, nonce: a.nonce + bump }],
        )
        assert.notDeepEqual(StateCommitment.fromEntries(accountEntries(entries)).root(), StateCommitment.fromEntries(accountEntries(changed)).root())
      }),
      { numRuns: 50 },
    )
  })

  it('distinguishes an account from a slot with the same key bytes', () => {
    const address = keys[0]!.publicKey
    const asAccount = StateCommitment.fromEntries([[address, { balance: 0n, nonce: 0n }]]).root()
    const asSlot = StateCommitment.fromEntries([], [[address, new Uint8Array(32)]]).root()
    assert.notDeepEqual(asAccount, asSlot)
  })

  it('incremental root after blocks equals the root recomputed from all entries (restart)', () => {
    const state = genesisState(keys.slice(0, 4).map((k) => ({ address: k.publicKey, balance: 1000n })))
    const blocks = [
      [transfer(0, 1, 10n, 0n), transfer(1, 5, 20n, 0n), transfer(2, 2, 5n, 0n)],
      [transfer(0, 3, 1n, 1n), transfer(5, 0, 3n, 0n), transfer(3, 0, 2000n, 0n)],
    ]
    for (const txs of blocks) state.apply(executeSequential(state, txs))
    const reloaded = WorldState.fromEntries(state.accountEntries(), state.slotEntries())
    assert.equal(toHex(reloaded.root()), toHex(state.root()))
    // 5 received 20, then sent 3 paying a fee of 1.
    assert.equal(state.get(keys[5]!.publicKey)?.balance, 16n)
  })

  it('refuses to apply a result computed against another state version', () => {
    const state = genesisState([{ address: keys[0]!.publicKey, balance: 100n }])
    const first = executeSequential(state, [transfer(0, 1, 1n, 0n)])
    const stale = executeSequential(state, [transfer(0, 2, 1n, 0n)])
    state.apply(first)
    assert.throws(() => state.apply(stale), /computed against state version 0, but the state is at version 1/)
  })

  it('rejects a genesis whose supply could overflow u64 balances', () => {
    const half = 1n << 63n
    assert.throws(
      () => genesisState([{ address: keys[0]!.publicKey, balance: half }, { address: keys[1]!.publicKey, balance: half }]),
      /exceeds u64/,
    )
  })
})
