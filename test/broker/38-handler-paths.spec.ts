// Packet handler paths that mutation testing found undriven (docs/mutation.md).
import assert from 'node:assert/strict'
import { MemoryPersistence } from '../../src/broker'
import type { Authorizer } from '../../src/broker/auth'
import { NEVER_EXPIRES } from '../../src/broker/session'
import { VERSIONS, assertPublish, hearthOnly, spec, useHarness } from '../helpers'

describe('38 handler paths', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      it(`${spec(v, ['4.3.2-2', '4.3.3-2'], ['4.3.2-2', '4.3.3-9'])} only a QoS 2 PUBLISH is taken for a resend of a held QoS 2 identifier: a QoS 1 PUBLISH under it is delivered and gets PUBACK`, async function () {
        hearthOnly('a client reusing an identifier still in use breaks [MQTT-2.3.1-2]; Hearth keeps the QoS 1 and QoS 2 flows apart')
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        assert.deepEqual(await sub.subscribe('held/#', 1), [1])
        const c = await b.connect({ protocolVersion: v })
        c.send({ cmd: 'publish', topic: 'held/two', payload: Buffer.from('2'), qos: 2, messageId: 5, retain: false, dup: false })
        assert.equal((await c.next('pubrec')).messageId, 5)
        assertPublish(await sub.waitFor('publish'), { topic: 'held/two', payload: '2', qos: 1, retain: false, dup: false })
        c.send({ cmd: 'publish', topic: 'held/one', payload: Buffer.from('1'), qos: 1, messageId: 5, retain: false, dup: false })
        const ack = await c.next('puback')
        assert.deepEqual({ messageId: ack.messageId, reasonCode: ack.reasonCode ?? 0 }, { messageId: 5, reasonCode: 0 })
        assertPublish(await sub.waitFor('publish'), { topic: 'held/one', payload: '1', qos: 1, retain: false, dup: false })
        // the QoS 2 identifier is still held: a resend is acknowledged and not delivered again
        c.send({ cmd: 'publish', topic: 'held/two', payload: Buffer.from('2'), qos: 2, messageId: 5, retain: false, dup: true })
        assert.equal((await c.next('pubrec')).messageId, 5)
        await sub.expectNothing(150, 'publish')
      })

      it(`${spec(v, ['3.1.4-2'], ['3.1.4-3'])} a SUBSCRIBE still being authorised when its session is taken over ends quietly: no SUBACK, no warning, no subscription`, async function () {
        hearthOnly('uses a custom authoriser')
        let release: (ok: boolean) => void = () => {}
        const authorize: Authorizer = {
          authorizePublish: () => true,
          authorizeSubscribe: (_c, filter) => filter === 'slow/#' ? new Promise<boolean>(resolve => { release = resolve }) : true,
        }
        const b = await h.broker({ authorize })
        const warnings: unknown[] = []
        b.broker.on('warning', w => warnings.push(w))
        const first = await b.connect({ protocolVersion: v, clientId: 'tk38' })
        first.send({ cmd: 'subscribe', messageId: 6, subscriptions: [{ topic: 'slow/#', qos: 1 }] })
        await first.expectNothing(100, 'suback')
        const second = await b.connect({ protocolVersion: v, clientId: 'tk38' })
        await first.expectClosed()
        release(true)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('slow/x', 'x', { qos: 1 })
        await second.expectNothing(150)
        assert.deepEqual({ warnings, suback: first.received.filter(p => p.cmd === 'suback') }, { warnings: [], suback: [] })
      })
    })
  }

  it('[MQTT-3.1.2-4] a session restored from a store that did not record its owner is resumed by the first client, whatever its user name', async function () {
    hearthOnly('restores a store written before sessions recorded their owner')
    const persistence = new MemoryPersistence()
    await persistence.open()
    persistence.saveSession({ clientId: 'legacy1', protocolVersion: 4, expiryInterval: NEVER_EXPIRES, subscriptions: [{ topic: 'old/#', qos: 1 }] })
    const b = await h.broker({ persistence })
    const c = await b.connect({ protocolVersion: 4, clientId: 'legacy1', clean: false, username: 'someone' })
    assert.deepEqual({ sessionPresent: c.connack?.sessionPresent, returnCode: c.connack?.returnCode }, { sessionPresent: true, returnCode: 0 })
    const pub = await b.connect({ protocolVersion: 4 })
    await pub.publish('old/x', 'kept', { qos: 1 })
    assertPublish(await c.waitFor('publish'), { topic: 'old/x', payload: 'kept', qos: 1, retain: false, dup: false })
  })
})
