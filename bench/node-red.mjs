#!/usr/bin/env node
// The in-process Node-RED path: one Node-RED 5 (on the node@22 devDependency), flows deployed over the admin API.
//   ceiling: function "generator" (N node.send in a loop) -> function "counter"        (no MQTT: the flow's own cost)
//   hearth:  generator -> hearth-publish ~ in-process Hearth broker ~ hearth-subscribe -> counter
//   aedes:   generator -> core mqtt out -> Aedes in Node-RED (as node-red-contrib-aedes) on loopback -> core mqtt in -> counter
// at QoS 0 and 1, interleaved, plus a 300k-message burst (must complete with no stall and no warning).
// The counter keeps its state in global context; the harness reads it through an http-in endpoint.
// Usage: node bench/node-red.mjs [--quick] [--repeats 3] [--count 50000] [--burst 300000]
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './lib/brokers.mjs'
import { cpuSeconds } from './lib/proc.mjs'
import { summarize, cell, fmt } from './lib/report.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NODE22 = join(ROOT, 'node_modules/node/bin/node')
const RED_JS = join(ROOT, 'node_modules/node-red/red.js')
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

function flowFor (path, qos, brokerPort) {
  const flow = baseFlow()
  const gen = flow.find(n => n.id === 'gen')
  if (path === 'ceiling') {
    gen.wires = [['count']]
  } else if (path === 'hearth') {
    gen.wires = [['h-pub']]
    flow.push(
      { id: 'h-broker', type: 'hearth-broker', z: TAB, name: 'bench', port: String(brokerPort), host: '127.0.0.1', mqtt31: true, mqtt311: true, mqtt5: true, allowAnonymous: true, maxConnections: '10000', maxPacketSize: '268435455', maxInflight: '100', maxQueuedMessages: '1000', maxKeepalive: '0', maximumQoS: '2', retainAvailable: true, persistenceDir: '', wires: [[]] },
      { id: 'h-conn', type: 'hearth-connection', name: 'local', brokerType: 'local', broker: 'h-broker', url: '', clientId: '', protocolVersion: '5', keepalive: '60', clean: true, sessionExpiry: '0', birthTopic: '', birthPayload: '', birthQos: '0', birthRetain: false, closeTopic: '', closePayload: '', closeQos: '0', closeRetain: false, willTopic: '', willPayload: '', willQos: '0', willRetain: false, willDelay: '0', willContentType: '', willResponseTopic: '', willExpiry: '', willUserProperties: '' },
      { id: 'h-pub', type: 'hearth-publish', z: TAB, connection: 'h-conn', topic: TOPIC, qos: String(qos), retain: 'false', contentType: '', responseTopic: '', correlationData: '', userProperties: '', messageExpiryInterval: '', wires: [] },
      { id: 'h-sub', type: 'hearth-subscribe', z: TAB, connection: 'h-conn', topic: TOPIC, qos: String(qos), datatype: 'buffer', nl: false, rap: true, rh: '0', dynamic: false, inputs: 0, wires: [['count']] }
    )
  } else if (path === 'aedes') {
    gen.wires = [['m-out']]
    flow.push(
      { id: 'aedes', type: 'bench-aedes', z: TAB, mqtt_port: String(brokerPort), wires: [[], []] },
      { id: 'm-broker', type: 'mqtt-broker', name: 'aedes', broker: '127.0.0.1', port: String(brokerPort), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true, birthTopic: '', birthQos: '0', birthPayload: '', birthMsg: {}, closeTopic: '', closeQos: '0', closePayload: '', closeMsg: {}, willTopic: '', willQos: '0', willPayload: '', willMsg: {}, userProps: '', sessionExpiry: '' },
      { id: 'm-out', type: 'mqtt out', z: TAB, topic: TOPIC, qos: String(qos), retain: 'false', respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker: 'm-broker', wires: [] },
      { id: 'm-in', type: 'mqtt in', z: TAB, topic: TOPIC, qos: String(qos), datatype: 'buffer', broker: 'm-broker', nl: false, rap: true, rh: 0, inputs: 0, wires: [['count']] }
    )
  }
  return flow
}

