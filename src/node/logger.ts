import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino'
import type { LogLevel } from './config.ts'

/** The validator's own logger: full pino (child loggers, `fatal`, `flush`); modules below take core/logger.ts's Logger. */
export type NodeLogger = PinoLogger

/**
 * One JSON line per event on stdout (pino), tagged with the validator index so the logs of a
 * whole testnet can be merged and filtered. `destination` lets tests capture or discard lines.
 */
export function createLogger(opts: { level: LogLevel; index: number; destination?: DestinationStream }): NodeLogger {
  return pino({ level: opts.level, base: { validator: opts.index } }, opts.destination ?? pino.destination({ sync: false }))
}
