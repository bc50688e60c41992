import assert from 'node:assert/strict'
import net from 'node:net'
import type { IPublishPacket } from 'mqtt-packet'
import type { ClientInfo, DeliveredMessage, BrokerEvents } from '../../src/broker/types'
import { VERSIONS, assertPublish, assertPublishes, assertServing, connackCode, sleep, spec, uniqueId, useHarness, type TestClient } from '../helpers'

type Disc = BrokerEvents['clientDisconnected'][0]
type Drop = BrokerEvents['messageDropped'][0]

async function until (cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time')
    await sleep(10)
  }
}

describe('12 events and limits', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      it('clientConnected carries the client info; clientDisconnected the reason (normal DISCONNECT and a dropped socket)', async function () {
        const b = await h.broker()
        const connected: ClientInfo[] = []
        const disconnected: Disc[] = []
        b.broker.on('clientConnected', i => connected.push(i))
        b.broker.on('clientDisconnected', i => disconnected.push(i))
        const id1 = uniqueId('ev')
        const c1 = await b.connect({ protocolVersion: v, clientId: id1, username: 'u1', keepalive: 17 })
        await until(() => connected.length === 1)
        assert.equal(connected[0].clientId, id1)
        assert.equal(connected[0].username, 'u1')
        assert.equal(connected[0].protocolVersion, v)
        assert.equal(connected[0].kind, 'network')
        assert.equal(connected[0].keepalive, 17)
        c1.disconnect()
        await until(() => disconnected.length === 1)
        assert.equal(disconnected[0].clientId, id1)
        assert.equal(typeof disconnected[0].reason, 'string')
        const id2 = uniqueId('ev')
        const c2 = await b.connect({ protocolVersion: v, clientId: id2 })
        c2.destroy()
        await until(() => disconnected.length === 2)
        assert.equal(disconnected[1].clientId, id2)
        assert.notEqual(disconnected[1].reason, disconnected[0].reason, 'a dropped socket is told apart from a normal DISCONNECT')
      })

      it('clientDisconnected reports the keepalive timeout (reason code 0x8D)', async function () {
        const b = await h.broker({ tickInterval: 50 })
        const disconnected: Disc[] = []
        b.broker.on('clientDisconnected', i => disconnected.push(i))
        const c = await b.connect({ protocolVersion: v, keepalive: 1 })
        await c.expectClosed(4000)
        await until(() => disconnected.length === 1)
        assert.equal(disconnected[0].reasonCode, 0x8d)
      })

      it('subscribed and unsubscribed events carry the client id and the filters', async function () {
        const b = await h.broker()
        const subs: BrokerEvents['subscribed'][0][] = []
        const unsubs: BrokerEvents['unsubscribed'][0][] = []
        b.broker.on('subscribed', e => subs.push(e))
        b.broker.on('unsubscribed', e => unsubs.push(e))
        const c = await b.connect({ protocolVersion: v })
        await c.subscribe([{ topic: 'e/a', qos: 1 }, { topic: 'e/+', qos: 0 }])
        await c.unsubscribe(['e/a'])
        await until(() => subs.length === 1 && unsubs.length === 1)
        assert.equal(subs[0].clientId, c.clientId)
        assert.deepEqual(subs[0].subscriptions.map(s => [s.topic, s.qos]), [['e/a', 1], ['e/+', 0]])
        assert.deepEqual(unsubs[0], { clientId: c.clientId, topics: ['e/a'] })
      })

      it(`${spec(v, ['3.2.2-5'], ['3.2.2-7'])} maxConnections: a connection beyond the limit is refused and closed; after one leaves, a new one is accepted`, async function () {
        const b = await h.broker({ maxConnections: 2 })
        const c1 = await b.connect({ protocolVersion: v })
        await b.connect({ protocolVersion: v })
        const c3 = await b.open({ protocolVersion: v })
        c3.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: uniqueId(), clean: true, keepalive: 0 })
        await c3.expectClosed()
        for (const p of c3.received) {
          assert.equal(p.cmd, 'connack')
          if (p.cmd === 'connack') {
            const code = connackCode(p)
            if (v === 5) assert.ok([0x97, 0x89, 0x88].includes(code), `CONNACK 0x${code.toString(16)}`)
            else assert.equal(code, 0x03, 'Server unavailable')
          }
        }
        c1.disconnect()
        await c1.closed
        await sleep(50)
        const c4 = await b.connect({ protocolVersion: v })
        assert.equal(connackCode(c4.connack!), 0)
      })

      it('maxConnections counts in-process clients too', async function () {
        const b = await h.broker({ maxConnections: 1 })
        await b.local({ protocolVersion: v })
        const c = await b.open({ protocolVersion: v })
        c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: uniqueId(), clean: true, keepalive: 0 })
        await c.expectClosed()
        assert.ok(c.received.every(p => p.cmd === 'connack' && connackCode(p) !== 0))
      })

      it('slow consumer: QoS 0 messages for a socket that cannot keep up are dropped and counted, memory stays bounded, fast subscribers get everything', async function () {
        const b = await h.broker({ maxOutgoingBytes: 64 * 1024 })
        const drops: Drop[] = []
        b.broker.on('messageDropped', d => drops.push(d))
        const slow = await b.connect({ protocolVersion: v, transport: 'duplex' })
        await slow.subscribe('flood/#', 0)
        slow.pause()
        const fast = await b.local({ protocolVersion: v })
        let fastCount = 0
        fast.on('message', () => { fastCount++ })
        await fast.subscribe([{ topic: 'flood/#', qos: 0 }])
        const pub = await b.connect({ protocolVersion: v })
        const N = 300
        const payload = Buffer.alloc(16 * 1024, 7)
        for (let i = 0; i < N; i++) pub.send({ cmd: 'publish', topic: 'flood/a', payload, qos: 0, retain: false, dup: false })
        await until(() => fastCount === N, 3000)
        const slowDrops = drops.filter(d => d.clientId === slow.clientId)
        assert.ok(slowDrops.length > N / 2, `only ${slowDrops.length} of ${N} dropped for the paused client`)
        assert.ok(slowDrops.every(d => d.reason === 'slow-consumer' && d.qos === 0))
        assert.ok(b.broker.stats().dropped >= slowDrops.length)
        slow.resume()
        await sleep(100)
        slow.send({ cmd: 'pingreq' })
        await slow.waitFor('pingresp')
        const slowGot = slow.received.filter((p): p is IPublishPacket => p.cmd === 'publish')
        for (const m of slowGot) assertPublish(m, { topic: 'flood/a', payload })
        const delivered = slowGot.length
        assert.equal(delivered + slowDrops.length, N, 'every message was either delivered or counted as dropped')
        // What reached the paused client is bounded by maxOutgoingBytes plus the pipe's own buffers (2 x 64 KiB).
        const bound = Math.ceil((3 * 64 * 1024) / payload.length) + 2
        assert.ok(delivered <= bound, `${delivered} messages were buffered toward a paused client (bound ${bound})`)
      })

      it('the per-session queue is bounded while online too: QoS 1 messages beyond inflight + maxQueuedMessages are dropped and counted, the rest arrive in order', async function () {
        const b = await h.broker({ maxQueuedMessages: 10, maxInflight: 1 })
        const drops: Drop[] = []
        b.broker.on('messageDropped', d => drops.push(d))
        const sub = await b.connect({ protocolVersion: v, ...(v === 5 ? { properties: { receiveMaximum: 1 } } : {}) })
        await sub.subscribe('qb/#', 1)
        const pub = await b.connect({ protocolVersion: v })
        for (let i = 0; i < 30; i++) await pub.publish('qb/a', String(i), { qos: 1 })
        await until(() => drops.length >= 19)
        await sleep(50)
        assert.ok(drops.length === 19 || drops.length === 20, `${drops.length} dropped`)
        assert.ok(drops.every(d => d.reason === 'queue-full' && d.clientId === sub.clientId))
        sub.autoAck = true
        const first = await sub.waitFor('publish')
        sub.send({ cmd: 'puback', messageId: first.messageId })
        const rest = await sub.publishes(30 - drops.length - 1)
        const seq = [first, ...rest].map(m => Number(m.payload.toString()))
        assert.deepEqual([...seq].sort((a, z) => a - z), seq)
        assertPublishes([first, ...rest], seq.map(i => ({ topic: 'qb/a', payload: String(i), qos: 1 })))
        await sub.expectNothing(150, 'publish')
      })

      it('a subscriber that disconnects in the middle of a heavy burst does not disturb the broker or the other subscribers', async function () {
        // The queue bound is raised so the steady subscriber's own queue never overflows during the burst.
        const b = await h.broker({ maxQueuedMessages: 10000 })
        const warnings: string[] = []
        b.broker.on('warning', w => warnings.push(w.message))
        const victim = await b.connect({ protocolVersion: v })
        await victim.subscribe('burst/#', 1)
        const steady = await b.connect({ protocolVersion: v })
        await steady.subscribe('burst/#', 1)
        steady.autoAck = true
        const local = await b.local({ protocolVersion: v })
        const localGot: DeliveredMessage[] = []
        local.on('message', (m: DeliveredMessage) => localGot.push(m))
        await local.subscribe([{ topic: 'burst/#', qos: 1 }])
        const pub = await b.connect({ protocolVersion: v })
        const N = 2000
        const payload = Buffer.alloc(512, 1)
        for (let i = 0; i < N; i++) {
          pub.send({ cmd: 'publish', topic: 'burst/a', payload: Buffer.concat([Buffer.from(`${i}:`), payload]), qos: 1, messageId: (i % 65535) + 1, retain: false, dup: false })
          if (i === N / 4) victim.destroy()
        }
        const got = await steady.publishes(N, 15000)
        assertPublishes(got, Array.from({ length: N }, (_, i) => ({ topic: 'burst/a', payload: Buffer.concat([Buffer.from(`${i}:`), payload]), qos: 1 })))
        await until(() => localGot.length === N, 5000)
        assert.equal(pub.isClosed, false)
        await assertServing(b, v)
      })

      it('broker.stats() counts connections, subscriptions, retained messages and traffic', async function () {
        const b = await h.broker()
        const s0 = b.broker.stats()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe([{ topic: 'st/a', qos: 1 }, { topic: 'st/b', qos: 0 }])
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('st/a', 'x', { qos: 1, retain: true })
        assertPublish(await sub.waitFor('publish'), { topic: 'st/a', payload: 'x', qos: 1 })
        await sleep(20)
        const s1 = b.broker.stats()
        assert.equal(s1.connections - s0.connections, 2)
        assert.equal(s1.subscriptions - s0.subscriptions, 2)
        assert.equal(s1.retained - s0.retained, 1)
        assert.ok(s1.messagesReceived > s0.messagesReceived)
        assert.ok(s1.messagesSent > s0.messagesSent)
        assert.ok(s1.bytesReceived > s0.bytesReceived)
        assert.ok(s1.bytesSent > s0.bytesSent)
        pub.disconnect()
        await pub.closed
        await sleep(50)
        assert.equal(b.broker.stats().connections - s0.connections, 1)
      })

      it(`${spec(v, null, ['3.14.2-1'], '§3.14')} broker.close() closes every client${v === 5 ? ' (DISCONNECT 0x8B if any)' : ''} and the listener, and resolves`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        const local = await b.local({ protocolVersion: v })
        const localClosed = new Promise<void>(resolve => local.on('close', () => resolve()))
        await b.broker.close()
        const d = await c.expectClosed()
        if (d) assert.equal(d.reasonCode, 0x8b)
        await localClosed
        const refused = await new Promise<boolean>(resolve => {
          const s = net.connect({ port: b.port, host: '127.0.0.1' })
          s.once('connect', () => { s.destroy(); resolve(false) })
          s.once('error', () => resolve(true))
        })
        assert.equal(refused, true, 'the listener is closed')
      })

      it(`${spec(v, null, ['3.14.2-1'])} broker.disconnectClient() closes that client only${v === 5 ? ' with DISCONNECT 0x98' : ''} and returns false for an unknown id`, async function () {
        const b = await h.broker()
        const target = await b.connect({ protocolVersion: v })
        const other: TestClient = await b.connect({ protocolVersion: v })
        assert.equal(b.broker.disconnectClient('no-such-client'), false)
        assert.equal(b.broker.disconnectClient(target.clientId), true)
        const d = await target.expectClosed()
        if (v === 5) assert.equal(d?.reasonCode, 0x98)
        other.send({ cmd: 'pingreq' })
        await other.next('pingresp')
      })
    })
  }

  it('in-process clients raise clientConnected / clientDisconnected with kind "local"', async function () {
    const b = await h.broker()
    const connected: ClientInfo[] = []
    const disconnected: Disc[] = []
    b.broker.on('clientConnected', i => connected.push(i))
    b.broker.on('clientDisconnected', i => disconnected.push(i))
    const local = await b.broker.connectLocal({ clientId: 'localev' })
    await until(() => connected.length === 1)
    assert.equal(connected[0].kind, 'local')
    await local.end()
    await until(() => disconnected.length === 1)
    assert.equal(disconnected[0].clientId, 'localev')
  })
})
