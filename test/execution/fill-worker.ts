import { parentPort, workerData } from 'node:worker_threads'
import { FILLED_ACCOUNTS, FILLED_SLOTS, attachBlock, awaitTxPreState } from '../../src/execution/shared-block.ts'

/** Waits for tx 0's pre-state, then reports what it saw: the executor's side of a streamed fill. */
const v = attachBlock(workerData.buffer, workerData.sizes)
const ready = awaitTxPreState(v, 0, 5, 5000)
parentPort!.postMessage({ ready, balance: v.balances[3], filled: [Atomics.load(v.control, FILLED_ACCOUNTS), Atomics.load(v.control, FILLED_SLOTS)] })
