/**
 * Deterministic crash injection for recovery tests: when env `BFTLAB_CRASH_AT` names this point,
 * the process dies on the spot with SIGKILL — no exit handlers, no flushing, exactly what a power
 * cut or OOM kill looks like to the database. Read per call so one binary serves every sweep.
 *
 * With `BFTLAB_CRASH_AFTER=N` the point fires on its N-th pass instead of the first, so a node
 * can be crashed mid-run (after it joined consensus and holds data) rather than at its first write.
 */
export const CRASH_ENV = 'BFTLAB_CRASH_AT'
export const CRASH_AFTER_ENV = 'BFTLAB_CRASH_AFTER'

/** The points NodeStore passes through; a crash sweep iterates over these. */
export const STORE_CRASH_POINTS = [
  'commit:before-batch',
  'commit:after-batch',
  'safety:before-write',
  'safety:after-write',
] as const

/** Passes through the armed point so far (only the point named in the env is counted). */
let passes = 0

export function crashPoint(name: string): void {
  if (process.env[CRASH_ENV] !== name) return
  passes++
  if (passes >= crashAfter()) process.kill(process.pid, 'SIGKILL')
}

function crashAfter(): number {
  const raw = process.env[CRASH_AFTER_ENV]
  if (raw === undefined) return 1
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${CRASH_AFTER_ENV} must be a positive integer, got ${JSON.stringify(raw)}`)
  return n
}
