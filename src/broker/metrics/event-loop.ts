/*
 * The event loop's delay (perf_hooks.monitorEventLoopDelay), measured only while someone wants it:
 * the $SYS tree, or a metrics endpoint being served. Its figures are reported per window of about
 * 10 s, so that every reader sees the same recent figures, whoever reads first.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { EventLoopDelay } from './types'

/** Sampling resolution in ms: the monitor's timer wakes the loop this often (10 Hz: about 0.07% of a core). */
const RESOLUTION = 100
const WINDOW_MS = 10_000
const NS = 1e-9

export class EventLoopMonitor {
  private users = 0
  private histogram: IntervalHistogram | null = null
  private windowStart = 0
  private completed: EventLoopDelay | undefined = undefined

  /** Start watching (counted); the returned function stops this user's watch, once. */
  acquire (): () => void {
    if (this.users++ === 0) {
      this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION })
      this.histogram.enable()
      this.windowStart = Date.now()
      this.completed = undefined
    }
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.users === 0) {
        this.histogram?.disable()
        this.histogram = null
        this.completed = undefined
      }
    }
  }

  get active (): boolean { return this.histogram !== null }

  /** The last complete window's figures (the current window's until one completes); undefined when not watching. */
  read (now: number): EventLoopDelay | undefined {
    const h = this.histogram
    if (h === null) return undefined
    const elapsed = now - this.windowStart
    if (elapsed < WINDOW_MS && this.completed !== undefined) return this.completed
    const figures = figuresOf(h, elapsed / 1000)
    if (elapsed >= WINDOW_MS) {
      this.completed = figures
      h.reset()
      this.windowStart = now
    }
    return figures
  }
}

function figuresOf (h: IntervalHistogram, window: number): EventLoopDelay {
  // An empty histogram reports NaN mean and huge min: say 0 until the first sample.
  if (h.count === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0, window }
  return {
    p50: h.percentile(50) * NS,
    p90: h.percentile(90) * NS,
    p99: h.percentile(99) * NS,
    max: h.max * NS,
    mean: h.mean * NS,
    window,
  }
}
