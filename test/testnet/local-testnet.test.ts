import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LocalTestnet } from '../../src/testnet/local-testnet.ts'

test('a testnet that is not ready in time is reported with each waiting node\'s log tail', { timeout: 120_000 }, async () => {
  const testnet = await LocalTestnet.create({ validators: 1, accounts: 2 })
  try {
    testnet.start()
    await testnet.waitReady({ timeoutMs: 60_000 })
    // One validator never sees a peer: the wait must time out, quoting its log (the testnet's
    // directory may be gone by the time anyone reads the message).
    await assert.rejects(testnet.waitReady({ timeoutMs: 1_000, peers: 1 }), (err: Error) => {
      assert.match(err.message, /^testnet not ready after 1000 ms: node 0: 0\/1 peers\n/)
      assert.ok(err.message.includes(`${testnet.logPath(0)} ends with:\n`), err.message)
      assert.match(err.message, /network host started/)
      return true
    })
  } finally {
    await testnet.stop()
    await testnet.remove()
  }
})
