/** How long the log's writes and fdatasyncs take: cumulative counts per bucket, a Prometheus histogram. */
import type { DurationStats } from './options'

/** Upper bounds of the buckets, seconds: from an SSD's fraction of a millisecond to an SD card's seconds. */
const BOUNDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class Durations {
  private count = 0
  private sum = 0
  private readonly counts = new Float64Array(BOUNDS.length)

  /** Time `op` and record it, whether it succeeds or fails. */
  async time<T> (op: () => Promise<T>): Promise<T> {
    const start = performance.now()
    try {
      return await op()
    } finally {
      this.record((performance.now() - start) / 1000)
    }
  }

  private record (seconds: number): void {
    this.count++
    this.sum += seconds
    for (let i = 0; i < BOUNDS.length; i++) if (seconds <= BOUNDS[i]) { this.counts[i]++; break }
  }

  stats (): DurationStats {
    const buckets: number[] = []
    let n = 0
    for (let i = 0; i < BOUNDS.length; i++) buckets.push(n += this.counts[i])
    return { count: this.count, sum: this.sum, bounds: BOUNDS, buckets }
  }
}
