import assert from 'node:assert/strict'
import type { QoS } from 'mqtt-packet'
import { VERSIONS, assertPublish, assertPublishes, sleep, spec, useHarness } from '../helpers'

describe('04 retained messages', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      it(`${spec(v, ['3.3.1-5', '3.3.1-6', '3.3.1-8'], ['3.3.1-5', '3.3.1-9'])} a retained message is stored and sent to a new subscriber with RETAIN 1`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('ret/a', 'stored', { qos: 1, retain: true })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('ret/a', 1)
        assertPublish(await sub.waitFor('publish'), { topic: 'ret/a', payload: 'stored', retain: true, qos: 1 })
      })

      it(`${spec(v, ['3.3.1-5', '3.8.4-6'], ['3.3.1-5', '3.8.4-8'])} the stored QoS is kept: delivered at min(stored QoS, granted QoS)`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        const cases: Array<[QoS, QoS]> = [[0, 2], [1, 2], [2, 2], [2, 1], [2, 0], [1, 0]]
        for (const [pq, sq] of cases) {
          const topic = `rq/${pq}/${sq}`
          await pub.publish(topic, 'x', { qos: pq, retain: true })
          const sub = await b.connect({ protocolVersion: v })
          await sub.subscribe(topic, sq)
          const m = await sub.waitFor('publish')
          assertPublish(m, { topic, payload: 'x', qos: Math.min(pq, sq) as QoS, retain: true }, `stored ${pq}, granted ${sq}`)
          await sub.ack(m)
          sub.disconnect()
        }
      })

      it(`${spec(v, ['3.3.1-6'], ['3.3.1-9'])} a wildcard subscription gets every matching retained message, once each`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        for (const t of ['w/a', 'w/b', 'w/c/d', 'x/a']) await pub.publish(t, t, { qos: 1, retain: true })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('w/#', 0)
        const got = (await sub.publishes(3)).sort((a, b) => a.topic < b.topic ? -1 : 1)
        assertPublishes(got, ['w/a', 'w/b', 'w/c/d'].map(t => ({ topic: t, payload: t, retain: true })))
        await sub.expectNothing(150, 'publish')
      })

      it(`${spec(v, ['3.3.1-6', '4.7.1-2'], ['3.3.1-9', '4.7.1-2'])} a subscription to topic/# gets the retained message of topic itself`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('sensor', 'parent level', { qos: 1, retain: true })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('sensor/#', 1)
        assertPublish(await sub.waitFor('publish'), { topic: 'sensor', payload: 'parent level', qos: 1, retain: true })
      })

      it(`${spec(v, ['3.3.1-5'], ['3.3.1-5'])} a new retained message replaces the previous one for the topic`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('rr/a', 'one', { qos: 1, retain: true })
        await pub.publish('rr/a', 'two', { qos: 1, retain: true })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('rr/a', 1)
        assertPublish(await sub.waitFor('publish'), { topic: 'rr/a', payload: 'two', qos: 1, retain: true })
        await sub.expectNothing(150, 'publish')
      })

      it(`${spec(v, ['3.3.1-7'], ['3.3.1-5'])} a QoS 0 retained message replaces a QoS 1 one`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('r0/a', 'one', { qos: 1, retain: true })
        await pub.publish('r0/a', 'zero', { qos: 0, retain: true })
        await pub.publish('r0/sync', 's', { qos: 1 })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('r0/a', 2)
        assertPublish(await sub.waitFor('publish'), { topic: 'r0/a', payload: 'zero', qos: 0, retain: true })
      })

      it(`${spec(v, ['3.3.1-10', '3.3.1-11'], ['3.3.1-6', '3.3.1-7'])} a retained zero-byte payload deletes the retained message and is not stored itself`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('del/a', 'x', { qos: 1, retain: true })
        await pub.publish('del/a', Buffer.alloc(0), { qos: 1, retain: true })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('del/#', 1)
        await sub.expectNothing(200, 'publish')
        assert.deepEqual(b.broker.retained('del/#'), [])
      })

      it(`${spec(v, ['3.3.1-10'], ['3.3.1-6'])} the zero-byte retained PUBLISH is still delivered to current subscribers as a normal message`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('del2/a', 1)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('del2/a', Buffer.alloc(0), { qos: 1, retain: true })
        assertPublish(await sub.waitFor('publish'), { topic: 'del2/a', payload: Buffer.alloc(0), qos: 1, retain: false })
      })

      it(`${spec(v, ['3.3.1-12'], ['3.3.1-8'])} a PUBLISH with RETAIN 0 neither stores nor replaces nor removes the retained message`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('keep/a', 'retained', { qos: 1, retain: true })
        await pub.publish('keep/a', 'not retained', { qos: 1 })
        await pub.publish('keep/a', Buffer.alloc(0), { qos: 1 })
        await pub.publish('keep/b', 'never retained', { qos: 1 })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('keep/#', 1)
        assertPublish(await sub.waitFor('publish'), { topic: 'keep/a', payload: 'retained', qos: 1, retain: true })
        await sub.expectNothing(150, 'publish')
      })

      it(`${spec(v, ['3.3.1-9'], ['3.3.1-12'])} a message matching an established subscription is delivered with RETAIN 0 even if published retained`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('est/a', 1)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('est/a', 'x', { qos: 1, retain: true })
        assertPublish(await sub.waitFor('publish'), { topic: 'est/a', payload: 'x', qos: 1, retain: false })
      })

      it(`${spec(v, ['3.1.2-7'], null, '§4.1 retained messages are not session state')} retained messages outlive the publishing client and its session`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v, clean: true })
        await pub.publish('out/a', 'lasting', { qos: 1, retain: true })
        pub.disconnect()
        await pub.closed
        await sleep(20)
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('out/a', 0)
        assertPublish(await sub.waitFor('publish'), { topic: 'out/a', payload: 'lasting', qos: 0, retain: true })
      })

      it('retained messages are listed by broker.retained(filter) and deleted by broker.clearRetained(filter)', async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('api/a', '1', { qos: 1, retain: true })
        await pub.publish('api/b/c', '2', { qos: 1, retain: true })
        await pub.publish('other', '3', { qos: 1, retain: true })
        assert.deepEqual(b.broker.retained('api/#').map(m => m.topic).sort(), ['api/a', 'api/b/c'])
        assert.equal(b.broker.clearRetained('api/#'), 2)
        assert.deepEqual(b.broker.retained('#').map(m => m.topic), ['other'])
      })

      it('a retained message published by the broker itself (broker.publish) is stored and delivered', async function () {
        const b = await h.broker()
        await b.broker.publish({ topic: 'bp/a', payload: Buffer.from('from broker'), qos: 1, retain: true })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('bp/a', 1)
        assertPublish(await sub.waitFor('publish'), { topic: 'bp/a', payload: 'from broker', qos: 1, retain: true })
      })
    })
  }

  describe('MQTT 5 Retain Handling and Retain As Published', function () {
    async function withRetained () {
      const b = await h.broker()
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('rh/a', 'kept', { qos: 1, retain: true })
      const sub = await b.connect({ protocolVersion: 5 })
      return { b, pub, sub }
    }

    it('[MQTT-3.3.1-9] Retain Handling 0: retained messages are sent at every subscribe', async function () {
      const { sub } = await withRetained()
      await sub.subscribe([{ topic: 'rh/#', qos: 0, rh: 0 }])
      assertPublish(await sub.waitFor('publish'), { topic: 'rh/a', payload: 'kept', retain: true })
      await sub.subscribe([{ topic: 'rh/#', qos: 0, rh: 0 }])
      assertPublish(await sub.waitFor('publish'), { topic: 'rh/a', payload: 'kept', retain: true })
    })

    it('[MQTT-3.3.1-10] Retain Handling 1: retained messages are sent only if the subscription did not exist', async function () {
      const { sub } = await withRetained()
      await sub.subscribe([{ topic: 'rh/#', qos: 0, rh: 1 }])
      assertPublish(await sub.waitFor('publish'), { topic: 'rh/a', payload: 'kept', retain: true })
      await sub.subscribe([{ topic: 'rh/#', qos: 1, rh: 1 }])
      await sub.expectNothing(200, 'publish')
    })

    it('[MQTT-3.3.1-11] Retain Handling 2: no retained messages at subscribe, live messages still flow', async function () {
      const { pub, sub } = await withRetained()
      await sub.subscribe([{ topic: 'rh/#', qos: 0, rh: 2 }])
      await sub.expectNothing(200, 'publish')
      await pub.publish('rh/a', 'live', { qos: 1 })
      assertPublish(await sub.waitFor('publish'), { topic: 'rh/a', payload: 'live' })
    })

    it('[MQTT-3.3.1-12] Retain As Published 0: live messages are forwarded with RETAIN 0', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe([{ topic: 'rap/a', qos: 0, rap: false }])
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('rap/a', 'x', { qos: 1, retain: true })
      assertPublish(await sub.waitFor('publish'), { topic: 'rap/a', payload: 'x', retain: false })
    })

    it('[MQTT-3.3.1-13] Retain As Published 1: live messages keep the RETAIN flag they were published with', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe([{ topic: 'rap/a', qos: 0, rap: true }])
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('rap/a', 'r', { qos: 1, retain: true })
      await pub.publish('rap/a', 'n', { qos: 1, retain: false })
      assertPublishes(await sub.publishes(2), [{ topic: 'rap/a', payload: 'r', retain: true }, { topic: 'rap/a', payload: 'n', retain: false }])
    })

    it('[MQTT-3.3.4-3] a retained message sent because of a subscription carries that subscription\'s identifier', async function () {
      const { sub } = await withRetained()
      await sub.subscribe('rh/#', 1, { subscriptionIdentifier: 12 })
      assertPublish(await sub.waitFor('publish'), { topic: 'rh/a', payload: 'kept', qos: 1, retain: true, properties: { subscriptionIdentifier: 12 } })
    })

    it('[MQTT-3.3.2-4][MQTT-3.3.2-15][MQTT-3.3.2-16][MQTT-3.3.2-17][MQTT-3.3.2-20] a retained message keeps its properties for later subscribers', async function () {
      const b = await h.broker()
      const pub = await b.connect({ protocolVersion: 5 })
      const properties = { payloadFormatIndicator: true, contentType: 'text/plain', responseTopic: 'r/t', correlationData: Buffer.from([1, 2]), userProperties: { a: '1', b: ['x', 'y'] } }
      await pub.publish('rp/a', 'hi', { qos: 1, retain: true, properties })
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe('rp/a', 1)
      assertPublish(await sub.waitFor('publish'), { topic: 'rp/a', payload: 'hi', qos: 1, retain: true, properties })
    })

    it('(MQTT 5 §3.2.2.3.5) with retainAvailable false, CONNACK says Retain Available 0 and a retained PUBLISH gets DISCONNECT 0x9A', async function () {
      const b = await h.broker({ retainAvailable: false })
      const c = await b.connect({ protocolVersion: 5 })
      assert.equal(c.connack!.properties?.retainAvailable, false)
      c.send({ cmd: 'publish', topic: 'ra/a', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: true, dup: false })
      const d = await c.expectClosed()
      assert.equal(d?.reasonCode, 0x9a)
      assert.deepEqual(b.broker.retained('#'), [])
    })
  })
})
