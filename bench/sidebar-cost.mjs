#!/usr/bin/env node
// What an open "MQTT broker" sidebar costs (issue 11): a hearth-broker node in Node-RED 5 carries the benchmark's
// fan-in (4 publishers → 1 subscriber, QoS 0) and QoS 1 loads, interleaved, once with no editor watching and once
// while a client does what the open sidebar does: a comms WebSocket subscribed to the figures (one frame a second),
// and every 3 s the broker list, the watch keepalive, the clients and the topics (the runtime then records every
// topic seen). The broker node runs at its defaults ($SYS every 10 s) plus the limits the load needs.
// Usage: node bench/sidebar-cost.mjs [--repeats 3] [--duration 5] [--only fanin,qos1]
import { WebSocket } from 'ws'
import { freePort } from './lib/brokers.mjs'
import { cleanupOnSignals } from './lib/cleanup.mjs'
import { runGen } from './lib/gen-process.mjs'
import { hearthConfig, needsOf } from './lib/limits.mjs'
import { NodeRed } from './lib/node-red-process.mjs'
import { summarize, fmt } from './lib/report.mjs'

const args = process.argv.slice(2)
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt }
const REPEATS = opt('--repeats', 3)
const DURATION = opt('--duration', 5)
const BROKER = 'bench-broker'
const TAB = 'bench-tab'
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

const ALL_LOADS = {
  fanin: { kind: 'throughput', pubs: 4, subs: 1, qos: 0, window: 20000, batch: 500 },
  qos1: { kind: 'throughput', pubs: 1, subs: 1, qos: 1, window: 1000, batch: 100, maxUnacked: 1000 }
}
const onlyArg = args.indexOf('--only')
const LOADS = onlyArg >= 0 ? Object.fromEntries(args[onlyArg + 1].split(',').map(n => [n, ALL_LOADS[n]])) : ALL_LOADS

// The sidebar's traffic while it is open: comms subscription, and every 3 s brokers, watch, clients, topics.
function watchLikeTheSidebar (nr) {
  const ws = new WebSocket(`${nr.base.replace('http', 'ws')}/comms`)
  let frames = 0
  ws.on('open', () => ws.send(JSON.stringify({ subscribe: 'hearth/broker/+/stats' })))
  ws.on('message', data => { if (String(data).includes('hearth/broker/')) frames++ })
  ws.on('error', () => {})
  let bytes = 0
  const poll = async () => {
    const get = async (path, method = 'GET') => {
      const r = await fetch(`${nr.base}/hearth-broker${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: method === 'POST' ? '{}' : undefined })
      bytes += (await r.text()).length
    }
    await get('/brokers')
    await get(`/${BROKER}/watch`, 'POST')
    await get(`/${BROKER}/clients`)
    await get(`/${BROKER}/topics`)
  }
  void poll()
  const timer = setInterval(() => { void poll().catch(() => {}) }, 3000)
  return { stop: () => { clearInterval(timer); ws.close(); return { frames, bytes } } }
}

cleanupOnSignals()
const nr = await NodeRed.start()
const results = []
try {
  for (const [name, load] of Object.entries(LOADS)) {
    const port = await freePort()
    const { config } = hearthConfig(needsOf({ ...load, payloadSize: 32 }))
    const limits = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]))
    await nr.deploy([
      { id: TAB, type: 'tab', label: 'bench' },
      { id: BROKER, type: 'hearth-broker', z: TAB, name: 'bench', listeners: [{ kind: 'mqtt', port: String(port), host: '127.0.0.1' }], port: String(port), host: '127.0.0.1', allowAnonymous: true, persistence: false, ...limits, wires: [[]] }
    ])
    await sleep(1500)
    const failed = nr.newWarnings().filter(l => l.includes('[error]'))
    if (failed.length > 0) throw new Error(`the broker node did not start:\n${failed.join('\n')}`)
    for (let rep = 1; rep <= REPEATS; rep++) {
      for (const watched of rep % 2 === 1 ? [false, true] : [true, false]) { // alternate the order: a drift of the machine cancels out
        const watcher = watched ? watchLikeTheSidebar(nr) : null
        if (watched) await sleep(1500) // recording on, comms frames flowing
        const job = { ...load, name, host: '127.0.0.1', port, warmup: 1, duration: DURATION, payloadSize: 32, tag: `${name}-${rep}-${watched}`, brokerPid: nr.child.pid }
        const gen = runGen(job, { node: process.execPath }, null)
        try {
          const r = await gen.result
          const seen = watcher?.stop()
          results.push({ name, watched, rep, value: r.value, brokerCpu: r.brokerCpu, otherCpu: r.otherCpu })
          console.log(`[${rep}/${REPEATS}] ${name.padEnd(5)} ${watched ? 'sidebar open  ' : 'no editor     '} ${fmt(r.value, 'msg/s')} msg/s (Node-RED ${fmt(r.brokerCpu, '%')} cpu, other ${fmt(r.otherCpu, '%')})${seen ? `, ${seen.frames} comms frames, ${(seen.bytes / 1024).toFixed(0)} KB of admin answers` : ''}`)
        } finally {
          watcher?.stop()
          await gen.end()
        }
        await sleep(12000) // the watch lapses (10 s) before the next unwatched run
      }
    }
  }
} finally {
  await nr.stop()
}
// Besides the ratio of the medians, the median of each repeat's own ratio (its two runs are next to each other in time).
console.log('\n| load | no editor, msg/s | sidebar open, msg/s | open ÷ none | per repeat: median (min–max) |\n|---|---:|---:|---:|---:|')
for (const name of Object.keys(LOADS)) {
  const none = summarize(results.filter(r => r.name === name && !r.watched).map(r => r.value))
  const open = summarize(results.filter(r => r.name === name && r.watched).map(r => r.value))
  const pairs = summarize(Array.from({ length: REPEATS }, (_, i) => {
    const of = watched => results.find(r => r.name === name && r.rep === i + 1 && r.watched === watched)?.value
    return of(true) / of(false)
  }).filter(Number.isFinite))
  console.log(`| ${name} | ${fmt(none.median, 'msg/s')} (${fmt(none.min, 'msg/s')}–${fmt(none.max, 'msg/s')}) | ${fmt(open.median, 'msg/s')} (${fmt(open.min, 'msg/s')}–${fmt(open.max, 'msg/s')}) | ${(open.median / none.median).toFixed(3)}× | ${pairs.median.toFixed(3)}× (${pairs.min.toFixed(3)}–${pairs.max.toFixed(3)}) |`)
}
