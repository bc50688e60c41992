#!/usr/bin/env node
// Where the in-process Node-RED path spends its time: the bench's Node-RED 5 flows (bench/node-red.mjs), each run
// under V8's sampling profiler (node:inspector inside Node-RED, started and stopped around the measured run only),
// self time grouped by where the code lives: Hearth's nodes and core, Node-RED's runtime (message routing, cloning,
// the function node's sandbox), the bench's own function nodes, Node's internals, GC.
// Usage: node bench/profile-nodered.mjs [--count 100000] [--out DIR]   (profiles kept as DIR/<path>-qos<q>.cpuprofile)
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanupOnSignals } from './lib/cleanup.mjs'
import { NodeRed } from './lib/node-red-process.mjs'
import { prepare } from './node-red.mjs'
import { inspectorNodes, post } from './lib/inspector-nodes.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt }
const COUNT = Number(opt('--count', 100000))
const OUT = opt('--out', join(ROOT, 'bench/results/profiles'))

// the CPU profiler inside Node-RED, sampling every 200 µs
const profilerNodes = () => inspectorNodes('prof', "s.post('Profiler.enable', () => s.post('Profiler.setSamplingInterval', { interval: 200 }, () => s.post('Profiler.start', done)));", 'Profiler.stop')

// self time (µs) per category, from a V8 CPU profile
function breakdown (profile) {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const self = new Map()
  const dt = profile.timeDeltas
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i + 1] ?? 0))
  const cats = {}
  const fns = {}
  for (const [id, us] of self) {
    const f = byId.get(id).callFrame
    const c = category(f)
    cats[c] = (cats[c] ?? 0) + us
    const key = `${c}: ${f.functionName || '(anonymous)'} ${f.url.replace(/.*node_modules\//, '').replace(ROOT, '')}:${f.lineNumber + 1}`
    fns[key] = (fns[key] ?? 0) + us
  }
  return { cats, fns }
}

function category (f) {
  const u = f.url
  if (f.functionName === '(garbage collector)') return 'GC'
  if (f.functionName === '(idle)' || f.functionName === '(program)' || f.functionName === '(root)') return f.functionName
  if (/\/nodes\/hearth-|\/dist\/(broker|bridge|listeners)\//.test(u)) return 'Hearth'
  if (/node_modules\/mqtt-packet\//.test(u)) return 'Hearth (mqtt-packet)'
  if (/@node-red\/nodes\/core\/function\//.test(u)) return 'Node-RED function node'
  if (/node_modules\/(@node-red|node-red)\//.test(u)) return 'Node-RED runtime'
  if (/node_modules\/lodash|node_modules\/clone/.test(u)) return 'Node-RED runtime (cloning)'
  if (u.startsWith('Function node:')) return 'bench function nodes (user code)'
  if (u === '' || u.startsWith('evalmachine') || u.startsWith('vm')) return f.functionName === '' && u === '' ? 'V8/native' : 'bench function nodes (user code)'
  if (u.startsWith('node:')) return 'Node internals'
  return 'other'
}

cleanupOnSignals()
mkdirSync(OUT, { recursive: true })
const lines = []
const perMessage = {} // qos -> path -> category -> µs per message
for (const qos of [0, 1]) {
  for (const path of ['ceiling', 'hop', 'hearth']) {
    const nr = await NodeRed.start()
    try {
      await prepare(nr, path, qos, 20000, profilerNodes())
      await post(nr, '/bench/prof/start')
      const r = await nr.run(COUNT, 20000)
      const profile = await post(nr, '/bench/prof/stop')
      writeFileSync(join(OUT, `${path}-qos${qos}.cpuprofile`), JSON.stringify(profile))
      const { cats, fns } = breakdown(profile)
      const busy = Object.entries(cats).filter(([c]) => c !== '(idle)').reduce((a, [, v]) => a + v, 0)
      perMessage[qos] ??= {}
      perMessage[qos][path] = Object.fromEntries(Object.entries(cats).filter(([c]) => c !== '(idle)').map(([c, us]) => [c, us / COUNT]))
      lines.push(`### ${path}, publish QoS ${qos}: ${COUNT} messages, ${Math.round(r.value)} msg/s, ${(busy / 1e6).toFixed(2)} s busy (${(busy / COUNT).toFixed(2)} µs per message)\n`)
      lines.push('| where | self time, s | share of busy | µs per message |\n|---|---:|---:|---:|')
      for (const [c, us] of Object.entries(cats).filter(([c]) => c !== '(idle)').sort((a, b) => b[1] - a[1])) {
        lines.push(`| ${c} | ${(us / 1e6).toFixed(3)} | ${(100 * us / busy).toFixed(1)}% | ${(us / COUNT).toFixed(2)} |`)
      }
      lines.push('\nTop functions by self time:\n')
      for (const [k, us] of Object.entries(fns).filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, 15)) {
        lines.push(`- ${(100 * us / busy).toFixed(1)}% ${k}`)
      }
      lines.push('')
      console.log(lines.slice(-25).join('\n'))
    } finally {
      await nr.stop()
    }
  }
}
// what each path adds per message over another, by category: the two nodes over the ceiling (hearth − ceiling),
// Node-RED's own cost of their hops (hop − ceiling: one pass-through node makes the same receive, send and done), and
// the MQTT hop itself (hearth − hop)
const comparisons = [
  ['hearth', 'ceiling', 'hearth-publish → hearth-subscribe adds to the ceiling'],
  ['hop', 'ceiling', 'one pass-through node (Node-RED\'s own hops, no MQTT) adds to the ceiling'],
  ['hearth', 'hop', 'the MQTT hop adds to the pass-through path']
]
for (const qos of [0, 1]) {
  for (const [a, b, what] of comparisons) {
    const h = perMessage[qos]?.[a]
    const c = perMessage[qos]?.[b]
    if (!h || !c) continue
    const cats = [...new Set([...Object.keys(h), ...Object.keys(c)])]
    const added = cats.map(k => [k, (h[k] ?? 0) - (c[k] ?? 0)]).sort((x, y) => y[1] - x[1])
    const total = added.reduce((n, [, v]) => n + v, 0)
    lines.push(`### What ${what}, per message at QoS ${qos}: ${total.toFixed(2)} µs\n`)
    lines.push(`| where | µs per message, ${a} − ${b} | share of what is added |\n|---|---:|---:|`)
    for (const [k, v] of added) lines.push(`| ${k} | ${v.toFixed(2)} | ${(100 * v / total).toFixed(1)}% |`)
    lines.push('')
  }
}
console.log(lines.slice(-80).join('\n'))
writeFileSync(join(OUT, 'breakdown.md'), lines.join('\n') + '\n')
console.log(`\nprofiles and breakdown.md in ${OUT}`)
