import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { formatStep, loadScheduleFile, parseCompactSchedule, parseSchedule, readSchedule, ScheduleError, stepNodes } from '../../src/testnet/perturbation-schedule.ts'

describe('perturbation schedule: compact flag syntax', () => {
  it('parses every action, node lists, groups with commas, durations and values', () => {
    const steps = parseCompactSchedule('kill:1@10+5,partition:0,1|2,3@20+5,pause:2@1.5+3,restart:3@30,disconnect:0,2@40+2,delay:*@50+10/200~50,loss:1@60+4/0.25,heal@70', 4)
    assert.deepEqual(steps, [
      { action: 'pause', at: 1.5, nodes: [2], duration: 3 },
      { action: 'kill', at: 10, nodes: [1], duration: 5 },
      { action: 'partition', at: 20, groups: [[0, 1], [2, 3]], duration: 5 },
      { action: 'restart', at: 30, nodes: [3], duration: 0 },
      { action: 'disconnect', at: 40, nodes: [0, 2], duration: 2 },
      { action: 'delay', at: 50, nodes: '*', duration: 10, delayMs: 200, jitterMs: 50 },
      { action: 'loss', at: 60, nodes: [1], duration: 4, lossRate: 0.25 },
      { action: 'heal', at: 70 },
    ])
  })

  it('round-trips through formatStep', () => {
    const text = 'kill:1@10+5,partition:0,1|2,3@20,delay:0,3@50+10/200~50,loss:*@60+4/0.25,heal@70'
    const steps = parseCompactSchedule(text, 4)
    assert.equal(steps.map(formatStep).join(','), text)
    assert.deepEqual(parseCompactSchedule(steps.map(formatStep).join(','), 4), steps)
  })

  it('refuses bad steps naming the step or the field', () => {
    const refused = (text: string, pattern: RegExp): void => assert.throws(() => parseCompactSchedule(text, 4), (err: unknown) => err instanceof ScheduleError && pattern.test(err.message))
    refused('kill:1', /--perturb: step 1 "kill:1": expected ACTION\[:TARGET\]@AT/)
    refused('explode:1@3', /perturbations\[0\]\.action: Invalid discriminator value/)
    refused('kill:1@soon', /perturbations\[0\]\.at: expected number, got "soon"/)
    refused('kill:7@3', /perturbations\[0\]\.nodes\[0\]: validator 7 does not exist \(validators 0\.\.3\)/)
    refused('pause:1@3', /perturbations\[0\]\.duration: expected number, got nothing/)
    refused('loss:1@3+2/1.5', /perturbations\[0\]\.lossRate: .*1/)
    refused('delay:1@3+2/0', /perturbations\[0\]\.delayMs: a delay step needs delayMs or jitterMs above 0/)
    refused('partition:0,1|1,2@3', /perturbations\[0\]\.groups\[1\]\[0\]: validator 1 is in two groups/)
    refused('partition:0,1,2,3@3', /perturbations\[0\]\.groups: .*2/)
    refused('kill:1@3/5', /\/VALUE applies to delay \(ms~jitter\) and loss \(rate\) only/)
    refused('kill:1@3+5,kill:x@4', /perturbations\[1\]\.nodes: expected a non-empty list of validator indices, or "\*" for all/)
  })

  it('names the validators a step touches', () => {
    const [kill, partition, delay] = parseCompactSchedule('kill:2,2,1@1,partition:0|3@2,delay:*@3+1/5', 4)
    assert.deepEqual(stepNodes(kill!, 4), [2, 1])
    assert.deepEqual(stepNodes(partition!, 4), [0, 3])
    assert.deepEqual(stepNodes(delay!, 4), [0, 1, 2, 3])
  })
})

describe('perturbation schedule: experiment files', () => {
  it('reads TOML and JSON, validates with field paths', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bftlab-schedule-'))
    try {
      const toml = join(dir, 'chaos.toml')
      await writeFile(toml, '[[perturbations]]\nat = 5\naction = "kill"\nnodes = [1]\nduration = 2\n\n[[perturbations]]\nat = 9\naction = "partition"\ngroups = [[0, 1], [2, 3]]\nduration = 4\n')
      assert.deepEqual(await readSchedule(toml, 4), [
        { action: 'kill', at: 5, nodes: [1], duration: 2 },
        { action: 'partition', at: 9, groups: [[0, 1], [2, 3]], duration: 4 },
      ])
      const json = join(dir, 'bad.json')
      await writeFile(json, JSON.stringify({ perturbations: [{ at: 1, action: 'delay', nodes: '*', duration: 2, delayMs: -3 }] }))
      await assert.rejects(loadScheduleFile(json, 4), /^ScheduleError: bad\.json: perturbations\[0\]\.delayMs: /)
      const extra = join(dir, 'extra.json')
      await writeFile(extra, JSON.stringify({ perturbations: [{ at: 1, action: 'heal', nodes: [1] }] }))
      await assert.rejects(loadScheduleFile(extra, 4), /extra\.json: perturbations\[0\]: unknown field\(s\) "nodes"/)
      const broken = join(dir, 'broken.toml')
      await writeFile(broken, '[[perturbations]\n')
      await assert.rejects(loadScheduleFile(broken, 4), /broken\.toml: syntax error/)
      await assert.rejects(loadScheduleFile(join(dir, 'missing.toml'), 4), /missing\.toml: cannot read/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('orders steps by start time, keeping the given order for equal times', () => {
    const steps = parseSchedule({ perturbations: [{ at: 5, action: 'heal' }, { at: 1, action: 'kill', nodes: [0] }, { at: 5, action: 'restart', nodes: [1] }] }, 2, 'x')
    assert.deepEqual(steps.map((s) => `${s.action}@${s.at}`), ['kill@1', 'heal@5', 'restart@5'])
  })
})
