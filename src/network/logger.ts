/** The subset of pino the network layer uses, so callers can pass a pino child or nothing. */
export interface NetworkLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

const ignore = (): void => {}

export const SILENT_LOGGER: NetworkLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore }
