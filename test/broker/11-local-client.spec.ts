import assert from 'node:assert/strict'
import type { DeliveredMessage } from '../../src/broker/types'
import type { LocalClient } from '../../src/broker'
import { UserTableAuthenticator } from '../../src/broker/auth'
import { pollUntil } from '../helpers/wait'
import { VERSIONS, WAIT, assertDelivered, assertPublish, assertPublishes, connackCode, sleep, spec, uniqueId, useHarness } from '../helpers'

/** Collects a local client's messages; `next()` awaits the next one. */
function inbox (c: LocalClient) {
  const got: DeliveredMessage[] = []
  const waiters: Array<(m: DeliveredMessage) => void> = []
  c.on('message', (m: DeliveredMessage) => {
    const w = waiters.shift()
    if (w) w(m)
    else got.push(m)
  })
  return {
    got,
    next (timeoutMs = 2000): Promise<DeliveredMessage> {
      const m = got.shift()
      if (m) return Promise.resolve(m)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); reject(new Error('no message for the local client')) }, timeoutMs)
        const w = (x: DeliveredMessage): void => { clearTimeout(t); resolve(x) }
        waiters.push(w)
      })
    },
    async nothing (ms = 150): Promise<void> {
      await sleep(ms)
      assert.deepEqual(got.map(m => m.topic), [], 'no message expected')
    },
  }
}

