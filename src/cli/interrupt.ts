/**
 * SIGINT/SIGTERM as an AbortSignal for long-running commands: the first signal asks the command
 * to wind down (stop load, stop child processes, print what was measured); a second one exits
 * immediately, for when the clean shutdown itself hangs.
 */
export function interruptSignal(what: string): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      console.error(`${sig} again: exiting without cleanup`)
      process.exit(130)
    }
    console.error(`${sig}: ${what} (send again to exit at once)`)
    controller.abort(new Error(`interrupted by ${sig}`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}
