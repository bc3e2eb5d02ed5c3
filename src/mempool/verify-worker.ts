import { move } from 'piscina'
import { DecodeError } from '../core/codec.ts'
import { verifyEncodedTx } from '../core/tx.ts'
import { unpackTxs } from './tx-pack.ts'

/**
 * Piscina task: verifies every tx packed in `packed` (tx-pack.ts layout) and returns one byte
 * per tx, 1 = decodes and carries a valid signature by `from`, 0 = anything else. The result
 * buffer is transferred back, not copied.
 */
export default function verifyPackedTxs(packed: ArrayBuffer): ArrayBuffer {
  const txs = unpackTxs(packed)
  const verdicts = new Uint8Array(txs.length)
  txs.forEach((bytes, i) => {
    try {
      verdicts[i] = verifyEncodedTx(bytes) ? 1 : 0
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      verdicts[i] = 0
    }
  })
  return move(verdicts.buffer) as ArrayBuffer
}
