/**
 * The invariants checked after a fuzz round: a fresh well-behaved client still gets QoS 0/1/2
 * messages routed (over TCP and over broker.handle()), the state a restart restores equals the
 * state at close, memory is bounded, and nothing escaped as an uncaught exception.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import { createHash } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { Broker } from '../../src/broker'
import type { BrokerCore } from '../../src/broker/core'
import type { Outgoing } from '../../src/broker/session'
import { TestClient, type Version } from '../helpers/test-client'
import { connectPacket, encodeConnect, connackCode } from '../helpers/harness'
import { duplexPair } from '../helpers/duplex-pair'
import type { CaseBrokerOptions } from './case'
import type { QoS } from 'mqtt-packet'

export function coreOf (b: Broker): BrokerCore {
  return (b as unknown as { core: BrokerCore }).core
}

const PROBE_WAIT = 15000

async function openProbe (broker: Broker, port: number, transport: 'tcp' | 'duplex', v: Version, clientId: string,
  keepalive: number, streams: Set<Duplex>): Promise<TestClient> {
  let stream: Duplex
  if (transport === 'tcp') {
    const sock = net.connect({ port, host: '127.0.0.1' })
    streams.add(sock)
    await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
    stream = sock
  } else {
    const [client, server] = duplexPair()
    streams.add(client)
    broker.handle(server)
    stream = client
  }
  const c = new TestClient(stream, v)
  c.sendRaw(encodeConnect(c, connectPacket({ protocolVersion: v, clientId, clean: true, keepalive })))
  const ack = await c.next('connack', PROBE_WAIT)
  assert.equal(connackCode(ack), 0, `probe CONNACK refused with 0x${connackCode(ack).toString(16)}`)
  return c
}

let probeCounter = 0

/**
 * A fresh subscriber (TCP) and publisher (broker.handle()) exchange one message at each QoS the
 * broker allows; each message is fully acknowledged before the next, so no limit of the fuzzed
 * options (in-flight window, queue length) can drop one.
 */
export async function probe (broker: Broker, port: number, o: CaseBrokerOptions): Promise<void> {
  const protocols = o.protocols ?? [3, 4, 5]
  const v: Version = protocols.includes(5) ? 5 : protocols.includes(4) ? 4 : 3
  const maxQos = (o.maximumQoS ?? 2) as QoS
  const keepalive = o.maxKeepalive ?? 0
  const n = ++probeCounter
  const topic = `probe/${process.pid}/${n}`
  const streams = new Set<Duplex>()
  const timers: NodeJS.Timeout[] = []
  const timeout = (ms: number, what: string): Promise<never> => {
    const t = new Promise<never>((_resolve, reject) => {
      timers.push(setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))
    })
    t.catch(() => { /* raced; a timer that fires after its race is over must not be unhandled */ })
    return t
  }
  try {
    const sub = await openProbe(broker, port, 'tcp', v, `probe${n}s`, keepalive, streams)
    const pub = await openProbe(broker, port, 'duplex', v, `probe${n}p`, keepalive, streams)
    // Either probe connection closing ends the probe at once (no long wait for what cannot come).
    const gone = new Promise<never>((_resolve, reject) => {
      const closed = (who: string) => () => reject(new Error(`the probe ${who} was disconnected`))
      sub.closed.then(closed('subscriber'), () => {})
      pub.closed.then(closed('publisher'), () => {})
    })
    gone.catch(() => {})
    const race = <T>(p: Promise<T>): Promise<T> => {
      p.catch(() => { /* the loser of the race rejects later, when the streams close */ })
      return Promise.race([p, gone])
    }
    const id = sub.packetId()
    sub.send({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic, qos: 2 }] })
    const suback = await race(sub.waitFor('suback', p => p.messageId === id, PROBE_WAIT))
    assert.deepEqual(suback.granted, [maxQos], 'probe SUBACK')
    for (let qos = 0; qos <= maxQos; qos++) {
      const payload = `m${qos}`
      const sent = pub.publish(topic, payload, { qos: qos as QoS })
      sent.catch(() => { /* awaited below unless the probe fails first */ })
      const m = await race(sub.waitFor('publish', undefined, PROBE_WAIT))
      assert.deepEqual({ topic: m.topic, payload: m.payload.toString(), qos: m.qos, retain: m.retain }, { topic, payload, qos, retain: false }, 'probe delivery')
      await race(Promise.race([sub.ack(m), timeout(PROBE_WAIT, 'probe ack')]))
      // PINGRESP comes after the broker has handled the acknowledgement: the in-flight window
      // (maxInflight may be 1, with no queue) is free again before the next message.
      sub.send({ cmd: 'pingreq' })
      await race(sub.waitFor('pingresp', undefined, PROBE_WAIT))
      const done = await race(Promise.race([sent, timeout(PROBE_WAIT, 'probe publish')]))
      if (qos > 0) assert.equal((done as { reasonCode?: number } | undefined)?.reasonCode ?? 0, 0, 'probe publish acknowledged')
    }
    sub.disconnect()
    pub.disconnect()
    await Promise.race([Promise.all([sub.closed, pub.closed]), timeout(PROBE_WAIT, 'probe close')])
  } finally {
    for (const t of timers) clearTimeout(t)
    for (const s of streams) s.destroy()
  }
}

