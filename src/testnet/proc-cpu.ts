import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/**
 * CPU time of processes on this machine from /proc/<pid>/stat (Linux): user + system time of
 * every thread of the process (worker threads, libuv, V8 helpers, LevelDB), in milliseconds.
 * One place for it, so a benchmark's CPU per tx and an idle-CPU measurement read it one way.
 */

let ticksPerSecond: number | undefined

/**
 * `getconf CLK_TCK`: the unit of /proc's utime and stime (100 on every common Linux build).
 * Asked once; a machine without getconf falls back to 100, the kernel's USER_HZ on x86 and arm.
 */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
      ticksPerSecond = Number.isInteger(ticks) && ticks > 0 ? ticks : 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** utime + stime of `pid` in ms, or undefined when the process is gone or /proc is not Linux's. */
export function processCpuMs(pid: number): number | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return undefined
  }
  // Field 2 (comm) is parenthesised and may hold spaces or parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // After comm, field 3 (state) is index 0, so utime (14) and stime (15) are indices 11 and 12.
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined
  return ((utime + stime) * 1_000) / clockTicksPerSecond()
}

/** CPU time each process spent between `start()` and `stop()`. */
export class CpuWindow {
  readonly #pids: readonly number[]
  #startMs: (number | undefined)[] = []

  constructor(pids: readonly number[]) {
    this.#pids = pids
  }

  start(): void {
    this.#startMs = this.#pids.map(processCpuMs)
  }

  /**
   * Per process, ms of CPU since `start()`; undefined for one that exited in between (its time
   * is lost with it) or was never sampled.
   */
  stop(): (number | undefined)[] {
    return this.#pids.map((pid, i) => {
      const before = this.#startMs[i]
      const after = processCpuMs(pid)
      return before === undefined || after === undefined ? undefined : after - before
    })
  }
}
