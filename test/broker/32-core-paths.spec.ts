// Paths of the core that no other spec drove (found by mutation testing, docs/mutation.md): a
// publish made while a message is being routed, overlapping subscriptions where a later match
// asks for Retain As Published, PUBREC for an unknown packet identifier, UNSUBSCRIBE with packet
// identifier 0, a QoS 0 PUBLISH whose payload is not the UTF-8 it claims, and user properties
// whose wire order an object cannot hold, delivered through every encoding path.
import assert from 'node:assert/strict'
import type { DeliveredMessage } from '../../src/broker/types'
import { VERSIONS, assertPublish, assertPublishes, bytes, connackCode, connectPacket, hearthOnly, rawBytes, spec, useHarness } from '../helpers'
import { pollUntil } from '../helpers/wait'

const { lstr, packet, prop, props, u16 } = bytes

/** A v5 PUBLISH with user properties in the given wire order (mqtt-packet cannot interleave names). */
function publishWithPairs (topic: string, qos: 0 | 1, messageId: number, pairs: Array<[string, string]>, payload: string): Buffer {
  const up = pairs.map(([k, v]) => prop(0x26, Buffer.concat([lstr(k), lstr(v)])))
  return packet(3, qos << 1, lstr(topic), ...(qos > 0 ? [u16(messageId)] : []), props(...up), Buffer.from(payload))
}

