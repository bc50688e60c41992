// Starting and stopping the brokers under test, each as its own child process on 127.0.0.1.
// Every process is started through `bash -c 'ulimit -n …; exec …'` (and `taskset` when pinned, which execs too),
// so its pid is the broker's own pid. Each broker gets a temporary folder (its config file, the probe's output,
// Mosquitto's database) that stop() removes.
import { spawn, execFileSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { track } from './cleanup.mjs'
import { hearthConfig, mosquittoConfig } from './limits.mjs'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PROBE = pathToFileURL(join(ROOT, 'bench/brokers/probe.mjs')).href
export const MOSQUITTO_BIN = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find(p => existsSync(p)) || null
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const nowMs = () => Number(process.hrtime.bigint()) / 1e6

// Raise the soft fd limit as far as the hard limit allows (10k idle connections need it); `cpus` pins the process
// (and every thread it starts) to those cores with taskset.
const ULIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"'
export function spawnWithFds (cmd, args, opts = {}, cpus = null) {
  const pin = cpus !== null ? ['taskset', '-c', String(cpus)] : []
  return spawn('bash', ['-c', ULIMIT, 'bash', ...pin, cmd, ...args], opts)
}

// start(ctx): ctx = {
//   nodeBin, needs (bench/lib/limits.mjs needsOf), cpus (taskset list or null),
//   probe (bool: event-loop delay + GC probe, Node brokers), probeResolution (ms), traceGc (file for --trace-gc output or null),
//   persistenceDir (restart scenario: Hearth --persistence-dir, Mosquitto persistence true)
// }
// ctx.transport (the scenario's): undefined = plain MQTT over TCP, 'tls' = mqtts, 'ws' = MQTT over WebSocket on /mqtt.
// `transports` lists what a broker can serve; a scenario over another transport skips it (with the reason).
export const BROKERS = {
  hearth: hearthWith('hearth', {}),
  aedes: {
    node: true,
    transports: ['tcp', 'tls', 'ws'],
    available: () => existsSync(join(ROOT, 'node_modules/aedes/package.json')) ? null : 'aedes not installed',
    start: ctx => startNode('aedes', ctx, mkdtempSync(join(tmpdir(), 'hearth-bench-aedes-')),
      [join(ROOT, 'bench/brokers/aedes-server.mjs'), '--port', '0', '--host', '127.0.0.1', ...aedesTransport(ctx.transport)], { config: null, raised: [] })
  },
  mosquitto: {
    node: false,
    transports: ['tcp', 'tls'],
    noTransport: { ws: "Debian's Mosquitto is built without WebSocket support" },
    available: () => MOSQUITTO_BIN ? null : 'mosquitto not installed',
    start: startMosquitto
  },
  // Hearth with its $SYS tree off, and every second instead of every 10 s (the CLI's default): the cost of $SYS. Opt-in.
  'hearth-nosys': hearthWith('hearth-nosys', { sysInterval: 0 }),
  'hearth-sys1': hearthWith('hearth-sys1', { sysInterval: 1 }),
  // Another build of Hearth (a checkout with dist/ built, named by BENCH_HEARTH_BASE), same config: before/after. Opt-in.
  'hearth-base': hearthWith('hearth-base', {}, process.env.BENCH_HEARTH_BASE || null),
  // Not a broker: forwards every PUBLISH to every subscriber. Measures the generator's ceiling. Opt-in only.
  relay: {
    optIn: true,
    node: true,
    transports: ['tcp'],
    available: () => null,
    start: ctx => startNode('relay', ctx, mkdtempSync(join(tmpdir(), 'hearth-bench-relay-')),
      [join(ROOT, 'bench/brokers/relay-server.mjs'), '--port', '0', '--host', '127.0.0.1'], { config: null, raised: [] })
  }
}
export const DEFAULT_BROKERS = Object.keys(BROKERS).filter(name => !BROKERS[name].optIn)

/**
 * The Hearth CLI with the limits the run needs raised (hearthConfig) plus `extra` in its config file. The variants
 * with `extra` (the $SYS interval) are opt-in.
 */
function hearthWith (name, extra, root = ROOT) {
  return {
    optIn: Object.keys(extra).length > 0 || root !== ROOT,
    node: true,
    transports: ['tcp', 'tls', 'ws'],
    available: () => root === null ? 'BENCH_HEARTH_BASE names no checkout'
      : existsSync(join(root, 'bin/hearth-broker.js')) && existsSync(join(root, 'dist/cli/hearth-broker.js'))
        ? null : `${root}/dist/cli/hearth-broker.js not built (npm run build)`,
    start: ctx => {
      const dir = mkdtempSync(join(tmpdir(), `hearth-bench-${name}-`))
      const { config, raised } = hearthConfig(ctx.needs)
      Object.assign(config, extra)
      // the scenario's listener next to the plain one --port opens (the generator uses only the scenario's)
      if (ctx.transport === 'tls') config.listeners = [{ protocol: 'mqtts', port: 0, host: '127.0.0.1', ...tlsFiles() }]
      if (ctx.transport === 'ws') config.listeners = [{ protocol: 'ws', port: 0, host: '127.0.0.1', path: '/mqtt' }]
      const file = join(dir, 'hearth.json')
      writeFileSync(file, JSON.stringify(config, null, 2))
      const args = [join(root, 'bin/hearth-broker.js'), '--port', '0', '--host', '127.0.0.1', '--config', file]
      if (ctx.persistenceDir) args.push('--persistence-dir', ctx.persistenceDir)
      return startNode(name, ctx, dir, args, { config, raised })
    }
  }
}

const PROFILING = /--(cpu|heap)-prof\b/.test(process.env.BENCH_BROKER_NODE_ARGS ?? '')

class BrokerProcess {
  constructor (name, child, dir, limits) {
    this.name = name
    this.child = child
    this.pid = child.pid
    this.port = 0
    this.dir = dir
    this.limits = limits // { config, raised } as set for this run
    this.probeFile = null
    this.spawnedAt = nowMs()
    this.readyMs = NaN // spawn → listening line (Node brokers) or first accepted TCP connection (Mosquitto)
    this.log = []
    this.logStream = null
    this.untrack = track({ child, dir }) // killed and removed if the orchestrator is interrupted
    this.exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
    const keep = chunk => {
      if (this.logStream !== null) this.logStream.write(chunk)
      for (const line of String(chunk).split('\n')) if (line) this.log.push(line)
      if (this.log.length > 200) this.log.splice(0, this.log.length - 200)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
  }

  running () { return this.child.exitCode === null && this.child.signalCode === null }

  // The benchmark's stop: SIGKILL (nothing to save), then the temporary folder goes. With a profile asked for
  // through BENCH_BROKER_NODE_ARGS the stop is clean (SIGTERM), so Node writes the profile on its way out.
  async stop () {
    if (PROFILING) { await this.terminate(10000); return }
    if (this.running()) this.child.kill('SIGKILL')
    await this.exited
    await this._cleanup()
  }

  // A clean stop (the restart scenario: the broker saves its state). Resolves with the exit code and the ms it took.
  async terminate (timeoutMs = 60000) {
    const t0 = nowMs()
    if (this.running()) this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const { code, signal } = await this.exited
    clearTimeout(timer)
    const ms = nowMs() - t0
    await this._cleanup()
    return { code, signal, ms }
  }

  async _cleanup () {
    if (this.logStream !== null) {
      const s = this.logStream
      this.logStream = null
      await new Promise(resolve => s.end(resolve))
    }
    if (this.dir) { rmSync(this.dir, { recursive: true, force: true }); this.dir = null }
    this.untrack()
  }

  tail (n = 20) { return this.log.slice(-n).join('\n') }
}

// The ready line of the listener the generator is to use (Hearth's CLI and aedes-server.mjs print one per listener).
const READY = {
  tcp: /listening on mqtt:\/\/127\.0\.0\.1:(\d+)/,
  tls: /listening on mqtts:\/\/127\.0\.0\.1:(\d+)/,
  ws: /listening on ws:\/\/127\.0\.0\.1:(\d+)\/mqtt/
}

function aedesTransport (transport) {
  if (transport === 'tls') { const { cert, key } = tlsFiles(); return ['--tls', cert, key] }
  return transport === 'ws' ? ['--ws'] : []
}

// A self-signed certificate for 127.0.0.1 made with openssl once per benchmark run, in a temporary folder
// removed when the orchestrator exits (or is interrupted).
let tls = null
export function tlsFiles () {
  if (tls !== null) return tls
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-tls-'))
  const untrack = track({ dir })
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  process.once('exit', () => { rmSync(dir, { recursive: true, force: true }); untrack() })
  tls = { cert, key }
  return tls
}

function startNode (name, ctx, dir, args, limits) {
  const env = { ...process.env }
  const nodeArgs = []
  if (ctx.probe) {
    nodeArgs.push('--import', PROBE)
    env.BENCH_PROBE_FILE = join(dir, 'probe.json')
    env.BENCH_PROBE_RESOLUTION = String(ctx.probeResolution || 1)
  }
  if (ctx.traceGc) nodeArgs.push('--trace-gc')
  if (process.env.BENCH_BROKER_NODE_ARGS) nodeArgs.push(...process.env.BENCH_BROKER_NODE_ARGS.split(' ')) // e.g. --cpu-prof, for a profile
  const child = spawnWithFds(ctx.nodeBin, [...nodeArgs, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }, ctx.cpus ?? null)
  const b = new BrokerProcess(name, child, dir, limits)
  if (ctx.probe) b.probeFile = env.BENCH_PROBE_FILE
  if (ctx.traceGc) b.logStream = createWriteStream(ctx.traceGc)
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error(`${name}: no listening line within 120 s\n${b.tail()}`)), 120000)
    const fail = err => { clearTimeout(timer); b.stop().then(() => reject(err)) }
    child.stdout.on('data', chunk => {
      if (b.port) return
      out += chunk
      const m = READY[ctx.transport ?? 'tcp'].exec(out)
      if (m) {
        clearTimeout(timer)
        b.readyMs = nowMs() - b.spawnedAt
        b.port = Number(m[1])
        resolve(b)
      }
    })
    child.once('exit', (code, signal) => { if (!b.port) fail(new Error(`${name} exited (${code ?? signal}) before listening\n${b.tail()}`)) })
  })
}

