// The load generator process. The orchestrator (run.mjs) forks it once per measurement and sends one job over IPC;
// it runs the roles in worker threads, samples its own CPU (process.cpuUsage: all threads) and the broker's
// (/proc/<pid>/stat) over the same window, replies { result }, and exits when told (after the broker is gone).
import { Worker } from 'node:worker_threads'
import { cpuSeconds, rssKB, systemBusySeconds } from '../lib/proc.mjs'
import * as K from './control.mjs'
import { RssSampler, Probe, gcOverlap } from './observe.mjs'

const ROLES = new URL('./roles.mjs', import.meta.url)
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const hr = () => Number(process.hrtime.bigint()) / 1e9

class Role {
  constructor (role, data, ctl) {
    this.name = role
    this.worker = new Worker(ROLES, { workerData: { ...data, role, ctl: ctl.buffer } })
    this.inbox = []
    this.waiters = []
    this.failure = null
    this.tid = 0
    this.worker.on('message', m => {
      if (m.type === 'tid') { this.tid = m.tid; return }
      if (m.type === 'error') return this._fail(new Error(`${role}: ${m.message}`))
      const w = this.waiters.findIndex(x => x.type === m.type)
      if (w >= 0) this.waiters.splice(w, 1)[0].resolve(m)
      else this.inbox.push(m)
    })
    this.worker.on('error', err => this._fail(err))
    this.worker.on('exit', code => { if (code !== 0) this._fail(new Error(`${role} thread exited with ${code}`)) })
  }

  _fail (err) {
    this.failure = err
    for (const w of this.waiters.splice(0)) w.reject(err)
  }