/**
 * What must survive a restart: retained messages without a Message Expiry, and the sessions that
 * cannot expire meanwhile with their subscriptions, in-flight and queued messages and incoming
 * QoS 2 identifiers.
 */
export function snapshot (broker: Broker): Record<string, string> {
  const core = coreOf(broker)
  const out: Record<string, string> = {}
  const now = Date.now()
  for (const m of core.retained.all()) {
    // Expiring messages may go meanwhile; the broker's own $SYS values are volatile by design (never stored).
    if (m.expiresAt !== undefined || m.volatile === true) continue
    out[`retained ${JSON.stringify(m.topic)}`] = `qos ${m.qos} ${digest(m.payload)} ${JSON.stringify(m.properties ?? {})}`
  }
  for (const s of core.sessions.values()) {
    if (s.expiryInterval === 0 || (s.expireAt !== undefined && s.expireAt < now + 60_000)) continue
    const subs = [...s.subscriptions.values()].map(x => `${x.key} q${x.qos} nl${+x.nl} rap${+x.rap} rh${x.rh} id${x.subId ?? '-'}`).sort()
    const msgs = (o: Outgoing): string => o.msg.expiresAt !== undefined
      ? 'expiring'
      : `${o.packetId}:${o.state}:q${o.qos}:r${+o.retain}:${o.msg.topic}:${digest(o.msg.payload)}:${JSON.stringify(o.msg.properties ?? {})}:${o.subIds?.join(',') ?? ''}`
    const inflight = [...s.inflight.values()].map(msgs).filter(x => x !== 'expiring')
    const queued = s.queue.slice(s.queueHead).map(msgs).filter(x => x !== 'expiring')
    out[`session ${JSON.stringify(s.clientId)}`] = JSON.stringify({
      expiry: s.expiryInterval, v: s.protocolVersion, subs, inflight, queued, incoming: [...s.incoming].sort((a, b) => a - b),
    })
  }
  return out
}

function digest (b: Buffer): string {
  return `${b.length}/${createHash('sha1').update(b).digest('hex').slice(0, 12)}`
}

export function diffSnapshots (before: Record<string, string>, after: Record<string, string>): string[] {
  const out: string[] = []
  for (const k of Object.keys(before)) {
    if (!(k in after)) out.push(`lost ${k}: ${before[k]}`)
    else if (before[k] !== after[k]) out.push(`changed ${k}: ${before[k]} -> ${after[k]}`)
  }
  for (const k of Object.keys(after)) if (!(k in before)) out.push(`gained ${k}: ${after[k]}`)
  return out
}

let gcFn: (() => void) | undefined
/** A full garbage collection, exposed on demand (no --expose-gc needed). */
export function gc (): void {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc
    if (typeof g === 'function') gcFn = g
    else {
      v8.setFlagsFromString('--expose-gc')
      gcFn = vm.runInNewContext('gc') as () => void
    }
  }
  gcFn()
}

/** JS heap plus ArrayBuffer memory (Buffers live outside the heap). */
export function memory (): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

/**
 * Catch uncaught exceptions and unhandled rejections as fuzz failures while a round runs. Mocha's
 * own handlers are set aside meanwhile and put back afterwards.
 */
export function guardProcess (report: (kind: string, detail: string) => void): () => void {
  const saved = {
    uncaughtException: process.listeners('uncaughtException'),
    unhandledRejection: process.listeners('unhandledRejection'),
  }
  process.removeAllListeners('uncaughtException')
  process.removeAllListeners('unhandledRejection')
  const onErr = (err: unknown): void => report('uncaught', (err as Error)?.stack ?? String(err))
  const onRej = (err: unknown): void => report('unhandled-rejection', (err as Error)?.stack ?? String(err))
  process.on('uncaughtException', onErr)
  process.on('unhandledRejection', onRej)
  return () => {
    process.off('uncaughtException', onErr)
    process.off('unhandledRejection', onRej)
    for (const l of saved.uncaughtException) process.on('uncaughtException', l)
    for (const l of saved.unhandledRejection) process.on('unhandledRejection', l as (r: unknown) => void)
  }
}

/**
 * Internal consistency once no client is connected: every subscription in the trie belongs to a
 * session the broker still holds, no session is bound to a client, and every session waiting for
 * expiry or a will is one the broker holds.
 */
export function consistency (broker: Broker): string[] {
  const core = coreOf(broker)
  const out: string[] = []
  let subs = 0
  for (const s of core.sessions.values()) {
    subs += s.subscriptions.size
    if (s.client !== null) out.push(`session ${JSON.stringify(s.clientId)} still bound to a client`)
  }
  if (core.tree.size !== subs) out.push(`the subscription trie holds ${core.tree.size} subscriptions, the sessions ${subs}`)
  for (const s of core.waiting) if (core.sessions.get(s.clientId) !== s) out.push(`a waiting session ${JSON.stringify(s.clientId)} the broker no longer holds`)
  return out
}
