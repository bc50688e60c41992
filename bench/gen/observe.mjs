// What the generator watches on the broker during a measured window, besides the traffic:
//   RssSampler  VmRSS from /proc/<pid>/status every 100 ms (max and last), for the broker's memory during a run
//   Probe       the event-loop delay and GC figures of a Node broker started with bench/brokers/probe.mjs
//   gcOverlap   which latency samples overlap a GC pause of the broker
import { readFileSync } from 'node:fs'
import { rssKB } from '../lib/proc.mjs'

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

export class RssSampler {
  constructor (pid, intervalMs = 100) {
    this.pid = pid
    this.intervalMs = intervalMs
    this.maxKB = NaN
    this.lastKB = NaN
    this.samples = 0
    this.timer = null
  }

  sample () {
    try {
      const kb = rssKB(this.pid)
      this.lastKB = kb
      if (!(kb <= this.maxKB)) this.maxKB = kb
      this.samples++
    } catch {} // the broker is gone: the run fails elsewhere
  }

  start () {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.intervalMs)
  }

  stop () {
    clearInterval(this.timer)
    this.sample()
    return { maxKB: this.maxKB, lastKB: this.lastKB, samples: this.samples }
  }
}

// SIGUSR2 to the broker makes its probe write what it saw since the previous signal; wait for that file.
export class Probe {
  constructor (pid, file) {
    this.pid = pid
    this.file = file
    this.seq = 0
  }

  async snapshot (timeoutMs = 10000) {
    const seq = ++this.seq
    process.kill(this.pid, 'SIGUSR2')
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      try {
        const s = JSON.parse(readFileSync(this.file, 'utf8'))
        if (s.seq === seq) return s
      } catch {}
      await sleep(5)
    }
    throw new Error(`the broker's probe did not answer snapshot ${seq} within ${timeoutMs} ms`)
  }
}

// samples: latency in ns; sends: the send time of each (hrtime ns); pauses: [[start ns, duration ns]] on the same clock.
// A sample overlaps a pause when the pause began before the message arrived and ended after it was sent.
export function gcOverlap (samples, sends, pauses, threshold) {
  const ps = [...pauses].sort((a, b) => a[0] - b[0])
  const starts = ps.map(p => p[0])
  let longest = 0
  for (const p of ps) longest = Math.max(longest, p[1])
  const overlaps = i => {
    const s = sends[i]
    const e = s + samples[i]
    // pauses starting before e; only those starting after s - longest can still be running at s
    let lo = 0
    let hi = starts.length
    while (lo < hi) { const m = (lo + hi) >> 1; if (starts[m] < s - longest) lo = m + 1; else hi = m }
    for (let k = lo; k < ps.length && ps[k][0] < e; k++) if (ps[k][0] + ps[k][1] > s) return true
    return false
  }
  let all = 0
  let tail = 0
  let tailN = 0
  let maxI = -1
  for (let i = 0; i < samples.length; i++) {
    const o = overlaps(i)
    if (o) all++
    if (samples[i] >= threshold) { tailN++; if (o) tail++ }
    if (maxI < 0 || samples[i] > samples[maxI]) maxI = i
  }
  return {
    shareAll: samples.length ? all / samples.length : NaN, // of every sample
    shareTail: tailN ? tail / tailN : NaN, // of the samples at or above the threshold (p99)
    tailSamples: tailN,
    maxDuringGc: maxI >= 0 ? overlaps(maxI) : false
  }
}
