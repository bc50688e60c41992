// Test whether a resumed session resends its unacknowledged messages within the client's new
// Receive Maximum, keeping their packet identifiers, and sends the rest as acknowledgements arrive.
import assert from 'node:assert/strict'
import { assertPublish, assertPublishes, deviates, uniqueId, useHarness } from '../helpers'

describe('31 resume under a lower Receive Maximum', function () {
  const h = useHarness()

  it('[MQTT-4.4.0-1][MQTT-3.3.4-9] 5 unacknowledged QoS 1 messages resume 2 at a time (Receive Maximum 2), with DUP and their original packet identifiers', async function () {
    deviates('mosquitto', '[MQTT-3.3.4-9] on resume Mosquitto 2.0.11 resends every unacknowledged message at once, beyond the new connection\'s Receive Maximum')
    const b = await h.broker()
    const id = uniqueId()
    const session = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } }
    const c1 = await b.connect(session)
    await c1.subscribe('rm/#', 1)
    const pub = await b.connect({ protocolVersion: 5 })
    for (let i = 0; i < 5; i++) await pub.publish('rm/a', `m${i}`, { qos: 1 })
    const first = await c1.publishes(5)
    assertPublishes(first, [0, 1, 2, 3, 4].map(i => ({ topic: 'rm/a', payload: `m${i}`, qos: 1 })))
    const ids = first.map(p => p.messageId)
    c1.destroy()
    await c1.closed

    const c2 = await b.connect({ ...session, properties: { sessionExpiryInterval: 60, receiveMaximum: 2 } })
    assert.equal(c2.connack!.sessionPresent, true)
    const got = await c2.publishes(2)
    await c2.expectNothing(200, 'publish')
    assertPublishes(got, [0, 1].map(i => ({ topic: 'rm/a', payload: `m${i}`, qos: 1, dup: true, messageId: ids[i] })))

    c2.send({ cmd: 'puback', messageId: got[0].messageId })
    for (let i = 2; i < 5; i++) {
      const p = await c2.waitFor('publish')
      assertPublish(p, { topic: 'rm/a', payload: `m${i}`, qos: 1, dup: true, messageId: ids[i] })
      c2.send({ cmd: 'puback', messageId: p.messageId })
    }
    c2.send({ cmd: 'puback', messageId: got[1].messageId })
    await pub.publish('rm/a', 'live', { qos: 1 })
    assertPublish(await c2.waitFor('publish'), { topic: 'rm/a', payload: 'live', qos: 1, dup: false })
  })
})
