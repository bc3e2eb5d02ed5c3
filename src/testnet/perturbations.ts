import { setTimeout as sleep } from 'node:timers/promises'
import { LinkFaultController, type LinkStep } from './link-faults.ts'
import type { LocalTestnet } from './local-testnet.ts'
import { formatStep, stepNodes, type PerturbationAction, type PerturbationSchedule, type PerturbationStep } from './perturbation-schedule.ts'

export { formatStep, parseCompactSchedule, readSchedule, COMPACT_SYNTAX_HELP, type PerturbationSchedule, type PerturbationStep } from './perturbation-schedule.ts'

/**
 * Runs a perturbation schedule against a live local testnet: process faults through the
 * process manager (SIGKILL, SIGTERM, SIGSTOP/SIGCONT), link faults through each validator's
 * `/admin/faults` endpoint (genesis `params.testing` must be set). Every step logs when it took
 * effect and when it was undone, with the wall time, and the same records are returned.
 */

export interface PerturbationEvent {
  /** Position of the step in the (time-ordered) schedule. */
  readonly step: number
  readonly action: PerturbationAction
  /** The step in the compact syntax. */
  readonly spec: string
  /** `start`: the fault took effect; `end`: it was undone; `skipped`: the run ended first. */
  readonly phase: 'start' | 'end' | 'skipped'
  readonly nodes: readonly number[]
  /** Seconds since the schedule started, as measured (the schedule's `at` is the target). */
  readonly atS: number
  readonly wallTime: string
  readonly detail: string
  /** What could not be done (a node not running, an admin request refused): empty on success. */
  readonly errors: readonly string[]
}

export interface PerturbationOptions {
  /** Aborting skips steps not yet started and undoes those in force at once. */
  readonly signal?: AbortSignal
}

/** Steps that ran and were undone without a single error. */
export function survivedSteps(events: readonly PerturbationEvent[]): number {
  const failed = new Set(events.filter((e) => e.errors.length > 0 || e.phase === 'skipped').map((e) => e.step))
  return new Set(events.filter((e) => e.phase === 'end' && !failed.has(e.step)).map((e) => e.step)).size
}

