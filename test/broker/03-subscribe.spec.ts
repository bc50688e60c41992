import assert from 'node:assert/strict'
import type { QoS } from 'mqtt-packet'
import type { IPublishPacket } from 'mqtt-packet'
import { BROKER_TARGET, VERSIONS, deviates, assertPublish, assertPublishes, assertServing, type ExpectedPublish, sleep, spec, useHarness, type TestClient } from '../helpers'

/** Publish each topic (QoS 0) and return the set of topics `sub` received. */
async function reachable (pub: TestClient, sub: TestClient, topics: string[]): Promise<string[]> {
  for (const t of topics) await pub.publish(t, t, { qos: 1 })
  // A QoS 1 marker published last: everything before it has been routed once it arrives.
  await pub.publish('zz-marker', '', { qos: 1 })
  const got: string[] = []
  for (;;) {
    const m = await sub.waitFor('publish')
    // Every subscription of these tests is QoS 0 and each payload is its topic.
    assertPublish(m, { topic: m.topic, payload: m.topic === 'zz-marker' ? '' : m.topic })
    if (m.topic === 'zz-marker') break
    got.push(m.topic)
  }
  // Cross-topic order is not guaranteed by the spec: collect stragglers for a moment.
  await sleep(50)
  for (const p of sub.drain()) {
    if (p.cmd !== 'publish') continue
    assertPublish(p, { topic: p.topic, payload: p.topic === 'zz-marker' ? '' : p.topic })
    // A broker may send one copy per matching subscription [MQTT-3.3.5-1]: the marker may come twice.
    if (p.topic !== 'zz-marker') got.push(p.topic)
  }
  return got.sort()
}

const subIdOf = (p: { properties?: { subscriptionIdentifier?: number | number[] } }): number => Math.min(...[p.properties?.subscriptionIdentifier ?? 0].flat())
const byQosAndId = <T extends { qos?: number, properties?: { subscriptionIdentifier?: number | number[] } }>(a: T, b: T): number =>
  ((a.qos ?? 0) - (b.qos ?? 0)) || (subIdOf(a) - subIdOf(b))

/**
 * Overlapping subscriptions: the broker MUST deliver respecting the highest granted QoS of the
 * matches, and MAY instead send one copy per matching subscription, each at that subscription's
 * QoS [MQTT-3.3.5-1] (MQTT 5 3.3.4). `single` is the one copy, `perSub` the copy of each matching
 * subscription. Hearth sends one copy; another broker may do either. `sub` must have autoAck set.
 */
async function assertOverlapDelivery (sub: TestClient, single: ExpectedPublish, perSub: ExpectedPublish[]): Promise<void> {
  const got: IPublishPacket[] = [await sub.waitFor('publish')]
  await sleep(300)
  for (const p of sub.drain()) if (p.cmd === 'publish') got.push(p)
  if (got.length === 1 || BROKER_TARGET === 'hearth') assertPublishes(got, [single])
  else assertPublishes([...got].sort(byQosAndId), [...perSub].sort(byQosAndId), 'one copy per matching subscription')
}

