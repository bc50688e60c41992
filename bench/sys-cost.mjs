#!/usr/bin/env node
// What the $SYS tree costs, in CPU time: a broker holding many sessions, subscriptions and retained
// messages, with an in-process subscriber on $SYS/#, idles for a while (a) with sysInterval 0, (b) with
// sysInterval 0 and the event loop watched (what the tree keeps on), (c) with sysInterval 1; alternating,
// several times. (c) − (b), divided by the rounds published, is the cost of one round; (b) − (a) is the
// event loop monitor's. Process CPU time is measured, so other load on the machine matters much less
// than for a throughput figure. Needs `npm run build`.
// Usage: node bench/sys-cost.mjs [--sessions 1000] [--retained 10000] [--seconds 20] [--repeats 3]
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { createBroker } = require(fileURLToPath(new URL('../dist/broker/index.js', import.meta.url)))

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), Number(all[i + 1])])
  return acc
}, []))
const SESSIONS = args.sessions ?? 1000
const RETAINED = args.retained ?? 10000
const SECONDS = args.seconds ?? 20
const REPEATS = args.repeats ?? 3

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }

async function idle (sysInterval, watch) {
  const broker = createBroker({ sysInterval, maxSessions: SESSIONS + 10, maxConnections: SESSIONS + 10, maxRetainedMessages: RETAINED + 10 })
  await broker.ready
  const unwatch = watch ? broker.watchEventLoop() : () => {}
  const clients = []
  for (let i = 0; i < SESSIONS; i++) {
    const c = await broker.connectLocal({ clientId: `s${i}`, clean: false, sessionExpiryInterval: 3600 })
    await c.subscribe([{ topic: `home/${i}/+`, qos: 1 }, { topic: `dev/${i % 50}/#`, qos: 0 }])
    clients.push(c)
  }
  for (let i = 0; i < RETAINED; i++) await broker.publish({ topic: `state/${i}`, payload: Buffer.from(String(i)), qos: 0, retain: true })
  const watcher = await broker.connectLocal({ clientId: 'sys-watcher' })
  let received = 0
  watcher.on('message', () => { received++ })
  await watcher.subscribe([{ topic: '$SYS/#', qos: 0 }])
  await sleep(1500) // the first round (every topic) is behind us
  const uptime = () => Number(/^(\d+)/.exec(broker.retained('$SYS/broker/uptime')[0]?.payload.toString() ?? '0')?.[1] ?? 0)
  const u0 = uptime()
  const r0 = received
  const c0 = cpuMs()
  await sleep(SECONDS * 1000)
  const cpu = cpuMs() - c0
  const rounds = sysInterval === 0 ? 0 : uptime() - u0
  const messages = received - r0
  unwatch()
  await broker.close()
  return { cpu, rounds, messages }
}

const median = xs => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
const perRound = []
const monitor = []
for (let r = 0; r < REPEATS; r++) {
  const off = await idle(0, false)
  const watched = await idle(0, true)
  const on = await idle(1, false)
  console.log(`repeat ${r + 1}: CPU in ${SECONDS} s: off ${off.cpu.toFixed(1)} ms, event loop watched ${watched.cpu.toFixed(1)} ms, sysInterval 1 ${on.cpu.toFixed(1)} ms (${on.rounds} rounds, ${on.messages} $SYS messages delivered)`)
  perRound.push((on.cpu - watched.cpu) / Math.max(1, on.rounds))
  monitor.push((watched.cpu - off.cpu) / SECONDS)
}
const round = median(perRound)
const mon = median(monitor)
console.log(`\n${SESSIONS} sessions (${2 * SESSIONS} subscriptions), ${RETAINED} retained messages, one $SYS/# subscriber; medians of ${REPEATS}:`)
console.log(`one $SYS round: ${round.toFixed(2)} ms of CPU (all: ${perRound.map(x => x.toFixed(2)).join(', ')})`)
console.log(`the event loop monitor: ${mon.toFixed(2)} ms of CPU per second (all: ${monitor.map(x => x.toFixed(2)).join(', ')})`)
console.log(`the $SYS tree at the default sysInterval of 10 s: ${((round / 10 + mon) / 10).toFixed(3)}% of one core`)
