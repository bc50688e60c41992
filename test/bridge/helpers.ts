/*
 * Plumbing for the bridge specs: Hearth brokers on ephemeral ports, real Mosquitto processes
 * (generated conf in a temp dir, a free port, optional persistence), MQTT.js clients that collect
 * what they receive, a TCP proxy to cut a link, and one cleanup for all of it after each test.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { createBroker, type Broker, type BrokerOptions } from '../../src/broker'
import { createBridge, type Bridge, type BridgeConfig, type BridgeState } from '../../src/bridge'
import { Children, freePort, requireTool, sleep, waitForPort, withTimeout, type Child } from '../interop/helpers'
import { pollUntil } from '../helpers/wait'

export { sleep, pollUntil }
export const HOST = '127.0.0.1'

/** A received PUBLISH as a whole: properties only when it had some. */
export interface Received { topic: string, payload: string, qos: number, retain: boolean, dup: boolean, properties?: Record<string, unknown> }

/** An MQTT.js client that keeps every message it receives. */
export interface Peer {
  client: MqttClient
  got: Received[]
  /** Messages on `topic` (or matching the predicate). */
  on: (topic: string | ((r: Received) => boolean)) => Received[]
}

export interface HearthNode { broker: Broker, port: number, url: string }

/** A Mosquitto process that can be killed (SIGKILL) and started again on the same port and files. */
export class Mosquitto {
  child: Child | undefined
  readonly url: string
  constructor (private readonly f: Fixture, readonly port: number, readonly dir: string, private readonly conf: string) {
    this.url = `mqtt://${HOST}:${port}`
  }

  async start (): Promise<void> {
    writeFileSync(join(this.dir, 'mosquitto.conf'), this.conf)
    this.child = this.f.children.spawn(requireTool('mosquitto'), ['-c', join(this.dir, 'mosquitto.conf')])
    await waitForPort(this.port, 5000).catch(err => { throw new Error(`${(err as Error).message}\n${this.child?.describe() ?? ''}`) })
  }

  /** kill -9, and wait until the process is gone. */
  async kill9 (): Promise<void> {
    const c = this.child
    if (c === undefined || c.exited) return
    c.proc.kill('SIGKILL')
    await withTimeout(c.exit, 5000, 'mosquitto exit')
  }

  log (): string { return this.child?.describe() ?? '' }
}

export class Fixture {
  readonly children = new Children()
  private readonly cleanups: Array<() => Promise<unknown> | unknown> = []

  track (fn: () => Promise<unknown> | unknown): void { this.cleanups.push(fn) }

  tempDir (prefix = 'hearth-bridge-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix))
    this.track(() => rmSync(d, { recursive: true, force: true }))
    return d
  }

  /** A Hearth broker listening on an ephemeral loopback port (or `port`). */
  async hearth (options: BrokerOptions = {}, port = 0): Promise<HearthNode> {
    const broker = createBroker(options)
    this.track(() => withTimeout(broker.close(), 5000, 'broker.close()'))
    const addr = await broker.listen({ port, host: HOST })
    return { broker, port: addr.port, url: `mqtt://${HOST}:${addr.port}` }
  }

  /** A Mosquitto broker with `lines` added to a generated conf (listener, anonymous, logging to stderr). */
  async mosquitto (lines: string[] = [], opts: { persistence?: boolean } = {}): Promise<Mosquitto> {
    const dir = this.tempDir('hearth-bridge-mosq-')
    const port = await freePort()
    const conf = [
      `listener ${port} ${HOST}`,
      'allow_anonymous true',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      // as root, Mosquitto would drop to the user 'mosquitto', who cannot write the temp dir
      `user ${userInfo().username}`,
      ...(opts.persistence === true
        ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1', 'autosave_on_changes true']
        : ['persistence false']),
      ...lines,
    ].join('\n') + '\n'
    const m = new Mosquitto(this, port, dir, conf)
    this.track(() => m.kill9()) // before its folder goes (cleanups run in reverse)
    await m.start()
    return m
  }

  bridge (broker: Broker, config: BridgeConfig): Bridge {
    const b = createBridge(broker, config)
    this.track(() => b.close())
    return b
  }

