import { InvalidArgumentError } from 'commander'

/**
 * Value parsers for commander options. Each throws InvalidArgumentError, which commander turns
 * into `error: option '--rate <tx/s>' argument 'abc' is invalid. <our message>` (exit code 2).
 */

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  return (raw) => {
    const v = Number(raw)
    if (!/^-?[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(v)) throw new InvalidArgumentError(`expected an integer, got ${JSON.stringify(raw)}.`)
    if (v < min || v > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}, got ${v}.`)
    return v
  }
}

/** A finite number ≥ min (or > min when `exclusive`), e.g. seconds or tx/s. */
export function number(min: number, opts: { exclusive?: boolean } = {}): (raw: string) => number {
  return (raw) => {
    const v = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`expected a number, got ${JSON.stringify(raw)}.`)
    if (opts.exclusive ? v <= min : v < min) throw new InvalidArgumentError(`expected a number ${opts.exclusive ? '>' : '≥'} ${min}, got ${v}.`)
    return v
  }
}

export function oneOf<T extends string>(choices: readonly T[]): (raw: string) => T {
  return (raw) => {
    if (!(choices as readonly string[]).includes(raw)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got ${JSON.stringify(raw)}.`)
    return raw as T
  }
}

/** Comma-separated http(s) base URLs, e.g. `http://127.0.0.1:8000,http://127.0.0.1:8001`. */
export function urlList(raw: string): string[] {
  const urls = raw.split(',').map((u) => u.trim()).filter((u) => u !== '')
  if (urls.length === 0) throw new InvalidArgumentError('expected at least one URL.')
  return urls.map((u) => {
    let parsed: URL
    try {
      parsed = new URL(u)
    } catch {
      throw new InvalidArgumentError(`${JSON.stringify(u)} is not a URL (expected e.g. http://127.0.0.1:8000).`)
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidArgumentError(`${JSON.stringify(u)} is not an http(s) URL.`)
    return parsed.origin
  })
}
