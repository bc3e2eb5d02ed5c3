/**
 * The live progress line of a sweep on stderr: which run of how many, elapsed time and ETA.
 * A capacity search cannot know its run count in advance, so its total is an estimate (shown
 * as "~") that each finished series corrects with the runs it actually took.
 */

export interface ProgressSink {
  write(text: string): unknown
  readonly isTTY?: boolean
}

export interface ProgressOptions {
  readonly label: string
  readonly totalRuns: number
  readonly totalIsEstimate: boolean
  readonly sink?: ProgressSink
  /** Milliseconds clock, injectable so tests can check ETA arithmetic. */
  readonly now?: () => number
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?'
  const s = Math.round(ms / 1_000)
  const h = Math.floor(s / 3_600)
  const m = Math.floor((s % 3_600) / 60)
  const sec = s % 60
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`
  return `${sec}s`
}

export class SweepProgress {
  readonly #opts: ProgressOptions
  readonly #sink: ProgressSink
  readonly #now: () => number
  readonly #startedAt: number
  #completed = 0
  #totalRuns: number

  constructor(opts: ProgressOptions) {
    this.#opts = opts
    this.#sink = opts.sink ?? process.stderr
    this.#now = opts.now ?? Date.now
    this.#startedAt = this.#now()
    this.#totalRuns = opts.totalRuns
  }

  get completed(): number {
    return this.#completed
  }

  /**
   * ETA from the mean wall time of completed runs so far, series start-ups included: runs of one
   * sweep cost about the same (fixed warm-up + window + settle), so the mean is a fair predictor
   * after the first one.
   */
  eta(): number {
    if (this.#completed === 0) return Number.NaN
    const perRun = (this.#now() - this.#startedAt) / this.#completed
    return perRun * Math.max(0, this.#totalRuns - this.#completed)
  }

  /** Announces the run about to start. */
  begin(what: string): void {
    const total = `${this.#opts.totalIsEstimate ? '~' : ''}${this.#totalRuns}`
    const eta = `${this.#opts.totalIsEstimate ? '~' : ''}${formatDuration(this.eta())}`
    const line = `[${this.#opts.label}] run ${this.#completed + 1}/${total} · ${what} · elapsed ${formatDuration(this.#now() - this.#startedAt)} · ETA ${eta}`
    // On a terminal the line rewrites itself; in a log file every update stays readable on its own line.
    this.#sink.write(this.#sink.isTTY === true ? `\r\x1b[2K${line}` : `${line}\n`)
  }

  end(): void {
    this.#completed++
  }

  /** A finished series took `runs` more (or, negative, fewer) than estimated. */
  adjust(runs: number): void {
    this.#totalRuns = Math.max(this.#completed, this.#totalRuns + runs)
  }

  /** A message of its own line (a series' outcome), kept when the progress line rewrites itself. */
  note(text: string): void {
    this.#sink.write(this.#sink.isTTY === true ? `\r\x1b[2K${text}\n` : `${text}\n`)
  }

  finish(): void {
    const line = `[${this.#opts.label}] ${this.#completed} runs in ${formatDuration(this.#now() - this.#startedAt)}`
    this.#sink.write(this.#sink.isTTY === true ? `\r\x1b[2K${line}\n` : `${line}\n`)
  }
}
