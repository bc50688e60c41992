import assert from 'node:assert/strict'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet'
import { createBroker } from '../../src/broker'
import type { Broker } from '../../src/broker'
import type { BrokerOptions, LocalConnectOptions } from '../../src/broker/types'
import { duplexPair } from './duplex-pair'
import { assertPublish } from './packets'
import { BROKER_TARGET, hearthOnly, startMosquitto } from './target'
import * as bytes from './bytes'
import { TestClient, WAIT, hex, type ConnectProperties, type Version, type Will } from './test-client'

export type Transport = 'tcp' | 'duplex'

/** HEARTH_TEST_TRANSPORT=duplex runs every broker spec over broker.handle() with in-memory streams. */
const DEFAULT_TRANSPORT: Transport = process.env.HEARTH_TEST_TRANSPORT === 'duplex' ? 'duplex' : 'tcp'

export interface ConnectOptions {
  protocolVersion?: Version
  /** Default: a fresh unique id. Pass '' for an empty client identifier. */
  clientId?: string
  clean?: boolean
  /** Seconds; default 0 (no keepalive) so tests are never cut by it unless they ask. */
  keepalive?: number
  username?: string
  password?: Buffer | string
  will?: Will
  properties?: ConnectProperties
  transport?: Transport
  /** Accept a refusing CONNACK instead of failing (the client is returned with `connack` set). */
  allowRefusal?: boolean
  /** The raw CONNECT bytes to send instead of encoding one (for malformed CONNECT tests). */
  raw?: Buffer
}

let idCounter = 0
/** A client identifier unique within this test run (only [0-9a-zA-Z], at most 23 chars [MQTT-3.1.3-5]). */
export function uniqueId (prefix = 'c'): string {
  idCounter++
  return `${prefix}${process.pid % 10000}x${idCounter}`.slice(0, 23)
}

/** CONNECT packet for the given options. */
export function connectPacket (o: ConnectOptions): IConnectPacket {
  const v = o.protocolVersion ?? 4
  const p: IConnectPacket = {
    cmd: 'connect',
    protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: v,
    clientId: o.clientId ?? uniqueId(),
    clean: o.clean ?? true,
    keepalive: o.keepalive ?? 0,
  }
  if (o.username !== undefined) p.username = o.username
  if (o.password !== undefined) p.password = Buffer.isBuffer(o.password) ? o.password : Buffer.from(o.password)
  if (o.will) p.will = o.will
  if (o.properties && v === 5) p.properties = o.properties
  return p
}

/**
 * Encode a CONNECT, including the combinations mqtt-packet refuses to encode (a zero-length
 * client id with CleanSession 0), which tests need to send.
 */
export function encodeConnect (c: TestClient, packet: IConnectPacket): Buffer {
  if (packet.clientId === '' && packet.clean === false) {
    const raw = c.encode({ ...packet, clean: true })
    return bytes.patchByte(raw, bytes.connectFlagsOffset(raw), f => f & ~0x02)
  }
  return c.encode(packet)
}

/** Reason code of a CONNACK whatever the version (returnCode on 3.x, reasonCode on 5). */
export function connackCode (c: IConnackPacket): number {
  return (c.reasonCode ?? c.returnCode ?? 0)
}

/** A broker under test plus how to reach it. */
export class TestBroker {
  constructor (private readonly hearth: Broker | null, readonly port: number, private readonly h: Harness) {}

  /**
   * The Hearth Broker API. On the Mosquitto target (HEARTH_BROKER_TARGET=mosquitto) there is none:
   * touching it skips the test as Hearth-only, naming what it used.
   */
  get broker (): Broker {
    if (this.hearth !== null) return this.hearth
    return new Proxy({} as Broker, {
      get: (_t, key) => hearthOnly(`uses the Hearth Broker API (broker.${String(key)})`),
    })
  }

  /** Open a connection without sending anything. */
  open (o: { protocolVersion?: Version, transport?: Transport } = {}): Promise<TestClient> {
    return this.h.open(this, o)
  }

  /** Open a connection, send CONNECT and await the CONNACK (which must accept, unless allowRefusal). */
  connect (o: ConnectOptions = {}): Promise<TestClient> {
    return this.h.connect(this, o)
  }

  /** An in-process client, closed after the test. */
  async local (o: LocalConnectOptions = {}): Promise<Awaited<ReturnType<Broker['connectLocal']>>> {
    hearthOnly('uses an in-process client (broker.connectLocal)')
    const c = await this.broker.connectLocal(o)
    this.h.track(async () => { if (c.connected) await c.end().catch(() => {}) })
    return c
  }
}

