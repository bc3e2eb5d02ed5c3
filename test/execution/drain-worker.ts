import { parentPort, workerData } from 'node:worker_threads'
import { Prng } from '../../src/core/prng.ts'
import { attachBlock, drainBlock, type BlockSizes } from '../../src/execution/shared-block.ts'

/**
 * Helper thread for shared-block.test.ts: drains a synthetic DAG with the real scheduler and
 * checks, at the start of every tx, that all its predecessors have completed.
 */
interface DrainWorkerData {
  readonly buffer: SharedArrayBuffer
  readonly sizes: BlockSizes
  /** Per tx: how many times it ran, and whether it completed. */
  readonly runs: SharedArrayBuffer
  readonly done: SharedArrayBuffer
  /** [0]: txs that started before one of their predecessors completed. */
  readonly violations: SharedArrayBuffer
  readonly predStart: Int32Array
  readonly preds: Int32Array
  readonly seed: number
  /** Throw while running this tx (-1: never). */
  readonly failAt: number
  readonly stallTimeoutMs: number
}

const data = workerData as DrainWorkerData
const v = attachBlock(data.buffer, data.sizes)
const runs = new Int32Array(data.runs)
const done = new Int32Array(data.done)
const violations = new Int32Array(data.violations)
const prng = new Prng(data.seed)
const sleeper = new Int32Array(new SharedArrayBuffer(4))

function runTx(tx: number): void {
  Atomics.add(runs, tx, 1)
  for (let p = data.predStart[tx]!; p < data.predStart[tx + 1]!; p++) {
    if (Atomics.load(done, data.preds[p]!) !== 1) Atomics.add(violations, 0, 1)
  }
  // Random short pauses shuffle which thread takes which tx.
  if (prng.float() < 0.1) Atomics.wait(sleeper, 0, 0, prng.float() * 0.5)
  if (tx === data.failAt) throw new Error(`injected failure at tx ${tx}`)
  Atomics.store(done, tx, 1)
}

try {
  parentPort!.postMessage({ completed: drainBlock(v, runTx, 5, data.stallTimeoutMs) })
} catch (err) {
  parentPort!.postMessage({ error: (err as Error).message })
}
