#!/usr/bin/env node
// What the in-process Node-RED path allocates per message: the bench's Node-RED 5 flows (bench/node-red.mjs) under
// V8's sampling heap profiler (node:inspector inside Node-RED, around the measured run only, counting objects the
// GC has already collected too), bytes per message for the ceiling, the pass-through path and the hearth path, and
// the functions that allocate what the hearth path adds over the pass-through path (the same Node-RED hops, no MQTT).
// Usage: node bench/alloc-nodered.mjs [--count 100000] [--qos 0|1] [--interval BYTES]
import { cleanupOnSignals } from './lib/cleanup.mjs'
import { NodeRed } from './lib/node-red-process.mjs'
import { prepare } from './node-red.mjs'
import { inspectorNodes, post } from './lib/inspector-nodes.mjs'

const args = process.argv.slice(2)
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt }
const COUNT = Number(opt('--count', 100000))
const QOS = Number(opt('--qos', 1))
const INTERVAL = Number(opt('--interval', 256))

// the sampling heap profiler inside Node-RED, counting what the GC has already collected too
const samplerNodes = () => inspectorNodes('hp', `s.post('HeapProfiler.enable', () => s.post('HeapProfiler.startSampling', { samplingInterval: ${INTERVAL}, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }, done));`, 'HeapProfiler.stopSampling')

// bytes by allocating function (self size of each sampled call site, summed per function)
function byFunction (profile) {
  const out = new Map()
  const walk = n => {
    const f = n.callFrame
    if (n.selfSize > 0) {
      const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*\/(nodes|dist)\//, '$1/')}:${f.lineNumber + 1}`
      out.set(key, (out.get(key) ?? 0) + n.selfSize)
    }
    for (const c of n.children) walk(c)
  }
  walk(profile.head)
  return out
}

cleanupOnSignals()
const sites = {}
for (const path of ['ceiling', 'hop', 'hearth']) {
  const nr = await NodeRed.start()
  try {
    await prepare(nr, path, QOS, 20000, samplerNodes())
    await post(nr, '/bench/hp/start')
    await nr.run(COUNT, 20000)
    sites[path] = byFunction(await post(nr, '/bench/hp/stop'))
    const total = [...sites[path].values()].reduce((a, b) => a + b, 0)
    console.log(`${path.padEnd(8)} QoS ${QOS}: ${(total / COUNT).toFixed(0)} bytes allocated per message`)
  } finally {
    await nr.stop()
  }
}
const keys = new Set([...sites.hop.keys(), ...sites.hearth.keys()])
const added = [...keys].map(k => [k, ((sites.hearth.get(k) ?? 0) - (sites.hop.get(k) ?? 0)) / COUNT]).sort((a, b) => b[1] - a[1])
console.log('\nWhat the hearth path allocates beyond the pass-through path, bytes per message, by function (sampled):')
for (const [k, v] of added.filter(([, v]) => Math.abs(v) >= 8).slice(0, 25)) console.log(`${v.toFixed(0).padStart(7)}  ${k}`)