describe('11 in-process (local) clients', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`local client at protocol level ${v}, network clients at ${v}`, function () {
      it(`${spec(v, ['3.3.2-3', '4.5.0-1'], ['3.3.2-3', '4.5.0-1'])} a network publish reaches a local subscriber (topic, payload, QoS = min(published, granted))`, async function () {
        const b = await h.broker()
        const local = await b.local({ protocolVersion: v })
        assert.deepEqual(await local.subscribe([{ topic: 'n2l/#', qos: 1 }]), [1])
        const box = inbox(local)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('n2l/a', 'hello', { qos: 2 })
        assertDelivered(await box.next(), { topic: 'n2l/a', payload: 'hello', qos: 1, retain: false, dup: false })
      })

      it(`${spec(v, ['3.8.4-6'], ['3.8.4-8'])} a local publish reaches network subscribers at min(published, granted) QoS`, async function () {
        const b = await h.broker()
        const s2 = await b.connect({ protocolVersion: v })
        await s2.subscribe('l2n/#', 2)
        const s0 = await b.connect({ protocolVersion: v })
        await s0.subscribe('l2n/#', 0)
        const local = await b.local({ protocolVersion: v })
        await local.publish({ topic: 'l2n/a', payload: Buffer.from('x'), qos: 2, retain: false })
        const m2 = await s2.waitFor('publish')
        assertPublish(m2, { topic: 'l2n/a', payload: 'x', qos: 2 })
        await s2.ack(m2)
        assertPublish(await s0.waitFor('publish'), { topic: 'l2n/a', payload: 'x', qos: 0 })
      })

      it(`${spec(v, ['3.3.1-5', '3.3.1-6', '3.3.1-8'], ['3.3.1-5', '3.3.1-9'])} retained messages work across kinds: local retained -> network subscriber and network retained -> local subscriber`, async function () {
        const b = await h.broker()
        const local = await b.local({ protocolVersion: v })
        await local.publish({ topic: 'lr/local', payload: Buffer.from('L'), qos: 1, retain: true })
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('lr/net', 'N', { qos: 1, retain: true })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('lr/local', 1)
        assertPublish(await sub.waitFor('publish'), { topic: 'lr/local', payload: 'L', qos: 1, retain: true })
        const other = await b.local({ protocolVersion: v })
        const box = inbox(other)
        await other.subscribe([{ topic: 'lr/net', qos: 1 }])
        assertDelivered(await box.next(), { topic: 'lr/net', payload: 'N', qos: 1, retain: true })
      })

      it(`${spec(v, ['3.3.1-10'], ['3.3.1-6'])} a local retained empty payload deletes the retained message`, async function () {
        const b = await h.broker()
        const local = await b.local({ protocolVersion: v })
        await local.publish({ topic: 'lrd/a', payload: Buffer.from('x'), qos: 1, retain: true })
        await local.publish({ topic: 'lrd/a', payload: Buffer.alloc(0), qos: 1, retain: true })
        assert.deepEqual(b.broker.retained('lrd/#'), [])
      })

      it(`${spec(v, ['3.1.2-8'], ['3.1.2-8'])} a local client's will is published when the broker disconnects it (disconnectClient), not on a normal end()`, async function () {
        const b = await h.broker()
        const w = await b.connect({ protocolVersion: v })
        await w.subscribe('lw/#', 1)
        const will = { topic: 'lw/admin', payload: Buffer.from('bye'), qos: 1 as const, retain: false }
        const quiet = await b.local({ protocolVersion: v, clientId: uniqueId('lq'), will: { ...will, topic: 'lw/normal' } })
        await quiet.end()
        const loud = await b.local({ protocolVersion: v, clientId: uniqueId('ll'), will })
        const closed = new Promise<string>(resolve => loud.on('close', resolve))
        assert.equal(b.broker.disconnectClient(loud.clientId), true)
        await closed
        assertPublish(await w.waitFor('publish'), { topic: 'lw/admin', payload: 'bye', qos: 1 })
        await w.expectNothing(150, 'publish')
      })

      it(`${spec(v, ['3.1.2-5', '3.2.2-2'], ['3.1.2-5', '3.2.2-3'])} a local persistent session keeps subscriptions and queues QoS 1 messages while offline`, async function () {
        const b = await h.broker()
        const id = uniqueId('ls')
        const opts = { protocolVersion: v, clientId: id, clean: false, ...(v === 5 ? { sessionExpiryInterval: 60 } : {}) }
        const l1 = await b.local(opts)
        assert.equal(l1.sessionPresent, false)
        await l1.subscribe([{ topic: 'lsess/#', qos: 1 }])
        await l1.end()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('lsess/a', 'while away', { qos: 1 })
        const l2 = await b.broker.connectLocal(opts)
        const box = inbox(l2)
        assert.equal(l2.sessionPresent, true)
        assertDelivered(await box.next(), { topic: 'lsess/a', payload: 'while away', qos: 1 })
        await l2.end()
      })

      it('(issue 12) a live delivery tells an in-process client which of its filters matched, so it need not match the topic again; network deliveries carry nothing of it', async function () {
        const b = await h.broker()
        const local = await b.local({ protocolVersion: v === 5 ? 5 : 4 })
        const got: DeliveredMessage[] = []
        local.on('message', (m: DeliveredMessage) => got.push(m))
        await local.subscribe([{ topic: 'fl/#', qos: 1 }, { topic: 'fl/+', qos: 0 }, { topic: 'other', qos: 0 }])
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('fl/x', 'one', { qos: 1 })
        await pollUntil(() => got.length === 1, WAIT, 'the delivery')
        assert.deepEqual([...(got[0].filters ?? [])].sort(), ['fl/#', 'fl/+'])
        assert.equal(got[0].qos, 1, 'one copy at the highest granted QoS')
        await pub.publish('other', 'two', { qos: 0 })
        await pollUntil(() => got.length === 2, WAIT, 'the second delivery')
        assert.deepEqual(got[1].filters, ['other'])
      })

      it(`${spec(v, ['3.1.4-2'], ['3.1.4-3'])} takeover across kinds: a local client with a network client's id closes the network connection${v === 5 ? ' (DISCONNECT 0x8E)' : ''}`, async function () {
        const b = await h.broker()
        const id = uniqueId('tk')
        const net = await b.connect({ protocolVersion: v, clientId: id })
        const local = await b.local({ protocolVersion: v, clientId: id })
        const d = await net.expectClosed()
        if (v === 5) assert.equal(d?.reasonCode, 0x8e)
        assert.equal(local.connected, true)
      })

      it(`(issue 8) a network client cannot take over the client id of an in-process client, connected or with a kept session: ${v === 5 ? 'CONNACK 0x85' : 'CONNACK 2'}, the in-process client stays`, async function () {
        const b = await h.broker()
        const id = uniqueId('own')
        const local = await b.local({ protocolVersion: v === 5 ? 5 : 4, clientId: id, clean: false })
        const refused = await b.connect({ protocolVersion: v, clientId: id, allowRefusal: true })
        assert.equal(connackCode(refused.connack!), v === 5 ? 0x85 : 2)
        await refused.expectClosed()
        assert.equal(local.connected, true)
        await local.end()
        const again = await b.connect({ protocolVersion: v, clientId: id, allowRefusal: true })
        assert.equal(connackCode(again.connack!), v === 5 ? 0x85 : 2, 'the session kept for the in-process client is not handed over either')
        await again.expectClosed()
      })

      it(`${spec(v, ['3.3.2-2', '4.7.3-1'], ['3.3.2-2', '4.7.3-1'])} a local publish to an invalid topic is rejected with reason 0x90 and not delivered`, async function () {
        const b = await h.broker()
        const w = await b.connect({ protocolVersion: v })
        await w.subscribe('#', 0)
        const local = await b.local({ protocolVersion: v })
        for (const topic of ['a/+', 'a/#', '', 'a\u0000b']) {
          await assert.rejects(local.publish({ topic, payload: Buffer.from('x'), qos: 0, retain: false }),
            (e: Error & { reasonCode?: number }) => e.reasonCode === 0x90, `topic ${JSON.stringify(topic)}`)
        }
        await w.expectNothing(100, 'publish')
      })

      it(`${spec(v, ['4.7.1-2', '4.7.1-3', '3.8.4-5'], ['4.7.1-2', '4.7.1-3', '3.8.4-7'])} a local subscribe to an invalid filter gets a failure code (>= 0x80), valid ones in the same call are granted`, async function () {
        const b = await h.broker()
        const local = await b.local({ protocolVersion: v })
        const codes = await local.subscribe([{ topic: 'a/#/b', qos: 1 }, { topic: 'ok/+', qos: 1 }, { topic: 'x+', qos: 0 }])
        assert.ok(codes[0] >= 0x80)
        assert.equal(codes[1], 1)
        assert.ok(codes[2] >= 0x80)
      })

      it(`${spec(v, ['3.10.4-5'], ['3.11.3-2'])} local unsubscribe: 0x00 for an existing subscription, 0x11 for none; messages stop`, async function () {
        const b = await h.broker()
        const local = await b.local({ protocolVersion: v })
        const box = inbox(local)
        await local.subscribe([{ topic: 'lu/a', qos: 0 }])
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('lu/a', 'before', { qos: 1 })
        assertDelivered(await box.next(), { topic: 'lu/a', payload: 'before', qos: 0 })
        assert.deepEqual(await local.unsubscribe(['lu/a', 'lu/none']), [0x00, 0x11])
        await pub.publish('lu/a', 'after', { qos: 1 })
        await box.nothing()
      })

      it(`${spec(v, ['3.8.4-5'], ['3.2.2-9', '3.8.4-7'])} maximumQoS applies to local subscriptions too`, async function () {
        const b = await h.broker({ maximumQoS: 1 })
        const local = await b.local({ protocolVersion: v })
        assert.deepEqual(await local.subscribe([{ topic: 'lm/a', qos: 2 }]), [1])
      })

      it(`${spec(v, ['3.3.4-1', '4.3.1-1'], ['3.3.4-1', '4.3.1-1'])} local to local: messages delivered at QoS 0 arrive (QoS 0 subscription, QoS 0 and QoS 1 publishes)`, async function () {
        const b = await h.broker()
        const sub = await b.local({ protocolVersion: v })
        const box = inbox(sub)
        await sub.subscribe([{ topic: 'll0/#', qos: 0 }])
        const pub = await b.local({ protocolVersion: v })
        await pub.publish({ topic: 'll0/a', payload: Buffer.from('q0'), qos: 0, retain: false })
        await pub.publish({ topic: 'll0/b', payload: Buffer.from('q1'), qos: 1, retain: false })
        assertDelivered(await box.next(), { topic: 'll0/a', payload: 'q0', qos: 0 })
        assertDelivered(await box.next(), { topic: 'll0/b', payload: 'q1', qos: 0 })
      })

      it(`${spec(v, ['3.8.4-6'], ['3.8.4-8'])} local to local: QoS 1 and 2 deliveries arrive at min(published, granted)`, async function () {
        const b = await h.broker()
        const sub = await b.local({ protocolVersion: v })
        const box = inbox(sub)
        await sub.subscribe([{ topic: 'll2/#', qos: 2 }])
        const pub = await b.local({ protocolVersion: v })
        await pub.publish({ topic: 'll2/a', payload: Buffer.from('x'), qos: 1, retain: false })
        await pub.publish({ topic: 'll2/b', payload: Buffer.from('y'), qos: 2, retain: false })
        assertDelivered(await box.next(), { topic: 'll2/a', payload: 'x', qos: 1 })
        assertDelivered(await box.next(), { topic: 'll2/b', payload: 'y', qos: 2 })
      })

      it('local and network clients are listed together by broker.clients() with their kind', async function () {
        const b = await h.broker()
        const net = await b.connect({ protocolVersion: v })
        const local = await b.local({ protocolVersion: v })
        const kinds = Object.fromEntries(b.broker.clients().map(c => [c.clientId, c.kind]))
        assert.equal(kinds[net.clientId], 'network')
        assert.equal(kinds[local.clientId], 'local')
      })

      it(`${spec(v, ['4.6.0-5', '4.6.0-6'], ['4.6.0-5', '4.6.0-6'])} ordering holds between a local publisher and a network subscriber (200 messages, QoS 1)`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('lo/#', 1)
        sub.autoAck = true
        const local = await b.local({ protocolVersion: v })
        await Promise.all(Array.from({ length: 200 }, (_, i) => local.publish({ topic: 'lo/a', payload: Buffer.from(String(i)), qos: 1, retain: false })))
        assertPublishes(await sub.publishes(200, 5000), Array.from({ length: 200 }, (_, i) => ({ topic: 'lo/a', payload: String(i), qos: 1 })))
      })
    })
  }

  describe('MQTT 5 semantics for local clients', function () {
    it('[MQTT-3.3.2-4][MQTT-3.3.2-15][MQTT-3.3.2-16][MQTT-3.3.2-17][MQTT-3.3.2-20] properties of a local publish reach a v5 network subscriber unaltered', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe('lp/#', 1)
      const local = await b.local({ protocolVersion: 5 })
      const properties = {
        payloadFormatIndicator: true, contentType: 'text/plain', responseTopic: 'lp/reply',
        correlationData: Buffer.from([9, 8, 7]), userProperties: { a: '1', b: ['2', '3'] },
      }
      await local.publish({ topic: 'lp/a', payload: Buffer.from('x'), qos: 1, retain: false, properties })
      assertPublish(await sub.waitFor('publish'), { topic: 'lp/a', payload: 'x', qos: 1, properties })
    })

    it('[MQTT-3.3.2-17] properties of a network publish reach a local subscriber unaltered', async function () {
      const b = await h.broker()
      const local = await b.local({ protocolVersion: 5 })
      const box = inbox(local)
      await local.subscribe([{ topic: 'lp2/#', qos: 1 }])
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('lp2/a', 'x', { qos: 1, properties: { contentType: 'c/t', userProperties: { k: 'v' }, correlationData: Buffer.from('id') } })
      assertDelivered(await box.next(), { topic: 'lp2/a', payload: 'x', qos: 1, properties: { contentType: 'c/t', userProperties: { k: 'v' }, correlationData: Buffer.from('id') } })
    })

    it('[MQTT-3.3.4-3][MQTT-3.3.4-4] local subscriptions get their Subscription Identifiers, all of them for overlaps, in one delivery', async function () {
      const b = await h.broker()
      const local = await b.local({ protocolVersion: 5 })
      const box = inbox(local)
      await local.subscribe([{ topic: 'lsid/+', qos: 1, subscriptionIdentifier: 5 }])
      await local.subscribe([{ topic: 'lsid/#', qos: 0, subscriptionIdentifier: 6 }])
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('lsid/a', 'x', { qos: 1 })
      assertDelivered(await box.next(), { topic: 'lsid/a', payload: 'x', qos: 1, properties: { subscriptionIdentifier: [5, 6] } })
      await box.nothing()
    })

    it('[MQTT-3.8.3-3] No Local keeps a local client\'s own messages from it', async function () {
      const b = await h.broker()
      const local = await b.local({ protocolVersion: 5 })
      const box = inbox(local)
      await local.subscribe([{ topic: 'lnl/#', qos: 1, nl: true }])
      await local.publish({ topic: 'lnl/a', payload: Buffer.from('mine'), qos: 1, retain: false })
      await box.nothing()
      const other = await b.local({ protocolVersion: 5 })
      await other.publish({ topic: 'lnl/a', payload: Buffer.from('theirs'), qos: 1, retain: false })
      assertDelivered(await box.next(), { topic: 'lnl/a', payload: 'theirs', qos: 1 })
    })

    it('[MQTT-3.3.1-11][MQTT-3.3.1-13] Retain Handling 2 and Retain As Published work for local subscriptions', async function () {
      const b = await h.broker()
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('lrh/a', 'kept', { qos: 1, retain: true })
      const local = await b.local({ protocolVersion: 5 })
      const box = inbox(local)
      await local.subscribe([{ topic: 'lrh/#', qos: 1, rh: 2, rap: true }])
      await box.nothing()
      await pub.publish('lrh/a', 'live', { qos: 1, retain: true })
      assertDelivered(await box.next(), { topic: 'lrh/a', payload: 'live', qos: 1, retain: true }, 'Retain As Published keeps RETAIN 1')
    })

    it('(MQTT 5 §3.14.2.1) a local end({ reasonCode: 0x04 }) publishes the will', async function () {
      const b = await h.broker()
      const w = await b.connect({ protocolVersion: 5 })
      await w.subscribe('l04/#', 0)
      const local = await b.local({ protocolVersion: 5, will: { topic: 'l04/w', payload: Buffer.from('w'), qos: 0, retain: false } })
      await local.end({ reasonCode: 0x04 })
      assertPublish(await w.waitFor('publish'), { topic: 'l04/w', payload: 'w' })
    })

    it('[MQTT-3.3.2-5] an expired message is never delivered to a local offline session', async function () {
      const b = await h.broker({ tickInterval: 50 })
      const id = uniqueId('lx')
      const opts = { protocolVersion: 5 as const, clientId: id, clean: false, sessionExpiryInterval: 60 }
      const l1 = await b.broker.connectLocal(opts)
      await l1.subscribe([{ topic: 'lexp/#', qos: 1 }])
      await l1.end()
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('lexp/a', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } })
      await sleep(2100) // a broker may count expiry in whole seconds
      const l2 = await b.local(opts)
      const box = inbox(l2)
      await box.nothing(200)
    })

    it('a local connection refused by the authenticator rejects with the reason code (0x86)', async function () {
      const b = await h.broker({ authenticate: new UserTableAuthenticator({ alice: 'pw' }) })
      await assert.rejects(b.broker.connectLocal({ username: 'alice', password: 'nope' }),
        (e: Error & { reasonCode?: number }) => e.reasonCode === 0x86)
      const ok = await b.local({ username: 'alice', password: 'pw' })
      assert.equal(ok.connected, true)
    })

    it('a local client gets a generated client id when none is given, and it is unique', async function () {
      const b = await h.broker()
      const a = await b.local({})
      const c = await b.local({})
      assert.ok(a.clientId.length > 0)
      assert.notEqual(a.clientId, c.clientId)
    })

    it('after end(), publish rejects (not connected) and nothing is delivered', async function () {
      const b = await h.broker()
      const local = await b.local({})
      await local.end()
      await assert.rejects(local.publish({ topic: 'x', payload: Buffer.from('x'), qos: 0, retain: false }))
    })
  })
})