  wait (type, timeoutMs = 30000) {
    if (this.failure) return Promise.reject(this.failure)
    const i = this.inbox.findIndex(x => x.type === type)
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0])
    return new Promise((resolve, reject) => {
      const w = { type, resolve, reject }
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1)
        reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`))
      }, timeoutMs)
      w.resolve = m => { clearTimeout(timer); resolve(m) }
      w.reject = e => { clearTimeout(timer); reject(e) }
      this.waiters.push(w)
    })
  }

  send (m) { this.worker.postMessage(m) }

  async close () {
    this.send({ type: 'close' })
    const m = await this.wait('closed', 10000).catch(() => ({}))
    await this.worker.terminate()
    return m
  }
}

function threadCpu (roles) {
  const out = {}
  for (const r of roles) {
    if (!r.tid) continue
    try { out[r.name] = (out[r.name] || 0) + cpuSeconds(`${process.pid}/task/${r.tid}`) } catch {}
  }
  return out
}

class Meter {
  constructor (brokerPid, roles = []) { this.pid = brokerPid; this.roles = roles }
  start () {
    this.t0 = hr()
    this.cpu0 = process.cpuUsage()
    this.b0 = cpuSeconds(this.pid)
    this.r0 = threadCpu(this.roles)
    this.s0 = systemBusySeconds()
  }

  stop () {
    const t = hr() - this.t0
    const cpu = process.cpuUsage(this.cpu0)
    const b = cpuSeconds(this.pid) - this.b0
    const sys = systemBusySeconds() - this.s0
    const r1 = threadCpu(this.roles)
    const genCpuByRole = {}
    for (const k of Object.keys(r1)) genCpuByRole[k] = (r1[k] - (this.r0[k] || 0)) / t
    return {
      windowS: t,
      genCpu: (cpu.user + cpu.system) / 1e6 / t, // 1.0 = one core; all threads of the generator
      genCpuByRole,
      brokerCpu: b / t,
      // everything else the machine did meanwhile (other processes, interrupts): noise if well above 0
      otherCpu: Math.max(0, (sys - b) / t - (cpu.user + cpu.system) / 1e6 / t)
    }
  }
}

function split (n, parts) {
  const out = []
  for (let p = 0; p < parts; p++) out.push(Math.floor(n / parts) + (p < n % parts ? 1 : 0))
  return out.filter(x => x > 0)
}

async function throughput (job) {
  const rssIdleKB = rssKB(job.brokerPid) // before any client connects
  const probe = job.probeFile ? new Probe(job.brokerPid, job.probeFile) : null
  const ctl = K.newControl()
  const base = { host: job.host, port: job.port, transport: job.transport }
  const topic = `bench/${job.name}`
  const subRoles = []
  let idx = 0
  for (const n of split(job.subs, job.subThreads || 1)) {
    const clientIds = Array.from({ length: n }, () => `sub-${idx++}`)
    subRoles.push(new Role('sub', { ...base, clientIds, filter: `${topic}/+`, qos: job.qos, mode: 'count', coalesce: job.coalesce || null }, ctl))
  }
  const roles = [...subRoles]
  try {
    await Promise.all(subRoles.map(r => r.wait('ready')))
    const conns = Array.from({ length: job.pubs }, (_, i) => ({ clientId: `pub-${i}`, topic: `${topic}/${i}` }))
    const pub = new Role('pub', {
      ...base, conns, qos: job.qos, mode: 'blast', payloadSize: job.payloadSize, fanout: job.subs, window: job.window, batch: job.batch, maxUnacked: job.maxUnacked
    }, ctl)
    roles.push(pub)
    await pub.wait('ready')
    pub.send({ type: 'go' })
    await sleep(job.warmup * 1000)
    if (probe !== null) await probe.snapshot() // the warm-up's figures are dropped
    const meter = new Meter(job.brokerPid, roles)
    const rss = new RssSampler(job.brokerPid)
    const r0 = Atomics.load(ctl, K.RECV)
    const p0 = Atomics.load(ctl, K.PUB)
    meter.start()
    rss.start()
    await sleep(job.duration * 1000)
    const r1 = Atomics.load(ctl, K.RECV)
    const p1 = Atomics.load(ctl, K.PUB)
    const m = meter.stop()
    const rssWindow = rss.stop()
    const probed = probe !== null ? await probe.snapshot() : null
    Atomics.store(ctl, K.STOP, 1)
    pub.send({ type: 'stop' })
    await pub.wait('stopped', 10000)
    // let the pipeline drain: everything written should arrive unless the broker dropped it
    let last = -1
    let quiet = 0
    for (let t = 0; t < 10000 && quiet < 500; t += 50) {
      const r = Atomics.load(ctl, K.RECV)
      if (r >= Atomics.load(ctl, K.SENT)) break
      quiet = r === last ? quiet + 50 : 0
      last = r
      await sleep(50)
    }
    const sent = Atomics.load(ctl, K.SENT)
    const recv = Atomics.load(ctl, K.RECV)
    if (recv > sent) throw new Error(`counted ${recv} deliveries but only ${sent} were sent: the generator miscounts`)
    for (const r of roles) if (r.failure) throw r.failure
    return {
      value: (r1 - r0) / m.windowS, // deliveries per second
      unit: 'msg/s',
      publishedPerS: (p1 - p0) / m.windowS,
      ...m,
      rssIdleKB, // broker VmRSS before the generator connected
      rssMaxKB: rssWindow.maxKB, // the largest VmRSS sampled (every 100 ms) in the measured window
      rssGrowthKB: rssWindow.maxKB - rssIdleKB,
      rssSamples: rssWindow.samples,
      ...probeFigures(probed),
      expected: sent,
      delivered: recv,
      lost: Math.max(0, sent - recv),
      lossPct: sent > 0 ? 100 * Math.max(0, sent - recv) / sent : 0
    }
  } finally {
    const closed = await Promise.all(roles.map(r => r.close()))
    if (process.env.BENCH_DEBUG) process.stderr.write(`reads: ${closed.map(m => m.reads).join(',')}\n`)
    const uc = closed.reduce((a, m) => Math.max(a, m.unexpectedCloses || 0), 0)
    if (uc > 0) process.stderr.write(`warning: broker closed ${uc} generator connection(s)\n`)
  }
}

// The probe's event-loop delay and GC figures, flattened into the result (nothing when there is no probe).
function probeFigures (p) {
  if (p === null) return {}
  return {
    eldP50: p.eld.p50,
    eldP99: p.eld.p99,
    eldMax: p.eld.max,
    eldSamples: p.eld.samples,
    eldResolution: p.eld.resolution,
    gcCount: p.gc.count,
    gcTotalMs: p.gc.totalMs,
    gcMaxMs: p.gc.maxMs,
    gcByKind: p.gc.byKind
  }
}

async function latency (job) {
  const probe = job.probeFile ? new Probe(job.brokerPid, job.probeFile) : null
  const ctl = K.newControl()
  const base = { host: job.host, port: job.port, transport: job.transport }
  const topic = `bench/${job.name}`
  const total = Math.ceil((job.warmup + job.duration) * job.rate)
  const sub = new Role('sub', {
    ...base, clientIds: ['lat-sub'], filter: `${topic}/+`, qos: 0, mode: 'latency', maxSamples: total + 1000, warmupSeq: Math.floor(job.warmup * job.rate)
  }, ctl)
  const roles = [sub]
  try {
    await sub.wait('ready')
    const pub = new Role('pub', { ...base, conns: [{ clientId: 'lat-pub', topic: `${topic}/0` }], qos: 0, mode: 'rate', rate: job.rate, payloadSize: job.payloadSize }, ctl)
    roles.push(pub)
    await pub.wait('ready')
    pub.send({ type: 'go' })
    await sleep(job.warmup * 1000)
    if (probe !== null) await probe.snapshot() // the warm-up's figures are dropped
    const meter = new Meter(job.brokerPid, roles)
    meter.start()
    await sleep(job.duration * 1000)
    const m = meter.stop()
    Atomics.store(ctl, K.STOP, 1)
    const probed = probe !== null ? await probe.snapshot() : null
    pub.send({ type: 'stop' })
    await pub.wait('stopped')
    for (let t = 0; t < 2000 && Atomics.load(ctl, K.RECV) < Atomics.load(ctl, K.SENT); t += 20) await sleep(20)
    const sent = Atomics.load(ctl, K.SENT)
    const recv = Atomics.load(ctl, K.RECV)
    roles.splice(0, 1)
    const closed = await sub.close()
    const raw = Float64Array.from(closed.latency || [])
    const s = Float64Array.from(raw).sort()
    const q = p => s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] / 1e6 : NaN
    // which samples overlap one of the broker's GC pauses: all of them, and those at or above p99
    const gc = probed !== null ? gcOverlap(raw, Float64Array.from(closed.sends || []), probed.gc.pauses, q(0.99) * 1e6) : null
    return {
      value: q(0.5),
      unit: 'ms',
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
      p999: q(0.999),
      max: s.length ? s[s.length - 1] / 1e6 : NaN,
      samples: s.length,
      ...m,
      ...probeFigures(probed),
      gcShareAll: gc?.shareAll,
      gcShareTail: gc?.shareTail,
      tailSamples: gc?.tailSamples,
      maxDuringGc: gc?.maxDuringGc,
      expected: sent,
      delivered: recv,
      lost: Math.max(0, sent - recv)
    }
  } finally {
    await Promise.all(roles.map(r => r.close()))
  }
}

async function retained (job) {
  const ctl = K.newControl()
  const base = { host: job.host, port: job.port, transport: job.transport }
  const pub = new Role('pub', { ...base, conns: [{ clientId: 'ret-pub' }], qos: 1, mode: 'retained', count: job.count, payloadSize: job.payloadSize }, ctl)
  const roles = [pub]
  try {
    await pub.wait('ready', 60000) // all retained messages acknowledged (stored)
    const sub = new Role('sub', { ...base, clientIds: ['ret-sub'], filter: '#', qos: 0, mode: 'retained', expected: job.count }, ctl)
    roles.push(sub)
    await sub.wait('ready')
    const meter = new Meter(job.brokerPid, roles)
    meter.start()
    sub.send({ type: 'go' })
    const done = await sub.wait('retained-done', job.timeoutS * 1000).catch(() => null)
    const m = meter.stop()
    const got = Atomics.load(ctl, K.RECV)
    if (!done) throw new Error(`retained burst incomplete: ${got}/${job.count} delivered within ${job.timeoutS} s`)
    return { value: done.ms, unit: 'ms', ratePerS: job.count / (done.ms / 1000), delivered: done.got, ...m }
  } finally {
    await Promise.all(roles.map(r => r.close()))
  }
}

async function conns (job) {
  // connecting is mostly the kernel's loopback handshake, paid inside connect(): spread it over threads
  const ctl = K.newControl()
  const parts = split(job.count, job.threads || 2)
  const roles = parts.map((count, t) => new Role('conns', {
    host: job.host, port: job.port, transport: job.transport, count, concurrency: Math.max(1, Math.round(job.concurrency / parts.length)), keepalive: 60, tag: `${job.tag}-${t}`
  }, ctl))
  await Promise.all(roles.map(r => r.wait('ready')))
  await sleep(300)
  const rss0 = rssKB(job.brokerPid)
  const meter = new Meter(job.brokerPid, roles)
  meter.start()
  for (const r of roles) r.send({ type: 'go' })
  const cs = await Promise.all(roles.map(r => r.wait('connected', job.timeoutS * 1000)))
  const m = meter.stop()
  const ms = Math.max(...cs.map(c => c.ms))
  const ok = cs.reduce((a, c) => a + c.ok, 0)
  const failed = cs.reduce((a, c) => a + c.failed, 0)
  if (failed > 0) {
    // a refused connection means a limit was not raised: the rate would measure refusals
    const why = new Map()
    for (const c of cs) for (const [k, v] of c.errors) why.set(k, (why.get(k) || 0) + v)
    throw new Error(`${failed} of ${job.count} connections failed: ${[...why].map(([k, v]) => `${v}× ${k}`).join('; ')}`)
  }
  await sleep(job.settleS * 1000)
  const rss1 = rssKB(job.brokerPid)
  // and again once the connections have been idle for idleS: a Node broker's young generation, grown while the
  // connections' state was allocated, is given back by V8's memory reducer some 8-16 s after the burst
  let rss2
  if (job.idleS > job.settleS) {
    await sleep((job.idleS - job.settleS) * 1000)
    rss2 = rssKB(job.brokerPid)
  }
  // connections stay open: the orchestrator kills the broker first (its side takes the TIME_WAITs), then ends us
  return {
    value: ok / (ms / 1000),
    unit: 'conn/s',
    connected: ok,
    failed,
    errors: cs.flatMap(c => c.errors),
    connectMs: ms,
    rssBeforeKB: rss0,
    rssAfterKB: rss1,
    rssPerConnKB: (rss1 - rss0) / Math.max(1, ok),
    rssIdleKB: rss2,
    rssPerConnIdleKB: rss2 === undefined ? undefined : (rss2 - rss0) / Math.max(1, ok),
    ...m
  }
}

const kinds = { throughput, latency, retained, conns }

process.on('message', async msg => {
  if (msg.type === 'job') {
    try {
      const result = await kinds[msg.job.kind](msg.job)
      process.send({ type: 'result', result })
    } catch (err) {
      process.send({ type: 'result', error: err.stack || String(err) })
    }
  } else if (msg.type === 'exit') {
    process.exit(0)
  }
})
process.on('disconnect', () => process.exit(0))
