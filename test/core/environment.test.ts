import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROBE_SIGNATURES, gitCommit, measureVerifiesPerSec, probeInputs, shortCommit } from '../../src/core/environment.ts'
import { toHex } from '../../src/core/hash.ts'
import { verify } from '../../src/core/keys.ts'

test('gitCommit names the checked-out commit, marks uncommitted changes to tracked files, and is unknown outside git', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bftlab-git-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  assert.equal(gitCommit(dir), 'unknown')

  const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' }).trim()
  git('init', '-q')
  writeFileSync(join(dir, 'a.txt'), 'one\n')
  git('add', 'a.txt')
  git('commit', '-q', '-m', 'first')
  const head = git('rev-parse', 'HEAD')
  assert.equal(gitCommit(dir), head)

  writeFileSync(join(dir, 'untracked.txt'), 'not part of the build\n')
  assert.equal(gitCommit(dir), head, 'untracked files do not make the checkout dirty')
  writeFileSync(join(dir, 'a.txt'), 'two\n')
  assert.equal(gitCommit(dir), `${head}-dirty`)
})

test('shortCommit keeps 12 hex digits and the dirty mark', () => {
  const sha = '0123456789abcdef0123456789abcdef01234567'
  assert.equal(shortCommit(sha), '0123456789ab')
  assert.equal(shortCommit(`${sha}-dirty`), '0123456789ab-dirty')
  assert.equal(shortCommit('unknown'), 'unknown')
})

test('the verify probe checks distinct keys, messages and signatures, each valid only for its own message', () => {
  const inputs = probeInputs()
  assert.equal(inputs.length, PROBE_SIGNATURES)
  for (const field of ['publicKey', 'message', 'signature'] as const) {
    assert.equal(new Set(inputs.map((input) => toHex(input[field]))).size, PROBE_SIGNATURES, `every ${field} differs`)
  }
  inputs.forEach(({ publicKey, message, signature }, i) => {
    assert.ok(verify(signature, message, publicKey), `probe input ${i} verifies`)
    assert.ok(!verify(signature, inputs[(i + 1) % inputs.length]!.message, publicKey), `probe signature ${i} does not verify the next message`)
  })
  const rate = measureVerifiesPerSec(50)
  assert.ok(Number.isFinite(rate) && rate > 0, `probe rate ${rate}`)
})
