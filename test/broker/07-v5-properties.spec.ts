import assert from 'node:assert/strict'
import { VERSIONS, assertPublish, assertPublishes, hex, sleep, spec, deviates, hearthOnly, useHarness, type PublishProperties, type TestBroker } from '../helpers'

/** Invalid UTF-8: a lone continuation byte and an overlong encoding. */
const BAD_UTF8 = Buffer.from([0x68, 0x69, 0x80, 0xc0, 0xaf])

describe('07 MQTT 5 properties', function () {
  const h = useHarness()

  async function pair (b: TestBroker, filter: string) {
    const sub = await b.connect({ protocolVersion: 5 })
    await sub.subscribe(filter, 2)
    sub.autoAck = true
    const pub = await b.connect({ protocolVersion: 5 })
    return { sub, pub }
  }

  it('[MQTT-3.3.2-17][MQTT-3.3.2-18] user properties are forwarded unaltered, in order, repeated keys kept', async function () {
    const b = await h.broker()
    const { sub, pub } = await pair(b, 'up/#')
    const userProperties = { z: 'last letter', a: ['1', '2', '3'], m: 'ünïcødé ✓', empty: '' }
    await pub.publish('up/a', 'x', { qos: 1, properties: { userProperties } })
    assertPublish(await sub.waitFor('publish'), { topic: 'up/a', payload: 'x', qos: 1, properties: { userProperties } })
  })

  it('[MQTT-3.3.2-20] Content Type is forwarded unaltered', async function () {
    const b = await h.broker()
    const { sub, pub } = await pair(b, 'ct/#')
    await pub.publish('ct/a', '{}', { qos: 0, properties: { contentType: 'application/json; charset=utf-8' } })
    assertPublish(await sub.waitFor('publish'), { topic: 'ct/a', payload: '{}', properties: { contentType: 'application/json; charset=utf-8' } })
  })

  it('[MQTT-3.3.2-15][MQTT-3.3.2-16] Response Topic and Correlation Data are forwarded unaltered (binary data intact)', async function () {
    const b = await h.broker()
    const { sub, pub } = await pair(b, 'req/#')
    const correlationData = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80])
    await pub.publish('req/a', 'q', { qos: 2, properties: { responseTopic: 'resp/client-7', correlationData } })
    assertPublish(await sub.waitFor('publish'), { topic: 'req/a', payload: 'q', qos: 2, properties: { responseTopic: 'resp/client-7', correlationData } })
  })

  it('[MQTT-3.3.2-4] Payload Format Indicator 1 with valid UTF-8 is forwarded unaltered', async function () {
    const b = await h.broker()
    const { sub, pub } = await pair(b, 'pfi/#')
    await pub.publish('pfi/a', 'héllo ✓', { qos: 1, properties: { payloadFormatIndicator: true } })
    assertPublish(await sub.waitFor('publish'), { topic: 'pfi/a', payload: 'héllo ✓', qos: 1, properties: { payloadFormatIndicator: true } })
  })

  it('[MQTT-3.3.2-4] Payload Format Indicator 0 with binary payload is forwarded (no validation of unspecified bytes)', async function () {
    const b = await h.broker()
    const { sub, pub } = await pair(b, 'pfi0/#')
    await pub.publish('pfi0/a', BAD_UTF8, { qos: 1, properties: { payloadFormatIndicator: false } })
    assertPublish(await sub.waitFor('publish'), { topic: 'pfi0/a', payload: BAD_UTF8, qos: 1, properties: { payloadFormatIndicator: false } })
  })

  for (const qos of [1, 2] as const) {
    it(`(MQTT 5 §3.3.2.3.2) Payload Format Indicator 1 with invalid UTF-8 at QoS ${qos} is refused with 0x99 (${qos === 1 ? 'PUBACK' : 'PUBREC'} or DISCONNECT) and not delivered`, async function () {
      hearthOnly('validating a payload marked UTF-8 (Payload Format Indicator 1) is optional (MAY, MQTT 5 3.3.2.3.2): Hearth does, Mosquitto 2.0.11 does not')
      const b = await h.broker()
      const { sub, pub } = await pair(b, 'bad/#')
      pub.send({ cmd: 'publish', topic: 'bad/a', payload: BAD_UTF8, qos, messageId: 3, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
      const ack = await pub.next()
      if (ack.cmd === 'disconnect') assert.equal(ack.reasonCode, 0x99)
      else {
        assert.equal(ack.cmd, qos === 1 ? 'puback' : 'pubrec')
        assert.equal((ack as { reasonCode?: number }).reasonCode, 0x99, `reason ${hex((ack as { reasonCode?: number }).reasonCode)}`)
      }
      await sub.expectNothing(200, 'publish')
    })
  }

  it('[MQTT-3.1.2-29] with Request Problem Information 0, a refusing PUBACK carries no Reason String or User Properties', async function () {
    hearthOnly('needs a refusing PUBACK, which Hearth sends for a payload marked UTF-8 that is not (optional validation)')
    const b = await h.broker()
    const pub = await b.connect({ protocolVersion: 5, properties: { requestProblemInformation: false } })
    pub.send({ cmd: 'publish', topic: 'rpi/a', payload: BAD_UTF8, qos: 1, messageId: 5, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
    const ack = await pub.next()
    if (ack.cmd === 'puback') {
      assert.equal(ack.reasonCode, 0x99)
      assert.equal(ack.properties?.reasonString, undefined)
      assert.equal(ack.properties?.userProperties, undefined)
    } else {
      assert.equal(ack.cmd, 'disconnect', 'DISCONNECT may carry a reason string')
    }
  })

  it('[MQTT-3.1.2-28] with Request Response Information 0 (or absent), CONNACK carries no Response Information', async function () {
    const b = await h.broker()
    const c1 = await b.connect({ protocolVersion: 5, properties: { requestResponseInformation: false } })
    assert.equal(c1.connack!.properties?.responseInformation, undefined)
    const c2 = await b.connect({ protocolVersion: 5 })
    assert.equal(c2.connack!.properties?.responseInformation, undefined)
  })

  it('[MQTT-3.3.2-6] Message Expiry Interval is forwarded to live subscribers (at most the value sent)', async function () {
    const b = await h.broker()
    const { sub, pub } = await pair(b, 'mei/#')
    await pub.publish('mei/a', 'x', { qos: 1, properties: { messageExpiryInterval: 30 } })
    const m = await sub.waitFor('publish')
    const left = m.properties?.messageExpiryInterval
    assert.ok(left !== undefined && left <= 30 && left >= 29, `expiry ${left}`)
    assertPublish(m, { topic: 'mei/a', payload: 'x', qos: 1, properties: { messageExpiryInterval: left } })
  })

  it('[MQTT-3.3.2-6] a retained message is delivered with its Message Expiry reduced by the time it waited', async function () {
    const b = await h.broker()
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('meir/a', 'x', { qos: 1, retain: true, properties: { messageExpiryInterval: 10 } })
    await sleep(2100)
    const sub = await b.connect({ protocolVersion: 5 })
    await sub.subscribe('meir/a', 1)
    const m = await sub.waitFor('publish')
    const left = m.properties?.messageExpiryInterval
    assert.ok(left !== undefined && left <= 8 && left >= 7, `expiry ${left} after ~2.1 s of 10`)
    assertPublish(m, { topic: 'meir/a', payload: 'x', qos: 1, retain: true, properties: { messageExpiryInterval: left } })
  })

  it('[MQTT-3.3.2-5] an expired retained message is not delivered to a new subscriber', async function () {
    const b = await h.broker({ tickInterval: 50 })
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('meix/a', 'x', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } })
    await sleep(2100) // a broker may count expiry in whole seconds
    const sub = await b.connect({ protocolVersion: 5 })
    await sub.subscribe('meix/#', 1)
    await sub.expectNothing(200, 'publish')
  })

  it('[MQTT-3.3.2-5] an expired retained message is no longer listed by broker.retained() (the API shows what subscribers would get)', async function () {
    const b = await h.broker({ tickInterval: 50 })
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('meiy/a', 'x', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } })
    await pub.publish('meiy/b', 'y', { qos: 1, retain: true })
    await sleep(2100) // a broker may count expiry in whole seconds
    assert.deepEqual(b.broker.retained('meiy/#').map(m => m.topic), ['meiy/b'])
  })

  it('[MQTT-3.3.2-5] a message waiting behind flow control (Receive Maximum 1) that expires meanwhile is not delivered', async function () {
    deviates('mosquitto', '[MQTT-3.3.2-5][MQTT-4.3.2-1] when a message held back by Receive Maximum expires in the queue, Mosquitto 2.0.11 also stops delivering the QoS 1 message queued behind it (nothing within 3 s of the PUBACK)')
    const b = await h.broker({ tickInterval: 50 })
    const sub = await b.connect({ protocolVersion: 5, properties: { receiveMaximum: 1 } })
    await sub.subscribe('meif/#', 1)
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('meif/a', 'blocker', { qos: 1 })
    await pub.publish('meif/a', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } })
    await pub.publish('meif/a', 'long', { qos: 1 })
    const first = await sub.waitFor('publish')
    assertPublish(first, { topic: 'meif/a', payload: 'blocker', qos: 1 })
    await sleep(2100) // a broker may count expiry in whole seconds
    sub.send({ cmd: 'puback', messageId: first.messageId })
    assertPublish(await sub.waitFor('publish'), { topic: 'meif/a', payload: 'long', qos: 1 })
  })

  it('a v5 message reaches a 3.1.1 subscriber as a plain message, and a 3.1.1 message reaches a v5 subscriber without application properties', async function () {
    const b = await h.broker()
    const s4 = await b.connect({ protocolVersion: 4 })
    await s4.subscribe('x/#', 1)
    const s5 = await b.connect({ protocolVersion: 5 })
    await s5.subscribe('x/#', 1)
    const p5 = await b.connect({ protocolVersion: 5 })
    await p5.publish('x/5', 'from5', { qos: 1, properties: { contentType: 'text/plain', userProperties: { k: 'v' } } })
    assertPublish(await s4.waitFor('publish'), { topic: 'x/5', payload: 'from5', qos: 1 })
    assertPublish(await s5.waitFor('publish'), { topic: 'x/5', payload: 'from5', qos: 1, properties: { contentType: 'text/plain', userProperties: { k: 'v' } } })
    const p4 = await b.connect({ protocolVersion: 4 })
    await p4.publish('x/4', 'from4', { qos: 1 })
    assertPublish(await s5.waitFor('publish', p => p.topic === 'x/4'), { topic: 'x/4', payload: 'from4', qos: 1 })
  })

  it('CONNACK announces the configured limits: Receive Maximum, Topic Alias Maximum, Maximum Packet Size, Maximum QoS, Retain Available', async function () {
    const b = await h.broker({ receiveMaximum: 7, topicAliasMaximum: 9, maxPacketSize: 4096, maximumQoS: 1, retainAvailable: false })
    const c = await b.connect({ protocolVersion: 5 })
    const p = c.connack!.properties ?? {}
    assert.equal(p.receiveMaximum, 7)
    assert.equal(p.topicAliasMaximum, 9)
    assert.equal(p.maximumPacketSize, 4096)
    assert.equal(p.maximumQoS, 1)
    assert.equal(p.retainAvailable, false)
    assert.notEqual(p.wildcardSubscriptionAvailable, false)
    assert.notEqual(p.subscriptionIdentifiersAvailable, false)
    assert.notEqual(p.sharedSubscriptionAvailable, false)
  })

  it('[MQTT-3.3.2-14] the Response Topic of a PUBLISH must not contain wildcards: such a PUBLISH is refused and not delivered', async function () {
    deviates('mosquitto', '[MQTT-3.3.2-14] Mosquitto 2.0.11 accepts and forwards a PUBLISH whose Response Topic contains wildcards')
    const b = await h.broker()
    const { sub, pub } = await pair(b, 'rt/#')
    pub.send({ cmd: 'publish', topic: 'rt/a', payload: Buffer.from('x'), qos: 1, messageId: 2, retain: false, dup: false, properties: { responseTopic: 'resp/#' } })
    const r = await pub.next()
    if (r.cmd === 'puback') assert.ok((r.reasonCode ?? 0) >= 0x80, `PUBACK ${hex(r.reasonCode)}`)
    else assert.equal(r.cmd, 'disconnect')
    await sub.expectNothing(200, 'publish')
  })

  for (const v of VERSIONS) {
    it(`${spec(v, ['3.3.2-3'], ['3.3.2-3'])} properties never leak between messages: a plain message after a rich one has none`, async function () {
      const b = await h.broker()
      const sub = await b.connect({ protocolVersion: 5 })
      await sub.subscribe('leak/#', 0)
      const pub = await b.connect({ protocolVersion: v })
      const props: PublishProperties | undefined = v === 5 ? { userProperties: { a: 'b' }, contentType: 'c' } : undefined
      await pub.publish('leak/a', '1', { qos: 1, properties: props })
      await pub.publish('leak/a', '2', { qos: 1 })
      assertPublishes(await sub.publishes(2), [{ topic: 'leak/a', payload: '1', properties: props }, { topic: 'leak/a', payload: '2' }])
    })
  }
})
