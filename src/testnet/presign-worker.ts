import { parentPort, workerData } from 'node:worker_threads'
import { encodeTx, signTx, txHash } from '../core/tx.ts'
import type { PresignRange, PresignedChunk } from './presign.ts'
import { transferAt } from './presign.ts'

/** Signs the txs of one contiguous range of the schedule and returns them as transferable buffers. */
function signRange(job: PresignRange): PresignedChunk {
  const count = job.end - job.start
  const encoded: Uint8Array[] = new Array(count)
  const hashes = new Uint8Array(count * 32)
  let bytes = 0
  for (let j = job.start; j < job.end; j++) {
    const { body, senderIndex } = transferAt(job, j)
    const tx = signTx(body, job.secretKeys[senderIndex]!)
    const e = encodeTx(tx)
    encoded[j - job.start] = e
    hashes.set(txHash(tx), (j - job.start) * 32)
    bytes += e.length
  }
  const data = new Uint8Array(bytes)
  const offsets = new Uint32Array(count + 1)
  for (let i = 0; i < count; i++) {
    data.set(encoded[i]!, offsets[i]!)
    offsets[i + 1] = offsets[i]! + encoded[i]!.length
  }
  return { start: job.start, data, offsets, hashes }
}

const chunk = signRange(workerData as PresignRange)
// The buffers were allocated here (never shared), so they can be moved instead of copied.
parentPort!.postMessage(chunk, [chunk.data.buffer as ArrayBuffer, chunk.offsets.buffer as ArrayBuffer, chunk.hashes.buffer as ArrayBuffer])
