import { pino, type DestinationStream, type Logger } from 'pino'
import type { LogLevel } from './config.ts'

export type { Logger }

/**
 * One JSON line per event on stdout (pino), tagged with the validator index so the logs of a
 * whole testnet can be merged and filtered. `destination` lets tests capture or discard lines.
 */
export function createLogger(opts: { level: LogLevel; index: number; destination?: DestinationStream }): Logger {
  return pino({ level: opts.level, base: { validator: opts.index } }, opts.destination ?? pino.destination({ sync: false }))
}
