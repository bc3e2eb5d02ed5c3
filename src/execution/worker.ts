import { setTimeout as sleep } from 'node:timers/promises'
import { move } from 'piscina'
import { toHex } from '../core/hash.ts'
import { decodeTx, verifyTx } from '../core/tx.ts'
import { changeDelta } from './commitment.ts'
import type { Account, StateReader } from './state.ts'
import { BlockOverlay, applyTx, burnCompute } from './transition.ts'
import {
  decodeCommitTask,
  decodeExecuteTask,
  decodeVerifyTask,
  encodeExecuteResult,
  type ExecuteTaskOutput,
  type WorkerTask,
} from './wire.ts'

/** Piscina worker of the parallel executor: runs the shared transition function on shipped state. */
export default async function runTask(task: WorkerTask): Promise<ArrayBuffer> {
  if (task.kind === 'burn') {
    burnCompute(new Uint8Array(task.bytes, 0, Math.min(32, task.bytes.byteLength)), task.units)
    return move(new ArrayBuffer(8)) as ArrayBuffer
  }
  // Test-only: a seeded delay per task shuffles completion order (the result must not depend on it).
  if (task.delayMs > 0) await sleep(task.delayMs)
  switch (task.kind) {
    case 'execute':
      return move(encodeExecuteResult(execute(task.bytes))) as ArrayBuffer
    case 'verify': {
      const valid = Uint8Array.from(decodeVerifyTask(task.bytes), (bytes) => (verifyTx(decodeTx(bytes)) ? 1 : 0))
      return move(valid.buffer) as ArrayBuffer
    }
    case 'commit': {
      const delta = changeDelta(decodeCommitTask(task.bytes))
      return move(delta.buffer as ArrayBuffer) as ArrayBuffer
    }
  }
}

/**
 * Executes the task's txs in block order. The scheduler guarantees no other in-flight task
 * touches any key these txs touch, so the shipped pre-state is exactly what the sequential
 * oracle would see at this point of the block.
 */
function execute(bytes: ArrayBuffer): ExecuteTaskOutput {
  const input = decodeExecuteTask(bytes)
  const accounts = new Map<string, Account>()
  for (const { address, account } of input.accounts) if (account !== undefined) accounts.set(toHex(address), account)
  const slots = new Map<string, Uint8Array>()
  for (const { key, value } of input.slots) slots.set(toHex(key), value)
  const shipped: StateReader = { account: (id) => accounts.get(id), slot: (id) => slots.get(id) }

  const view = new BlockOverlay(shipped)
  const receipts = input.txs.map(({ index, hash, encoded }) => {
    const outcome = applyTx(view, decodeTx(encoded), hash)
    return { index, reason: outcome.ok ? undefined : outcome.reason }
  })
  return {
    receipts,
    feeSinkCredit: view.feeSinkCredit,
    accounts: [...view.accounts].map(([id, account]) => ({ address: Buffer.from(id, 'hex'), account })),
    slots: [...view.slots].map(([id, value]) => ({ key: Buffer.from(id, 'hex'), value })),
  }
}
