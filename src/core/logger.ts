/**
 * The subset of pino that modules below the node use, so a caller can pass a pino child logger
 * or nothing (`SILENT_LOGGER`); the node's own logger (node/logger.ts) is a full pino instance.
 */
export interface Logger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

const ignore = (): void => {}

export const SILENT_LOGGER: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore }
