#!/usr/bin/env node
// The cost of persistence: the Hearth CLI (bin/hearth-broker.js, run `npm run build` first) in memory,
// with --persistence-dir and --persistence-sync always (the default), and periodic.
//
//   1. QoS 1 end to end: one publisher keeping WINDOW messages in flight, one persistent subscriber
//      (clean session off, online), so every message is stored as an outgoing message of its session.
//      MESSAGES are timed at the subscriber, after an untimed warm-up of MESSAGES / 10.
//   2. Retained burst: RETAINED retained QoS 1 topics published at once, time to the last PUBACK; then
//      a new `#` subscriber, time until it has every retained message.
//   Interleaved (memory, always, periodic, memory, ...), REPEATS times; medians with min/max, ratios to memory.
//   Every broker runs with maxQueuedMessages 1000000 (a --config file), so a whole burst fits one session's queue.
//
//   3. Restart: BIG_RETAINED retained topics and SESSIONS persistent sessions (each with SUBS subscriptions
//      and QUEUED queued QoS 1 messages) written through MQTT, SIGTERM, start again on the same folder:
//      time from spawn to the listening line and VmRSS, against an empty broker.
//
// Usage: node bench/persistence.mjs [--repeats 3] [--messages 50000] [--window 100] [--retained 10000]
//          [--big-retained 100000] [--sessions 1000] [--no-restart] [--no-throughput] [--json FILE]
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCliBroker } from './lib/cli-broker.mjs'
import { hearthConfig, needsOf } from './lib/limits.mjs'
import { Client, STATE, populate, publishWindowed, stateJob, verifyState } from './lib/state.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'hearth-broker.js')

function flag (name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  if (i === -1) return fallback
  const v = process.argv[i + 1]
  return typeof fallback === 'number' ? Number(v) : v
}
const has = name => process.argv.includes(`--${name}`)

const REPEATS = flag('repeats', 3)
const MESSAGES = flag('messages', 50000)
const WINDOW = flag('window', 100)
const RETAINED = flag('retained', 10000)
const BIG_RETAINED = flag('big-retained', 100000)
const SESSIONS = flag('sessions', 1000)
const { subs: SUBS, queued: QUEUED } = STATE
const PAYLOAD = Buffer.alloc(64, 0x61)