  /** An MQTT.js client that collects what it receives; no automatic reconnection unless asked. */
  async peer (url: string, opts: IClientOptions = {}, subscribe: Array<{ topic: string, qos: 0 | 1 | 2 }> = []): Promise<Peer> {
    const client = mqttConnect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5, ...opts })
    this.track(() => withTimeout(client.endAsync(true), 3000, 'client end').catch(() => undefined))
    const got: Received[] = []
    client.on('message', (topic, payload, packet) => {
      const r: Received = { topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain, dup: packet.dup }
      if (packet.properties !== undefined && Object.keys(packet.properties).length > 0) {
        r.properties = { ...packet.properties }
        // mqtt-packet builds user properties on a null prototype
        if (packet.properties.userProperties !== undefined) r.properties.userProperties = { ...packet.properties.userProperties }
      }
      got.push(r)
    })
    client.on('error', () => { /* a refused or broken connection shows in the test's own waits */ })
    await withTimeout(new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('close', () => reject(new Error(`MQTT.js could not connect to ${url}`)))
    }), 6000, `connect to ${url}`)
    for (const s of subscribe) {
      const granted = await client.subscribeAsync(s.topic, { qos: s.qos })
      assert.ok(granted.every(g => g.qos < 0x80), `subscription to ${s.topic} refused`)
    }
    const on = (t: string | ((r: Received) => boolean)): Received[] => got.filter(typeof t === 'string' ? (r => r.topic === t) : t)
    return { client, got, on }
  }

  /**
   * A TCP proxy to `port`: the bridge connects through it, and cut() breaks every connection
   * at once (the remote sees a network failure, not a DISCONNECT).
   */
  async proxy (port: number, tap?: (direction: 'toRemote' | 'toBridge', packet: mqttPacket.Packet) => void): Promise<{ port: number, cut: () => void, setDown: (down: boolean) => void, holdReplies: (hold: boolean) => void, holdRequests: (hold: boolean) => void }> {
    const sockets = new Set<net.Socket>()
    const toRemote = new Set<net.Socket>()
    const fromBridge = new Set<net.Socket>()
    let down = false
    let held = false
    let heldRequests = false
    const server = net.createServer(inbound => {
      if (down) { inbound.destroy(); return } // as if nothing listened
      const outbound = net.connect({ port, host: HOST })
      sockets.add(inbound)
      sockets.add(outbound)
      toRemote.add(outbound)
      fromBridge.add(inbound)
      if (held) outbound.pause()
      if (heldRequests) inbound.pause()
      inbound.pipe(outbound)
      outbound.pipe(inbound)
      if (tap !== undefined) {
        // what crosses the proxy, decoded (MQTT 5, as the bridge speaks by default)
        const up = mqttPacket.parser({ protocolVersion: 5 })
        const downParser = mqttPacket.parser({ protocolVersion: 5 })
        up.on('packet', p => tap('toRemote', p))
        downParser.on('packet', p => tap('toBridge', p))
        up.on('error', () => {})
        downParser.on('error', () => {})
        inbound.on('data', (d: Buffer) => up.parse(d))
        outbound.on('data', (d: Buffer) => downParser.parse(d))
      }
      // The remote's side went: what it sent still reaches the bridge, then the bridge's side ends
      outbound.on('error', () => {})
      outbound.on('close', () => { sockets.delete(outbound); toRemote.delete(outbound); inbound.end(); setTimeout(() => inbound.destroy(), 2000).unref() })
      inbound.on('error', () => inbound.destroy())
      inbound.on('close', () => { sockets.delete(inbound); fromBridge.delete(inbound); outbound.destroy() })
    })
    await new Promise<void>(resolve => server.listen(0, HOST, resolve))
    this.track(() => new Promise<void>(resolve => { for (const s of sockets) s.destroy(); server.close(() => resolve()) }))
    const cut = (): void => { for (const s of sockets) s.destroy() }
    // holdReplies: what the remote sends (acknowledgements included) stops on its way, until released
    const holdReplies = (h: boolean): void => { held = h; for (const s of toRemote) { if (h) s.pause(); else s.resume() } }
    // holdRequests: what the bridge sends (its acknowledgements included) stops on its way
    const holdRequests = (h: boolean): void => { heldRequests = h; for (const s of fromBridge) { if (h) s.pause(); else s.resume() } }
    return { port: (server.address() as net.AddressInfo).port, cut, setDown: (d: boolean) => { down = d; if (d) cut() }, holdReplies, holdRequests }
  }

  async cleanup (): Promise<void> {
    const fns = this.cleanups.splice(0).reverse()
    let first: unknown
    for (const fn of fns) {
      try { await fn() } catch (e) { first ??= e }
    }
    await this.children.killAll()
    if (first !== undefined) throw first
  }
}

export function useFixture (): Fixture {
  const f = new Fixture()
  afterEach(async function () {
    this.timeout(20000)
    await f.cleanup()
  })
  return f
}

/** Resolves once the bridge is in `state` (now or later). */
export async function inState (b: Bridge, state: BridgeState, ms = 8000): Promise<void> {
  if (b.state === state) return
  await withTimeout(new Promise<void>(resolve => {
    const on = (s: { state: BridgeState }): void => { if (s.state === state) { b.off('state', on); resolve() } }
    b.on('state', on)
  }), ms, `bridge ${b.name} to be ${state} (is ${b.state}: ${JSON.stringify(b.status().lastError)})`)
}

/** The retained messages of a Hearth broker under `filter`, as topic -> payload. */
export function retainedOf (broker: Broker, filter = '#'): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of broker.retained(filter)) out[m.topic] = m.payload.toString()
  return out
}

/** Count of each payload among `list`. */
export function counts (list: Received[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const r of list) m.set(r.payload, (m.get(r.payload) ?? 0) + 1)
  return m
}