export async function runPerturbations(
  testnet: LocalTestnet,
  schedule: PerturbationSchedule,
  log: (line: string) => void,
  opts: PerturbationOptions = {},
): Promise<PerturbationEvent[]> {
  const startedAt = Date.now()
  const events: PerturbationEvent[] = []
  const links = new LinkFaultController(testnet)
  const processes = testnet.processes

  const record = (k: number, step: PerturbationStep, phase: PerturbationEvent['phase'], nodes: readonly number[], detail: string, errors: readonly string[] = []): void => {
    const now = Date.now()
    const event: PerturbationEvent = { step: k, action: step.action, spec: formatStep(step), phase, nodes, atS: (now - startedAt) / 1_000, wallTime: new Date(now).toISOString(), detail, errors }
    events.push(event)
    const problems = errors.length > 0 ? ` ! ${errors.join('; ')}` : ''
    log(`perturb +${event.atS.toFixed(1)}s ${event.wallTime} step ${k} ${event.spec} ${phase}: ${detail}${problems}`)
  }

  /** Sleeps `s` seconds; an abort cuts it short without throwing, so the undo still runs. */
  const hold = (s: number): Promise<void> => sleep(s * 1_000, undefined, opts.signal ? { signal: opts.signal } : undefined).catch(() => undefined)

  /** Node indices in the given process states; the rest are reported. */
  const inState = (nodes: readonly number[], allowed: readonly string[], errors: string[], what: string): number[] =>
    nodes.filter((i) => {
      const state = processes.state(i)
      if (allowed.includes(state)) return true
      errors.push(`node ${i} is ${state}, cannot ${what} it`)
      return false
    })

  const restartAll = (k: number, step: PerturbationStep, nodes: readonly number[], how: string): void => {
    const errors: string[] = []
    const started = nodes.filter((i) => {
      try {
        processes.start(i)
        links.nodeRestarted(i)
        return true
      } catch (err) {
        errors.push((err as Error).message)
        return false
      }
    })
    record(k, step, 'end', started, `started ${list(started)} again after ${how}`, errors)
  }

  const perform = async (k: number, step: PerturbationStep): Promise<void> => {
    const nodes = stepNodes(step, testnet.size)
    switch (step.action) {
      case 'kill':
      case 'restart': {
        const errors: string[] = []
        const victims = inState(nodes, ['running', 'paused'], errors, step.action)
        const signal = step.action === 'kill' ? 'SIGKILL' : 'SIGTERM'
        for (const i of victims) links.nodeGoingDown(i)
        await Promise.all(victims.map((i) => (step.action === 'kill' ? processes.kill(i) : processes.stop(i))))
        record(k, step, 'start', victims, `${signal} ${list(victims)}${step.duration > 0 ? `, down for ${step.duration} s` : ''}`, errors)
        if (step.duration > 0) await hold(step.duration)
        restartAll(k, step, victims.filter((i) => processes.state(i) === 'stopped'), step.action === 'kill' ? 'SIGKILL' : 'a clean stop')
        return
      }
      case 'pause': {
        const errors: string[] = []
        const frozen = inState(nodes, ['running'], errors, 'pause')
        for (const i of frozen) processes.pause(i)
        record(k, step, 'start', frozen, `SIGSTOP ${list(frozen)} for ${step.duration} s`, errors)
        await hold(step.duration)
        // A paused node killed meanwhile by another step is that step's to restart.
        const resumed = frozen.filter((i) => processes.state(i) === 'paused')
        for (const i of resumed) processes.resume(i)
        record(k, step, 'end', resumed, `SIGCONT ${list(resumed)}`, await links.sync())
        return
      }
      case 'disconnect':
      case 'delay':
      case 'loss':
      case 'partition': {
        record(k, step, 'start', nodes, describeLinkStep(step), await links.add(step))
        if (step.duration === undefined) return
        await hold(step.duration)
        record(k, step, 'end', nodes, 'links restored', await links.remove(step))
        return
      }
      case 'heal':
        record(k, step, 'start', nodes, 'every partition and disconnect ended', await links.heal())
        return
    }
  }

  await Promise.all(
    schedule.map(async (step, k) => {
      const wait = startedAt + step.at * 1_000 - Date.now()
      if (wait > 0) await hold(wait / 1_000)
      if (opts.signal?.aborted) return record(k, step, 'skipped', [], 'the run ended before this step was due')
      try {
        await perform(k, step)
      } catch (err) {
        record(k, step, 'end', [], 'step failed', [(err as Error).message])
      }
    }),
  )
  if (links.activeSteps > 0) {
    const errors = await links.clear()
    log(`perturb +${((Date.now() - startedAt) / 1_000).toFixed(1)}s schedule over: ${errors.length === 0 ? 'links restored' : `! ${errors.join('; ')}`}`)
  }
  await links.settled()
  return events
}

function list(nodes: readonly number[]): string {
  return nodes.length === 0 ? 'no node' : `node${nodes.length > 1 ? 's' : ''} ${nodes.join(', ')}`
}

function describeLinkStep(step: LinkStep): string {
  const scope = step.action === 'partition' ? '' : step.nodes === '*' ? 'every link' : `links of ${list(step.nodes)}`
  const until = step.duration === undefined ? 'until healed' : `for ${step.duration} s`
  switch (step.action) {
    case 'disconnect':
      return `${scope} down on both sides ${until}`
    case 'delay':
      return `${scope} +${step.delayMs} ms (jitter ${step.jitterMs} ms) ${until}`
    case 'loss':
      return `${scope} lose ${(step.lossRate * 100).toFixed(0)} % ${until}`
    case 'partition':
      return `partitioned ${step.groups.map((g) => `{${g.join(',')}}`).join(' | ')} ${until}`
  }
}
