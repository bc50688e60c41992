/*
 * Load averages as Mosquitto computes them for $SYS/broker/load/...: at each sample, the rate
 * since the previous sample in events per minute, folded into exponentially decaying averages
 * over 1, 5 and 15 minutes (the decay factor for a gap of dt seconds is e^(-dt/window)).
 */
import type { LoadAverage } from './types'

const WINDOWS = [60, 300, 900] as const

/**
 * The shortest gap between two samples, s. Mosquitto folds its counters in at most once a second; a
 * 1 s $SYS timer can fire a millisecond early by the wall clock (timers run on the monotonic clock),
 * and such a round must still fold, or it publishes the previous round's averages.
 */
const MIN_SAMPLE_GAP_S = 0.5

/** Whether counters read at `nowMs` are folded in, the last fold having been at `lastMs` (0: never). */
export function dueForSample (lastMs: number, nowMs: number): boolean {
  return lastMs === 0 || (nowMs - lastMs) / 1000 >= MIN_SAMPLE_GAP_S
}

export class LoadSeries {
  private last: number | undefined = undefined
  private readonly avg = [0, 0, 0]

  /** Fold in the counter's value `value` after `dt` seconds. The first call only takes the starting point. */
  sample (value: number, dt: number): void {
    if (this.last === undefined || dt <= 0) { this.last ??= value; return }
    const perMinute = (value - this.last) * 60 / dt
    this.last = value
    for (let i = 0; i < WINDOWS.length; i++) {
      const decay = Math.exp(-dt / WINDOWS[i])
      this.avg[i] = perMinute + decay * (this.avg[i] - perMinute)
    }
  }

  get value (): LoadAverage {
    return { '1min': this.avg[0], '5min': this.avg[1], '15min': this.avg[2] }
  }
}
