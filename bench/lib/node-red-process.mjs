// One Node-RED 5 process on the node@22 devDependency, with a temporary userDir (Hearth linked into its
// node_modules, bench/node-red-nodes as nodesDir), driven over its admin API and the bench flow's http endpoints.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './brokers.mjs'
import { track } from './cleanup.mjs'
import { cpuSeconds } from './proc.mjs'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const NODE22 = join(ROOT, 'node_modules/node/bin/node')
export const RED_JS = join(ROOT, 'node_modules/node-red/red.js')
const NODES_DIR = join(ROOT, 'bench/node-red-nodes')
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

export class NodeRed {
  // exposeGc: Node with --expose-gc, and gc() handed to function nodes as global context 'benchGc' (the idle RSS
  // measurement collects garbage before it samples; 'benchMemory' is process.memoryUsage)
  static async start ({ exposeGc = false } = {}) {
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
  nodesDir: [${JSON.stringify(NODES_DIR)}],
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  // core MQTT nodes retry after 5 s by default; Aedes starts a moment after the flow, so retry sooner
  mqttReconnectTime: 250,
  editorTheme: { palette: { catalogues: [] }, tours: false },
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  functionGlobalContext: { benchGc: global.gc, benchMemory: () => process.memoryUsage(), benchInspector: require('node:inspector') }
}
`)
    const extra = process.env.BENCH_NODE_RED_ARGS ? process.env.BENCH_NODE_RED_ARGS.split(' ') : [] // e.g. --cpu-prof, for a profile
    const args = [...(exposeGc ? ['--expose-gc'] : []), ...extra, RED_JS, '--settings', join(dir, 'settings.js'), '--userDir', dir]
    const child = spawn(NODE22, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
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
    this.untrack = track({ child, dir }) // killed and removed if the orchestrator is interrupted
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
    this.untrack()
  }
}
