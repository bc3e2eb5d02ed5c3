import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SerialByKey } from '../../src/mempool/serial.ts'

/** A promise settled from outside, to finish work in any order. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

test('tasks of one key finish in hand-in order even when their work finishes in reverse', async () => {
  const serial = new SerialByKey()
  const work = [deferred(), deferred(), deferred()]
  const done: number[] = []
  const all = work.map((w, i) => serial.run('a', () => w.promise.then(() => void done.push(i))))
  work[2]!.resolve()
  work[1]!.resolve()
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(done, [], 'nothing overtakes the first task')
  work[0]!.resolve()
  await Promise.all(all)
  assert.deepEqual(done, [0, 1, 2])
  assert.equal(serial.activeKeys, 0, 'an idle key is forgotten')
})

test('keys are independent, and a failed task does not stop the ones after it', async () => {
  const serial = new SerialByKey()
  const blocked = deferred()
  const done: string[] = []
  void serial.run('slow', () => blocked.promise.then(() => void done.push('slow')))
  await serial.run('fast', async () => void done.push('fast'))
  assert.deepEqual(done, ['fast'], 'another key runs while one waits')
  const failing = deferred()
  const first = serial.run('slow', () => failing.promise)
  const after = serial.run('slow', async () => void done.push('after failure'))
  blocked.resolve()
  failing.reject(new Error('task failed'))
  await first
  await after
  assert.deepEqual(done, ['fast', 'slow', 'after failure'])
  assert.equal(serial.activeKeys, 0)
})
