#!/usr/bin/env node
// Write amplification and memory of the persistence layer, measured on the Hearth CLI with --persistence-dir
// (bin/hearth-broker.js; run `npm run build` first, or point --bin at another build).
//
//   fanout:     SESSIONS persistent sessions (MQTT 3.1.1, clean session off) subscribe to one topic at QoS 1 and go
//               offline; one publisher sends PUBLISHES QoS 1 messages of PAYLOAD bytes to that topic, each PUBACK
//               awaited. Measured from just before the first publish until the broker's disk writes have settled:
//               bytes the broker process wrote to disk (/proc/<pid>/io write_bytes), growth of its VmRSS and of its
//               VmHWM (peak), the folder's size afterwards. Then two sessions come back and must receive every message.
//   subscribe:  one client with a persistent session sends PACKETS SUBSCRIBE packets of PER_PACKET new filters each,
//               one after the other (each SUBACK awaited). Measured: bytes written to disk, CPU time of the broker
//               (utime + stime), and the longest event-loop block, seen from outside as the longest PINGREQ→PINGRESP
//               round trip of a second client pinging every 2 ms meanwhile. Then the broker restarts on the folder
//               and the session must still hold every subscription.
//
// Usage: node bench/amplification.mjs [--bin bin/hearth-broker.js] [--sessions 500] [--publishes 5] [--payload 102400]
//          [--packets 50] [--per-packet 1000] [--repeats 3] [--only fanout|subscribe] [--memory] [--json FILE]
// --memory runs the subscribe scenario on a broker without persistence, for reference (no restart check).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt-packet'
import { startCliBroker } from './lib/cli-broker.mjs'
import { hearthConfig, needsOf } from './lib/limits.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

function flag (name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  if (i === -1) return fallback
  const v = process.argv[i + 1]
  return typeof fallback === 'number' ? Number(v) : v
}

