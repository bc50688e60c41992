// Shared plumbing for the interop suites: start the broker under test on an ephemeral port,
// track child processes and MQTT.js clients so afterEach can clean everything up, check that
// the independent client tools are installed (a missing tool is a FAILURE naming the Debian package).
//
// HEARTH_INTEROP_TARGET=mosquitto runs the same suites against a real Mosquitto broker
// (/usr/sbin/mosquitto), to prove the tests themselves are right. Default: Hearth.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as mqttConnect, type IClientOptions, type MqttClient, type IConnackPacket } from 'mqtt'
import type { Broker } from '../../src/broker'
import type { BrokerOptions } from '../../src/broker/types'
import { pollUntil } from '../helpers/wait'

export const HOST = '127.0.0.1'
export const TARGET: 'hearth' | 'mosquitto' = process.env.HEARTH_INTEROP_TARGET === 'mosquitto' ? 'mosquitto' : 'hearth'
export const REPO_ROOT = join(__dirname, '..', '..')
const MOSQUITTO_BROKER = '/usr/sbin/mosquitto'

export function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

/** Rejects with `what` when `p` has not settled after `ms`. */
export function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}

/** Polls `cond` every 20 ms until it is true; rejects with `what` after `ms`. */
export async function waitFor (cond: () => boolean, ms: number, what: string): Promise<void> {
  await pollUntil(cond, ms, what)
}

/** A port that was free a moment ago (only for servers that cannot listen on port 0, e.g. mosquitto). */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, HOST, () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Resolves once a TCP connection to host:port succeeds. */
export async function waitForPort (port: number, ms: number): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const s = createConnection({ port, host: HOST })
      s.once('connect', () => { s.destroy(); resolve(true) })
      s.once('error', () => { s.destroy(); resolve(false) })
    })
    if (ok) return
    if (Date.now() > end) throw new Error(`nothing listening on ${HOST}:${port} after ${ms} ms`)
    await sleep(50)
  }
}

// ---------------------------------------------------------------------------------------------
// Tools from Debian packages. A missing tool fails the test with the package to install.

const TOOLS: Record<string, { path: string, pkg: string }> = {
  mosquitto_pub: { path: '/usr/bin/mosquitto_pub', pkg: 'mosquitto-clients' },
  mosquitto_sub: { path: '/usr/bin/mosquitto_sub', pkg: 'mosquitto-clients' },
  mosquitto: { path: MOSQUITTO_BROKER, pkg: 'mosquitto' },
  python3: { path: '/usr/bin/python3', pkg: 'python3' },
  stdbuf: { path: '/usr/bin/stdbuf', pkg: 'coreutils' },
  mosquitto_passwd: { path: '/usr/bin/mosquitto_passwd', pkg: 'mosquitto' },
}

export function requireTool (name: keyof typeof TOOLS & string): string {
  const t = TOOLS[name]
  if (t === undefined) throw new Error(`unknown tool ${name}`)
  if (!existsSync(t.path)) {
    throw new Error(`${name} is not installed (${t.path} missing): install the Debian package ${t.pkg} (apt-get install ${t.pkg})`)
  }
  return t.path
}

let pahoChecked: string | undefined
/** Checks /usr/bin/python3 can import paho.mqtt.client; returns the paho version. */
export function requirePaho (): string {
  const py = requireTool('python3')
  if (pahoChecked !== undefined) return pahoChecked
  const r = spawnSync(py, ['-c', 'import paho.mqtt, paho.mqtt.client; print(paho.mqtt.__version__)'], { encoding: 'utf8', timeout: 10000 })
  if (r.status !== 0) {
    throw new Error(`${py} cannot import paho.mqtt.client: install the Debian package python3-paho-mqtt (apt-get install python3-paho-mqtt)\n${r.stderr}`)
  }
  pahoChecked = r.stdout.trim()
  return pahoChecked
}

// ---------------------------------------------------------------------------------------------
// Child processes

export interface Child {
  proc: ChildProcess
  /** Everything the process wrote to stdout / stderr so far. */
  out: string
  err: string
  exited: boolean
  exit: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** Resolves when stdout matches `re`; rejects on timeout or if the process exits first. */
  waitOut: (re: RegExp, ms: number) => Promise<RegExpMatchArray>
  describe: () => string
}

export class Children {
  private readonly list: Child[] = []

