/**
 * Runs tasks one after another per key, in the order they were handed in, while tasks of
 * different keys run independently. A task that fails does not stop the ones after it (its
 * rejection is the caller's to handle inside the task). Keys are forgotten once idle.
 */
export class SerialByKey {
  readonly #tails = new Map<string, Promise<void>>()

  /** Starts `task` after every earlier task of `key` settled; returns when `task` settled. */
  run(key: string, task: () => Promise<void>): Promise<void> {
    const tail = (this.#tails.get(key) ?? Promise.resolve()).then(task).catch(() => undefined)
    this.#tails.set(key, tail)
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    })
    return tail
  }

  /** Keys with tasks queued or running. */
  get activeKeys(): number {
    return this.#tails.size
  }
}
