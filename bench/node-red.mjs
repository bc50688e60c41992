#!/usr/bin/env node
// The in-process Node-RED path: one Node-RED 5 (on the node@22 devDependency), flows deployed over the admin API.
//   ceiling: function "generator" (N node.send in a loop) -> function "counter"        (no MQTT: the flow's own cost)
//   hop:     generator -> bench-hop (send, done) -> counter  (no MQTT: the receive, send and done the hearth path's two nodes add)
//   hearth:  generator -> hearth-publish ~ in-process Hearth broker ~ hearth-subscribe -> counter
//   aedes:   generator -> core mqtt out -> Aedes in Node-RED (as node-red-contrib-aedes) on loopback -> core mqtt in -> counter
// publishing at QoS 0 and 1 (interleaved) to a QoS 1 subscription with automatic payload parsing, plus a
// 300k-message burst (must complete with no stall and no warning), and the idle RSS a broker node adds.
// The counter keeps its state in global context; the harness reads it through an http-in endpoint.
// Usage: node bench/node-red.mjs [--quick] [--repeats 3] [--count 50000] [--burst 300000] [--no-idle]
import { existsSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './lib/brokers.mjs'
import { cleanupOnSignals } from './lib/cleanup.mjs'
import { NodeRed, NODE22, RED_JS } from './lib/node-red-process.mjs'
import { rssKB } from './lib/proc.mjs'
import { summarize, cell, fmt } from './lib/report.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const HEARTH_NODES = join(ROOT, 'nodes/hearth-publish.js')
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// ------------------------------------------------------------------ flows
const TAB = 'bench-tab'
const TOPIC = 'bench/nr'
const PAYLOAD_BYTES = 32

function baseFlow () {
  return [
    { id: TAB, type: 'tab', label: 'hearth bench' },
    // POST /bench/run {n}: answer at once, then start the generator
    { id: 'run-in', type: 'http in', z: TAB, url: '/bench/run', method: 'post', upload: false, wires: [['run-fn']] },
    {
      id: 'run-fn',
      type: 'function',
      z: TAB,
      outputs: 2,
      func: 'const n = Number(msg.payload.n);\n' +
        "global.set('bench', { n, count: 0, t0: 0, tEnd: 0 });\n" +
        'return [{ req: msg.req, res: msg.res, payload: { ok: true } }, { n }];',
      wires: [['run-out'], ['gen']]
    },
    { id: 'run-out', type: 'http response', z: TAB, statusCode: '', headers: {}, wires: [] },
    // the generator: N messages from one loop
    {
      id: 'gen',
      type: 'function',
      z: TAB,
      outputs: 1,
      func: `const s = global.get('bench');\nconst payload = '${'x'.repeat(PAYLOAD_BYTES)}';\n` +
        's.t0 = Date.now();\n' +
        `for (let i = 0; i < msg.n; i++) node.send({ topic: '${TOPIC}', payload });\n` +
        'return null;',
      wires: [[]] // set per path
    },
    // the counter
    {
      id: 'count',
      type: 'function',
      z: TAB,
      outputs: 0,
      func: "const s = global.get('bench');\nif (++s.count === s.n) s.tEnd = Date.now();\nreturn null;",
      wires: []
    },
    // GET /bench/state -> the counter's state
    { id: 'state-in', type: 'http in', z: TAB, url: '/bench/state', method: 'get', upload: false, wires: [['state-fn']] },
    { id: 'state-fn', type: 'function', z: TAB, outputs: 1, func: "msg.payload = global.get('bench') || {};\nreturn msg;", wires: [['state-out']] },
    { id: 'state-out', type: 'http response', z: TAB, statusCode: '', headers: {}, wires: [] }
  ]
}

// The broker nodes as a user drops them from the palette: every option at the node's default (missing keys take
// the node's DEFAULTS) except where it listens. The hearth-broker node keeps its state on disk by default (sync
// always, in <userDir>/hearth/<id>/, a temporary folder here); the in-process path of a clean-session connection
// at QoS 0/1 stores nothing there.
const hearthBrokerNode = (id, port) => ({ id, type: 'hearth-broker', z: TAB, name: 'bench', port: String(port), host: '127.0.0.1', wires: [[]] })
const aedesBrokerNode = (id, port) => ({ id, type: 'bench-aedes', z: TAB, mqtt_port: String(port), wires: [[], []] })

// The subscription is QoS 1 with automatic payload parsing (datatype 'auto') on every path; the publisher sends at
// `qos` (0 or 1), so deliveries are QoS 0 or 1 (the lower of the two).
export function flowFor (path, qos, brokerPort) {
  const flow = baseFlow()
  const gen = flow.find(n => n.id === 'gen')
  if (path === 'ceiling') {
    gen.wires = [['count']]
  } else if (path === 'hop') {
    gen.wires = [['hop']]
    flow.push({ id: 'hop', type: 'bench-hop', z: TAB, name: '', wires: [['count']] })
  } else if (path === 'hearth') {
    gen.wires = [['h-pub']]
    flow.push(
      hearthBrokerNode('h-broker', brokerPort),
      { id: 'h-conn', type: 'hearth-connection', name: 'local', brokerType: 'local', broker: 'h-broker', url: '', clientId: '', protocolVersion: '5', keepalive: '60', clean: true, sessionExpiry: '0', birthTopic: '', birthPayload: '', birthQos: '0', birthRetain: false, closeTopic: '', closePayload: '', closeQos: '0', closeRetain: false, willTopic: '', willPayload: '', willQos: '0', willRetain: false, willDelay: '0', willContentType: '', willResponseTopic: '', willExpiry: '', willUserProperties: '' },
      { id: 'h-pub', type: 'hearth-publish', z: TAB, connection: 'h-conn', topic: TOPIC, qos: String(qos), retain: 'false', contentType: '', responseTopic: '', correlationData: '', userProperties: '', messageExpiryInterval: '', wires: [] },
      { id: 'h-sub', type: 'hearth-subscribe', z: TAB, connection: 'h-conn', topic: TOPIC, qos: '1', datatype: 'auto', nl: false, rap: true, rh: '0', dynamic: false, inputs: 0, wires: [['count']] }
    )
  } else if (path === 'aedes') {
    gen.wires = [['m-out']]
    flow.push(
      aedesBrokerNode('aedes', brokerPort),
      { id: 'm-broker', type: 'mqtt-broker', name: 'aedes', broker: '127.0.0.1', port: String(brokerPort), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true, birthTopic: '', birthQos: '0', birthPayload: '', birthMsg: {}, closeTopic: '', closeQos: '0', closePayload: '', closeMsg: {}, willTopic: '', willQos: '0', willPayload: '', willMsg: {}, userProps: '', sessionExpiry: '' },
      { id: 'm-out', type: 'mqtt out', z: TAB, topic: TOPIC, qos: String(qos), retain: 'false', respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker: 'm-broker', wires: [] },
      { id: 'm-in', type: 'mqtt in', z: TAB, topic: TOPIC, qos: '1', datatype: 'auto', broker: 'm-broker', nl: false, rap: true, rh: 0, inputs: 0, wires: [['count']] }
    )
  }
  return flow
}

// ------------------------------------------------------------------ the scenario
export async function prepare (nr, path, qos, warmup, extraNodes = []) {
  const port = path === 'ceiling' || path === 'hop' ? 0 : await freePort()
  await nr.deploy([...flowFor(path, qos, port), ...extraNodes])
  // probe until the path carries messages end to end (the MQTT clients connect and subscribe asynchronously)
  for (let attempt = 0; attempt < 20; attempt++) {
    await sleep(attempt === 0 ? 300 : 500)
    const probe = await nr.run(100, 1500)
    if (!probe.stalled) {
      await nr.run(warmup, 10000) // warm the JIT on this path; not measured
      return
    }
  }
  throw new Error(`${path} QoS ${qos}: probe messages never arrived\n${nr.log.slice(-10).join('\n')}`)
}

// Idle memory added by a broker node, measured within one Node-RED so that start-to-start variation (heap sizing,
// allocator arenas: a few MB) does not drown it: a fresh Node-RED (--expose-gc) with one empty tab, measured twice
// (the first settles what the start left behind; the second is "before"), then the same tab plus one broker node
// listening with no client ("with"), then the empty tab again ("after": what removing it gives back). Both node types are loaded at start, as an installed palette module is (bench-aedes
// imports aedes when Node-RED loads it, as node-red-contrib-aedes requires it). Each state is measured `settleMs`
// after its deploy: two full GCs, 1 s, then VmRSS every 100 ms for 3 s, median; heap = heapUsed + external right
// after the GCs. Added = with − before, per run; a fresh Node-RED per broker and repeat, interleaved.
async function waitListening (port) {
  for (let t = 0; t < 30000; t += 100) {
    const ok = await new Promise(resolve => {
      const s = net.connect({ port, host: '127.0.0.1' })
      s.once('connect', () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await sleep(100)
  }
  throw new Error(`nothing listens on ${port} 30 s after the deploy`)
}

async function idleState (nr, kind, settleMs) {
  const port = await freePort()
  const flow = [
    { id: TAB, type: 'tab', label: 'idle' },
    // POST /bench/gc: two full collections, then process.memoryUsage()
    { id: 'gc-in', type: 'http in', z: TAB, url: '/bench/gc', method: 'post', upload: false, wires: [['gc-fn']] },
    { id: 'gc-fn', type: 'function', z: TAB, outputs: 1, func: "const gc = global.get('benchGc');\ngc(); gc();\nmsg.payload = global.get('benchMemory')();\nreturn msg;", wires: [['gc-out']] },
    { id: 'gc-out', type: 'http response', z: TAB, statusCode: '', headers: {}, wires: [] }
  ]
  if (kind === 'hearth') flow.push(hearthBrokerNode('h-broker', port))
  if (kind === 'aedes') flow.push(aedesBrokerNode('aedes', port))
  await nr.deploy(flow)
  if (kind !== 'none') await waitListening(port)
  await sleep(settleMs)
  const gc = await fetch(`${nr.base}/bench/gc`, { method: 'POST', signal: AbortSignal.timeout(30000) })
  if (!gc.ok) throw new Error(`POST /bench/gc: ${gc.status}`)
  const mem = await gc.json()
  await sleep(1000)
  const samples = []
  for (let i = 0; i < 30; i++) { samples.push(rssKB(nr.child.pid)); await sleep(100) }
  return { rssMB: summarize(samples).median / 1024, heapMB: (mem.heapUsed + mem.external) / 1048576 }
}

async function idleRss ({ repeats, settleMs, kinds, log }) {
  const runs = []
  for (let rep = 1; rep <= repeats; rep++) {
    for (const kind of kinds.map((_, i) => kinds[(i + rep - 1) % kinds.length])) {
      let nr = null
      try {
        nr = await NodeRed.start({ exposeGc: true })
        await idleState(nr, 'none', settleMs) // settles what the start left behind; not counted
        const before = await idleState(nr, 'none', settleMs)
        const withNode = await idleState(nr, kind, settleMs)
        const after = await idleState(nr, 'none', settleMs)
        const r = { kind, rep, before, with: withNode, after, addedMB: withNode.rssMB - before.rssMB, heapAddedMB: withNode.heapMB - before.heapMB }
        runs.push(r)
        log(`[${rep}/${repeats}] node-red idle RSS: ${fmt(before.rssMB, 'MB')} MB, with one ${kind} broker node ${fmt(withNode.rssMB, 'MB')} MB ` +
          `(${r.addedMB < 0 ? '−' : '+'}${fmt(Math.abs(r.addedMB), 'MB')}; heap ${r.heapAddedMB < 0 ? '−' : '+'}${fmt(Math.abs(r.heapAddedMB), 'MB')}), removed again ${fmt(after.rssMB, 'MB')} MB`)
      } catch (err) {
        runs.push({ kind, rep, error: err.message })
        log(`[${rep}/${repeats}] node-red idle ${kind} FAILED: ${err.message.split('\n')[0]}`)
      } finally {
        if (nr !== null) await nr.stop()
      }
    }
  }
  const summary = {}
  for (const kind of kinds) {
    const ok = runs.filter(r => r.kind === kind && !r.error)
    summary[kind] = {
      before: summarize(ok.map(r => r.before.rssMB)),
      rss: summarize(ok.map(r => r.with.rssMB)),
      after: summarize(ok.map(r => r.after.rssMB)),
      added: summarize(ok.map(r => r.addedMB)),
      heapAdded: summarize(ok.map(r => r.heapAddedMB))
    }
  }
  return { runs, summary }
}

export async function runNodeRedBench ({ quick = false, repeats = 3, count, burst = 300000, idle = true, log = console.log } = {}) {
  const n = count || (quick ? 20000 : 50000)
  if (!existsSync(NODE22) || !existsSync(RED_JS)) {
    const why = 'node@22 or node-red devDependency missing (npm install)'
    log(`node-red: skipped, ${why}`)
    return { json: { skipped: why }, markdown: `Node-RED scenario skipped: ${why}.` }
  }
  const paths = ['ceiling', 'hop', 'aedes']
  let hearthSkip = null
  if (!existsSync(HEARTH_NODES)) hearthSkip = 'nodes/hearth-publish.js does not exist yet (npm run build once the nodes are in)'
  else if (!existsSync(join(ROOT, 'dist/broker/index.js'))) hearthSkip = 'dist/broker/index.js missing (npm run build)'
  if (hearthSkip) log(`node-red: hearth path skipped: ${hearthSkip}`)
  else paths.splice(2, 0, 'hearth')

  let nr = await NodeRed.start()
  // after a stall Node-RED may stay busy or blocked: measure on in a fresh one
  const restartIfStalled = async r => {
    if (!r.stalled) return
    await nr.stop()
    nr = await NodeRed.start()
  }
  const runs = []
  const bursts = []
  try {
    for (let rep = 1; rep <= repeats; rep++) {
      for (const qos of [0, 1]) {
        for (const path of paths) {
          const label = `[${rep}/${repeats}] node-red ${path.padEnd(7)} QoS${qos}`
          try {
            await prepare(nr, path, qos, Math.min(n, 10000))
            nr.newWarnings()
            const r = await nr.run(n, 10000)
            const warnings = nr.newWarnings()
            runs.push({ path, qos, rep, ...r, warnings })
            await restartIfStalled(r)
            log(`${label} ${r.stalled ? `STALLED at ${r.stalledAt}/${n}` : `${fmt(r.value, 'msg/s')} msg/s (${n} msgs in ${r.ms} ms, Node-RED ${fmt(r.nodeRedCpu, '%')} cpu)`}${warnings.length ? `, ${warnings.length} warning line(s)` : ''}`)
          } catch (err) {
            runs.push({ path, qos, rep, error: err.message })
            log(`${label} FAILED: ${err.message.split('\n')[0]}`)
          }
        }
      }
    }
    // the burst: one flow, `burst` messages at once; Hearth must complete it with no stall and no warning
    const burstPaths = hearthSkip ? [] : ['hearth']
    if (!quick) burstPaths.push('aedes') // for comparison: core mqtt out is known to stall on bursts over ~100k
    for (const path of burstPaths) {
      for (const qos of quick ? [0] : [0, 1]) {
        const label = `burst ${burst} node-red ${path.padEnd(7)} QoS${qos}`
        try {
          await prepare(nr, path, qos, 1000)
          nr.newWarnings()
          const r = await nr.run(burst, 15000)
          const warnings = nr.newWarnings()
          bursts.push({ path, qos, ...r, warnings })
          await restartIfStalled(r)
          log(`${label} ${r.stalled ? `STALLED at ${r.stalledAt}/${burst}${r.blocked ? ' (event loop blocked)' : ''}` : `completed: ${fmt(r.value, 'msg/s')} msg/s in ${r.ms} ms`}${warnings.length ? `; warnings: ${warnings.slice(0, 3).join(' | ')}` : ', no warnings'}`)
        } catch (err) {
          bursts.push({ path, qos, error: err.message })
          log(`${label} FAILED: ${err.message.split('\n')[0]}`)
        }
      }
    }
  } finally {
    await nr.stop()
  }
  const idleKinds = paths.filter(p => p !== 'ceiling' && p !== 'hop')
  const idleRes = idle ? await idleRss({ repeats, settleMs: quick ? 3000 : 5000, kinds: idleKinds, log }) : null

  // table: msg/s per path and QoS, % of the ceiling at that QoS
  const rows = []
  for (const qos of [0, 1]) {
    const ceiling = summarize(runs.filter(r => r.path === 'ceiling' && r.qos === qos && !r.error && !r.stalled).map(r => r.value))
    for (const path of ['ceiling', 'hop', 'hearth', 'aedes']) {
      if (!paths.includes(path)) continue
      const rs = runs.filter(r => r.path === path && r.qos === qos)
      const ok = rs.filter(r => !r.error && !r.stalled)
      const s = summarize(ok.map(r => r.value))
      rows.push({ path, qos, summary: s, ofCeiling: s.median / ceiling.median, stalled: rs.filter(r => r.stalled).length, failed: rs.filter(r => r.error).length })
    }
  }
  const names = { ceiling: 'generator → counter (ceiling, no MQTT)', hop: 'generator → one pass-through node → counter (Node-RED\'s own cost of the two nodes\' hops, no MQTT)', hearth: 'hearth-publish → hearth-subscribe (in-process)', aedes: 'mqtt out → Aedes (loopback) → mqtt in' }
  let md = `### In-process Node-RED path (Node-RED 5, ${n} messages per run, ${repeats} interleaved repeat(s))\n\n`
  md += '| path | QoS | msg/s median (min–max) | % of ceiling | stalled/failed runs |\n|---|---:|---:|---:|---:|\n'
  for (const r of rows) {
    md += `| ${names[r.path]} | ${r.qos} | ${cell(r.summary, 'msg/s')} | ${r.path === 'ceiling' ? '100%' : Number.isFinite(r.ofCeiling) ? `${(r.ofCeiling * 100).toFixed(0)}%` : '–'} | ${r.stalled}/${r.failed} |\n`
  }
  const hop = qos => rows.find(r => r.path === 'hop' && r.qos === qos)
  const viaHearth = rows.filter(r => r.path === 'hearth' && hop(r.qos) && Number.isFinite(r.ofCeiling) && Number.isFinite(hop(r.qos).ofCeiling))
  if (viaHearth.length) {
    md += `\nThe hearth path against the pass-through path (the same Node-RED hops, no MQTT): ${viaHearth.map(r => `QoS ${r.qos} ${(100 * r.summary.median / hop(r.qos).summary.median).toFixed(0)}%`).join(', ')}. ` +
      'What the pass-through path lacks of the ceiling is Node-RED\'s own per-hop work; what the hearth path lacks of the pass-through path is the MQTT hop (Hearth\'s nodes and broker, and the garbage they make).\n'
  }
  if (bursts.length) {
    md += `\nBurst of ${burst} messages from one flow:\n\n| path | QoS | result | warnings |\n|---|---:|---|---|\n`
    for (const b of bursts) {
      const res = b.error ? `failed: ${b.error.split('\n')[0]}` : b.stalled ? `**stalled** at ${b.stalledAt}${b.blocked ? ', Node-RED unresponsive' : ''}` : `completed, ${fmt(b.value, 'msg/s')} msg/s (${b.ms} ms)`
      md += `| ${names[b.path]} | ${b.qos} | ${res} | ${b.warnings && b.warnings.length ? b.warnings.slice(0, 2).join('; ').replace(/\|/g, '/') : 'none'} |\n`
    }
  }
  if (idleRes) {
    md += `\nIdle Node-RED memory added by one broker node listening with no client (in one fresh Node-RED per run: an empty tab twice, then with the node, then without it again; each ${quick ? 3 : 5} s after its deploy, two full GCs, then the median of 30 VmRSS samples over 3 s; heap = heapUsed + external right after the GCs):\n\n`
    md += '| broker node | RSS before, MB | with the node, MB | added, MB | heap added, MB | removed again, MB |\n|---|---:|---:|---:|---:|---:|\n'
    for (const kind of idleKinds) {
      const x = idleRes.summary[kind]
      const name = kind === 'hearth' ? 'hearth-broker (its defaults: state on disk)' : 'Aedes (bench-aedes, as node-red-contrib-aedes)'
      md += `| ${name} | ${cell(x.before, 'MB')} | ${cell(x.rss, 'MB')} | ${cell(x.added, 'MB')} | ${cell(x.heapAdded, 'MB')} | ${cell(x.after, 'MB')} |\n`
    }
  }
  if (hearthSkip) md += `\nHearth path skipped: ${hearthSkip}.\n`
  return { json: { count: n, burst, paths, runs, bursts, rows, idle: idleRes, hearthSkipped: hearthSkip }, markdown: md.trimEnd(), rows, idle: idleRes }
}

// standalone
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2)
  const opt = (name, d) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : d }
  const quick = args.includes('--quick')
  cleanupOnSignals()
  runNodeRedBench({ quick, repeats: opt('--repeats', quick ? 1 : 3), count: opt('--count', undefined), burst: opt('--burst', 300000), idle: !args.includes('--no-idle') })
    .then(r => console.log(`\n${r.markdown}`))
    .catch(err => { console.error(err); process.exit(1) })
}
