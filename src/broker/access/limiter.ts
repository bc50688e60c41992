/**
 * Runs at most `concurrency` jobs at a time and queues at most `maxQueued` more; beyond that a job
 * is refused at once (the caller answers "server busy"). PBKDF2 runs on libuv's thread pool, which
 * file I/O shares: keeping hash jobs below the pool size leaves room for persistence writes.
 */
export class Limiter {
  private running = 0
  private readonly queue: Array<() => void> = []

  constructor (private readonly concurrency: number, private readonly maxQueued: number) {}

  /** Jobs waiting for a slot. */
  get queued (): number { return this.queue.length }

  /** Run `job` when a slot is free; resolves `undefined` without running it when the queue is full. */
  async run<T> (job: () => Promise<T>): Promise<T | undefined> {
    if (this.running >= this.concurrency) {
      if (this.queue.length >= this.maxQueued) return undefined
      await new Promise<void>(resolve => this.queue.push(resolve))
    } else {
      this.running++
    }
    try {
      return await job()
    } finally {
      const next = this.queue.shift()
      if (next !== undefined) next() // the slot passes to the next job
      else this.running--
    }
  }
}
