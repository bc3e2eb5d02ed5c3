import { parentPort, workerData } from 'node:worker_threads'
import { FILLED_ACCOUNTS, FILLED_SLOTS, FILLED_TXS, attachBlock, awaitTxFilled } from '../../src/execution/shared-block.ts'

/** Waits for tx 0's bytes and pre-state, then reports what it saw: the executor's side of a streamed fill. */
const v = attachBlock(workerData.buffer, workerData.sizes)
const ready = awaitTxFilled(v, 0, 5, 5000)
parentPort!.postMessage({
  ready,
  txByte: v.txBytes[0],
  balance: v.balances[3],
  filled: [Atomics.load(v.control, FILLED_TXS), Atomics.load(v.control, FILLED_ACCOUNTS), Atomics.load(v.control, FILLED_SLOTS)],
})
