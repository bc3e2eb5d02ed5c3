import { basename } from 'node:path'
import { z } from 'zod'
import { formatIssue, readDataFile } from '../node/config.ts'

/**
 * Perturbation schedules (CometBFT e2e manifests' `perturb`): timed faults applied to a live
 * local testnet. One zod schema validates both forms — the compact flag syntax and experiment
 * files — so both report a bad field the same way.
 */

export const PERTURBATION_ACTIONS = ['kill', 'pause', 'restart', 'disconnect', 'delay', 'loss', 'partition', 'heal'] as const
export type PerturbationAction = (typeof PERTURBATION_ACTIONS)[number]

export class ScheduleError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`)
    this.name = 'ScheduleError'
  }
}

const seconds = z.number().min(0)
const positiveSeconds = z.number().positive()
const nodeList = z.union([z.array(z.number().int().min(0)).min(1), z.literal('*')], { error: 'expected a non-empty list of validator indices, or "*" for all' })
/** Emulated one-way delays are capped well below the node's max round timeout, as a sanity bound on typos. */
const delayMs = z.number().min(0).max(60_000)

const stepSchema = z.discriminatedUnion('action', [
  /** SIGKILL, then start again after `duration` s (0: at once). */
  z.object({ action: z.literal('kill'), at: seconds, nodes: nodeList, duration: seconds.default(0) }).strict(),
  /** SIGTERM (clean shutdown), then start again after `duration` s. */
  z.object({ action: z.literal('restart'), at: seconds, nodes: nodeList, duration: seconds.default(0) }).strict(),
  /** SIGSTOP, SIGCONT after `duration` s. */
  z.object({ action: z.literal('pause'), at: seconds, nodes: nodeList, duration: positiveSeconds }).strict(),
  /** Every link of the nodes down, on both sides, for `duration` s. */
  z.object({ action: z.literal('disconnect'), at: seconds, nodes: nodeList, duration: positiveSeconds }).strict(),
  /** Every link of the nodes (default: all links) delayed by delayMs + uniform [0, jitterMs). */
  z
    .object({ action: z.literal('delay'), at: seconds, nodes: nodeList.default('*'), duration: positiveSeconds, delayMs, jitterMs: delayMs.default(0) })
    .strict()
    .refine((s) => s.delayMs > 0 || s.jitterMs > 0, { message: 'a delay step needs delayMs or jitterMs above 0', path: ['delayMs'] }),
  /** Every message on the nodes' links (default: all links) lost with probability lossRate. */
  z.object({ action: z.literal('loss'), at: seconds, nodes: nodeList.default('*'), duration: positiveSeconds, lossRate: z.number().gt(0).max(1) }).strict(),
  /** Links between different groups down (a validator in no group is cut from everyone); healed after `duration` s, or by a later heal step. */
  z.object({ action: z.literal('partition'), at: seconds, groups: z.array(z.array(z.number().int().min(0)).min(1)).min(2), duration: positiveSeconds.optional() }).strict(),
  /** Ends every partition and disconnect in force. */
  z.object({ action: z.literal('heal'), at: seconds }).strict(),
])

export type PerturbationStep = z.output<typeof stepSchema>
export type PerturbationStepInput = z.input<typeof stepSchema>
export type PerturbationSchedule = readonly PerturbationStep[]

const fileSchema = z.object({ perturbations: z.array(stepSchema) }).strict()

/**
 * Validates the steps and their node indices against a testnet of `validators`, and orders
 * them by start time. Partition groups must be disjoint.
 */
export function parseSchedule(data: unknown, validators: number, source: string): PerturbationStep[] {
  const parsed = fileSchema.safeParse(data, { reportInput: true })
  if (!parsed.success) throw new ScheduleError(source, parsed.error.issues.map(formatIssue).join('; '))
  const steps = parsed.data.perturbations
  steps.forEach((step, k) => {
    const field = `perturbations[${k}]`
    const checkIndex = (i: number, where: string): void => {
      if (i >= validators) throw new ScheduleError(source, `${field}.${where}: validator ${i} does not exist (validators 0..${validators - 1})`)
    }
    if ('nodes' in step && step.nodes !== '*') step.nodes.forEach((i, j) => checkIndex(i, `nodes[${j}]`))
    if (step.action === 'partition') {
      const seen = new Set<number>()
      step.groups.forEach((group, g) =>
        group.forEach((i, j) => {
          checkIndex(i, `groups[${g}][${j}]`)
          if (seen.has(i)) throw new ScheduleError(source, `${field}.groups[${g}][${j}]: validator ${i} is in two groups; groups must be disjoint`)
          seen.add(i)
        }),
      )
    }
  })
  return steps.map((step, k) => ({ step, k })).sort((a, b) => a.step.at - b.step.at || a.k - b.k).map((s) => s.step)
}

/** The help text of `--perturb`: the compact syntax, one step per comma-separated item. */
export const COMPACT_SYNTAX_HELP = `perturbation schedule, comma-separated steps ACTION[:TARGET]@AT[+DURATION][/VALUE], or a .toml/.json file with [[perturbations]] tables:
  kill:1@10+5          SIGKILL node 1 at 10 s, restart it 5 s later (+0 or no +: at once)
  restart:2@20         graceful SIGTERM and start (+D: stay down D s)
  pause:3@30+4         SIGSTOP, SIGCONT 4 s later
  disconnect:0@40+5    all of node 0's links down on both sides for 5 s
  delay:*@50+10/200~50 every link (or of the listed nodes) +200 ms, jitter 0-50 ms, for 10 s
  loss:1,2@60+10/0.3   30 % of messages on nodes 1 and 2's links lost for 10 s
  partition:0,1|2,3@70+5  groups {0,1} and {2,3} cut apart for 5 s (no +: until a heal step)
  heal@80              end every partition and disconnect
  TARGET is a node list (1 or 0,2) or * for all; AT and DURATION are seconds from the start of the load`

/** Items start at an action name followed by ':' or '@'; commas elsewhere belong to a node list. */
const STEP_SEPARATOR = /,(?=\s*[a-z]+\s*[:@])/

const STEP = /^\s*([a-z]+)\s*(?::\s*([^@]*?))?\s*@\s*([^+/\s]+)\s*(?:\+\s*([^/\s]+))?\s*(?:\/\s*(\S+))?\s*$/

function compactNumber(raw: string): number | string {
  const v = Number(raw)
  // Not a number: handed to the schema as the string, which names the field and the input.
  return raw.trim() === '' || Number.isNaN(v) ? raw : v
}

function compactNodes(raw: string): number[] | '*' | string {
  if (raw.trim() === '*') return '*'
  const parts = raw.split(',').map((p) => p.trim())
  return parts.every((p) => /^[0-9]+$/.test(p)) ? parts.map(Number) : raw
}

/** One compact item → the raw step object the schema validates. */
function compactStep(item: string, k: number, source: string): Record<string, unknown> {
  const m = STEP.exec(item)
  if (m === null) throw new ScheduleError(source, `step ${k + 1} ${JSON.stringify(item.trim())}: expected ACTION[:TARGET]@AT[+DURATION][/VALUE], e.g. kill:1@10+5`)
  const [, action, target, at, duration, value] = m
  const step: Record<string, unknown> = { action, at: compactNumber(at!) }
  if (duration !== undefined) step.duration = compactNumber(duration)
  if (target !== undefined && target !== '') {
    if (action === 'partition') {
      step.groups = target.split('|').map((g) => {
        const nodes = compactNodes(g)
        return nodes === '*' ? g : nodes
      })
    } else {
      step.nodes = compactNodes(target)
    }
  }
  if (value !== undefined) {
    if (action === 'delay') {
      const [delay, jitter] = value.split('~')
      step.delayMs = compactNumber(delay!)
      if (jitter !== undefined) step.jitterMs = compactNumber(jitter)
    } else if (action === 'loss') {
      step.lossRate = compactNumber(value)
    } else {
      throw new ScheduleError(source, `step ${k + 1} ${JSON.stringify(item.trim())}: /VALUE applies to delay (ms~jitter) and loss (rate) only`)
    }
  }
  return step
}

/** Parses the compact flag form, e.g. `kill:1@10+5,partition:0,1|2,3@20+5`. */
export function parseCompactSchedule(text: string, validators: number, source = '--perturb'): PerturbationStep[] {
  const items = text.split(STEP_SEPARATOR).filter((s) => s.trim() !== '')
  if (items.length === 0) throw new ScheduleError(source, 'no steps given')
  return parseSchedule({ perturbations: items.map((item, k) => compactStep(item, k, source)) }, validators, source)
}

/** Reads a schedule file: `[[perturbations]]` tables in TOML (`.toml`) or `{"perturbations": [...]}` in JSON. */
export async function loadScheduleFile(path: string, validators: number): Promise<PerturbationStep[]> {
  const data = await readDataFile(path, (file, message) => new ScheduleError(file, message))
  return parseSchedule(data, validators, basename(path))
}

/** `--perturb` takes either a file (ending in .toml or .json) or the compact syntax. */
export function readSchedule(spec: string, validators: number): Promise<PerturbationStep[]> {
  return /\.(toml|json)$/i.test(spec.trim()) ? loadScheduleFile(spec.trim(), validators) : Promise.resolve(parseCompactSchedule(spec, validators))
}

/** The validators a step acts on, `'*'` expanded. */
export function stepNodes(step: PerturbationStep, validators: number): number[] {
  if (step.action === 'partition') return step.groups.flat()
  if (step.action === 'heal') return []
  return step.nodes === '*' ? Array.from({ length: validators }, (_, i) => i) : [...new Set(step.nodes)]
}

/** A step in the compact syntax (also how the runner logs it). */
export function formatStep(step: PerturbationStep): string {
  const target = step.action === 'partition' ? `:${step.groups.map((g) => g.join(',')).join('|')}` : 'nodes' in step ? `:${step.nodes === '*' ? '*' : step.nodes.join(',')}` : ''
  const duration = 'duration' in step && step.duration !== undefined && step.duration > 0 ? `+${step.duration}` : ''
  const value = step.action === 'delay' ? `/${step.delayMs}~${step.jitterMs}` : step.action === 'loss' ? `/${step.lossRate}` : ''
  return `${step.action}${target}@${step.at}${duration}${value}`
}