/**
 * Owns every broker and connection a test creates and closes all of them after it, whatever
 * the outcome. Use `const h = useHarness()` at the top of a describe block.
 */
export class Harness {
  private cleanups: Array<() => Promise<void> | void> = []
  transport: Transport = DEFAULT_TRANSPORT

  track (fn: () => Promise<void> | void): void {
    this.cleanups.push(fn)
  }

  /** Create a broker listening on an ephemeral loopback port (a Mosquitto process on that target). */
  async broker (options: BrokerOptions = {}): Promise<TestBroker> {
    if (BROKER_TARGET === 'mosquitto') {
      const m = await startMosquitto(options)
      this.track(() => m.stop())
      return new TestBroker(null, m.port, this)
    }
    const broker = createBroker(options)
    this.track(() => closeWithin(broker, 5000))
    const addr = await broker.listen({ port: 0, host: '127.0.0.1' })
    return new TestBroker(broker, addr.port, this)
  }

  async open (tb: TestBroker, o: { protocolVersion?: Version, transport?: Transport } = {}): Promise<TestClient> {
    const transport = o.transport ?? this.transport
    let stream: Duplex
    if (transport === 'tcp') {
      const sock = net.connect({ port: tb.port, host: '127.0.0.1' })
      sock.setNoDelay(true)
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve)
        sock.once('error', reject)
      })
      stream = sock
    } else {
      hearthOnly('uses an in-memory stream (broker.handle)')
      const [client, server] = duplexPair()
      tb.broker.handle(server)
      stream = client
    }
    const c = new TestClient(stream, o.protocolVersion ?? 4)
    this.track(() => { c.stream.destroy() })
    return c
  }

  async connect (tb: TestBroker, o: ConnectOptions = {}): Promise<TestClient> {
    const c = await this.open(tb, { protocolVersion: o.protocolVersion ?? 4, transport: o.transport })
    const packet = connectPacket(o)
    c.clientId = packet.clientId
    c.sendRaw(o.raw ?? encodeConnect(c, packet))
    const connack = await c.next('connack', WAIT)
    c.connack = connack
    if (!o.allowRefusal) {
      assert.equal(connackCode(connack), 0, `CONNACK refused with ${hex(connackCode(connack))}`)
    }
    const assigned = connack.properties?.assignedClientIdentifier
    if (assigned) c.clientId = assigned
    return c
  }

  async cleanup (): Promise<void> {
    const fns = this.cleanups.splice(0).reverse()
    const errors: unknown[] = []
    for (const fn of fns) {
      try { await fn() } catch (e) { errors.push(e) }
    }
    if (errors.length) throw errors[0]
  }
}

async function closeWithin (broker: Broker, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), ms) })
  const r = await Promise.race([broker.close().then(() => 'closed' as const), t])
  clearTimeout(timer)
  if (r === 'timeout') throw new Error(`broker.close() did not resolve within ${ms} ms`)
}

/** Register a harness whose brokers and connections are closed after each test of the enclosing describe. */
export function useHarness (): Harness {
  const h = new Harness()
  afterEach(async function () {
    this.timeout(10000)
    await h.cleanup()
  })
  return h
}

/** The protocol levels on which tests that apply to both run. */
export const VERSIONS = [4, 5] as const

/**
 * Title prefix naming the normative statements for the version under test:
 * spec(v, ['3.1.0-2'], ['3.1.0-2']) -> "[MQTT-3.1.0-2]". Pass null where the version has no numbered
 * statement; `section` may name the section instead.
 */
export function spec (v: Version, v311: string[] | null, v5: string[] | null, section?: string): string {
  const refs = v === 5 ? v5 : v311
  const parts = (refs ?? []).map(r => `[MQTT-${r}]`)
  if (section) parts.push(`(${v === 5 ? 'MQTT 5' : 'MQTT 3.1.1'} ${section})`)
  return parts.join('')
}

/** Prove the broker still serves: a fresh subscriber receives a fresh publisher's message. */
export async function assertServing (b: TestBroker, v: Version = 4): Promise<void> {
  const sub = await b.connect({ protocolVersion: v })
  const topic = `alive/${uniqueId()}`
  assert.deepEqual(await sub.subscribe(topic, 1), [1])
  const pub = await b.connect({ protocolVersion: v })
  await pub.publish(topic, 'ping', { qos: 1 })
  const m = await sub.waitFor('publish')
  assertPublish(m, { topic, payload: 'ping', qos: 1 })
  await sub.ack(m)
  pub.disconnect()
  sub.disconnect()
}