const MODES = [
  { id: 'memory', label: 'memory', args: () => [] },
  { id: 'always', label: 'file, sync always', args: dir => ['--persistence-dir', dir, '--persistence-sync', 'always'] },
  { id: 'periodic', label: 'file, sync periodic', args: dir => ['--persistence-dir', dir, '--persistence-sync', 'periodic'] },
]

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** `promise`, or an error saying what did not happen within `ms`. */
function within (promise, ms, what) {
  let timer
  return Promise.race([promise, new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what()}`)), ms) })])
    .finally(() => clearTimeout(timer))
}

// ------------------------------------------------------------------------------ broker process

function rssKB (pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

/** The --config file of every run (see main). */
let CONFIG = ''

async function startBroker (args) {
  return await startCliBroker({ bin: BIN, config: CONFIG, args, cwd: ROOT })
}

// ------------------------------------------------------------------------------ scenarios

async function qos1Throughput (port) {
  const sub = await Client.connect(port, { clientId: 'bench-sub', clean: false })
  await sub.subscribe(['bench/q1'], 1)
  const warmup = Math.floor(MESSAGES / 10)
  let got = 0
  let t0 = 0
  let last = 0
  const all = new Promise(resolve => sub.ackAll(() => {
    got++
    if (got === warmup) t0 = performance.now()
    if (got === warmup + MESSAGES) { last = performance.now(); resolve() }
  }))
  const pub = await Client.connect(port, { clientId: 'bench-pub', clean: true })
  // The first tenth warms up (JIT, buffers) and is not timed: from the warmup-th delivery to the last.
  await within(publishWindowed(pub, warmup + MESSAGES, WINDOW, () => 'bench/q1', PAYLOAD), 120000, () => 'QoS 1 acknowledgements')
  await within(all, 60000, () => `QoS 1 deliveries (${got} of ${warmup + MESSAGES})`)
  await pub.end()
  await sub.end()
  return { msgPerSec: MESSAGES / ((last - t0) / 1000) }
}

async function retainedBurst (port) {
  const pub = await Client.connect(port, { clientId: 'bench-ret-pub', clean: true })
  const t0 = performance.now()
  // All at once: MQTT 3.1.1 has no receive maximum for QoS 1 from the client.
  await within(publishWindowed(pub, RETAINED, RETAINED, n => `bench/ret/${n}`, PAYLOAD, true), 120000, () => 'retained acknowledgements')
  const ackMs = performance.now() - t0
  await pub.end()
  const sub = await Client.connect(port, { clientId: 'bench-ret-sub', clean: true })
  let got = 0
  const all = new Promise(resolve => sub.ackAll(p => { if (p.retain && ++got === RETAINED) resolve() }))
  const t1 = performance.now()
  await sub.subscribe(['#'], 1)
  await within(all, 120000, () => `retained deliveries (${got} of ${RETAINED})`)
  const deliverMs = performance.now() - t1
  await sub.end()
  return { ackMs, deliverMs }
}

function dirBytes (dir) {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)
}

// ------------------------------------------------------------------------------ statistics and output

function stats (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1], n: s.length }
}
const fmt = n => n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1)
const cell = st => `${fmt(st.median)} (${fmt(st.min)}–${fmt(st.max)})`
const ratio = (st, base) => base.median === 0 ? '' : `${(st.median / base.median).toFixed(2)}×`

function machine () {
  const cpu = os.cpus()
  let fs = 'unknown'
  try { fs = readFileSync('/proc/mounts', 'utf8').split('\n').find(l => l.split(' ')[1] === '/')?.split(' ')[2] ?? fs } catch {}
  return `${cpu[0]?.model ?? 'cpu'} × ${cpu.length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}, root filesystem ${fs}`
}

async function main () {
  const tmp = mkdtempSync(join(os.tmpdir(), 'hearth-bench-persist-'))
  CONFIG = join(tmp, 'broker.json')
  // Hearth's limits (Pi-sized by default) raised for the large state of the restart (bench/lib/limits.mjs), and a
  // queue long enough for a whole retained burst to one new subscriber.
  const { config } = hearthConfig(needsOf(stateJob({ retained: Math.max(BIG_RETAINED, RETAINED), sessions: SESSIONS, payloadBytes: PAYLOAD.length })))
  writeFileSync(CONFIG, JSON.stringify({ ...config, maxQueuedMessages: 1000000 }))
  const results = { machine: machine(), date: new Date().toISOString(), repeats: REPEATS, messages: MESSAGES, window: WINDOW, retained: RETAINED, runs: {} }
  const lines = []
  const print = s => { lines.push(s); console.log(s) }
  try {
    if (!has('no-throughput')) {
      const runs = Object.fromEntries(MODES.map(m => [m.id, { qos1: [], ack: [], deliver: [] }]))
      for (let r = 0; r < REPEATS; r++) {
        for (const mode of MODES) {
          for (const scenario of ['qos1', 'retained']) {
            const dir = join(tmp, `${mode.id}-${scenario}-${r}`)
            const b = await startBroker(mode.args(dir))
            try {
              if (scenario === 'qos1') {
                const { msgPerSec } = await qos1Throughput(b.port)
                runs[mode.id].qos1.push(msgPerSec)
                process.stderr.write(`repeat ${r + 1} ${mode.id.padEnd(8)} qos1 ${Math.round(msgPerSec)} msg/s\n`)
              } else {
                const { ackMs, deliverMs } = await retainedBurst(b.port)
                runs[mode.id].ack.push(ackMs)
                runs[mode.id].deliver.push(deliverMs)
                process.stderr.write(`repeat ${r + 1} ${mode.id.padEnd(8)} retained: acks ${Math.round(ackMs)} ms, delivery ${Math.round(deliverMs)} ms\n`)
              }
            } finally { await b.stop() }
            rmSync(dir, { recursive: true, force: true })
          }
        }
      }
      results.runs = runs
      const base = { qos1: stats(runs.memory.qos1), ack: stats(runs.memory.ack), deliver: stats(runs.memory.deliver) }
      print(`Machine: ${results.machine}. ${REPEATS} interleaved repeats, median (min–max).`)
      print('')
      print(`| persistence | QoS 1 end to end, msg/s (window ${WINDOW}, persistent subscriber) | vs memory | ${RETAINED.toLocaleString('en-US')} retained QoS 1: all PUBACKs, ms | vs memory | new \`#\` subscriber gets all, ms | vs memory |`)
      print('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
      for (const mode of MODES) {
        const q = stats(runs[mode.id].qos1)
        const a = stats(runs[mode.id].ack)
        const d = stats(runs[mode.id].deliver)
        print(`| ${mode.label} | ${cell(q)} | ${ratio(q, base.qos1)} | ${cell(a)} | ${ratio(a, base.ack)} | ${cell(d)} | ${ratio(d, base.deliver)} |`)
      }
      print('')
    }

    if (!has('no-restart')) {
      const empty = await startBroker(['--persistence-dir', join(tmp, 'empty')])
      await sleep(300)
      const emptyRss = rssKB(empty.child.pid)
      await empty.stop()
      const memStart = await startBroker([])
      await sleep(300)
      const memRss = rssKB(memStart.child.pid)
      const memStartMs = memStart.startMs
      await memStart.stop()

      const store = join(tmp, 'big')
      const writer = await startBroker(['--persistence-dir', store])
      const t0 = performance.now()
      await populate(writer.port, { retained: BIG_RETAINED, sessions: SESSIONS, payload: PAYLOAD })
      const writeMs = performance.now() - t0
      const writerRss = rssKB(writer.child.pid)
      const t1 = performance.now()
      await writer.stop()
      const stopMs = performance.now() - t1
      const bytes = dirBytes(store)
      const restarts = []
      for (let r = 0; r < REPEATS; r++) {
        const b = await startBroker(['--persistence-dir', store])
        const rss = rssKB(b.child.pid)
        await sleep(1000)
        const rssLater = rssKB(b.child.pid)
        // Check the state really is back: a session (a different one each time) gets its queued messages.
        await verifyState(b.port, { retained: BIG_RETAINED, i: 7 + r }).catch(err => { throw new Error(`restart ${r + 1}: ${err.message}`) })
        restarts.push({ startMs: b.startMs, rss, rssLater, bytes: dirBytes(store) })
        await b.stop()
      }
      results.restart = { writeMs, stopMs, bytes, emptyRss, memRss, memStartMs, writerRss, restarts }
      const st = stats(restarts.map(r => r.startMs))
      const rs = stats(restarts.map(r => r.rssLater))
      print(`Restart with ${BIG_RETAINED.toLocaleString('en-US')} retained topics (64-byte payloads) and ${SESSIONS.toLocaleString('en-US')} persistent sessions ` +
        `(${SUBS} subscriptions and ${QUEUED} queued QoS 1 messages each) on disk, sync always; ${REPEATS} restarts, median (min–max):`)
      print('')
      print('| | start to listening, ms | RSS, MiB |')
      print('| --- | ---: | ---: |')
      print(`| memory, empty | ${fmt(memStartMs)} | ${fmt(memRss / 1024)} |`)
      print(`| file, empty folder | ${fmt(empty.startMs)} | ${fmt(emptyRss / 1024)} |`)
      print(`| file, ${BIG_RETAINED.toLocaleString('en-US')} retained + ${SESSIONS.toLocaleString('en-US')} sessions | ${cell(st)} | ${cell({ ...rs, median: rs.median / 1024, min: rs.min / 1024, max: rs.max / 1024 })} |`)
      print('')
      print(`Files: ${(bytes / 2 ** 20).toFixed(1)} MiB after a clean stop. Writing it all through MQTT took ${fmt(writeMs)} ms ` +
        `(RSS of that broker ${fmt(writerRss / 1024)} MiB); the clean stop (SIGTERM) ${fmt(stopMs)} ms.`)
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  const json = flag('json', undefined)
  if (json) writeFileSync(json, JSON.stringify({ ...results, table: lines.join('\n') }, null, 2))
}

main().catch(err => { console.error(err); process.exitCode = 1 })
