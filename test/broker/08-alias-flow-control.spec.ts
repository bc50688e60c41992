import assert from 'node:assert/strict'
import type { IPublishPacket } from 'mqtt-packet'
import { BROKER_TARGET, VERSIONS, assertPublish, assertPublishes, assertServing, hex, sleep, spec, uniqueId, deviates, hearthOnly, useHarness } from '../helpers'

type Raw = IPublishPacket & { rawTopic?: string, rawLength?: number }

describe('08 topic aliases, flow control, maximum packet size', function () {
  const h = useHarness()

  describe('inbound topic aliases (client -> broker)', function () {
    it('[MQTT-3.3.2-12] an alias set with a topic can then be used with an empty topic; remapping an alias is honoured', async function () {
      const b = await h.broker({ topicAliasMaximum: 10 })
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe('al/#', 0)
      const pub = await b.connect({ protocolVersion: 5 })
      assert.equal(pub.connack!.properties?.topicAliasMaximum, 10)
      await pub.publish('al/one', '1', { qos: 1, properties: { topicAlias: 1 } })
      await pub.publish('', '2', { qos: 1, properties: { topicAlias: 1 } })
      await pub.publish('al/two', '3', { qos: 1, properties: { topicAlias: 1 } })
      await pub.publish('', '4', { qos: 1, properties: { topicAlias: 1 } })
      assertPublishes(await sub.publishes(4), [['al/one', '1'], ['al/one', '2'], ['al/two', '3'], ['al/two', '4']].map(([topic, payload]) => ({ topic, payload })))
    })

    it('[MQTT-3.3.2-8] Topic Alias 0 is a protocol error: DISCONNECT 0x94, not delivered', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe('al0/#', 0)
      const pub = await b.connect({ protocolVersion: 5 })
      pub.send({ cmd: 'publish', topic: 'al0/a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 0 } })
      const d = await pub.expectClosed()
      if (d?.reasonCode !== 0x94) deviates('mosquitto', '[MQTT-3.3.2-8] (MQTT 5 3.3.2.3.4) Mosquitto 2.0.11 answers Topic Alias 0 with DISCONNECT 0x81 Malformed Packet instead of 0x94 Topic Alias invalid')
      assert.equal(d?.reasonCode, 0x94, `DISCONNECT ${hex(d?.reasonCode)}`)
      await sub.expectNothing(100, 'publish')
    })

    it('[MQTT-3.3.2-9][MQTT-3.2.2-17] an alias above the announced Topic Alias Maximum gets DISCONNECT 0x94', async function () {
      const b = await h.broker({ topicAliasMaximum: 5 })
      const pub = await b.connect({ protocolVersion: 5 })
      assert.equal(pub.connack!.properties?.topicAliasMaximum, 5)
      pub.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 6 } })
      const d = await pub.expectClosed()
      assert.equal(d?.reasonCode, 0x94)
      await assertServing(b, 5)
    })

    it('[MQTT-3.2.2-18] with topicAliasMaximum 0 the broker announces none (absent or 0) and any alias gets DISCONNECT 0x94', async function () {
      const b = await h.broker({ topicAliasMaximum: 0 })
      const pub = await b.connect({ protocolVersion: 5 })
      assert.ok(!pub.connack!.properties?.topicAliasMaximum)
      pub.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 1 } })
      assert.equal((await pub.expectClosed())?.reasonCode, 0x94)
    })

    it('(MQTT 5 §3.3.2.3.4) an empty topic with an alias that has no mapping is a protocol error (DISCONNECT 0x82 or 0x94)', async function () {
      const b = await h.broker()
      const pub = await b.connect({ protocolVersion: 5 })
      pub.send({ cmd: 'publish', topic: '', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false, properties: { topicAlias: 3 } })
      await pub.expectErrorClose([0x82, 0x94])
      assert.ok(pub.received.every(p => p.cmd !== 'puback'), 'not acknowledged as a message')
    })

    it('[MQTT-3.3.2-7] alias mappings do not carry over to a new connection, even of the same session', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const props = { sessionExpiryInterval: 60 }
      const c1 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
      await c1.publish('carry/a', 'x', { qos: 1, properties: { topicAlias: 2 } })
      c1.disconnect()
      await c1.closed
      const c2 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
      c2.send({ cmd: 'publish', topic: '', payload: Buffer.from('x'), qos: 1, messageId: 2, retain: false, dup: false, properties: { topicAlias: 2 } })
      await c2.expectErrorClose([0x82, 0x94])
    })
  })

  describe('outbound topic aliases (broker -> client)', function () {
    it('[MQTT-3.3.2-11][MQTT-3.1.2-26][MQTT-3.3.2-8] aliases sent to a client stay within 1..its Topic Alias Maximum and always resolve to the right topic', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5, properties: { topicAliasMaximum: 2 } })
      await sub.subscribe('oa/#', 0)
      const pub = await b.connect({ protocolVersion: 5 })
      const topics = ['oa/a', 'oa/b', 'oa/a', 'oa/c', 'oa/a', 'oa/b', 'oa/c', 'oa/c']
      for (const [i, t] of topics.entries()) await pub.publish(t, String(i), { qos: 1 })
      const got = await sub.publishes(topics.length) as Raw[]
      assert.deepEqual(got.map(m => m.topic), topics, 'every message resolves to its own topic')
      for (const [i, m] of got.entries()) {
        const alias = m.properties?.topicAlias
        if (alias !== undefined) assert.ok(alias >= 1 && alias <= 2, `alias ${alias}`)
        if (m.rawTopic === '') assert.ok(alias !== undefined, 'an empty topic always comes with an alias')
        // The alias numbers are the broker's choice; everything else is fixed.
        assertPublish(m, { topic: topics[i], payload: String(i), properties: alias === undefined ? {} : { topicAlias: alias }, wireTopic: m.rawTopic === '' ? '' : topics[i] })
      }
    })

    it('[MQTT-3.1.2-27] a client that announces no Topic Alias Maximum never receives an alias', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe('na/#', 0)
      const pub = await b.connect({ protocolVersion: 5 })
      for (let i = 0; i < 5; i++) await pub.publish('na/same', String(i), { qos: 1 })
      assertPublishes(await sub.publishes(5), [0, 1, 2, 3, 4].map(i => ({ topic: 'na/same', payload: String(i), wireTopic: 'na/same' })))
    })

    it('[MQTT-3.3.2-7] outbound aliases are not carried to the next connection: the first message of a new connection names its topic', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const props = { sessionExpiryInterval: 60, topicAliasMaximum: 5 }
      const s1 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
      await s1.subscribe('oc/#', 0)
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('oc/x', '1', { qos: 1 })
      await pub.publish('oc/x', '2', { qos: 1 })
      const before = await s1.publishes(2)
      const alias = before[0].properties?.topicAlias
      // Sending aliases is the broker's choice (Hearth does, Mosquitto 2.0.11 does not).
      if (BROKER_TARGET === 'hearth' || alias !== undefined) {
        assertPublishes(before, [
          { topic: 'oc/x', payload: '1', properties: { topicAlias: alias ?? 0 } },
          { topic: 'oc/x', payload: '2', properties: { topicAlias: alias ?? 0 }, wireTopic: '' },
        ], 'the first connection uses an alias for the repeated topic')
      } else {
        assertPublishes(before, [{ topic: 'oc/x', payload: '1' }, { topic: 'oc/x', payload: '2' }])
      }
      s1.disconnect()
      await s1.closed
      const s2 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
      await pub.publish('oc/x', '3', { qos: 1 })
      const m = await s2.waitFor('publish') as Raw
      const alias2 = m.properties?.topicAlias
      assertPublish(m, { topic: 'oc/x', payload: '3', properties: alias2 === undefined ? {} : { topicAlias: alias2 }, wireTopic: 'oc/x' }, 'the topic name is sent again on a new connection')
    })
  })

  describe('Receive Maximum', function () {
    it('[MQTT-3.3.4-9] the broker never has more unacknowledged QoS 1/2 PUBLISHes in flight than the client\'s Receive Maximum; the rest follow in order as acks arrive', async function () {
      deviates('mosquitto', '[MQTT-3.3.4-9] Mosquitto 2.0.11 has a third QoS 1/2 PUBLISH unacknowledged towards a client whose Receive Maximum is 2 (it frees the slot of a QoS 2 message before PUBCOMP)')
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5, properties: { receiveMaximum: 2 } })
      await sub.subscribe('rm/#', 2)
      const pub = await b.connect({ protocolVersion: 5 })
      for (let i = 0; i < 6; i++) await pub.publish('rm/a', String(i), { qos: (1 + (i % 2)) as 1 | 2 })
      const first = await sub.publishes(2)
      await sub.expectNothing(200, 'publish')
      const seen = [...first]
      let inflight = [...first]
      while (seen.length < 6) {
        const done = inflight.shift()!
        if (done.qos === 1) sub.send({ cmd: 'puback', messageId: done.messageId })
        else {
          sub.send({ cmd: 'pubrec', messageId: done.messageId })
          await sub.waitFor('pubrel', r => r.messageId === done.messageId)
          await sub.expectNothing(100, 'publish')
          sub.send({ cmd: 'pubcomp', messageId: done.messageId })
        }
        const [next] = await sub.publishes(1)
        seen.push(next)
        inflight.push(next)
        await sub.expectNothing(50, 'publish')
      }
      inflight = []
      assertPublishes(seen, [0, 1, 2, 3, 4, 5].map(i => ({ topic: 'rm/a', payload: String(i), qos: (1 + (i % 2)) as 1 | 2 })))
    })

    it('[MQTT-3.3.4-10] flow control does not hold back other packets: PINGRESP and SUBACK still arrive while the window is full', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5, properties: { receiveMaximum: 1 } })
      await sub.subscribe('rmx/#', 1)
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('rmx/a', '1', { qos: 1 })
      await pub.publish('rmx/a', '2', { qos: 1 })
      assertPublish(await sub.waitFor('publish'), { topic: 'rmx/a', payload: '1', qos: 1 })
      sub.send({ cmd: 'pingreq' })
      await sub.waitFor('pingresp')
      assert.deepEqual(await sub.subscribe('other', 0), [0])
    })

    it('(MQTT 5 §4.9) QoS 0 messages are not counted against Receive Maximum', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5, properties: { receiveMaximum: 1 } })
      await sub.subscribe('rm0/#', 1)
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('rm0/a', 'held', { qos: 1 })
      assertPublish(await sub.waitFor('publish'), { topic: 'rm0/a', payload: 'held', qos: 1 })
      await pub.publish('rm0/b', 'zero', { qos: 0 })
      assertPublish(await sub.waitFor('publish'), { topic: 'rm0/b', payload: 'zero', qos: 0 })
    })

    it('(MQTT 5 §3.3.4, §4.9) a client exceeding the broker\'s Receive Maximum with unreleased QoS 2 PUBLISHes gets DISCONNECT 0x93', async function () {
      const b = await h.broker({ receiveMaximum: 2 })
      const pub = await b.connect({ protocolVersion: 5 })
      assert.equal(pub.connack!.properties?.receiveMaximum, 2)
      for (let id = 1; id <= 3; id++) {
        pub.send({ cmd: 'publish', topic: 'rmin/a', payload: Buffer.from('x'), qos: 2, messageId: id, retain: false, dup: false })
      }
      const d = await pub.expectClosed()
      assert.equal(d?.reasonCode, 0x93, `DISCONNECT ${hex(d?.reasonCode)}`)
    })

    it('(MQTT 5 §4.9) QoS 2 PUBLISHes within the broker\'s Receive Maximum are fine, and completed ones free their slot', async function () {
      const b = await h.broker({ receiveMaximum: 2 })
      const pub = await b.connect({ protocolVersion: 5 })
      for (let i = 0; i < 6; i++) await pub.publish('rmok/a', String(i), { qos: 2 })
      assert.equal(pub.isClosed, false)
    })

    it('maxInflight bounds unacknowledged outbound messages for 3.1.1 clients too, without losing any', async function () {
      const b = await h.broker({ maxInflight: 3 })
      const sub = await b.connect({ protocolVersion: 4 })
      await sub.subscribe('mi/#', 1)
      const pub = await b.connect({ protocolVersion: 4 })
      for (let i = 0; i < 8; i++) await pub.publish('mi/a', String(i), { qos: 1 })
      const first = await sub.publishes(3)
      await sub.expectNothing(200, 'publish')
      sub.autoAck = true
      for (const m of first) sub.send({ cmd: 'puback', messageId: m.messageId })
      const rest = await sub.publishes(5)
      assertPublishes([...first, ...rest], [0, 1, 2, 3, 4, 5, 6, 7].map(i => ({ topic: 'mi/a', payload: String(i), qos: 1 })))
    })
  })

  describe('Maximum Packet Size', function () {
    it('[MQTT-3.1.2-24][MQTT-3.1.2-25] a message larger than the client\'s Maximum Packet Size is not sent; the client is not disconnected and later messages flow', async function () {
      const b = await h.broker()
      const drops: string[] = []
      b.broker.on('messageDropped', d => drops.push(d.reason))
      const sub = await b.connect({ protocolVersion: 5, properties: { maximumPacketSize: 200 } })
      await sub.subscribe('mps/#', 1)
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('mps/a', Buffer.alloc(500, 1), { qos: 1 })
      await pub.publish('mps/b', 'small', { qos: 1 })
      const m = await sub.waitFor('publish') as Raw
      assertPublish(m, { topic: 'mps/b', payload: 'small', qos: 1 })
      await sub.ack(m)
      await sub.expectNothing(150, 'publish')
      assert.equal(sub.isClosed, false)
      assert.ok(sub.received.every(p => ((p as Raw).rawLength ?? 0) <= 200), 'no packet above 200 bytes was sent')
      assert.ok(drops.includes('packet-too-large'))
    })

    it('[MQTT-3.1.2-24] the limit counts the whole packet: a message that fits only without its properties is not sent', async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5, properties: { maximumPacketSize: 100 } })
      await sub.subscribe('mpp/#', 0)
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('mpp/a', Buffer.alloc(60, 1), { qos: 1, properties: { userProperties: { k: 'v'.repeat(60) } } })
      await pub.publish('mpp/b', 'ok', { qos: 1 })
      assertPublish(await sub.waitFor('publish'), { topic: 'mpp/b', payload: 'ok' })
      assert.ok(sub.received.every(p => ((p as Raw).rawLength ?? 0) <= 100))
    })

    it('[MQTT-3.1.2-24][MQTT-3.1.2-25] an oversized retained message is not sent on subscribe, smaller ones are', async function () {
      const b = await h.broker()
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('mpr/big', Buffer.alloc(400, 2), { qos: 1, retain: true })
      await pub.publish('mpr/small', 's', { qos: 1, retain: true })
      const sub = await b.connect({ protocolVersion: 5, properties: { maximumPacketSize: 128 } })
      await sub.subscribe('mpr/#', 1)
      const m = await sub.waitFor('publish')
      assertPublish(m, { topic: 'mpr/small', payload: 's', qos: 1, retain: true })
      await sub.ack(m)
      await sub.expectNothing(150, 'publish')
    })

    it('[MQTT-3.1.2-25] an oversized QoS 1 message for an offline session is discarded as if sent: it never blocks the queue', async function () {
      const b = await h.broker()
      const id = uniqueId()
      const props = { sessionExpiryInterval: 60, maximumPacketSize: 128 }
      const s1 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
      await s1.subscribe('mpo/#', 1)
      s1.disconnect()
      await s1.closed
      const pub = await b.connect({ protocolVersion: 5 })
      await pub.publish('mpo/a', Buffer.alloc(300), { qos: 1 })
      await pub.publish('mpo/b', 'fits', { qos: 1 })
      const s2 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
      assertPublish(await s2.waitFor('publish'), { topic: 'mpo/b', payload: 'fits', qos: 1 })
    })

    it('[MQTT-3.1.2-24][MQTT-3.14.2-3][MQTT-3.14.2-4][MQTT-3.4.2-2] with a tiny Maximum Packet Size, acks and the error DISCONNECT are still sent, without Reason String or User Properties that would not fit', async function () {
      hearthOnly('needs a refusing PUBACK, which Hearth sends for a payload marked UTF-8 that is not (optional validation, MQTT 5 3.3.2.3.2)')
      const b = await h.broker()
      const max = 24
      const c = await b.connect({ protocolVersion: 5, properties: { maximumPacketSize: max } })
      c.send({ cmd: 'publish', topic: 'a', payload: Buffer.from([0xff, 0xfe]), qos: 1, messageId: 1, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
      const ack = await c.next()
      assert.ok(ack.cmd === 'puback' || ack.cmd === 'disconnect', `got ${ack.cmd}`)
      if (ack.cmd === 'puback') {
        assert.equal(ack.reasonCode, 0x99)
        c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'again', clean: true, keepalive: 0 })
        const d = await c.expectClosed()
        assert.ok(d, 'the protocol error is reported with a DISCONNECT that fits')
        assert.equal(d.reasonCode, 0x82)
      }
      for (const p of c.received) assert.ok(((p as Raw).rawLength ?? 0) <= max, `${p.cmd} of ${(p as Raw).rawLength} bytes exceeds ${max}`)
    })

    for (const v of VERSIONS) {
      it(`${spec(v, null, ['3.2.2-15'], '§3.2.2.3.6 / §4.13')} a packet larger than the broker's maxPacketSize closes the connection${v === 5 ? ' with DISCONNECT 0x95' : ''}; nothing is delivered`, async function () {
        const b = await h.broker({ maxPacketSize: 1024 })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('big/#', 0)
        const pub = await b.connect({ protocolVersion: v })
        if (v === 5) assert.equal(pub.connack!.properties?.maximumPacketSize, 1024)
        pub.send({ cmd: 'publish', topic: 'big/a', payload: Buffer.alloc(2000), qos: 1, messageId: 1, retain: false, dup: false })
        const d = await pub.expectClosed()
        if (v === 5) assert.equal(d?.reasonCode, 0x95, `DISCONNECT ${hex(d?.reasonCode)}`)
        await sub.expectNothing(100, 'publish')
        await assertServing(b, v)
      })

      it(`${spec(v, null, null, '§4.13')} a packet exactly at the broker's maxPacketSize is accepted`, async function () {
        const b = await h.broker({ maxPacketSize: 1024 })
        const pub = await b.connect({ protocolVersion: v })
        const probe = pub.encode({ cmd: 'publish', topic: 'edge', payload: Buffer.alloc(0), qos: 1, messageId: 1, retain: false, dup: false })
        // Fill the payload so the whole packet (with a 2-byte remaining length) is exactly 1024 bytes.
        const payload = Buffer.alloc(1024 - probe.length - 1)
        const pkt = pub.encode({ cmd: 'publish', topic: 'edge', payload, qos: 1, messageId: 1, retain: false, dup: false })
        assert.equal(pkt.length, 1024)
        pub.sendRaw(pkt)
        const ack = await pub.next('puback')
        assert.equal(ack.messageId, 1)
      })
    }

    it('the broker\'s limit is enforced before the whole packet is buffered: a huge declared length closes at once', async function () {
      const b = await h.broker({ maxPacketSize: 1024 })
      const pub = await b.connect({ protocolVersion: 5 })
      // Fixed header announcing 200 MB, then only a few bytes.
      pub.sendRaw(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x60, 0x00, 0x01, 0x61]))
      const d = await pub.expectClosed()
      assert.equal(d?.reasonCode, 0x95)
      await sleep(10)
    })
  })
})
