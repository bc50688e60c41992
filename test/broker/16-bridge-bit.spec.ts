/*
 * Mosquitto's bridge bit: a bridge that connects with protocol level 0x83 (3.1) or 0x84 (3.1.1),
 * the level with its top bit set (mosquitto.conf try_private), gets No Local and Retain As
 * Published on each of its subscriptions, as Mosquitto gives them (handle_subscribe.c). Not an
 * MQTT statement: the spec numbers are those of the options the bit stands for.
 */
import assert from 'node:assert/strict'
import { assertPublish, assertPublishes, bytes, connectPacket, hearthOnly, uniqueId, useHarness, type TestBroker, type TestClient, type Version } from '../helpers'

/** Connect with the bridge bit set on the protocol level byte. */
async function connectBridge (b: TestBroker, v: Version): Promise<TestClient> {
  const c = await b.open({ protocolVersion: v })
  const p = connectPacket({ protocolVersion: v, clientId: uniqueId('br') })
  c.clientId = p.clientId
  const raw = c.encode(p)
  const level = bytes.connectLevelOffset(raw)
  assert.equal(raw[level], v, 'level byte found')
  c.sendRaw(bytes.patchByte(raw, level, l => l | 0x80))
  const ack = await c.next('connack')
  c.connack = ack
  return c
}

describe('16 the bridge bit (protocol level 0x83/0x84, Mosquitto try_private)', function () {
  const h = useHarness()

  for (const v of [3, 4] as const) {
    const level = `0x${(v | 0x80).toString(16)}`
    describe(`protocol level ${level} (${v === 3 ? 'MQTT 3.1' : 'MQTT 3.1.1'} bridge)`, function () {
      it(`CONNECT at ${level} is accepted (CONNACK 0, session present 0)`, async function () {
        const b = await h.broker()
        const c = await connectBridge(b, v)
        assert.deepEqual({ cmd: c.connack?.cmd, returnCode: c.connack?.returnCode, sessionPresent: c.connack?.sessionPresent },
          { cmd: 'connack', returnCode: 0, sessionPresent: false })
        assert.equal(b.broker.clients().find(x => x.clientId === c.clientId)?.protocolVersion, v)
      })

      it('[MQTT-3.8.3-3] its subscriptions have No Local: its own publishes do not come back; a plain client\'s do', async function () {
        const b = await h.broker()
        const br = await connectBridge(b, v)
        assert.deepEqual(await br.subscribe('nl/#', 1), [1])
        const plain = await b.connect({ protocolVersion: v })
        assert.deepEqual(await plain.subscribe('nl/#', 1), [1])
        await br.publish('nl/from-bridge', 'b', { qos: 1 })
        const atPlain = await plain.waitFor('publish')
        assertPublish(atPlain, { topic: 'nl/from-bridge', payload: 'b', qos: 1, retain: false, dup: false })
        await plain.ack(atPlain)
        await plain.publish('nl/from-plain', 'p', { qos: 1 })
        // the bridge gets the plain client's message, and never its own
        const atBridge = await br.waitFor('publish')
        assertPublish(atBridge, { topic: 'nl/from-plain', payload: 'p', qos: 1, retain: false, dup: false })
        await br.ack(atBridge)
        await br.expectNothing(200, 'publish')
        // a plain (level 4) client does get its own
        const own = await plain.waitFor('publish')
        assertPublish(own, { topic: 'nl/from-plain', payload: 'p', qos: 1, retain: false, dup: false })
      })

      it('[MQTT-3.3.1-12] its subscriptions have Retain As Published: a live retained message keeps RETAIN 1 (0 for a plain client [MQTT-3.3.1-13])', async function () {
        const b = await h.broker()
        const br = await connectBridge(b, v)
        assert.deepEqual(await br.subscribe('rap/#', 1), [1])
        const plain = await b.connect({ protocolVersion: v })
        assert.deepEqual(await plain.subscribe('rap/#', 1), [1])
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('rap/state', 'on', { qos: 1, retain: true })
        await pub.publish('rap/event', 'e', { qos: 1, retain: false })
        const atBridge = await br.publishes(2)
        assertPublishes(atBridge, [
          { topic: 'rap/state', payload: 'on', qos: 1, retain: true, dup: false },
          { topic: 'rap/event', payload: 'e', qos: 1, retain: false, dup: false },
        ])
        const atPlain = await plain.publishes(2)
        assertPublishes(atPlain, [
          { topic: 'rap/state', payload: 'on', qos: 1, retain: false, dup: false },
          { topic: 'rap/event', payload: 'e', qos: 1, retain: false, dup: false },
        ])
      })

      it('the options hold for a subscription resumed in a persistent session', async function () {
        const b = await h.broker()
        const br = await connectBridge(b, v)
        const id = br.clientId
        br.destroy()
        // reconnect the same client id, clean session 0, bridge bit again
        const again = await b.open({ protocolVersion: v })
        const raw = again.encode(connectPacket({ protocolVersion: v, clientId: id, clean: false }))
        again.sendRaw(bytes.patchByte(raw, bytes.connectLevelOffset(raw), l => l | 0x80))
        assert.equal((await again.next('connack')).returnCode, 0)
        assert.deepEqual(await again.subscribe('res/#', 1), [1])
        again.destroy()
        const back = await b.open({ protocolVersion: v })
        const raw2 = back.encode(connectPacket({ protocolVersion: v, clientId: id, clean: false }))
        back.sendRaw(bytes.patchByte(raw2, bytes.connectLevelOffset(raw2), l => l | 0x80))
        assert.deepEqual({ rc: (await back.next('connack')).returnCode }, { rc: 0 })
        await back.publish('res/own', 'x', { qos: 1 })
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('res/other', 'y', { qos: 1, retain: true })
        const m = await back.waitFor('publish')
        assertPublish(m, { topic: 'res/other', payload: 'y', qos: 1, retain: true, dup: false })
        await back.ack(m)
        await back.expectNothing(200, 'publish')
      })
    })
  }

  it('level 0x85 is taken as plain MQTT 5, without bridge options (an MQTT 5 bridge asks for them itself; [MQTT-3.1.2-2] would also allow refusing it)', async function () {
    hearthOnly('Mosquitto 2.0.11 closes the connection on level 0x85')
    const b = await h.broker()
    const c = await connectBridge(b, 5)
    assert.equal(c.connack?.reasonCode, 0)
    assert.deepEqual(await c.subscribe([{ topic: 'v5/#', qos: 1 }]), [1])
    await c.publish('v5/own', 'x', { qos: 1, retain: true })
    const m = await c.waitFor('publish')
    // No Local 0: its own message comes back; Retain As Published 0: RETAIN cleared on live delivery
    assertPublish(m, { topic: 'v5/own', payload: 'x', qos: 1, retain: false, dup: false })
  })

  it('a level outside 3, 4, 5 with the bit set (0x86) is refused with CONNACK 0x01 and closed', async function () {
    const b = await h.broker()
    const c = await b.open({ protocolVersion: 4 })
    const raw = c.encode(connectPacket({ protocolVersion: 4 }))
    c.sendRaw(bytes.patchByte(raw, bytes.connectLevelOffset(raw), () => 0x86))
    const ack = await c.next('connack')
    assert.deepEqual({ returnCode: ack.returnCode, sessionPresent: ack.sessionPresent }, { returnCode: 1, sessionPresent: false })
    await c.expectClosed()
  })
})
