import assert from 'node:assert/strict'
import type { QoS } from 'mqtt-packet'
import { VERSIONS, assertPublish, connackCode, connectPacket, hex, sleep, spec, uniqueId, deviates, useHarness, type TestBroker, type Will } from '../helpers'

function will (topic: string, payload = 'gone', qos: QoS = 0, retain = false, properties?: Will['properties']): Will {
  return { topic, payload: Buffer.from(payload), qos, retain, ...(properties ? { properties } : {}) }
}

describe('05 will messages', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      async function watcher (b: TestBroker, filter = 'will/#', qos: QoS = 2) {
        const w = await b.connect({ protocolVersion: v })
        await w.subscribe(filter, qos)
        return w
      }

      it(`${spec(v, ['3.1.2-8'], ['3.1.2-7', '3.1.2-8'])} a connection that drops without DISCONNECT publishes its will`, async function () {
        const b = await h.broker()
        const w = await watcher(b)
        const c = await b.connect({ protocolVersion: v, will: will('will/drop', 'dropped') })
        c.destroy()
        assertPublish(await w.waitFor('publish'), { topic: 'will/drop', payload: 'dropped', qos: 0, retain: false })
      })

      it(`${spec(v, ['3.1.2-8', '3.1.2-10', '3.14.4-3'], ['3.1.2-8', '3.1.2-10', '3.14.4-3'])} DISCONNECT${v === 5 ? ' with 0x00' : ''} discards the will: it is never published`, async function () {
        const b = await h.broker()
        const w = await watcher(b)
        const c = await b.connect({ protocolVersion: v, will: will('will/clean') })
        c.disconnect(0)
        await c.closed
        await w.expectNothing(300, 'publish')
      })

      it(`${spec(v, ['3.1.2-12'], null, '§3.1.2.5')} no will flag, no will: an abrupt drop publishes nothing`, async function () {
        const b = await h.broker()
        const w = await watcher(b, '#')
        const c = await b.connect({ protocolVersion: v })
        c.destroy()
        await w.expectNothing(300, 'publish')
      })

      it(`${spec(v, ['3.1.2-16'], ['3.1.2-14'])} Will Retain 0: published as a non-retained message, nothing stored`, async function () {
        const b = await h.broker()
        const w = await watcher(b)
        const c = await b.connect({ protocolVersion: v, will: will('will/nr', 'x', 0, false) })
        c.destroy()
        assertPublish(await w.waitFor('publish'), { topic: 'will/nr', payload: 'x', retain: false })
        assert.deepEqual(b.broker.retained('will/#'), [])
      })

      it(`${spec(v, ['3.1.2-17'], ['3.1.2-15'])} Will Retain 1: published as a retained message, stored for later subscribers`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v, will: will('will/r', 'last words', 1, true) })
        c.destroy()
        await c.closed
        await sleep(100)
        const late = await b.connect({ protocolVersion: v })
        await late.subscribe('will/r', 1)
        assertPublish(await late.waitFor('publish'), { topic: 'will/r', payload: 'last words', qos: 1, retain: true })
      })

      it(`${spec(v, ['3.1.2-14', '3.8.4-6'], ['3.1.2-12', '3.8.4-8'])} the will is published at its Will QoS, capped by each subscriber's granted QoS`, async function () {
        const b = await h.broker()
        const w2 = await watcher(b, 'will/#', 2)
        const w1 = await watcher(b, 'will/#', 1)
        const c = await b.connect({ protocolVersion: v, will: will('will/q', 'x', 2) })
        c.destroy()
        assertPublish(await w2.waitFor('publish'), { topic: 'will/q', payload: 'x', qos: 2 })
        assertPublish(await w1.waitFor('publish'), { topic: 'will/q', payload: 'x', qos: 1 })
        const c1 = await b.connect({ protocolVersion: v, will: will('will/q1', 'x', 1) })
        c1.destroy()
        assertPublish(await w2.waitFor('publish', p => p.topic === 'will/q1'), { topic: 'will/q1', payload: 'x', qos: 1 })
      })

      it(`${spec(v, ['3.1.2-8', '3.1.2-24'], ['3.1.2-8', '3.1.2-22'])} a Keep Alive timeout publishes the will (the broker closes "as if the network had failed")`, async function () {
        deviates('mosquitto', '[MQTT-3.1.2-24 / v5 MQTT-3.1.2-22] Mosquitto 2.0.11 checks Keep Alive only every few seconds: with Keep Alive 1 s it closed a silent connection after about 5.5 s, not within 1.5 s')
        const b = await h.broker({ tickInterval: 50 })
        const w = await watcher(b)
        const c = await b.connect({ protocolVersion: v, keepalive: 1, will: will('will/ka') })
        assertPublish(await w.waitFor('publish', undefined, 4000), { topic: 'will/ka', payload: 'gone' })
        await c.closed
      })

      it(`${spec(v, ['3.1.2-8', '4.8.0-1'], ['3.1.2-8', '4.13.1-1'])} a connection the broker closes for a protocol violation publishes its will`, async function () {
        const b = await h.broker()
        const w = await watcher(b)
        deviates('mosquitto', '[MQTT-3.1.2-8] when it closes a connection for a second CONNECT (a protocol violation [MQTT-3.1.0-2]), Mosquitto 2.0.11 does not publish the will')
        const c = await b.connect({ protocolVersion: v, will: will('will/violation') })
        c.send(connectPacket({ protocolVersion: v }))
        await c.expectClosed()
        assertPublish(await w.waitFor('publish'), { topic: 'will/violation', payload: 'gone' })
      })

      it(`${spec(v, ['3.1.2-10'], ['3.1.2-10'])} the will is published once only`, async function () {
        const b = await h.broker({ tickInterval: 50 })
        const w = await watcher(b)
        const c = await b.connect({ protocolVersion: v, keepalive: 1, will: will('will/once') })
        c.destroy()
        assertPublish(await w.waitFor('publish'), { topic: 'will/once', payload: 'gone' })
        await w.expectNothing(1800, 'publish')
      })

      it(`${spec(v, ['3.1.4-2', '3.1.2-8'], ['3.1.4-3'])} broker.disconnectClient() closes the connection abnormally: the will is published`, async function () {
        const b = await h.broker()
        const w = await watcher(b)
        const c = await b.connect({ protocolVersion: v, will: will('will/admin') })
        assert.equal(b.broker.disconnectClient(c.clientId), true)
        const d = await c.expectClosed()
        if (v === 5) assert.equal(d?.reasonCode, 0x98, 'DISCONNECT 0x98 Administrative action')
        assertPublish(await w.waitFor('publish'), { topic: 'will/admin', payload: 'gone' })
      })

      it(`${spec(v, ['3.1.3-10', '3.3.2-2'], ['3.1.3-11', '3.3.2-2'])} a will topic with a wildcard is refused: no accepting CONNACK, connection closed`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        c.send(connectPacket({ protocolVersion: v, will: will('will/#') }))
        await c.expectClosed()
        for (const p of c.received) {
          assert.equal(p.cmd, 'connack')
          if (p.cmd === 'connack') assert.notEqual(connackCode(p), 0)
        }
      })
    })
  }

  describe('MQTT 3.1.1 takeover', function () {
    it('[MQTT-3.1.4-2][MQTT-3.1.2-8] a session takeover closes the old connection without DISCONNECT, so its will is published', async function () {
      const b = await h.broker()
      const w = await b.connect({ protocolVersion: 4 })
      await w.subscribe('will/#', 0)
      const id = uniqueId()
      const old = await b.connect({ protocolVersion: 4, clientId: id, will: will('will/takeover') })
      await b.connect({ protocolVersion: 4, clientId: id })
      await old.expectClosed()
      assertPublish(await w.waitFor('publish'), { topic: 'will/takeover', payload: 'gone' })
    })
  })

  describe('MQTT 5 will', function () {
    async function setup () {
      const b = await h.broker({ tickInterval: 50 })
      const w = await b.connect({ protocolVersion: 5 })
      await w.subscribe('will/#', 2)
      return { b, w }
    }

    it('(MQTT 5 §3.14.2.1 reason 0x04) DISCONNECT with reason 0x04 publishes the will', async function () {
      const { b, w } = await setup()
      const c = await b.connect({ protocolVersion: 5, will: will('will/04', 'asked for') })
      c.disconnect(0x04)
      assertPublish(await w.waitFor('publish'), { topic: 'will/04', payload: 'asked for' })
    })

    it('[MQTT-3.1.2-8] with Will Delay Interval 1 and a longer session, the will is published about 1 s after the drop, not before', async function () {
      const { b, w } = await setup()
      const c = await b.connect({ protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 30 }, will: will('will/delay', 'late', 0, false, { willDelayInterval: 1 }) })
      c.destroy()
      const t0 = Date.now()
      await w.expectNothing(600, 'publish')
      assertPublish(await w.waitFor('publish', undefined, 2500), { topic: 'will/delay', payload: 'late' })
      assert.ok(Date.now() - t0 >= 900, `published after ${Date.now() - t0} ms`)
    })

    it('[MQTT-3.1.3-9] a reconnection before the Will Delay Interval elapses cancels the will', async function () {
      const { b, w } = await setup()
      const id = uniqueId()
      const c = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 30 }, will: will('will/cancel', 'x', 0, false, { willDelayInterval: 1 }) })
      c.destroy()
      await sleep(300)
      await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 30 } })
      await w.expectNothing(1500, 'publish')
    })

    it('[MQTT-3.1.2-8] the will is published when the session ends, if that is before the Will Delay Interval (expiry 1 s, delay 30 s)', async function () {
      const { b, w } = await setup()
      const c = await b.connect({ protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 1 }, will: will('will/sessend', 'x', 0, false, { willDelayInterval: 30 }) })
      c.destroy()
      const t0 = Date.now()
      assertPublish(await w.waitFor('publish', undefined, 3000), { topic: 'will/sessend', payload: 'x' })
      assert.ok(Date.now() - t0 >= 700, `published after ${Date.now() - t0} ms, before the session expired`)
    })

    it('[MQTT-3.1.2-8] with Session Expiry 0 the session ends at the drop, so a delayed will is published at once', async function () {
      deviates('mosquitto', '[MQTT-3.1.2-8] (MQTT 5 3.1.3.2.2) with Session Expiry 0 and a Will Delay Interval, Mosquitto 2.0.11 does not publish the will when the session ends at the drop: it waits for the delay')
      const { b, w } = await setup()
      const c = await b.connect({ protocolVersion: 5, will: will('will/now', 'x', 0, false, { willDelayInterval: 30 }) })
      c.destroy()
      assertPublish(await w.waitFor('publish', undefined, 1000), { topic: 'will/now', payload: 'x' })
    })

    it('[MQTT-3.1.2-8] a DISCONNECT 0x04 with a Will Delay waits for the delay as well', async function () {
      const { b, w } = await setup()
      const c = await b.connect({ protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 30 }, will: will('will/04d', 'x', 0, false, { willDelayInterval: 1 }) })
      c.disconnect(0x04)
      await w.expectNothing(500, 'publish')
      assertPublish(await w.waitFor('publish', undefined, 2500), { topic: 'will/04d', payload: 'x' })
    })

    it('[MQTT-3.1.3-10][MQTT-3.3.2-4][MQTT-3.3.2-15][MQTT-3.3.2-16][MQTT-3.3.2-17][MQTT-3.3.2-18][MQTT-3.3.2-20] will properties reach subscribers unaltered, user properties in order', async function () {
      const { b, w } = await setup()
      const props = {
        payloadFormatIndicator: true,
        contentType: 'text/plain; charset=utf-8',
        responseTopic: 'will/replies',
        correlationData: Buffer.from([1, 2, 3, 0, 255]),
        userProperties: { first: '1', second: ['a', 'b'], third: '3' },
      }
      const c = await b.connect({ protocolVersion: 5, will: will('will/props', 'text', 1, false, props) })
      c.destroy()
      assertPublish(await w.waitFor('publish'), { topic: 'will/props', payload: 'text', qos: 1, properties: props })
    })

    it('[MQTT-3.2.2-12] a will QoS above maximumQoS is refused with CONNACK 0x9B', async function () {
      const b = await h.broker({ maximumQoS: 1 })
      const c = await b.connect({ protocolVersion: 5, will: will('will/q2', 'x', 2), allowRefusal: true })
      assert.equal(connackCode(c.connack!), 0x9b, `CONNACK ${hex(connackCode(c.connack!))}`)
      await c.expectClosed()
    })

    it('[MQTT-3.2.2-13] a retained will when retainAvailable is false is refused with CONNACK 0x9A', async function () {
      const b = await h.broker({ retainAvailable: false })
      const c = await b.connect({ protocolVersion: 5, will: will('will/r', 'x', 0, true), allowRefusal: true })
      assert.equal(connackCode(c.connack!), 0x9a, `CONNACK ${hex(connackCode(c.connack!))}`)
      await c.expectClosed()
    })

    it('(MQTT 5 §3.1.3.2.2) a session takeover before the Will Delay elapses does not publish the will', async function () {
      const { b, w } = await setup()
      const id = uniqueId()
      const old = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 30 }, will: will('will/to', 'x', 0, false, { willDelayInterval: 2 }) })
      await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 30 } })
      await old.expectClosed()
      await w.expectNothing(2500, 'publish')
    })
  })
})
