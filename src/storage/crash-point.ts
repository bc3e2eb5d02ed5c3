/**
 * Deterministic crash injection for recovery tests: when env `BFTLAB_CRASH_AT` names this point,
 * the process dies on the spot with SIGKILL — no exit handlers, no flushing, exactly what a power
 * cut or OOM kill looks like to the database. Read per call so one binary serves every sweep.
 */
export const CRASH_ENV = 'BFTLAB_CRASH_AT'

/** The points NodeStore passes through; a crash sweep iterates over these. */
export const STORE_CRASH_POINTS = [
  'commit:before-batch',
  'commit:after-batch',
  'safety:before-write',
  'safety:after-write',
] as const

export function crashPoint(name: string): void {
  if (process.env[CRASH_ENV] === name) process.kill(process.pid, 'SIGKILL')
}
