// The broker the protocol specs run against. HEARTH_BROKER_TARGET=mosquitto runs test/broker and
// test/conformance against a real Mosquitto 2.0.11 process instead of Hearth, with a generated
// mosquitto.conf equivalent to the broker options a test asks for. A test that passes against
// Mosquitto too proves the test reads the specification as an independent implementation does.
//
// On that target:
// - a test that uses what only Hearth has (the Broker API, in-process clients, broker.handle(),
//   options with no mosquitto.conf equivalent) is skipped through hearthOnly();
// - a test of a normative rule Mosquitto does not follow is skipped through deviates(), which
//   records the rule; docs/mosquitto-deviations.md lists them.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrokerOptions } from '../../src/broker/types'

export type BrokerTarget = 'hearth' | 'mosquitto'
export const BROKER_TARGET: BrokerTarget = process.env.HEARTH_BROKER_TARGET === 'mosquitto' ? 'mosquitto' : 'hearth'
const MOSQUITTO = '/usr/sbin/mosquitto'
const HOST = '127.0.0.1'

// ----- skipping, with the reason kept -----

interface Skipper { skip: () => never, fullTitle: () => string }
let current: Skipper | undefined
const skipped: Array<{ kind: 'hearth-only' | 'deviation', title: string, reason: string }> = []

// Root hooks: remember the running test so helpers deep in it can skip it (Runnable#skip marks
// the test itself pending, also from the async part of a test).
beforeEach(function () { current = this.currentTest as unknown as Skipper | undefined })
afterEach(function () { current = undefined })
after(function () {
  if (BROKER_TARGET !== 'mosquitto' || skipped.length === 0) return
  const dev = skipped.filter(s => s.kind === 'deviation')
  const only = skipped.filter(s => s.kind === 'hearth-only')
  const out = [`\nMosquitto target: ${dev.length} test runs skipped as Mosquitto deviations, ${only.length} as Hearth-only.`]
  for (const d of dev) out.push(`  deviation: ${d.reason} -- ${d.title}`)
  const reasons = new Map<string, number>()
  for (const o of only) reasons.set(o.reason, (reasons.get(o.reason) ?? 0) + 1)
  for (const [r, n] of [...reasons].sort((a, b) => b[1] - a[1])) out.push(`  hearth-only x${n}: ${r}`)
  console.log(out.join('\n'))
})

function skipNow (kind: 'hearth-only' | 'deviation', reason: string): never {
  const test = current
  if (test === undefined) throw new Error(`cannot skip outside a test: ${reason}`)
  skipped.push({ kind, title: test.fullTitle(), reason })
  return test.skip()
}

/** Skip this test on the Mosquitto target: it exercises something only Hearth has. */
export function hearthOnly (reason: string): void {
  if (BROKER_TARGET !== 'hearth') skipNow('hearth-only', reason)
}

/**
 * Skip this test on `target`: that broker does not follow the normative rule the test checks.
 * `reason` names the rule ([MQTT-x.y.z-n] / section) and what the broker does instead.
 */
export function deviates (target: Exclude<BrokerTarget, 'hearth'>, reason: string): void {
  if (BROKER_TARGET === target) skipNow('deviation', reason)
}

// ----- a Mosquitto process per test broker -----

/** Option -> mosquitto.conf line. Options absent here have no Mosquitto equivalent. */
const CONF: Partial<Record<keyof BrokerOptions, (v: never) => string | null>> = {
  maxPacketSize: (v: number) => `max_packet_size ${v}`,
  maxInflight: (v: number) => `max_inflight_messages ${v}`,
  maxQueuedMessages: (v: number) => `max_queued_messages ${v}`,
  maxKeepalive: (v: number) => `max_keepalive ${v}`,
  maximumQoS: (v: number) => `max_qos ${v}`,
  retainAvailable: (v: boolean) => `retain_available ${v ? 'true' : 'false'}`,
  topicAliasMaximum: (v: number) => `max_topic_alias ${v}`,
  // Timing granularity of Hearth's housekeeping; Mosquitto runs its own.
  tickInterval: () => null,
  // sys_interval: written with the global lines (0 unless a test asks for the $SYS tree).
  sysInterval: () => null,
}

/** The mosquitto.conf for `options`, or the name of the first option Mosquitto has no equivalent for. */
function mosquittoConf (port: number, options: BrokerOptions): { conf: string } | { unsupported: string } {
  const global: string[] = [
    'allow_anonymous true',
    'persistence false',
    `sys_interval ${options.sysInterval ?? 0}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ]
  const listener: string[] = [`listener ${port} ${HOST}`]
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue
    const map = CONF[k as keyof BrokerOptions]
    if (map === undefined) return { unsupported: k }
    if (k === 'maxKeepalive' && (v as number) < 10) return { unsupported: `${k} below 10 s` }
    const line = map(v as never)
    if (line === null) continue
    // Per-listener options in Mosquitto 2.0 (the rest apply globally).
    if (/^(max_connections|max_qos|max_topic_alias) /.test(line)) listener.push(line)
    else global.push(line)
  }
  return { conf: [...global, ...listener].join('\n') + '\n' }
}

/** A port that was free a moment ago (mosquitto cannot listen on port 0 and report the port). */
function freePort (): Promise<number> {
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

function canConnect (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const s = createConnection({ port, host: HOST })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { s.destroy(); resolve(false) })
  })
}

export interface MosquittoProcess {
  port: number
  stop: () => Promise<void>
}

/** Start Mosquitto for `options`; a test whose options it cannot express is skipped. */
export async function startMosquitto (options: BrokerOptions): Promise<MosquittoProcess> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: apt-get install mosquitto`)
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const c = mosquittoConf(port, options)
    if ('unsupported' in c) return hearthOnly(`broker option ${c.unsupported} has no mosquitto.conf equivalent`) as never
    const dir = mkdtempSync(join(tmpdir(), 'hearth-mosq-'))
    writeFileSync(join(dir, 'mosquitto.conf'), c.conf)
    const proc: ChildProcess = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()))
    let dead = false
    void exited.then(() => { dead = true })
    const deadline = Date.now() + 5000
    let ready = false
    while (!dead && !ready && Date.now() < deadline) {
      ready = await canConnect(port)
      if (!ready) await new Promise(resolve => setTimeout(resolve, 20))
    }
    const stop = async (): Promise<void> => {
      if (!dead) proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(t)
      rmSync(dir, { recursive: true, force: true })
    }
    if (ready && !dead) return { port, stop }
    await stop()
    // Another process may have taken the port between freePort() and mosquitto's bind: try again.
    if (attempt >= 2) throw new Error(`mosquitto did not start: ${stderr.trim()}`)
  }
}