describe('03 subscribe and unsubscribe', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      it(`${spec(v, ['3.8.4-1', '3.8.4-2'], ['3.8.4-1', '3.8.4-2'])} SUBACK carries the SUBSCRIBE's packet identifier`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        c.send({ cmd: 'subscribe', messageId: 31337, subscriptions: [{ topic: 'a', qos: 1 }] })
        const ack = await c.next('suback')
        assert.equal(ack.messageId, 31337)
        assert.deepEqual(ack.granted, [1])
      })

      it(`${spec(v, ['3.8.4-4', '3.8.4-5', '3.9.3-1', '3.9.3-2'], ['3.8.4-5', '3.8.4-6', '3.8.4-7', '3.9.3-1', '3.9.3-2'])} one SUBACK for a multi-filter SUBSCRIBE, one code per filter in order, each the granted QoS`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        const granted = await c.subscribe([{ topic: 'm/2', qos: 2 }, { topic: 'm/0', qos: 0 }, { topic: 'm/1', qos: 1 }, { topic: 'm/+/x', qos: 2 }])
        assert.deepEqual(granted, [2, 0, 1, 2])
        await c.expectNothing(100, 'suback')
      })

      it(`${spec(v, ['3.8.4-5', '3.8.4-6'], ['3.8.4-7', '3.8.4-8', '3.2.2-10'])} with maximumQoS 1 a QoS 2 request is granted QoS 1 and messages arrive at QoS 1`, async function () {
        const b = await h.broker({ maximumQoS: 1 })
        const sub = await b.connect({ protocolVersion: v })
        assert.deepEqual(await sub.subscribe([{ topic: 'mq/a', qos: 2 }, { topic: 'mq/b', qos: 0 }]), [1, 0])
        if (v === 5) assert.equal(sub.connack!.properties?.maximumQoS, 1, 'CONNACK announces Maximum QoS 1 [MQTT-3.2.2-9]')
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('mq/a', 'x', { qos: 1 })
        assertPublish(await sub.waitFor('publish'), { topic: 'mq/a', payload: 'x', qos: 1 })
      })

      it(`${spec(v, null, ['3.2.2-9'])} with maximumQoS 0 every request is granted QoS 0`, async function () {
        const b = await h.broker({ maximumQoS: 0 })
        const sub = await b.connect({ protocolVersion: v })
        assert.deepEqual(await sub.subscribe([{ topic: 'z/a', qos: 2 }, { topic: 'z/b', qos: 1 }]), [0, 0])
        if (v === 5) assert.equal(sub.connack!.properties?.maximumQoS, 0)
      })

      describe('wildcard matching', function () {
        const table: Array<[string, string[], string[]]> = [
          ['sport/tennis/player1/#', ['sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player1/score/wimbledon'], ['sport/tennis/player2', 'sport/tennis']],
          ['sport/#', ['sport', 'sport/', 'sport/a/b/c'], ['sports', 'xsport/a']],
          ['#', ['a', '/a', 'a/b/c', '/'], []],
          ['sport/tennis/+', ['sport/tennis/player1', 'sport/tennis/'], ['sport/tennis/player1/ranking', 'sport/tennis']],
          ['sport/+', ['sport/', 'sport/x'], ['sport', 'sport/x/y']],
          ['+/+', ['/finance', 'a/b', '/'], ['a', 'a/b/c']],
          ['/+', ['/finance', '/'], ['finance', 'a/b']],
          ['+', ['finance', 'x'], ['/finance', 'a/b']],
          ['a/+/c', ['a/b/c', 'a//c'], ['a/c', 'a/b/d', 'a/b/c/d']],
          ['+/b/#', ['a/b', 'x/b/c/d', '/b'], ['b', 'a/c/b']],
        ]
        for (const [filter, yes, no] of table) {
          it(`${spec(v, ['4.7.1-2', '4.7.1-3', '3.3.2-3'], ['4.7.1-2', '4.7.1-3', '3.3.2-3'])} '${filter}' matches ${yes.map(t => `'${t}'`).join(' ')} and not ${no.map(t => `'${t}'`).join(' ') || 'nothing'}`, async function () {
            const b = await h.broker()
            const sub = await b.connect({ protocolVersion: v })
            await sub.subscribe([{ topic: filter, qos: 0 }, { topic: 'zz-marker', qos: 0 }])
            const pub = await b.connect({ protocolVersion: v })
            assert.deepEqual(await reachable(pub, sub, [...yes, ...no]), [...yes].sort())
          })
        }
      })

      it(`${spec(v, ['4.7.2-1'], ['4.7.2-1'])} filters starting with a wildcard do not match topics starting with $; '$SYS/#' and '$x/+' do`, async function () {
        const b = await h.broker({ sysInterval: 0 }) // no $SYS tree of the broker's own in the way
        const wild = await b.connect({ protocolVersion: v })
        await wild.subscribe([{ topic: '#', qos: 0 }, { topic: '+/info', qos: 0 }, { topic: '+/+', qos: 0 }])
        const sys = await b.connect({ protocolVersion: v })
        await sys.subscribe([{ topic: '$SYS/#', qos: 0 }, { topic: '$x/+', qos: 0 }])
        await b.broker.publish({ topic: '$SYS/info', payload: Buffer.from('s'), qos: 0, retain: false })
        await b.broker.publish({ topic: '$x/info', payload: Buffer.from('x'), qos: 0, retain: false })
        const got = (await sys.publishes(2)).sort((a, b) => a.topic < b.topic ? -1 : 1)
        assertPublishes(got, [{ topic: '$SYS/info', payload: 's' }, { topic: '$x/info', payload: 'x' }])
        await wild.expectNothing(150, 'publish')
      })

      it(`${spec(v, ['4.7.3-4'], ['4.7.3-4'])} filters are not normalised: 'A/b' does not match 'a/b', 'a/b/' does not match 'a/b'`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe([{ topic: 'A/b', qos: 0 }, { topic: 'a/b/', qos: 0 }, { topic: 'zz-marker', qos: 0 }])
        const pub = await b.connect({ protocolVersion: v })
        assert.deepEqual(await reachable(pub, sub, ['a/b', 'A/b', 'a/b/']), ['A/b', 'a/b/'])
      })

      describe('invalid topic filters', function () {
        const bad: Array<[string, string, string[], string[]]> = [
          ['a/#/b', '# not last', ['4.7.1-2'], ['4.7.1-2']],
          ['a#', '# not a whole level', ['4.7.1-2'], ['4.7.1-2']],
          ['a/b#', '# not after a separator', ['4.7.1-2'], ['4.7.1-2']],
          ['a/b+', '+ not a whole level', ['4.7.1-3'], ['4.7.1-3']],
          ['+a/b', '+ not a whole level', ['4.7.1-3'], ['4.7.1-3']],
          ['', 'empty', ['4.7.3-1'], ['4.7.3-1']],
          ['a\u0000b', 'with U+0000', ['4.7.3-2', '1.5.3-2'], ['4.7.3-2', '1.5.4-2']],
        ]
        for (const [filter, what, r4, r5] of bad) {
          it(`${spec(v, r4, r5)} the filter ${JSON.stringify(filter)} (${what}) is refused (failure code ${v === 5 ? '0x8F/0x80' : '0x80'} or connection closed) and never matches`, async function () {
            const b = await h.broker()
            const c = await b.connect({ protocolVersion: v })
            const messageId = c.packetId()
            c.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos: 1 }, { topic: 'ok/topic', qos: 1 }] })
            const first = await c.waitFor('suback').catch(() => null)
            if (first) {
              const g = first.granted as number[]
              assert.equal(g.length, 2)
              assert.ok(g[0] >= 0x80, `the invalid filter got ${g[0]}`)
              if (v === 4) assert.equal(g[0], 0x80, 'the only 3.1.1 failure code [MQTT-3.9.3-2]')
              else assert.ok([0x80, 0x8f].includes(g[0]))
              assert.equal(g[1], 1, 'a valid filter in the same SUBSCRIBE is granted [MQTT-3.8.4-4]')
            } else {
              await c.expectErrorClose([0x81, 0x82, 0x8f])
            }
            await assertServing(b, v)
          })
        }
      })

      it(`${spec(v, ['3.3.5-1'], ['3.3.4-2'])} overlapping subscriptions: one copy, at the highest granted QoS of the matches`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        if (v === 4) deviates('mosquitto', '[MQTT-3.3.5-1] to a 3.1.1 client with overlapping subscriptions (QoS 0, 2 and 1) Mosquitto 2.0.11 sends a single copy at QoS 1, not at the highest granted QoS 2')
        await sub.subscribe([{ topic: 'ov/+', qos: 0 }, { topic: 'ov/#', qos: 2 }, { topic: 'ov/a', qos: 1 }])
        sub.autoAck = true
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('ov/a', 'x', { qos: 2 })
        const copy = (qos: QoS): ExpectedPublish => ({ topic: 'ov/a', payload: 'x', qos })
        await assertOverlapDelivery(sub, copy(2), [copy(0), copy(2), copy(1)])
      })

      it(`${spec(v, ['3.3.5-1', '3.8.4-6'], ['3.3.4-2', '3.8.4-8'])} overlapping subscriptions: the single copy is still capped by the published QoS`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe([{ topic: 'ov2/+', qos: 2 }, { topic: 'ov2/#', qos: 1 }])
        sub.autoAck = true
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('ov2/a', 'x', { qos: 1 })
        const copy: ExpectedPublish = { topic: 'ov2/a', payload: 'x', qos: 1 }
        await assertOverlapDelivery(sub, copy, [copy, copy])
      })

      it(`${spec(v, ['3.8.4-3'], ['3.8.4-3'])} a SUBSCRIBE with an identical filter replaces the subscription: one copy, at the new QoS`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        assert.deepEqual(await sub.subscribe('rep/a', 0), [0])
        assert.deepEqual(await sub.subscribe('rep/a', 2), [2])
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('rep/a', 'x', { qos: 2 })
        const m = await sub.waitFor('publish')
        assertPublish(m, { topic: 'rep/a', payload: 'x', qos: 2 })
        await sub.ack(m)
        await sub.expectNothing(200, 'publish')
        assert.deepEqual(await sub.subscribe('rep/a', 0), [0])
        await pub.publish('rep/a', 'y', { qos: 2 })
        assertPublish(await sub.waitFor('publish'), { topic: 'rep/a', payload: 'y', qos: 0 }, 'downgrading replaces too')
      })

      it(`${spec(v, ['3.8.4-3'], ['3.8.4-3', '3.8.4-4'])} re-subscribing re-sends matching retained messages and loses no live message`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('rs/a', 'kept', { qos: 1, retain: true })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('rs/#', 1)
        const r1 = await sub.waitFor('publish')
        assertPublish(r1, { topic: 'rs/a', payload: 'kept', qos: 1, retain: true })
        await sub.ack(r1)
        await sub.subscribe('rs/#', 1)
        const r2 = await sub.waitFor('publish')
        assertPublish(r2, { topic: 'rs/a', payload: 'kept', qos: 1, retain: true })
        await sub.ack(r2)
        await pub.publish('rs/b', 'live', { qos: 1 })
        assertPublish(await sub.waitFor('publish'), { topic: 'rs/b', payload: 'live', qos: 1, retain: false })
      })

      it(`${spec(v, ['3.10.4-1', '3.10.4-4'], ['3.10.4-1', '3.10.4-2', '3.10.4-4', '3.10.4-5'])} UNSUBSCRIBE removes the subscription; UNSUBACK carries its packet identifier`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('un/a', 1)
        sub.send({ cmd: 'unsubscribe', messageId: 555, unsubscriptions: ['un/a'] })
        const ack = await sub.next('unsuback')
        assert.equal(ack.messageId, 555)
        if (v === 5) assert.deepEqual(ack.granted, [0x00], 'Success [MQTT-3.11.3-2]')
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('un/a', 'x', { qos: 1 })
        await sub.expectNothing(200, 'publish')
      })

      it(`${spec(v, ['3.10.4-5'], ['3.10.4-5', '3.11.3-2'])} UNSUBSCRIBE of a filter with no subscription still gets UNSUBACK${v === 5 ? ' with 0x11' : ''}`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        const codes = await c.unsubscribe('never/subscribed')
        if (v === 5) assert.deepEqual(codes, [0x11])
      })

      it(`${spec(v, ['3.10.4-6'], ['3.10.4-6', '3.11.3-1'])} a multi-filter UNSUBSCRIBE is handled as a sequence with one UNSUBACK${v === 5 ? ', codes in order' : ''}`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe([{ topic: 'mu/a', qos: 0 }, { topic: 'mu/c', qos: 0 }])
        const codes = await sub.unsubscribe(['mu/a', 'mu/b', 'mu/c'])
        if (v === 5) assert.deepEqual(codes, [0x00, 0x11, 0x00])
        await sub.expectNothing(100, 'unsuback')
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('mu/a', 'x', { qos: 1 })
        await pub.publish('mu/c', 'x', { qos: 1 })
        await sub.expectNothing(150, 'publish')
      })

      it(`${spec(v, ['3.10.4-1'], ['3.10.4-1'])} unsubscribe compares filters character by character: 'uc/+' does not remove 'uc/a'`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('uc/a', 0)
        const codes = await sub.unsubscribe('uc/+')
        if (v === 5) assert.deepEqual(codes, [0x11])
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('uc/a', 'x', { qos: 1 })
        assertPublish(await sub.waitFor('publish'), { topic: 'uc/a', payload: 'x', qos: 0 })
      })

      it(`${spec(v, ['3.10.4-3'], ['3.10.4-3'])} a QoS 1 message already sent is still completed after UNSUBSCRIBE`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('inf/a', 2)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('inf/a', 'x', { qos: 2 })
        const m = await sub.waitFor('publish')
        assertPublish(m, { topic: 'inf/a', payload: 'x', qos: 2 })
        await sub.unsubscribe('inf/a')
        sub.send({ cmd: 'pubrec', messageId: m.messageId })
        const rel = await sub.waitFor('pubrel')
        assert.equal(rel.messageId, m.messageId)
        sub.send({ cmd: 'pubcomp', messageId: m.messageId })
      })

      it('subscriptions are per client: one client unsubscribing does not affect another', async function () {
        const b = await h.broker()
        const s1 = await b.connect({ protocolVersion: v })
        const s2 = await b.connect({ protocolVersion: v })
        await s1.subscribe('per/a', 0)
        await s2.subscribe('per/a', 0)
        await s1.unsubscribe('per/a')
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('per/a', 'x', { qos: 1 })
        assertPublish(await s2.waitFor('publish'), { topic: 'per/a', payload: 'x' })
        await s1.expectNothing(100, 'publish')
      })

      it('a subscription made while messages flow starts receiving at once (no restart needed)', async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        const sub = await b.connect({ protocolVersion: v })
        await pub.publish('flow/a', 'before', { qos: 1 })
        await sub.subscribe('flow/a', 1)
        await sleep(10)
        await pub.publish('flow/a', 'after', { qos: 1 })
        assertPublish(await sub.waitFor('publish'), { topic: 'flow/a', payload: 'after', qos: 1 })
      })
    })
  }

  describe('MQTT 5 subscription options and identifiers', function () {
    it('[MQTT-3.3.4-3] a message matching a subscription with an identifier carries that Subscription Identifier', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe('sid/#', 1, { subscriptionIdentifier: 7 })
      await sub.subscribe('other/#', 1)
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('sid/a', 'x', { qos: 1 })
      const m = await sub.waitFor('publish')
      assertPublish(m, { topic: 'sid/a', payload: 'x', qos: 1, properties: { subscriptionIdentifier: 7 } })
      await sub.ack(m)
      await pub.publish('other/a', 'x', { qos: 1 })
      assertPublish(await sub.waitFor('publish'), { topic: 'other/a', payload: 'x', qos: 1 }, 'no identifier for a subscription that had none')
    })

    it('[MQTT-3.3.4-2][MQTT-3.3.4-3][MQTT-3.3.4-4] overlapping subscriptions: one copy carrying every matching Subscription Identifier', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe('ovl/+', 0, { subscriptionIdentifier: 1 })
      await sub.subscribe('ovl/#', 2, { subscriptionIdentifier: 268435455 })
      await sub.subscribe('ovl/a', 1)
      sub.autoAck = true
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('ovl/a', 'x', { qos: 2 })
      // One copy with every identifier, or one copy per subscription with its own [MQTT-3.3.4-5].
      await assertOverlapDelivery(sub, { topic: 'ovl/a', payload: 'x', qos: 2, properties: { subscriptionIdentifier: [1, 268435455] } }, [
        { topic: 'ovl/a', payload: 'x', qos: 0, properties: { subscriptionIdentifier: 1 } },
        { topic: 'ovl/a', payload: 'x', qos: 2, properties: { subscriptionIdentifier: 268435455 } },
        { topic: 'ovl/a', payload: 'x', qos: 1 },
      ])
    })

    it('[MQTT-3.8.4-3] replacing a subscription replaces its Subscription Identifier', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe('rid/a', 0, { subscriptionIdentifier: 3 })
      await sub.subscribe('rid/a', 0, { subscriptionIdentifier: 4 })
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('rid/a', 'x')
      assertPublish(await sub.waitFor('publish'), { topic: 'rid/a', payload: 'x', properties: { subscriptionIdentifier: 4 } })
    })

    it('[MQTT-3.8.3-3] No Local: the subscriber does not get its own messages, other clients\' messages still arrive', async function () {
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: 5 })
      await c.subscribe([{ topic: 'nl/#', qos: 1, nl: true }])
      await c.publish('nl/a', 'mine', { qos: 1 })
      await c.expectNothing(150, 'publish')
      const other = await b.connect({ protocolVersion: 5 })
      await other.publish('nl/a', 'theirs', { qos: 1 })
      assertPublish(await c.waitFor('publish'), { topic: 'nl/a', payload: 'theirs', qos: 1 })
    })

    it('[MQTT-3.8.3-3] No Local on one subscription does not stop delivery through another overlapping one without it', async function () {
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: 5 })
      await c.subscribe([{ topic: 'nl2/#', qos: 1, nl: true }, { topic: 'nl2/a', qos: 0 }])
      await c.publish('nl2/a', 'mine', { qos: 1 })
      assertPublish(await c.waitFor('publish'), { topic: 'nl2/a', payload: 'mine', qos: 0 })
    })

    it('[MQTT-3.9.3-2] SUBACK reason codes are the granted QoS values 0x00, 0x01, 0x02', async function () {
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: 5 })
      assert.deepEqual(await c.subscribe([{ topic: 'r/0', qos: 0 }, { topic: 'r/1', qos: 1 }, { topic: 'r/2', qos: 2 }]), [0, 1, 2])
    })

    it('[MQTT-3.2.2-9][MQTT-3.2.2-10] maximumQoS 0 still accepts SUBSCRIBE requests for QoS 1 and 2 (granting 0)', async function () {
      const b = await h.broker({ maximumQoS: 0 })
      const c = await b.connect({ protocolVersion: 5 })
      const g = await c.subscribe([{ topic: 'a', qos: 2 }, { topic: 'b', qos: 1 }])
      assert.deepEqual(g, [0, 0])
    })

    it('(MQTT 5 §3.2.2.3.4) a PUBLISH above the announced Maximum QoS is answered with DISCONNECT 0x9B', async function () {
      const b = await h.broker({ maximumQoS: 1 })
      const c = await b.connect({ protocolVersion: 5 })
      assert.equal(c.connack!.properties?.maximumQoS, 1)
      c.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 2, messageId: 1, retain: false, dup: false })
      const d = await c.expectClosed()
      assert.equal(d?.reasonCode, 0x9b)
    })
  })
})