describe('32 core paths', function () {
  const h = useHarness()

  it('[MQTT-4.6.0-6] a message published by an in-process subscriber while it receives one is routed after it, in order', async function () {
    const b = await h.broker()
    const sub = await b.connect({ protocolVersion: 5 })
    await sub.subscribe('r/#', 0)
    const local = await b.local({ protocolVersion: 5 })
    await local.subscribe([{ topic: 'r/a', qos: 0 }])
    const published: Array<Promise<void>> = []
    local.on('message', (m: DeliveredMessage) => {
      if (m.topic === 'r/a') published.push(local.publish({ topic: 'r/b', payload: Buffer.from(`after ${m.payload.toString()}`), qos: 0, retain: false }))
    })
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('r/a', 'one')
    await pub.publish('r/a', 'two')
    assertPublishes(await sub.publishes(4), [
      { topic: 'r/a', payload: 'one' }, { topic: 'r/b', payload: 'after one' },
      { topic: 'r/a', payload: 'two' }, { topic: 'r/b', payload: 'after two' },
    ])
    await Promise.all(published)
    await sub.expectNothing(150, 'publish')
  })

  it('[MQTT-3.3.1-12][MQTT-3.3.4-2] overlapping subscriptions: Retain As Published on any matching one keeps RETAIN on the single copy', async function () {
    hearthOnly('Hearth sends one copy for overlapping subscriptions; Mosquitto 2.0.11 sends one per subscription (both allowed, MQTT 5 3.3.4)')
    const b = await h.broker()
    const sub = await b.connect({ protocolVersion: 5 })
    // the trie visits o/+ before o/#: the second match is the one asking for RAP
    await sub.subscribe([{ topic: 'o/+', qos: 0, rap: false }, { topic: 'o/#', qos: 1, rap: true }])
    const sub2 = await b.connect({ protocolVersion: 5 })
    await sub2.subscribe([{ topic: 'o/+', qos: 1, rap: true }, { topic: 'o/#', qos: 0, rap: false }])
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('o/x', 'kept', { qos: 1, retain: true })
    assertPublish(await sub.waitFor('publish'), { topic: 'o/x', payload: 'kept', qos: 1, retain: true })
    assertPublish(await sub2.waitFor('publish'), { topic: 'o/x', payload: 'kept', qos: 1, retain: true })
    await sub.expectNothing(150, 'publish')
  })

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      it(`${spec(v, null, null, v === 5 ? '§3.6.2.1' : '§4.3.3')} a PUBREC for an unknown packet identifier is answered with PUBREL${v === 5 ? ' 0x92' : ''}; the connection stays`, async function () {
        if (v === 5) hearthOnly('Mosquitto 2.0.11 answers a PUBREC for an unknown packet identifier without reason code 0x92')
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        c.send({ cmd: 'pubrec', messageId: 77 })
        const rel = await c.next('pubrel')
        const expected = v === 5
          ? Buffer.from([0x62, 0x04, 0x00, 0x4d, 0x92, 0x00]) // reason code, empty property block
          : Buffer.from([0x62, 0x02, 0x00, 0x4d])
        assert.deepEqual(rawBytes.get(rel), expected)
        c.send({ cmd: 'pingreq' })
        await c.next('pingresp')
      })

      it(`${spec(v, ['2.3.1-1'], ['2.2.1-3'])} an UNSUBSCRIBE with packet identifier 0 closes the connection`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        await c.subscribe('u/a', 0)
        c.sendRaw(packet(10, 2, u16(0), ...(v === 5 ? [props()] : []), lstr('u/a')))
        await c.expectErrorClose([0x81])
        assert.deepEqual(c.received.filter(p => p.cmd !== 'connack' && p.cmd !== 'suback').map(p => p.cmd), v === 5 ? ['disconnect'] : [])
      })
    })
  }

  it('[MQTT-3.3.2-4] a QoS 0 PUBLISH with Payload Format Indicator 1 and a payload that is not UTF-8 gets DISCONNECT 0x99 and is not delivered', async function () {
    hearthOnly('validating a payload marked UTF-8 (Payload Format Indicator 1) is optional (MAY, MQTT 5 3.3.2.3.2): Hearth does, Mosquitto 2.0.11 does not')
    const b = await h.broker()
    const sub = await b.connect({ protocolVersion: 5 })
    await sub.subscribe('pf/#', 0)
    const pub = await b.connect({ protocolVersion: 5 })
    pub.send({ cmd: 'publish', topic: 'pf/a', payload: Buffer.from([0x68, 0x80]), qos: 0, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
    assert.equal(await pub.expectErrorClose([0x99]), 0x99)
    await sub.expectNothing(150, 'publish')
  })

  it('[MQTT-3.3.2-17][MQTT-3.3.2-18] user properties whose names interleave keep their wire order on every delivery path', async function () {
    const b = await h.broker()
    const pairs: Array<[string, string]> = [['a', '1'], ['b', '2'], ['a', '3'], ['', 'ü']]
    const plain0 = await b.connect({ protocolVersion: 5 })
    await plain0.subscribe('up/#', 0)
    const plain1 = await b.connect({ protocolVersion: 5 })
    await plain1.subscribe('up/#', 1)
    plain1.autoAck = true
    const withId = await b.connect({ protocolVersion: 5 })
    await withId.subscribe('up/#', 1, { subscriptionIdentifier: 12 })
    withId.autoAck = true
    const pub = await b.connect({ protocolVersion: 5 })
    for (const qos of [0, 1] as const) {
      pub.sendRaw(publishWithPairs(`up/q${qos}`, qos, 300 + qos, pairs, `p${qos}`))
      if (qos === 1) assert.equal((await pub.next('puback')).messageId, 301)
      assertPublish(await plain0.waitFor('publish'), { topic: `up/q${qos}`, payload: `p${qos}`, qos: 0, properties: { userProperties: pairs } })
      assertPublish(await plain1.waitFor('publish'), { topic: `up/q${qos}`, payload: `p${qos}`, qos, properties: { userProperties: pairs } })
      assertPublish(await withId.waitFor('publish'), { topic: `up/q${qos}`, payload: `p${qos}`, qos, properties: { userProperties: pairs, subscriptionIdentifier: 12 } })
    }
  })

  it('(MQTT 5 §4.12) an AUTH without any property, or continuing without a method, gets DISCONNECT 0x82 and no warning', async function () {
    const b = await h.broker()
    const warnings: unknown[] = []
    b.broker.on('warning', w => warnings.push(w))
    for (const raw of [Buffer.from([0xf0, 0x00]), packet(15, 0, Buffer.from([0x18]), props())]) {
      const c = await b.connect({ protocolVersion: 5 })
      c.sendRaw(raw)
      assert.equal(await c.expectErrorClose([0x82]), 0x82)
    }
    assert.deepEqual(warnings, [])
  })

  it('[MQTT-4.12.0-1] a CONNECT with Authentication Method and Data (a method Hearth does not offer) gets CONNACK 0x8C', async function () {
    hearthOnly('Hearth answers an unsupported method with 0x8C; the spec also allows 0x87')
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 5, properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: Buffer.from('n,,n=u,r=x') }, allowRefusal: true })
    assert.equal(connackCode(c.connack!), 0x8c)
    await c.expectClosed()
  })

  for (const [name, p] of [['Receive Maximum 0', bytes.prop(0x21, u16(0))], ['Maximum Packet Size 0', bytes.prop(0x27, Buffer.from([0, 0, 0, 0]))]] as const) {
    it(`(MQTT 5 §3.1.2.11) a CONNECT with ${name} gets exactly CONNACK 0x82, then the close`, async function () {
      hearthOnly('sending CONNACK 0x82 before closing on a Protocol Error in CONNECT is a MAY (MQTT 5 4.13.1)')
      const b = await h.broker()
      const c = await b.open({ protocolVersion: 5 })
      c.sendRaw(packet(1, 0, lstr('MQTT'), Buffer.from([5, 0x02]), u16(0), props(p), lstr('x1')))
      await c.expectClosed()
      assert.deepEqual(c.received.map(x => rawBytes.get(x)), [Buffer.from([0x20, 0x03, 0x00, 0x82, 0x00])])
    })
  }

  it('(MQTT 5 §3.1.2.11.3) a CONNACK larger than the client\'s Maximum Packet Size is not sent: the connection closes, no will, no session left', async function () {
    hearthOnly('what a broker does when its CONNACK exceeds the client\'s Maximum Packet Size is not specified; Hearth closes')
    const b = await h.broker()
    const w = await b.connect({ protocolVersion: 5 })
    await w.subscribe('big/#', 0)
    const before = b.broker.stats().sessions
    // an empty client id makes the CONNACK carry an Assigned Client Identifier (over 20 bytes)
    const c = await b.open({ protocolVersion: 5 })
    c.send({ ...connectPacket({ protocolVersion: 5, clientId: '', properties: { maximumPacketSize: 16 } }), will: { topic: 'big/will', payload: Buffer.from('w'), qos: 0, retain: false } })
    await c.expectClosed()
    assert.deepEqual(c.received, [])
    assert.equal(b.broker.stats().sessions, before)
    await w.expectNothing(150, 'publish')
  })

  it('a CONNECT whose connection closes while its authentication is pending leaves nothing behind once the authenticator answers: no session, no will, no events', async function () {
    hearthOnly('uses a pending authenticator, the broker statistics and events')
    let release: (ok: boolean) => void = () => {}
    let asked = false
    const b = await h.broker({ authenticate: { authenticate: r => { if (asked || r.clientId !== 'ghost') return true; asked = true; return new Promise<boolean>(resolve => { release = resolve }) } } })
    const events: string[] = []
    b.broker.on('clientConnected', i => events.push(`connected ${i.clientId}`))
    b.broker.on('clientDisconnected', i => events.push(`disconnected ${i.clientId}`))
    const w = await b.connect({ protocolVersion: 4, clientId: 'watcher' })
    await w.subscribe('ghost/#', 0)
    const c = await b.open({ protocolVersion: 4 })
    c.send({ ...connectPacket({ protocolVersion: 4, clientId: 'ghost', clean: true }), will: { topic: 'ghost/will', payload: Buffer.from('w'), qos: 0, retain: false } })
    await pollUntil(() => asked, 2000, 'the authenticator is asked')
    c.sendRaw(Buffer.from([0x00, 0x00])) // packet type 0 is reserved: the broker closes at once
    await c.expectClosed()
    release(true)
    await new Promise(resolve => setImmediate(resolve))
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual([b.broker.stats().sessions, b.broker.stats().connections], [1, 1], 'only the watcher')
    await w.expectNothing(150, 'publish')
    assert.deepEqual(events, ['connected watcher'])
    const again = await b.connect({ protocolVersion: 4, clientId: 'ghost', clean: false })
    assert.equal(again.connack?.sessionPresent, false)
  })

  // CONNACK properties: only those that differ from the MQTT 5 defaults (MQTT 5 §3.2.2.3)
  const MAX_PACKET = 268435455 + 5
  for (const [options, keepalive, propBytes] of [
    [{ receiveMaximum: 65535, maxPacketSize: MAX_PACKET, topicAliasMaximum: 0 }, 0, []],
    [{ receiveMaximum: 65535 }, 0, [0x27, 0x00, 0x20, 0x00, 0x00, 0x22, 0x00, 0x0a]],
    [{ receiveMaximum: 7, maximumQoS: 1, retainAvailable: false, maxPacketSize: 1000, topicAliasMaximum: 3 }, 0,
      [0x21, 0x00, 0x07, 0x24, 0x01, 0x25, 0x00, 0x27, 0x00, 0x00, 0x03, 0xe8, 0x22, 0x00, 0x03]],
    [{ receiveMaximum: 65535, maxPacketSize: MAX_PACKET, topicAliasMaximum: 0, maxKeepalive: 10 }, 30, [0x13, 0x00, 0x0a]],
    [{ receiveMaximum: 65535, maxPacketSize: MAX_PACKET, topicAliasMaximum: 0, maxKeepalive: 10 }, 10, []],
  ] as const) {
    it(`[MQTT-3.2.2-21](MQTT 5 §3.2.2.3) the CONNACK carries exactly the properties that differ from the defaults: ${JSON.stringify(options)}, Keep Alive ${keepalive}`, async function () {
      hearthOnly('sets broker options')
      const b = await h.broker(options)
      const c = await b.connect({ protocolVersion: 5, clientId: 'props', keepalive })
      assert.deepEqual(rawBytes.get(c.connack!), Buffer.from([0x20, 3 + propBytes.length, 0x00, 0x00, propBytes.length, ...propBytes]))
    })
  }

  it('[MQTT-3.1.2-29] a DISCONNECT carries a Reason String unless the client set Request Problem Information to 0', async function () {
    hearthOnly('Reason Strings are optional')
    const b = await h.broker()
    for (const rpi of [undefined, true, false]) {
      const c = await b.connect({ protocolVersion: 5, properties: rpi === undefined ? {} : { requestProblemInformation: rpi } })
      c.sendRaw(packet(8, 2, u16(1), props())) // a SUBSCRIBE without topic filter: Protocol Error
      const d = await c.expectClosed()
      assert.equal(d?.reasonCode, 0x82)
      assert.equal(typeof d?.properties?.reasonString, rpi === false ? 'undefined' : 'string', `Request Problem Information ${String(rpi)}`)
    }
  })
})
