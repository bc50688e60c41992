// Starting and stopping the brokers under test, each as its own child process on 127.0.0.1.
// Every process is started through `bash -c 'ulimit -n …; exec …'`, so its pid is the broker's own pid.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const MOSQUITTO_BIN = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find(p => existsSync(p)) || null

// Raise the soft fd limit as far as the hard limit allows (10k idle connections need it).
const ULIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"'
export function spawnWithFds (cmd, args, opts = {}) {
  return spawn('bash', ['-c', ULIMIT, 'bash', cmd, ...args], opts)
}

export const BROKERS = {
  hearth: {
    available: () => existsSync(join(ROOT, 'bin/hearth-broker.js')) && existsSync(join(ROOT, 'dist/cli/hearth-broker.js'))
      ? null : 'dist/cli/hearth-broker.js not built (npm run build)',
    start: ({ nodeBin }) => startByBanner('hearth', nodeBin, [join(ROOT, 'bin/hearth-broker.js'), '--port', '0', '--host', '127.0.0.1'])
  },
  aedes: {
    available: () => existsSync(join(ROOT, 'node_modules/aedes/package.json')) ? null : 'aedes not installed',
    start: ({ nodeBin }) => startByBanner('aedes', nodeBin, [join(ROOT, 'bench/brokers/aedes-server.mjs'), '--port', '0', '--host', '127.0.0.1'])
  },
  mosquitto: {
    available: () => MOSQUITTO_BIN ? null : 'mosquitto not installed',
    start: startMosquitto
  },
  // Hearth with its $SYS tree off, and every second instead of every 10 s (the CLI's default): the cost of $SYS. Opt-in.
  'hearth-nosys': hearthWith('hearth-nosys', { sysInterval: 0 }),
  'hearth-sys1': hearthWith('hearth-sys1', { sysInterval: 1 }),
  // Not a broker: forwards every PUBLISH to every subscriber. Measures the generator's ceiling. Opt-in only.
  relay: {
    optIn: true,
    available: () => null,
    start: ({ nodeBin }) => startByBanner('relay', nodeBin, [join(ROOT, 'bench/brokers/relay-server.mjs'), '--port', '0', '--host', '127.0.0.1'])
  }
}
export const DEFAULT_BROKERS = Object.keys(BROKERS).filter(name => !BROKERS[name].optIn)

/** The Hearth CLI with a config file holding `config` (removed when the broker stops). */
function hearthWith (name, config) {
  return {
    optIn: true,
    available: () => BROKERS.hearth.available(),
    start: async ({ nodeBin }) => {
      const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-cfg-'))
      const file = join(dir, 'hearth.json')
      writeFileSync(file, JSON.stringify(config))
      const remove = () => rmSync(dir, { recursive: true, force: true })
      try {
        const b = await startByBanner(name, nodeBin, [join(ROOT, 'bin/hearth-broker.js'), '--port', '0', '--host', '127.0.0.1', '--config', file])
        b.cleanup = remove
        return b
      } catch (err) {
        remove()
        throw err
      }
    }
  }
}

class BrokerProcess {
  constructor (name, child, cleanup = () => {}) {
    this.name = name
    this.child = child
    this.pid = child.pid
    this.port = 0
    this.log = []
    this.cleanup = cleanup
    this.exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
    const keep = chunk => {
      for (const line of String(chunk).split('\n')) if (line) this.log.push(line)
      if (this.log.length > 200) this.log.splice(0, this.log.length - 200)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
  }

  async stop () {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited
    this.cleanup()
  }

  tail (n = 20) { return this.log.slice(-n).join('\n') }
}

function startByBanner (name, nodeBin, args) {
  const child = spawnWithFds(nodeBin, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const b = new BrokerProcess(name, child)
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error(`${name}: no listening line within 15 s\n${b.tail()}`)), 15000)
    const fail = err => { clearTimeout(timer); b.stop().then(() => reject(err)) }
    child.stdout.on('data', chunk => {
      out += chunk
      const m = /listening on mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m && !b.port) {
        clearTimeout(timer)
        b.port = Number(m[1])
        resolve(b)
      }
    })
    child.once('exit', (code, signal) => fail(new Error(`${name} exited (${code ?? signal}) before listening\n${b.tail()}`)))
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

async function startMosquitto () {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-mosq-'))
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  // Defaults otherwise (max_inflight_messages 20, max_queued_messages 1000). Logging limited to errors and
  // warnings so the C broker does not pay for a log line per connection that the Node brokers do not write.
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    ''
  ].join('\n'))
  const child = spawnWithFds(MOSQUITTO_BIN, ['-c', conf], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  const b = new BrokerProcess('mosquitto', child, () => rmSync(dir, { recursive: true, force: true }))
  for (let t = 0; t < 10000; t += 20) {
    if (child.exitCode !== null) break
    if (await canConnect(port)) { b.port = port; return b }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  await b.stop()
  throw new Error(`mosquitto did not start on port ${port}\n${b.tail()}`)
}