// ------------------------------------------------------------------ Node-RED process
class NodeRed {
  static async start () {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-nr-'))
    const port = await freePort()
    mkdirSync(join(dir, 'node_modules/@hearth'), { recursive: true })
    symlinkSync(ROOT, join(dir, 'node_modules/@hearth/node-red-mqtt'), 'dir')
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'hearth-bench', private: true, version: '0.0.0', dependencies: { '@hearth/node-red-mqtt': 'file:..' } }))
    writeFileSync(join(dir, 'settings.js'), `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: false,
  nodesDir: [${JSON.stringify(fileURLToPath(new URL('./node-red-nodes', import.meta.url)))}],
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  // core MQTT nodes retry after 5 s by default; Aedes starts a moment after the flow, so retry sooner
  mqttReconnectTime: 250,
  editorTheme: { palette: { catalogues: [] }, tours: false },
  diagnostics: { enabled: false },
  telemetry: { enabled: false }
}
`)
    const child = spawn(NODE22, [RED_JS, '--settings', join(dir, 'settings.js'), '--userDir', dir], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    const nr = new NodeRed(child, dir, port)
    for (let t = 0; t < 60000; t += 200) {
      if (child.exitCode !== null) break
      try {
        const r = await fetch(`${nr.base}/flows`)
        if (r.ok) return nr
      } catch {}
      await sleep(200)
    }
    await nr.stop()
    throw new Error(`Node-RED did not start\n${nr.log.slice(-20).join('\n')}`)
  }

  constructor (child, dir, port) {
    this.child = child
    this.dir = dir
    this.base = `http://127.0.0.1:${port}`
    this.log = []
    this.mark = 0
    const keep = chunk => { for (const line of String(chunk).split('\n')) if (line.trim()) this.log.push(line) }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    this.exited = new Promise(resolve => child.once('exit', resolve))
  }

  // log lines since the last call that are warnings or errors (Node-RED's or the process's)
  newWarnings () {
    const lines = this.log.slice(this.mark)
    this.mark = this.log.length
    return lines.filter(l => /\[(warn|error)\]|Warning|Error/i.test(l))
  }

  async deploy (flow) {
    const r = await fetch(`${this.base}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flow),
      signal: AbortSignal.timeout(30000)
    })
    if (!r.ok) throw new Error(`deploy failed: ${r.status} ${await r.text()}`)
  }

  // null when Node-RED does not answer within 2 s (its event loop is blocked)
  async state () {
    try {
      const r = await fetch(`${this.base}/bench/state`, { signal: AbortSignal.timeout(2000) })
      return await r.json()
    } catch (err) {
      if (err.name === 'TimeoutError') return null
      throw err
    }
  }

  async start (n) {
    const r = await fetch(`${this.base}/bench/run`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ n }), signal: AbortSignal.timeout(30000)
    })
    if (!r.ok) throw new Error(`POST /bench/run: ${r.status}`)
  }

  // Runs n messages; resolves with the rate, or with stalled=true if the count stops moving for stallMs.
  async run (n, stallMs) {
    const cpu0 = cpuSeconds(this.child.pid)
    const w0 = Date.now()
    await this.start(n)
    let last = -1
    let lastChange = Date.now()
    let blocked = false
    for (;;) {
      await sleep(100)
      const s = await this.state()
      if (s === null) { // unresponsive: no progress we can see
        blocked = true
        if (Date.now() - lastChange > stallMs) return { n, count: last, ms: NaN, value: NaN, stalled: true, stalledAt: last, blocked }
        continue
      }
      if (s.tEnd) {
        const ms = s.tEnd - s.t0
        const cpu = (cpuSeconds(this.child.pid) - cpu0) / ((Date.now() - w0) / 1000)
        return { n, count: s.count, ms, value: n / (ms / 1000), stalled: false, nodeRedCpu: cpu }
      }
      if (s.count !== last) { last = s.count; lastChange = Date.now() }
      else if (Date.now() - lastChange > stallMs) {
        return { n, count: s.count, ms: NaN, value: NaN, stalled: true, stalledAt: s.count, blocked }
      }
    }
  }

  async stop () {
    if (this.child.exitCode === null) {
      this.child.kill('SIGTERM')
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000)
      await this.exited
      clearTimeout(t)
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------ the scenario
async function prepare (nr, path, qos, warmup) {
  const port = path === 'ceiling' ? 0 : await freePort()
  await nr.deploy(flowFor(path, qos, port))
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

export async function runNodeRedBench ({ quick = false, repeats = 3, count, burst = 300000, log = console.log } = {}) {
  const n = count || (quick ? 20000 : 50000)
  if (!existsSync(NODE22) || !existsSync(RED_JS)) {
    const why = 'node@22 or node-red devDependency missing (npm install)'
    log(`node-red: skipped, ${why}`)
    return { json: { skipped: why }, markdown: `Node-RED scenario skipped: ${why}.` }
  }
  const paths = ['ceiling', 'aedes']
  let hearthSkip = null
  if (!existsSync(HEARTH_NODES)) hearthSkip = 'nodes/hearth-publish.js does not exist yet (npm run build once the nodes are in)'
  else if (!existsSync(join(ROOT, 'dist/broker/index.js'))) hearthSkip = 'dist/broker/index.js missing (npm run build)'
  if (hearthSkip) log(`node-red: hearth path skipped: ${hearthSkip}`)
  else paths.splice(1, 0, 'hearth')

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

  // table: msg/s per path and QoS, % of the ceiling at that QoS
  const rows = []
  for (const qos of [0, 1]) {
    const ceiling = summarize(runs.filter(r => r.path === 'ceiling' && r.qos === qos && !r.error && !r.stalled).map(r => r.value))
    for (const path of ['ceiling', 'hearth', 'aedes']) {
      if (!paths.includes(path)) continue
      const rs = runs.filter(r => r.path === path && r.qos === qos)
      const ok = rs.filter(r => !r.error && !r.stalled)
      const s = summarize(ok.map(r => r.value))
      rows.push({ path, qos, summary: s, ofCeiling: s.median / ceiling.median, stalled: rs.filter(r => r.stalled).length, failed: rs.filter(r => r.error).length })
    }
  }
  const names = { ceiling: 'generator → counter (ceiling, no MQTT)', hearth: 'hearth-publish → hearth-subscribe (in-process)', aedes: 'mqtt out → Aedes (loopback) → mqtt in' }
  let md = `### In-process Node-RED path (Node-RED 5, ${n} messages per run, ${repeats} interleaved repeat(s))\n\n`
  md += '| path | QoS | msg/s median (min–max) | % of ceiling | stalled/failed runs |\n|---|---:|---:|---:|---:|\n'
  for (const r of rows) {
    md += `| ${names[r.path]} | ${r.qos} | ${cell(r.summary, 'msg/s')} | ${r.path === 'ceiling' ? '100%' : Number.isFinite(r.ofCeiling) ? `${(r.ofCeiling * 100).toFixed(0)}%` : '–'} | ${r.stalled}/${r.failed} |\n`
  }
  if (bursts.length) {
    md += `\nBurst of ${burst} messages from one flow:\n\n| path | QoS | result | warnings |\n|---|---:|---|---|\n`
    for (const b of bursts) {
      const res = b.error ? `failed: ${b.error.split('\n')[0]}` : b.stalled ? `**stalled** at ${b.stalledAt}${b.blocked ? ', Node-RED unresponsive' : ''}` : `completed, ${fmt(b.value, 'msg/s')} msg/s (${b.ms} ms)`
      md += `| ${names[b.path]} | ${b.qos} | ${res} | ${b.warnings && b.warnings.length ? b.warnings.slice(0, 2).join('; ').replace(/\|/g, '/') : 'none'} |\n`
    }
  }
  if (hearthSkip) md += `\nHearth path skipped: ${hearthSkip}.\n`
  return { json: { count: n, burst, paths, runs, bursts, rows, hearthSkipped: hearthSkip }, markdown: md.trimEnd() }
}

// standalone
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2)
  const opt = (name, d) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : d }
  const quick = args.includes('--quick')
  runNodeRedBench({ quick, repeats: opt('--repeats', quick ? 1 : 3), count: opt('--count', undefined), burst: opt('--burst', 300000) })
    .then(r => console.log(`\n${r.markdown}`))
    .catch(err => { console.error(err); process.exit(1) })
}
