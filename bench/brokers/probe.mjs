// Preloaded into a Node broker under test (`node --import <this file> ...`) when BENCH_PROBE_FILE is set:
// an event-loop delay histogram (perf_hooks.monitorEventLoopDelay, BENCH_PROBE_RESOLUTION ms, default 1) and every
// GC pause (a PerformanceObserver on 'gc' entries). On each SIGUSR2 it writes what it saw since the previous one to
// BENCH_PROBE_FILE (JSON, replaced atomically, with a sequence number) and starts afresh, so the generator brackets
// its measured window with two signals. GC pause times are given on process.hrtime's clock (CLOCK_MONOTONIC), the
// clock the generator stamps its messages with, so latency samples can be matched with the pauses they overlap.
import { constants, monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks'
import { renameSync, writeFileSync } from 'node:fs'

const file = process.env.BENCH_PROBE_FILE
if (file) {
  const resolution = Math.max(1, Number(process.env.BENCH_PROBE_RESOLUTION) || 1)
  const eld = monitorEventLoopDelay({ resolution })
  eld.enable()
  const KINDS = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb'
  }
  let pauses = []
  const take = list => {
    for (const e of list.getEntries()) pauses.push({ start: e.startTime, ms: e.duration, kind: KINDS[e.detail?.kind] || String(e.detail?.kind) })
  }
  const obs = new PerformanceObserver(take)
  obs.observe({ entryTypes: ['gc'] })
  let seq = 0
  let since = performance.now()
  const ms = ns => ns / 1e6
  // the monitor records the interval between its timer's runs: the delay is what exceeds the resolution
  const delay = ns => Math.max(0, ms(ns) - resolution)
  process.on('SIGUSR2', () => {
    const list = obs.takeRecords() // entries not yet handed to the callback
    if (list.length) take({ getEntries: () => list })
    const now = performance.now()
    // performance.now() and process.hrtime share uv_hrtime: the offset maps one onto the other
    const originNs = Number(process.hrtime.bigint()) - now * 1e6
    const gcMs = pauses.map(p => p.ms)
    const snapshot = {
      seq: ++seq,
      pid: process.pid,
      windowMs: now - since,
      eld: eld.count > 0
        ? { resolution, samples: eld.count, p50: delay(eld.percentile(50)), p90: delay(eld.percentile(90)), p99: delay(eld.percentile(99)), max: delay(eld.max), mean: delay(eld.mean) }
        : { resolution, samples: 0 },
      gc: {
        count: pauses.length,
        totalMs: gcMs.reduce((a, b) => a + b, 0),
        maxMs: gcMs.length ? Math.max(...gcMs) : 0,
        byKind: pauses.reduce((a, p) => { a[p.kind] = (a[p.kind] || 0) + 1; return a }, {}),
        // [start ns on the hrtime clock, duration ns]
        pauses: pauses.map(p => [originNs + p.start * 1e6, p.ms * 1e6])
      },
      rssKB: Math.round(process.memoryUsage.rss() / 1024),
      heapUsedKB: Math.round(process.memoryUsage().heapUsed / 1024)
    }
    writeFileSync(`${file}.tmp`, JSON.stringify(snapshot))
    renameSync(`${file}.tmp`, file)
    eld.reset()
    pauses = []
    since = now
  })
}