const BIN = resolve(flag('bin', join(ROOT, 'bin', 'hearth-broker.js')))
const SESSIONS = flag('sessions', 500)
const PUBLISHES = flag('publishes', 5)
const PAYLOAD = flag('payload', 100 * 1024)
const PACKETS = flag('packets', 50)
const PER_PACKET = flag('per-packet', 1000)
const REPEATS = flag('repeats', 3)
const ONLY = flag('only', '')
const MEMORY = process.argv.includes('--memory')
const CLK_TCK = 100 // Linux USER_HZ

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function within (promise, ms, what) {
  let timer
  return Promise.race([promise, new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what()}`)), ms) })])
    .finally(() => clearTimeout(timer))
}

// ------------------------------------------------------------------------------ the broker process

function procStatus (pid, key) {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

function writeBytes (pid) {
  const m = /write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

/** utime + stime of the process, in seconds. */
function cpuSeconds (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / CLK_TCK
}

function dirBytes (dir) {
  if (MEMORY) return 0
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)
}

/** The --config file of every broker: Hearth's limits (Pi-sized by default) raised for these scenarios. */
let CONFIG = ''
function writeConfig (file) {
  const { config } = hearthConfig(needsOf({
    kind: 'explicit',
    needs: {
      connections: 53, // 50 sessions connecting at once, the publisher, the pinger, one more
      connectsInFlight: 50,
      sessions: SESSIONS,
      queuePerClient: PUBLISHES,
      deliveryQos: 1,
      packetBytes: PAYLOAD + 100,
      subscriptionsPerClient: PACKETS * PER_PACKET,
    },
  }))
  writeFileSync(file, JSON.stringify(config))
  CONFIG = file
}

async function startBroker (dir) {
  return await startCliBroker({ bin: BIN, config: CONFIG, args: MEMORY ? [] : ['--persistence-dir', dir], cwd: ROOT, killAfterMs: 60000 })
}

/** Wait until the broker has written nothing to disk for `quietMs` (its compactions and flushes are done). */
async function settle (pid, quietMs = 1500, maxMs = 120000) {
  const deadline = Date.now() + maxMs
  let last = writeBytes(pid)
  let since = Date.now()
  while (Date.now() < deadline) {
    await sleep(100)
    const now = writeBytes(pid)
    if (now !== last) { last = now; since = Date.now() } else if (Date.now() - since >= quietMs) return
  }
}

// ------------------------------------------------------------------------------ a lean MQTT 3.1.1 client

class Client {
  constructor (socket) {
    this.socket = socket
    this.nextId = 1
    this.handlers = new Set()
    const parser = mqtt.parser({ protocolVersion: 4 })
    parser.on('packet', p => { for (const h of this.handlers) h(p) })
    socket.on('data', chunk => parser.parse(chunk))
    this.closed = new Promise(resolve => socket.once('close', resolve))
    socket.on('error', () => {})
  }

  static async connect (port, { clientId, clean = true, onMessage }) {
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.setNoDelay(true)
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    const c = new Client(socket)
    if (onMessage) {
      c.on(p => {
        if (p.cmd !== 'publish') return
        if (p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId })
        onMessage(p)
      })
    }
    const ack = c.next(p => p.cmd === 'connack')
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean, keepalive: 0 })
    const connack = await ack
    if (connack.returnCode !== 0) throw new Error(`CONNACK refused for ${clientId}`)
    return c
  }

  on (handler) { this.handlers.add(handler); return () => this.handlers.delete(handler) }
  next (match) { return new Promise(resolve => { const off = this.on(p => { if (match(p)) { off(); resolve(p) } }) }) }
  id () { const id = this.nextId; this.nextId = id >= 65535 ? 1 : id + 1; return id }
  send (packet) { this.socket.write(mqtt.generate(packet, { protocolVersion: 4 })) }

  async subscribe (topics, qos = 1) {
    const messageId = this.id()
    const ack = this.next(p => p.cmd === 'suback' && p.messageId === messageId)
    this.send({ cmd: 'subscribe', messageId, subscriptions: topics.map(topic => ({ topic, qos })) })
    return ack
  }

  async publish (topic, payload, qos = 1) {
    const messageId = this.id()
    const ack = this.next(p => p.cmd === 'puback' && p.messageId === messageId)
    this.send({ cmd: 'publish', topic, payload, qos, retain: false, dup: false, messageId })
    return ack
  }

  async end () {
    this.send({ cmd: 'disconnect' })
    this.socket.end()
    await Promise.race([this.closed, sleep(2000)])
    this.socket.destroy()
  }
}

/** Ping every `everyMs` on its own connection; `stop()` returns the longest round trip in ms. */
async function pinger (port, everyMs = 2) {
  const c = await Client.connect(port, { clientId: 'amp-pinger' })
  let max = 0
  let running = true
  const loop = (async () => {
    while (running) {
      const t0 = performance.now()
      const pong = c.next(p => p.cmd === 'pingresp')
      c.send({ cmd: 'pingreq' })
      await pong
      const rtt = performance.now() - t0
      if (rtt > max) max = rtt
      await sleep(everyMs)
    }
  })()
  return async () => { running = false; await loop; await c.end(); return max }
}

// ------------------------------------------------------------------------------ scenarios

async function fanout (tmp, r) {
  const dir = join(tmp, `fanout-${r}`)
  const b = await startBroker(dir)
  try {
    const topic = 'amp/fanout'
    for (let s = 0; s < SESSIONS; s += 50) {
      await Promise.all(Array.from({ length: Math.min(50, SESSIONS - s) }, async (_, k) => {
        const c = await Client.connect(b.port, { clientId: `amp-session-${s + k}`, clean: false })
        await c.subscribe([topic], 1)
        await c.end()
      }))
    }
    const pub = await Client.connect(b.port, { clientId: 'amp-pub' })
    await settle(b.child.pid)
    const pid = b.child.pid
    const w0 = writeBytes(pid)
    const rss0 = procStatus(pid, 'VmRSS')
    const cpu0 = cpuSeconds(pid)
    const payload = Buffer.alloc(PAYLOAD)
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff
    const t0 = performance.now()
    for (let i = 0; i < PUBLISHES; i++) await within(pub.publish(topic, payload, 1), 60000, () => `PUBACK ${i + 1}`)
    const ackMs = performance.now() - t0
    await settle(pid)
    const result = {
      written: writeBytes(pid) - w0,
      rssGrowth: procStatus(pid, 'VmRSS') - rss0,
      peakGrowth: procStatus(pid, 'VmHWM') - rss0,
      cpu: cpuSeconds(pid) - cpu0,
      dirBytes: dirBytes(dir),
      ackMs,
    }
    await pub.end()
    // Two of the sessions come back: each gets every message, whole.
    for (const n of [0, SESSIONS - 1]) {
      const got = []
      const c = await Client.connect(b.port, { clientId: `amp-session-${n}`, clean: false, onMessage: p => got.push(p) })
      const deadline = Date.now() + 20000
      while (got.length < PUBLISHES && Date.now() < deadline) await sleep(20)
      await c.end()
      if (got.length !== PUBLISHES || !got.every(p => Buffer.compare(p.payload, payload) === 0)) {
        throw new Error(`session ${n} got ${got.length} of ${PUBLISHES} messages (or damaged ones)`)
      }
    }
    return result
  } finally {
    await b.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function subscribeMany (tmp, r) {
  const dir = join(tmp, `subscribe-${r}`)
  let b = await startBroker(dir)
  try {
    const c = await Client.connect(b.port, { clientId: 'amp-subscriber', clean: false })
    await settle(b.child.pid, 500)
    const pid = b.child.pid
    const stopPing = await pinger(b.port)
    const w0 = writeBytes(pid)
    const cpu0 = cpuSeconds(pid)
    const t0 = performance.now()
    for (let p = 0; p < PACKETS; p++) {
      const topics = Array.from({ length: PER_PACKET }, (_, j) => `amp/sub/${p}/${j}/+/state`)
      const ack = await within(c.subscribe(topics, 1), 300000, () => `SUBACK ${p + 1}`)
      if (ack.granted.length !== PER_PACKET || ack.granted.some(g => g !== 1)) throw new Error(`SUBACK ${p + 1}: ${ack.granted.slice(0, 5)}`)
    }
    const subackMs = performance.now() - t0
    await settle(pid)
    const result = {
      written: writeBytes(pid) - w0,
      cpu: cpuSeconds(pid) - cpu0,
      maxBlockMs: await stopPing(),
      subackMs,
      dirBytes: dirBytes(dir),
    }
    await c.end()
    if (MEMORY) return result
    await b.stop()
    // The subscriptions survive a restart: a publish to the last filter reaches the session.
    b = await startBroker(dir)
    const got = []
    const back = await Client.connect(b.port, { clientId: 'amp-subscriber', clean: false, onMessage: p => got.push(p.topic) })
    const pub = await Client.connect(b.port, { clientId: 'amp-pub' })
    await pub.publish(`amp/sub/${PACKETS - 1}/${PER_PACKET - 1}/x/state`, Buffer.from('x'), 1)
    await pub.publish('amp/sub/0/0/y/state', Buffer.from('y'), 1)
    const deadline = Date.now() + 10000
    while (got.length < 2 && Date.now() < deadline) await sleep(20)
    await pub.end()
    await back.end()
    if (got.length !== 2) throw new Error(`after a restart the session got ${got.length} of 2 messages`)
    return result
  } finally {
    await b.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------------------ output

function stats (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1] }
}
const mb = n => (n / 2 ** 20).toFixed(n >= 10 * 2 ** 20 ? 0 : 1)
const cellMB = xs => { const s = stats(xs); return `${mb(s.median)} (${mb(s.min)}–${mb(s.max)})` }
const cellN = (xs, d = 1) => { const s = stats(xs); return `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})` }

async function main () {
  const tmp = mkdtempSync(join(os.tmpdir(), 'hearth-bench-amp-'))
  writeConfig(join(tmp, 'broker.json'))
  const results = { bin: BIN, node: process.version, date: new Date().toISOString(), fanout: [], subscribe: [] }
  try {
    for (let r = 0; r < REPEATS; r++) {
      if (ONLY !== 'subscribe' && !MEMORY) {
        const f = await fanout(tmp, r)
        results.fanout.push(f)
        process.stderr.write(`fanout ${r + 1}: wrote ${mb(f.written)} MiB, RSS +${mb(f.rssGrowth)} MiB (peak +${mb(f.peakGrowth)}), folder ${mb(f.dirBytes)} MiB, cpu ${f.cpu.toFixed(2)} s\n`)
      }
      if (ONLY !== 'fanout') {
        const s = await subscribeMany(tmp, r)
        results.subscribe.push(s)
        process.stderr.write(`subscribe ${r + 1}: wrote ${mb(s.written)} MiB, cpu ${s.cpu.toFixed(2)} s, longest block ${s.maxBlockMs.toFixed(0)} ms, SUBACKs in ${s.subackMs.toFixed(0)} ms\n`)
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  const f = results.fanout
  const s = results.subscribe
  if (f.length > 0) {
    console.log(`Fan-out: ${SESSIONS} offline persistent sessions on one topic, ${PUBLISHES} × ${PAYLOAD.toLocaleString('en-US')}-byte QoS 1 publishes ` +
      `(${mb(PUBLISHES * PAYLOAD)} MiB sent); median (min–max) of ${f.length}:`)
    console.log(`  written to disk ${cellMB(f.map(x => x.written))} MiB, RSS growth ${cellMB(f.map(x => x.rssGrowth))} MiB, ` +
      `peak RSS growth ${cellMB(f.map(x => x.peakGrowth))} MiB, folder ${cellMB(f.map(x => x.dirBytes))} MiB, CPU ${cellN(f.map(x => x.cpu), 2)} s, ` +
      `${PUBLISHES} PUBACKs in ${cellN(f.map(x => x.ackMs), 0)} ms`)
  }
  if (s.length > 0) {
    console.log(`Subscribe: one persistent session, ${PACKETS} SUBSCRIBE packets × ${PER_PACKET} filters (${(PACKETS * PER_PACKET).toLocaleString('en-US')}); median (min–max) of ${s.length}:`)
    console.log(`  written to disk ${cellMB(s.map(x => x.written))} MiB, CPU ${cellN(s.map(x => x.cpu), 2)} s, longest event-loop block ${cellN(s.map(x => x.maxBlockMs), 0)} ms, ` +
      `all SUBACKs in ${cellN(s.map(x => x.subackMs), 0)} ms, folder ${cellMB(s.map(x => x.dirBytes))} MiB`)
  }
  const json = flag('json', undefined)
  if (json) writeFileSync(json, JSON.stringify(results, null, 2))
}

main().catch(err => { console.error(err); process.exitCode = 1 })
