import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'
import { clockTicksPerSecond, CpuWindow, processCpuMs } from '../../src/testnet/proc-cpu.ts'

test('process CPU time from /proc: grows with work, undefined for a process that does not exist', () => {
  assert.equal(clockTicksPerSecond(), Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()))
  const window = new CpuWindow([process.pid, 2 ** 22 + 1])
  window.start()
  const before = processCpuMs(process.pid)!
  // Burn ~200 ms of CPU on this thread: the stat's resolution is one clock tick (10 ms at 100 Hz).
  const until = performance.now() + 200
  let x = 0
  while (performance.now() < until) x += Math.sqrt(x + 1)
  assert.ok(x > 0)
  const after = processCpuMs(process.pid)!
  assert.ok(after - before >= 100, `${after - before} ms of CPU for ~200 ms of spinning`)
  const [self, missing] = window.stop()
  assert.ok(self! >= after - before - 1_000 / clockTicksPerSecond(), `window saw ${self} ms`)
  // Beyond the kernel's pid range (at most 2^22): never a process.
  assert.equal(missing, undefined)
  assert.equal(processCpuMs(2 ** 22 + 1), undefined)
})