export function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function canConnect (port) {
  return new Promise(resolve => {
    const s = net.connect({ port, host: '127.0.0.1' })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

async function startMosquitto (ctx) {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-mosq-'))
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  const { listenerLines, lines, raised } = mosquittoConfig(ctx.needs)
  // Started as root, Mosquitto switches to its own user, which could not write a database in our 0700 folder.
  const persistence = ctx.persistenceDir
    ? ['persistence true', `persistence_location ${ctx.persistenceDir.replace(/\/?$/, '/')}`, 'autosave_interval 1800',
        ...(process.getuid?.() === 0 ? ['user root'] : [])]
    : ['persistence false']
  if (ctx.persistenceDir) mkdirSync(ctx.persistenceDir, { recursive: true })
  // Defaults otherwise (max_inflight_messages 20, max_queued_messages 1000). Logging limited to errors and
  // warnings so the C broker does not pay for a log line per connection that the Node brokers do not write.
  const tlsLines = ctx.transport === 'tls' ? [`certfile ${tlsFiles().cert}`, `keyfile ${tlsFiles().key}`] : []
  // Started as root, Mosquitto switches to its own user, which could not read the key in our 0700 folder either.
  if (ctx.transport === 'tls' && !ctx.persistenceDir && process.getuid?.() === 0) tlsLines.push('user root')
  const text = [
    `listener ${port} 127.0.0.1`,
    ...tlsLines,
    ...listenerLines,
    'allow_anonymous true',
    ...persistence,
    ...lines,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    ''
  ].join('\n')
  writeFileSync(conf, text)
  const child = spawnWithFds(MOSQUITTO_BIN, ['-c', conf], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }, ctx.cpus ?? null)
  const b = new BrokerProcess('mosquitto', child, dir, { config: text, raised })
  for (let t = 0; t < 120000; t += 5) {
    if (!b.running()) break
    if (await canConnect(port)) { b.port = port; b.readyMs = nowMs() - b.spawnedAt; return b }
    await sleep(5)
  }
  await b.stop()
  throw new Error(`mosquitto did not start on port ${port}\n${b.tail()}`)
}
