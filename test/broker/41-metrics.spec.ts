/**
 * Broker.metrics() and renderPrometheus(): every figure after a known load over TCP (packets of
 * every type both ways, PUBLISH counts and payload bytes, drops by reason, authentication
 * failures, clients, sessions, subscriptions, queues, per-listener traffic checked against the
 * sockets' own byte counts), the event loop's delay only while watched, the file store's write and
 * fsync times, and the Prometheus text parsed by a strict parser.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FilePersistence, UserTableAuthenticator, renderPrometheus, type BrokerMetrics } from '../../src/broker'
import { assertPublish, sleep, uniqueId, useHarness, type ConnectOptions, type TestClient } from '../helpers'
import { pollUntil } from '../helpers/wait'
import { parsePrometheus, valueOf } from '../helpers/prometheus'
import { version as VERSION } from '../../package.json'

const zeroPackets = {
  connect: 0, connack: 0, publish: 0, puback: 0, pubrec: 0, pubrel: 0, pubcomp: 0, subscribe: 0, suback: 0,
  unsubscribe: 0, unsuback: 0, pingreq: 0, pingresp: 0, disconnect: 0, auth: 0,
}
const zeroDrops = {
  'queue-full': 0, 'slow-consumer': 0, 'packet-too-large': 0, expired: 0, 'not-authorized': 0, 'retained-limit': 0, 'queue-bytes': 0, 'persistence-full': 0,
}

describe('41 broker metrics and the Prometheus text', function () {
  this.timeout(30000)
  const h = useHarness()

  /** The known load; returns the bytes the clients' sockets wrote and read. */
  async function knownLoad (b: Awaited<ReturnType<typeof h.broker>>): Promise<{ written: number, read: number }> {
    const sockets: Socket[] = []
    const tcp = async (o: ConnectOptions): Promise<TestClient> => {
      const c = await b.connect({ protocolVersion: 5, ...o, transport: 'tcp' })
      sockets.push(c.stream as Socket)
      return c
    }
    const bad = await tcp({ username: 'u', password: 'wrong', allowRefusal: true })
    assert.equal(bad.connack?.reasonCode, 0x86)
    await bad.closed
    const sub = await tcp({})
    assert.deepEqual(await sub.subscribe([{ topic: 'm/#', qos: 2 }, { topic: '$share/g/sh/#', qos: 0 }]), [2, 0])
    const pub = await tcp({})
    assert.equal((await pub.publish('m/q2', 'qos2!', { qos: 2 }))?.cmd, 'pubcomp')
    const m = await sub.waitFor('publish')
    assertPublish(m, { topic: 'm/q2', payload: 'qos2!', qos: 2 })
    await sub.ack(m)
    pub.send({ cmd: 'pingreq' })
    await pub.waitFor('pingresp')
    assert.deepEqual(await sub.unsubscribe('nothing/here'), [0x11])
    await pub.publish('$SYS/broker/uptime', 'no', { qos: 0 }) // dropped: not-authorized
    const off = await tcp({ clientId: uniqueId('off'), clean: false, properties: { sessionExpiryInterval: 3600 } })
    await off.subscribe('o/#', 1)
    off.disconnect()
    await off.closed
    await pub.publish('o/1', 'a', { qos: 1 }) // queued
    await pub.publish('o/1', 'b', { qos: 1 }) // queue-full (maxQueuedMessages 1)
    const exp = await tcp({ clientId: uniqueId('exp'), clean: false, properties: { sessionExpiryInterval: 1 } })
    exp.disconnect()
    await exp.closed
    pub.disconnect()
    await pub.closed
    await pollUntil(() => { const x = b.broker.metrics(); return x.clients.expired === 1 && x.clients.connected === 1 }, 10000, 'the session expired and the publisher gone')
    await sub.expectNothing(100)
    return { written: sockets.reduce((n, s) => n + s.bytesWritten, 0), read: sockets.reduce((n, s) => n + s.bytesRead, 0) }
  }

  const options = {
    sysInterval: 0, maxQueuedMessages: 1, tickInterval: 50, authFailureDelay: 0,
    authenticate: new UserTableAuthenticator({ u: 'p' }, { allowAnonymous: true }),
  }

  it('Broker.metrics() after a known load: every figure', async function () {
    const b = await h.broker(options)
    const { written, read } = await knownLoad(b)
    const m = b.broker.metrics()
    assert.ok(Math.abs(m.time - Date.now()) < 1000 && m.uptime >= 1, 'time and uptime')
    assert.ok(m.heap.current > 0 && m.heap.maximum >= m.heap.current, 'heap')
    for (const l of Object.values(m.load)) for (const x of Object.values(l)) assert.ok(Number.isFinite(x) && x >= 0, 'load averages')
    const expected: BrokerMetrics = {
      version: VERSION,
      time: m.time,
      uptime: m.uptime,
      clients: { connected: 1, disconnected: 1, total: 2, maximum: 3, expired: 1, pending: 0 },
      listeners: [
        { name: 'local', connections: 0, socketsOpened: 0, bytesReceived: 0, bytesSent: 0 },
        { name: 'mqtt', connections: 1, socketsOpened: 5, bytesReceived: written, bytesSent: read },
      ],
      subscriptions: 2,
      sharedSubscriptions: 1,
      retained: { messages: 0, bytes: 0, sys: 0 },
      queued: { messages: 1, bytes: 1 },
      inflight: { messages: 0, bytes: 0 },
      store: { messages: 1, bytes: 1 },
      messages: { received: 19, sent: 15 },
      packets: {
        received: { ...zeroPackets, connect: 5, subscribe: 2, publish: 4, pubrec: 1, pubrel: 1, pubcomp: 1, pingreq: 1, unsubscribe: 1, disconnect: 3 },
        sent: { ...zeroPackets, connack: 5, suback: 2, publish: 1, puback: 2, pubrec: 1, pubrel: 1, pubcomp: 1, pingresp: 1, unsuback: 1 },
      },
      publish: { received: 4, sent: 1, dropped: 2, bytesReceived: 5 + 2 + 1 + 1, bytesSent: 5 },
      bytes: { received: written, sent: read },
      dropped: { ...zeroDrops, 'not-authorized': 1, 'queue-full': 1 },
      authFailures: 1,
      load: m.load,
      heap: m.heap,
    }
    assert.deepEqual(m, expected)
  })

  it('in-process clients count in clients, sessions and the publish counters, not in packets or bytes', async function () {
    const b = await h.broker({ sysInterval: 0 })
    const a = await b.local({ clientId: 'la' })
    const z = await b.local({ clientId: 'lz' })
    await z.subscribe([{ topic: 'l/#', qos: 1 }])
    const got = new Promise<void>(resolve => z.once('message', () => resolve()))
    await a.publish({ topic: 'l/x', payload: Buffer.from('four'), qos: 1, retain: false })
    await got
    const m = b.broker.metrics()
    assert.deepEqual(
      { clients: m.clients, listeners: m.listeners, publish: m.publish, messages: m.messages, bytes: m.bytes },
      {
        clients: { connected: 2, disconnected: 0, total: 2, maximum: 2, expired: 0, pending: 0 },
        listeners: [{ name: 'local', connections: 2, socketsOpened: 0, bytesReceived: 0, bytesSent: 0 }],
        publish: { received: 1, sent: 1, dropped: 0, bytesReceived: 4, bytesSent: 4 },
        messages: { received: 0, sent: 0 },
        bytes: { received: 0, sent: 0 },
      })
    const st = b.broker.stats()
    assert.deepEqual({ received: st.messagesReceived, sent: st.messagesSent }, { received: 1, sent: 1 }, 'Broker.stats() too')
  })

  it('the event loop delay is measured only while watched (or while the $SYS tree runs)', async function () {
    const b = await h.broker({ sysInterval: 0 })
    assert.equal(b.broker.metrics().eventLoopDelay, undefined)
    const stop = b.broker.watchEventLoop()
    await sleep(300)
    const d = b.broker.metrics().eventLoopDelay
    assert.ok(d !== undefined, 'measured while watched')
    assert.ok(d.p50 > 0 && d.p50 <= d.p90 && d.p90 <= d.p99 && d.p99 <= d.max && d.mean > 0 && d.window > 0, JSON.stringify(d))
    stop()
    stop() // a second call changes nothing
    assert.equal(b.broker.metrics().eventLoopDelay, undefined)
    const withSys = await h.broker({ sysInterval: 1 })
    await sleep(300)
    assert.notEqual(withSys.broker.metrics().eventLoopDelay, undefined, 'the $SYS tree watches')
  })

  it('FilePersistence: write and fsync times as cumulative histograms, and the store figures', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-metrics-'))
    h.track(() => rm(dir, { recursive: true, force: true }))
    const fp = new FilePersistence({ dir })
    const b = await h.broker({ sysInterval: 0, persistence: fp })
    const c = await b.connect({ protocolVersion: 5, clientId: uniqueId('p'), clean: false, properties: { sessionExpiryInterval: 60 } })
    await c.subscribe('f/#', 1)
    const pub = await b.connect({ protocolVersion: 5 })
    for (let i = 0; i < 5; i++) await pub.publish('f/x', `m${i}`, { qos: 1, retain: true })
    await fp.sync()
    const s = fp.stats()
    const p = b.broker.metrics().persistence
    assert.ok(p !== undefined)
    assert.ok(s.writes > 0 && s.syncs > 0, 'the log was written and synced')
    assert.deepEqual(
      { ...p, write: { count: p.write.count, last: p.write.buckets.at(-1)! <= p.write.count }, fsync: { count: p.fsync.count, last: p.fsync.buckets.at(-1)! <= p.fsync.count } },
      {
        fileBytes: s.fileBytes, liveBytes: s.liveBytes, pendingBytes: s.pendingBytes, messages: s.messages, compactions: s.compactions, refused: s.refused,
        write: { count: s.writes, last: true }, fsync: { count: s.syncs, last: true },
      })
    assert.ok(p.fsync.sum > 0 && p.write.sum > 0, 'durations add up')
    const fam = parsePrometheus(renderPrometheus(b.broker))
    assert.equal(fam.get('hearth_persistence_fsync_duration_seconds')?.type, 'histogram')
    assert.equal(valueOf(fam, 'hearth_persistence_fsync_duration_seconds_count'), s.syncs)
    assert.equal(valueOf(fam, 'hearth_persistence_write_duration_seconds_count'), s.writes)
    assert.equal(valueOf(fam, 'hearth_persistence_fsync_duration_seconds_bucket', { le: '+Inf' }), s.syncs)
    assert.equal(valueOf(fam, 'hearth_persistence_file_bytes'), s.fileBytes)
  })

  it('renderPrometheus: a strict parse of the text; names, types, constant labels on every series, and the known counts', async function () {
    const b = await h.broker(options)
    const { written, read } = await knownLoad(b)
    const stop = b.broker.watchEventLoop()
    h.track(stop)
    await sleep(100)
    const node = 'kitchen "pi"\\ 1\nb'
    const fam = parsePrometheus(renderPrometheus(b.broker, { node }))
    for (const f of fam.values()) {
      assert.match(f.name, /^hearth_[a-z0-9_]+$/, 'hearth_ prefix, snake case')
      assert.ok(f.help !== undefined && f.help.length > 0, `${f.name} has HELP`)
      assert.notEqual(f.type, 'untyped', `${f.name} has a TYPE`)
      if (f.type === 'counter') assert.match(f.name, /_total$/, `counter ${f.name} ends in _total`)
      else assert.doesNotMatch(f.name, /_total$/, `${f.name} is not a counter`)
      for (const smp of f.samples) {
        assert.equal(smp.labels.node, node, `${smp.name} carries the node label`)
        for (const k of Object.keys(smp.labels)) assert.ok(['node', 'listener', 'type', 'reason', 'le', 'version'].includes(k), `${smp.name}: low-cardinality label ${k}`)
      }
    }
    const v = (name: string, labels: Record<string, string> = {}): number => valueOf(fam, name, labels)
    assert.deepEqual({
      info: v('hearth_info', { version: VERSION }),
      connected: v('hearth_connected_clients', { listener: 'mqtt' }),
      local: v('hearth_connected_clients', { listener: 'local' }),
      maximum: v('hearth_clients_maximum'),
      sessions: v('hearth_sessions'),
      disconnected: v('hearth_sessions_disconnected'),
      expired: v('hearth_sessions_expired_total'),
      subscriptions: v('hearth_subscriptions'),
      shared: v('hearth_shared_subscriptions'),
      retained: v('hearth_retained_messages'),
      queued: v('hearth_queued_messages'),
      queuedBytes: v('hearth_queued_bytes'),
      inflight: v('hearth_inflight_messages'),
      sockets: v('hearth_connections_total', { listener: 'mqtt' }),
      bytesIn: v('hearth_received_bytes_total', { listener: 'mqtt' }),
      bytesOut: v('hearth_sent_bytes_total', { listener: 'mqtt' }),
      connects: v('hearth_packets_received_total', { type: 'connect' }),
      pubrel: v('hearth_packets_received_total', { type: 'pubrel' }),
      connacks: v('hearth_packets_sent_total', { type: 'connack' }),
      pingresp: v('hearth_packets_sent_total', { type: 'pingresp' }),
      pubIn: v('hearth_publish_received_total'),
      pubOut: v('hearth_publish_sent_total'),
      pubBytesIn: v('hearth_publish_received_bytes_total'),
      pubBytesOut: v('hearth_publish_sent_bytes_total'),
      notAuthorized: v('hearth_messages_dropped_total', { reason: 'not-authorized' }),
      queueFull: v('hearth_messages_dropped_total', { reason: 'queue-full' }),
      slow: v('hearth_messages_dropped_total', { reason: 'slow-consumer' }),
      authFailures: v('hearth_auth_failures_total'),
    }, {
      info: 1, connected: 1, local: 0, maximum: 3, sessions: 2, disconnected: 1, expired: 1, subscriptions: 2, shared: 1, retained: 0,
      queued: 1, queuedBytes: 1, inflight: 0, sockets: 5, bytesIn: written, bytesOut: read, connects: 5, pubrel: 1, connacks: 5, pingresp: 1,
      pubIn: 4, pubOut: 1, pubBytesIn: 9, pubBytesOut: 5, notAuthorized: 1, queueFull: 1, slow: 0, authFailures: 1,
    })
    assert.equal(fam.get('hearth_packets_received_total')?.samples.reduce((n, s) => n + s.value, 0), 19, 'every packet received, by type')
    assert.equal(fam.get('hearth_packets_sent_total')?.samples.reduce((n, s) => n + s.value, 0), 15, 'every packet sent, by type')
    assert.ok(v('hearth_event_loop_delay_p99_seconds') >= v('hearth_event_loop_delay_p50_seconds'), 'event loop delay while watched')
    assert.equal(fam.has('hearth_persistence_file_bytes'), false, 'no file store figures without FilePersistence')
    const bads: Array<Record<string, string>> = [{ 'bad-name': 'x' }, { __reserved: 'x' }, { n: 1 as unknown as string }]
    for (const bad of bads) {
      assert.throws(() => renderPrometheus(b.broker, bad), (e: { code?: string }) => e.code === 'HEARTH_BAD_LABEL', JSON.stringify(bad))
    }
  })
})