  spawn (cmd: string, args: string[], opts: SpawnOptions = {}): Child {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
    const child: Child = {
      proc,
      out: '',
      err: '',
      exited: false,
      exit: new Promise(resolve => {
        // 'close', not 'exit': stdout/stderr may still deliver data after 'exit'
        proc.once('close', (code, signal) => { child.exited = true; resolve({ code, signal }) })
        proc.once('error', (e) => { child.err += `spawn error: ${e.message}\n`; child.exited = true; resolve({ code: -1, signal: null }) })
      }),
      waitOut: async (re, ms) => {
        const end = Date.now() + ms
        for (;;) {
          const m = child.out.match(re)
          if (m !== null) return m
          if (child.exited) throw new Error(`process exited before printing ${re}: ${child.describe()}`)
          if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${re}: ${child.describe()}`)
          await sleep(20)
        }
      },
      describe: () => `${cmd} ${args.join(' ')}\n--- stdout ---\n${child.out}\n--- stderr ---\n${child.err}`,
    }
    proc.stdout?.setEncoding('utf8')
    proc.stderr?.setEncoding('utf8')
    proc.stdout?.on('data', (d: string) => { child.out += d })
    proc.stderr?.on('data', (d: string) => { child.err += d })
    this.list.push(child)
    return child
  }

  /** Kill (SIGKILL) whatever is still running and wait for it to be gone. */
  async killAll (): Promise<void> {
    const running = this.list.splice(0)
    await Promise.all(running.map(async c => {
      if (!c.exited) {
        try { c.proc.kill('SIGKILL') } catch { /* already gone */ }
      }
      await withTimeout(c.exit, 5000, `exit of ${c.describe()}`).catch(() => undefined)
    }))
  }
}

/** Waits for a child to exit by itself within `ms`; kills it and throws otherwise. */
export async function exitOf (c: Child, ms: number): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  try {
    return await withTimeout(c.exit, ms, 'process exit')
  } catch {
    c.proc.kill('SIGKILL')
    throw new Error(`process did not exit within ${ms} ms: ${c.describe()}`)
  }
}

// ---------------------------------------------------------------------------------------------
// The broker under test

export interface Target {
  kind: 'hearth' | 'mosquitto'
  port: number
  host: string
  url: string
  /** The Hearth broker instance, when the target is Hearth. */
  broker?: Broker
  stop: () => Promise<void>
}

export interface TargetOptions {
  maximumQoS?: 0 | 1 | 2
}

function loadHearth (): typeof import('../../src/broker') {
  // Loaded lazily so HEARTH_INTEROP_TARGET=mosquitto works without the broker module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../src/broker') as typeof import('../../src/broker')
}

/** Mosquitto configuration equivalent to the Hearth options used by these suites. */
export function mosquittoConf (port: number, opts: TargetOptions = {}): string {
  const lines = [
    `listener ${port} ${HOST}`,
    'allow_anonymous true',
    'persistence false',
    'max_queued_messages 1000',
  ]
  if (opts.maximumQoS !== undefined) lines.push(`max_qos ${opts.maximumQoS}`)
  return lines.join('\n') + '\n'
}

export async function startTarget (children: Children, opts: TargetOptions = {}): Promise<Target> {
  if (TARGET === 'mosquitto') {
    const bin = requireTool('mosquitto')
    const dir = mkdtempSync(join(tmpdir(), 'hearth-interop-mosq-'))
    const port = await freePort()
    writeFileSync(join(dir, 'mosquitto.conf'), mosquittoConf(port, opts))
    const c = children.spawn(bin, ['-c', join(dir, 'mosquitto.conf')])
    await waitForPort(port, 5000)
    return {
      kind: 'mosquitto',
      port,
      host: HOST,
      url: `mqtt://${HOST}:${port}`,
      stop: async () => {
        if (!c.exited) c.proc.kill('SIGTERM')
        await withTimeout(c.exit, 5000, 'mosquitto exit').catch(() => c.proc.kill('SIGKILL'))
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const { createBroker } = loadHearth()
  const options: BrokerOptions = {}
  if (opts.maximumQoS !== undefined) options.maximumQoS = opts.maximumQoS
  const broker = createBroker(options)
  const addr = await withTimeout(broker.listen({ port: 0, host: HOST }), 5000, 'broker.listen')
  return {
    kind: 'hearth',
    port: addr.port,
    host: HOST,
    url: `mqtt://${HOST}:${addr.port}`,
    broker,
    stop: () => withTimeout(broker.close(), 5000, 'broker.close()'),
  }
}

// ---------------------------------------------------------------------------------------------
// MQTT.js clients

export interface Connected {
  client: MqttClient
  connack: IConnackPacket
}

export class Clients {
  private readonly list: MqttClient[] = []

  /**
   * Connects one MQTT.js client; never reconnects by itself. `setup` runs before any packet is read,
   * so a 'message' listener it adds sees messages that arrive right behind the CONNACK.
   */
  connect (target: Target, opts: IClientOptions, setup?: (client: MqttClient) => void): Promise<Connected> {
    const client = mqttConnect(target.url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
    this.list.push(client)
    if (setup !== undefined) setup(client)
    return withTimeout(new Promise<Connected>((resolve, reject) => {
      const onError = (e: Error): void => { cleanup(); reject(e) }
      const onClose = (): void => { cleanup(); reject(new Error(`connection closed before CONNACK (${String(opts.clientId)})`)) }
      const onConnect = (connack: IConnackPacket): void => { cleanup(); resolve({ client, connack }) }
      const cleanup = (): void => {
        client.off('error', onError)
        client.off('close', onClose)
        client.off('connect', onConnect)
      }
      client.on('error', onError)
      client.on('close', onClose)
      client.on('connect', onConnect)
    }), 6000, `MQTT.js connect ${String(opts.clientId)}`)
  }

  async endAll (): Promise<void> {
    const all = this.list.splice(0)
    await Promise.all(all.map(c => withTimeout(c.endAsync(true), 3000, 'client end').catch(() => undefined)))
  }
}

export function uniq (prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
}
