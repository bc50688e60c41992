import assert from 'node:assert/strict'
import type { IPublishPacket } from 'mqtt-packet'
import { VERSIONS, assertPublish, assertPublishes, sleep, spec, uniqueId, useHarness, type ConnectOptions, type TestBroker, type TestClient } from '../helpers'

describe('06 sessions', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      /** Options for a persistent session: CleanSession 0 (3.1.1) / Clean Start 0 + a Session Expiry (5). */
      function persistent (clientId: string, extra: ConnectOptions = {}): ConnectOptions {
        return { protocolVersion: v, clientId, clean: false, ...(v === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}), ...extra }
      }

      async function goOffline (c: TestClient): Promise<void> {
        c.disconnect()
        await c.closed
        await sleep(20)
      }

      async function offlineSubscriber (b: TestBroker, filter: string, qos: 0 | 1 | 2) {
        const id = uniqueId('s')
        const c = await b.connect(persistent(id))
        await c.subscribe(filter, qos)
        await goOffline(c)
        return id
      }

      it(`${spec(v, ['3.1.2-4', '3.1.2-5', '3.2.2-2'], ['3.1.2-5', '3.1.2-23', '3.2.2-3', '4.5.0-1'])} QoS 1 and 2 messages for an offline persistent session are stored and delivered when it resumes, with Session Present 1`, async function () {
        const b = await h.broker()
        const id = await offlineSubscriber(b, 'off/#', 2)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('off/1', 'one', { qos: 1 })
        await pub.publish('off/2', 'two', { qos: 2 })
        const c = await b.connect(persistent(id))
        assert.equal(c.connack!.sessionPresent, true)
        c.autoAck = true
        const got = await c.publishes(2)
        assertPublishes(got, [{ topic: 'off/1', payload: 'one', qos: 1 }, { topic: 'off/2', payload: 'two', qos: 2 }])
      })

      it(`${spec(v, ['3.1.2-4'], ['3.1.2-5'])} subscriptions survive in the session: after resuming, new messages arrive without subscribing again`, async function () {
        const b = await h.broker()
        const id = await offlineSubscriber(b, 'keep/#', 1)
        const c = await b.connect(persistent(id))
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('keep/a', 'live', { qos: 1 })
        assertPublish(await c.waitFor('publish'), { topic: 'keep/a', payload: 'live', qos: 1 })
      })

      it(`${spec(v, ['3.1.2-6', '3.2.2-1'], ['3.1.2-4', '3.2.2-2'])} a clean session/Clean Start discards the stored session: no queued messages, no subscriptions`, async function () {
        const b = await h.broker()
        const id = await offlineSubscriber(b, 'disc/#', 1)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('disc/a', 'queued', { qos: 1 })
        const c = await b.connect({ protocolVersion: v, clientId: id, clean: true })
        assert.equal(c.connack!.sessionPresent, false)
        await pub.publish('disc/b', 'after', { qos: 1 })
        await c.expectNothing(200, 'publish')
      })

      it(`${spec(v, ['3.1.2-6', '3.2.2-3'], ['3.1.2-4', '3.1.2-6', '3.2.2-3'])} state from a clean session is not reused: reconnecting with CleanSession 0 finds no session`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const c1 = await b.connect({ protocolVersion: v, clientId: id, clean: true })
        await c1.subscribe('cs/#', 1)
        await goOffline(c1)
        const c2 = await b.connect(persistent(id))
        assert.equal(c2.connack!.sessionPresent, false)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('cs/a', 'x', { qos: 1 })
        await c2.expectNothing(200, 'publish')
      })

      it(`${spec(v, ['4.4.0-1', '3.3.1-1', '2.3.1-3'], ['4.4.0-1', '3.3.1-1', '2.2.1-3'])} an unacknowledged QoS 1 message is resent on resume with DUP 1 and its original packet identifier`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const c1 = await b.connect(persistent(id))
        await c1.subscribe('dup/#', 1)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('dup/a', 'unacked', { qos: 1 })
        const first = await c1.waitFor('publish')
        assertPublish(first, { topic: 'dup/a', payload: 'unacked', qos: 1, dup: false })
        c1.destroy()
        await c1.closed
        const c2 = await b.connect(persistent(id))
        assert.equal(c2.connack!.sessionPresent, true)
        const again = await c2.waitFor('publish')
        assertPublish(again, { topic: 'dup/a', payload: 'unacked', qos: 1, dup: true, messageId: first.messageId })
        c2.send({ cmd: 'puback', messageId: again.messageId })
        await c2.expectNothing(200, 'publish')
      })

      it(`${spec(v, ['4.4.0-1', '3.3.1-1'], ['4.4.0-1', '3.3.1-1'])} an unacknowledged QoS 2 PUBLISH (no PUBREC yet) is resent on resume with DUP 1`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const c1 = await b.connect(persistent(id))
        await c1.subscribe('dup2/#', 2)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('dup2/a', 'x', { qos: 2 })
        const first = await c1.waitFor('publish')
        assertPublish(first, { topic: 'dup2/a', payload: 'x', qos: 2, dup: false })
        c1.destroy()
        await c1.closed
        const c2 = await b.connect(persistent(id))
        const again = await c2.waitFor('publish')
        assertPublish(again, { topic: 'dup2/a', payload: 'x', qos: 2, dup: true, messageId: first.messageId })
        await c2.ack(again)
      })

      it(`${spec(v, ['3.3.1-1', '3.3.1-3'], ['3.3.1-1', '3.3.1-3'])} a resend with DUP 1 to one subscriber leaves the message fresh for the others: a queued copy and a retained copy delivered later have DUP 0`, async function () {
        const b = await h.broker()
        const a = uniqueId('a')
        const later = await offlineSubscriber(b, 'dupx/#', 1)
        const c1 = await b.connect(persistent(a))
        await c1.subscribe('dupx/#', 1)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('dupx/a', 'one message', { qos: 1, retain: true })
        const first = await c1.waitFor('publish')
        // A live copy has RETAIN 0 [MQTT-3.3.1-9 / v5 MQTT-3.3.1-12].
        assertPublish(first, { topic: 'dupx/a', payload: 'one message', qos: 1, dup: false })
        c1.destroy()
        await c1.closed
        const c2 = await b.connect(persistent(a))
        assertPublish(await c2.waitFor('publish'), { topic: 'dupx/a', payload: 'one message', qos: 1, dup: true, messageId: first.messageId })
        await c2.ack(first)
        // The same message, queued for a session that was offline: its first delivery, so DUP 0.
        const queued = await b.connect(persistent(later))
        const q = await queued.waitFor('publish')
        assertPublish(q, { topic: 'dupx/a', payload: 'one message', qos: 1, dup: false })
        await queued.ack(q)
        // A retained copy to a new subscriber, resent to it, then to another new subscriber.
        const r1 = await b.connect(persistent(uniqueId('r')))
        await r1.subscribe('dupx/a', 1)
        const rFirst = await r1.waitFor('publish')
        assertPublish(rFirst, { topic: 'dupx/a', payload: 'one message', qos: 1, retain: true, dup: false })
        r1.destroy()
        await r1.closed
        const r1again = await b.connect(persistent(r1.clientId))
        assertPublish(await r1again.waitFor('publish'), { topic: 'dupx/a', payload: 'one message', qos: 1, retain: true, dup: true, messageId: rFirst.messageId })
        const fresh = await b.connect({ protocolVersion: v })
        await fresh.subscribe('dupx/a', 1)
        assertPublish(await fresh.waitFor('publish'), { topic: 'dupx/a', payload: 'one message', qos: 1, retain: true, dup: false })
      })

      it(`${spec(v, ['4.4.0-1', '4.3.3-1'], ['4.4.0-1', '4.3.3-6'])} after PUBREC, the resume resends PUBREL (same identifier), never the PUBLISH`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const c1 = await b.connect(persistent(id))
        await c1.subscribe('rel/#', 2)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('rel/a', 'x', { qos: 2 })
        const m = await c1.waitFor('publish')
        assertPublish(m, { topic: 'rel/a', payload: 'x', qos: 2 })
        c1.send({ cmd: 'pubrec', messageId: m.messageId })
        await c1.waitFor('pubrel')
        c1.destroy()
        await c1.closed
        const c2 = await b.connect(persistent(id))
        const rel = await c2.next('pubrel')
        assert.equal(rel.messageId, m.messageId)
        c2.send({ cmd: 'pubcomp', messageId: m.messageId })
        await c2.expectNothing(200)
      })

      it(`${spec(v, ['4.3.3-2', '4.4.0-1'], ['4.3.3-10', '4.4.0-1'])} inbound QoS 2 state survives a reconnect: the resent PUBLISH (DUP) is acknowledged and not delivered twice`, async function () {
        const b = await h.broker()
        const watcher = await b.connect({ protocolVersion: v })
        await watcher.subscribe('in2/#', 2)
        watcher.autoAck = true
        const id = uniqueId()
        const p1 = await b.connect(persistent(id))
        const pkt = { cmd: 'publish' as const, topic: 'in2/a', payload: Buffer.from('once'), qos: 2 as const, messageId: 11, retain: false, dup: false }
        p1.send(pkt)
        await p1.next('pubrec')
        p1.destroy()
        await p1.closed
        const p2 = await b.connect(persistent(id))
        assert.equal(p2.connack!.sessionPresent, true)
        p2.send({ ...pkt, dup: true })
        assert.equal((await p2.next('pubrec')).messageId, 11)
        p2.send({ cmd: 'pubrel', messageId: 11 })
        assert.equal((await p2.next('pubcomp')).messageId, 11)
        assertPublish(await watcher.waitFor('publish'), { topic: 'in2/a', payload: 'once', qos: 2 })
        await watcher.expectNothing(200, 'publish')
      })

      it(`${spec(v, ['4.4.0-1', '4.6.0-6'], ['4.4.0-1', '4.6.0-5'])} several unacknowledged messages are resent in their original order`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const c1 = await b.connect(persistent(id))
        await c1.subscribe('ro/#', 1)
        const pub = await b.connect({ protocolVersion: v })
        for (let i = 0; i < 5; i++) await pub.publish('ro/a', String(i), { qos: 1 })
        const first = await c1.publishes(5)
        assertPublishes(first, [0, 1, 2, 3, 4].map(i => ({ topic: 'ro/a', payload: String(i), qos: 1 })))
        c1.destroy()
        await c1.closed
        const c2 = await b.connect(persistent(id))
        c2.autoAck = true
        const again = await c2.publishes(5)
        assertPublishes(again, first.map((m, i) => ({ topic: 'ro/a', payload: String(i), qos: 1, dup: true, messageId: m.messageId })))
      })

      it(`${spec(v, ['4.6.0-6'], ['4.6.0-5'])} messages queued while offline come after the resent in-flight ones, all in publish order`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const c1 = await b.connect(persistent(id))
        await c1.subscribe('mix/#', 1)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('mix/a', '0', { qos: 1 })
        assertPublish(await c1.waitFor('publish'), { topic: 'mix/a', payload: '0', qos: 1 })
        c1.destroy()
        await c1.closed
        for (let i = 1; i < 4; i++) await pub.publish('mix/a', String(i), { qos: 1 })
        const c2 = await b.connect(persistent(id))
        c2.autoAck = true
        assertPublishes(await c2.publishes(4), [0, 1, 2, 3].map(i => ({ topic: 'mix/a', payload: String(i), qos: 1, dup: i === 0 })))
      })

      it(`${spec(v, ['3.1.4-2', '3.1.2-4'], ['3.1.4-3', '3.1.2-5'])} a takeover with CleanSession 0 keeps the session: Session Present 1 and its subscriptions`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const old = await b.connect(persistent(id))
        await old.subscribe('to/#', 1)
        const neu = await b.connect(persistent(id))
        assert.equal(neu.connack!.sessionPresent, true)
        await old.expectClosed()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('to/a', 'x', { qos: 1 })
        assertPublish(await neu.waitFor('publish'), { topic: 'to/a', payload: 'x', qos: 1 })
      })

      it('the offline queue is bounded by maxQueuedMessages: the excess is dropped and counted (stats and messageDropped events)', async function () {
        const b = await h.broker({ maxQueuedMessages: 5 })
        const drops: string[] = []
        b.broker.on('messageDropped', d => drops.push(d.reason))
        const id = await offlineSubscriber(b, 'bound/#', 1)
        const before = b.broker.stats().dropped
        const pub = await b.connect({ protocolVersion: v })
        for (let i = 0; i < 12; i++) await pub.publish('bound/a', String(i), { qos: 1 })
        assert.equal(b.broker.stats().dropped - before, 7)
        assert.deepEqual(drops, Array(7).fill('queue-full'))
        const c = await b.connect(persistent(id))
        c.autoAck = true
        const got = await c.publishes(5)
        const seq = got.map(m => Number(m.payload.toString()))
        assertPublishes(got, seq.map(i => ({ topic: 'bound/a', payload: String(i), qos: 1 })))
        assert.deepEqual([...seq].sort((a, z) => a - z), seq, 'what is kept is delivered in order')
        await c.expectNothing(200, 'publish')
      })

      it(`${spec(v, null, null, '§4.1 QoS 0 messages need not be stored')} QoS 0 subscriptions of an offline session never cause more than the queue bound to be kept`, async function () {
        const b = await h.broker({ maxQueuedMessages: 3 })
        const id = await offlineSubscriber(b, 'q0off/#', 0)
        const pub = await b.connect({ protocolVersion: v })
        for (let i = 0; i < 10; i++) await pub.publish('q0off/a', String(i), { qos: 1 })
        const c = await b.connect(persistent(id))
        await sleep(200)
        const got = c.drain().filter(p => p.cmd === 'publish') as IPublishPacket[]
        assert.ok(got.length <= 3, `${got.length} delivered`)
        for (const m of got) assertPublish(m, { topic: 'q0off/a', payload: m.payload.toString(), qos: 0 })
        assert.ok(got.every(m => /^\d$/.test(m.payload.toString())))
      })

      it('broker.clients() lists connected clients with their session facts', async function () {
        const b = await h.broker()
        const id = uniqueId()
        const c = await b.connect(persistent(id, { keepalive: 30 }))
        await c.subscribe('info/#', 1)
        const info = b.broker.clients().find(x => x.clientId === id)
        assert.ok(info)
        assert.equal(info.protocolVersion, v)
        assert.equal(info.kind, 'network')
        assert.equal(info.cleanStart, false)
        assert.equal(info.keepalive, 30)
        assert.equal(info.subscriptions, 1)
      })
    })
  }

  describe('MQTT 5 Session Expiry Interval', function () {
    const opts = (clientId: string, expiry?: number, clean = false) => ({
      protocolVersion: 5 as const, clientId, clean, ...(expiry !== undefined ? { properties: { sessionExpiryInterval: expiry } } : {}),
    })

    it('[MQTT-3.1.2-23] Session Expiry Interval absent (0): the session ends with the connection, Clean Start 0 then finds none', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const c1 = await b.connect(opts(id))
      await c1.subscribe('se0/#', 1)
      c1.disconnect()
      await c1.closed
      await sleep(20)
      const c2 = await b.connect(opts(id))
      assert.equal(c2.connack!.sessionPresent, false)
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('se0/a', 'x', { qos: 1 })
      await c2.expectNothing(200, 'publish')
    })

    it('[MQTT-3.1.2-23] a session with Session Expiry 1 s is kept for that long and then discarded', async function () {
      const b = await h.broker({ tickInterval: 50 })
      const id = uniqueId()
      const c1 = await b.connect(opts(id, 1))
      await c1.subscribe('se1/#', 1)
      c1.disconnect()
      await c1.closed
      await sleep(300)
      const c2 = await b.connect(opts(id, 1))
      assert.equal(c2.connack!.sessionPresent, true, 'still there after 0.3 s')
      c2.disconnect()
      await c2.closed
      // 2.1 s: a broker may count the interval in whole seconds.
      await sleep(2100)
      const c3 = await b.connect(opts(id, 1))
      assert.equal(c3.connack!.sessionPresent, false, 'gone after 2.1 s')
    })

    it('(MQTT 5 §3.14.2.2.2) a DISCONNECT may lower the Session Expiry Interval to 0: the session ends at once', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const c1 = await b.connect(opts(id, 60))
      await c1.subscribe('sd/#', 1)
      c1.disconnect(0, { sessionExpiryInterval: 0 })
      await c1.closed
      await sleep(50)
      const c2 = await b.connect(opts(id, 60))
      assert.equal(c2.connack!.sessionPresent, false)
    })

    it('(MQTT 5 §3.14.2.2.2) a DISCONNECT may set a different non-zero Session Expiry Interval (60 -> 1): it applies', async function () {
      const b = await h.broker({ tickInterval: 50 })
      const id = uniqueId()
      const c1 = await b.connect(opts(id, 60))
      c1.disconnect(0, { sessionExpiryInterval: 1 })
      await c1.closed
      await sleep(2100) // a broker may count the interval in whole seconds
      const c2 = await b.connect(opts(id, 60))
      assert.equal(c2.connack!.sessionPresent, false)
    })

    it('(MQTT 5 §3.14.2.2.2) Session Expiry 0 in CONNECT then non-zero in DISCONNECT is a Protocol Error: DISCONNECT 0x82, no session kept', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const c1 = await b.connect(opts(id))
      await c1.subscribe('pe/#', 1)
      c1.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } })
      const d = await c1.expectClosed()
      assert.equal(d?.reasonCode, 0x82)
      const c2 = await b.connect(opts(id, 60))
      assert.equal(c2.connack!.sessionPresent, false)
    })

    it('(MQTT 5 §3.1.2.11.2) maxSessionExpiryInterval caps the interval and CONNACK tells the client the value used', async function () {
      const b = await h.broker({ maxSessionExpiryInterval: 5 })
      const c = await b.connect(opts(uniqueId(), 3600))
      assert.equal(c.connack!.properties?.sessionExpiryInterval, 5)
    })

    it('[MQTT-3.1.2-4][MQTT-3.2.2-2] Clean Start 1 with a Session Expiry discards the old session but keeps the new one', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const c1 = await b.connect(opts(id, 60))
      await c1.subscribe('cs5/old', 1)
      c1.disconnect()
      await c1.closed
      const c2 = await b.connect(opts(id, 60, true))
      assert.equal(c2.connack!.sessionPresent, false)
      await c2.subscribe('cs5/new', 1)
      c2.disconnect()
      await c2.closed
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('cs5/old', 'old', { qos: 1 })
      await pub.publish('cs5/new', 'new', { qos: 1 })
      const c3 = await b.connect(opts(id, 60))
      assert.equal(c3.connack!.sessionPresent, true)
      assertPublish(await c3.waitFor('publish'), { topic: 'cs5/new', payload: 'new', qos: 1 })
      await c3.expectNothing(150, 'publish')
    })

    it('[MQTT-3.3.4-3] a message queued for an offline session carries the Subscription Identifier when delivered', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const c1 = await b.connect(opts(id, 60))
      await c1.subscribe('qsid/#', 1, { subscriptionIdentifier: 77 })
      c1.disconnect()
      await c1.closed
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('qsid/a', 'x', { qos: 1 })
      const c2 = await b.connect(opts(id, 60))
      assertPublish(await c2.waitFor('publish'), { topic: 'qsid/a', payload: 'x', qos: 1, properties: { subscriptionIdentifier: 77 } })
    })

    it('[MQTT-3.3.4-9] messages held back by Receive Maximum survive a reconnect, and the new connection\'s Receive Maximum applies', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const c1 = await b.connect({ ...opts(id, 60), properties: { sessionExpiryInterval: 60, receiveMaximum: 1 } })
      await c1.subscribe('rmr/#', 1)
      const pub = await b.connect({ protocolVersion: 5 })
      for (let i = 0; i < 6; i++) await pub.publish('rmr/a', String(i), { qos: 1 })
      assertPublish(await c1.waitFor('publish'), { topic: 'rmr/a', payload: '0', qos: 1 })
      c1.destroy()
      await c1.closed
      const c2 = await b.connect({ ...opts(id, 60), properties: { sessionExpiryInterval: 60, receiveMaximum: 3 } })
      const first = await c2.publishes(3)
      await c2.expectNothing(150, 'publish')
      assertPublishes(first, [0, 1, 2].map(i => ({ topic: 'rmr/a', payload: String(i), qos: 1, dup: i === 0 })))
      c2.autoAck = true
      for (const m of first) c2.send({ cmd: 'puback', messageId: m.messageId })
      assertPublishes(await c2.publishes(3), [3, 4, 5].map(i => ({ topic: 'rmr/a', payload: String(i), qos: 1 })))
    })

    it('[MQTT-3.1.4-4][MQTT-3.1.2-4] a takeover with Clean Start 1 discards the session of the connection it replaces', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const old = await b.connect(opts(id, 60))
      await old.subscribe('tcs/#', 1)
      const neu = await b.connect(opts(id, 60, true))
      assert.equal(neu.connack!.sessionPresent, false)
      await old.expectClosed()
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('tcs/a', 'x', { qos: 1 })
      await neu.expectNothing(200, 'publish')
    })

    it('[MQTT-3.3.2-5] a queued message whose Message Expiry passes while the session is offline is never delivered', async function () {
      const b = await h.broker({ tickInterval: 50 })
      const id = uniqueId()
      const c1 = await b.connect(opts(id, 60))
      await c1.subscribe('exp/#', 1)
      c1.disconnect()
      await c1.closed
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('exp/a', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } })
      await pub.publish('exp/b', 'long', { qos: 1, properties: { messageExpiryInterval: 100 } })
      await sleep(2100) // a broker may count expiry in whole seconds
      const c2 = await b.connect(opts(id, 60))
      const m = await c2.waitFor('publish')
      const left = m.properties?.messageExpiryInterval ?? 0
      assert.ok(left >= 95 && left <= 99, `the remaining lifetime is sent [MQTT-3.3.2-6], got ${left}`)
      assertPublish(m, { topic: 'exp/b', payload: 'long', qos: 1, properties: { messageExpiryInterval: left } })
      await c2.expectNothing(200, 'publish')
    })
  })
})
