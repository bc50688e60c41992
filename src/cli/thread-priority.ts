/**
 * The event loop first: V8's helper threads (concurrent compilers, GC helpers, the delayed-task
 * scheduler) run at a lower priority than the thread that serves clients. On a machine with few
 * cores those helpers are busiest in the first seconds of traffic, when V8 compiles the hot paths,
 * and a compiler thread that takes the core the event loop is waiting for delays the message in hand
 * by a time slice (1 to 10 ms). Lowered, they use what the event loop leaves: the latency benchmark's
 * p99 at 1k msg/s on 2 cores went from 0.97 to 0.49 ms, throughput unchanged within its noise (README,
 * Benchmark). On one core it helps less: there the compilers' CPU time is what the event loop lacks.
 *
 * Linux only (a thread's id is a pid to setpriority(2) there). Threads started later by the main
 * thread (libuv's pool, which does file I/O for persistence) keep the main thread's priority.
 */
import { readdirSync } from 'node:fs'
import os from 'node:os'

/** How far below the event loop the helpers run (10: about a tenth of a core's time when they compete). */
export const HELPER_NICE_OFFSET = 10
const NICE_MAX = 19

/** Lower every thread of this process but the main one by HELPER_NICE_OFFSET; returns how many were lowered. */
export function lowerHelperThreads (): number {
  if (process.platform !== 'linux') return 0
  let tids: string[]
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    return 0 // no /proc: leave the threads as they are
  }
  let lowered = 0
  for (const name of tids) {
    const tid = Number(name)
    if (!Number.isInteger(tid) || tid === process.pid) continue
    try {
      os.setPriority(tid, Math.min(NICE_MAX, os.getPriority(tid) + HELPER_NICE_OFFSET))
      lowered++
    } catch {
      // the thread ended meanwhile, or the system refuses: it keeps its priority
    }
  }
  return lowered
}
