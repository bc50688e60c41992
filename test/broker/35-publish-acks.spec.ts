// Acknowledging incoming PUBLISHes, on paths found undriven by mutation testing
// (docs/mutation.md): nothing for QoS 0, the exact PUBACK for a payload that is not the UTF-8 it
// claims, Receive Maximum counting QoS 1/2 only, a packet identifier freed by a refusing PUBREC,
// and the QoS 2 identifiers of a persistent session surviving a restart.
import assert from 'node:assert/strict'
import { MemoryPersistence } from '../../src/broker'
import type { Authorizer } from '../../src/broker/auth'
import { VERSIONS, hearthOnly, rawBytes, spec, useHarness } from '../helpers'

describe('35 acknowledging PUBLISH', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      it(`${spec(v, ['3.3.4-1'], ['3.3.4-1'])} a QoS 0 PUBLISH is not acknowledged: the next packet is the PINGRESP`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        await c.publish('q0/a', 'x', { qos: 0 })
        c.send({ cmd: 'pingreq' })
        assert.equal((await c.next()).cmd, 'pingresp')
      })

      for (const refusal of ['denied', 'failed'] as const) {
        it(`${spec(v, ['4.3.3-2'], ['4.3.3-4'])} a QoS 2 PUBLISH that is ${refusal === 'denied' ? 'not authorised' : 'not decided (the authoriser rejects)'} keeps no packet identifier: the next PUBLISH with it is delivered`, async function () {
          hearthOnly('uses a custom authoriser')
          const authorize: Authorizer = {
            authorizePublish: (_c, topic) => topic === 'boom' ? Promise.reject(new Error('authoriser down')) : topic !== 'no',
            authorizeSubscribe: () => true,
          }
          const b = await h.broker({ authorize })
          const sub = await b.connect({ protocolVersion: v })
          await sub.subscribe('#', 0)
          const c = await b.connect({ protocolVersion: v })
          c.send({ cmd: 'publish', topic: refusal === 'denied' ? 'no' : 'boom', payload: Buffer.from('r'), qos: 2, messageId: 5, retain: false, dup: false })
          const rec = await c.next('pubrec')
          assert.equal(rec.messageId, 5)
          if (v === 5) assert.equal(rec.reasonCode, refusal === 'denied' ? 0x87 : 0x80)
          if (v !== 5) c.send({ cmd: 'pubrel', messageId: 5 }) // 3.1.1 has no failure PUBREC: the flow completes
          if (v !== 5) await c.next('pubcomp')
          c.send({ cmd: 'publish', topic: 'yes', payload: Buffer.from('ok'), qos: 2, messageId: 5, retain: false, dup: false })
          const rec2 = await c.next('pubrec')
          assert.deepEqual([rec2.messageId, rec2.reasonCode ?? 0], [5, 0])
          const got = await sub.waitFor('publish')
          assert.deepEqual([got.topic, got.payload.toString()], ['yes', 'ok'])
          await sub.expectNothing(150, 'publish')
        })
      }

      it(`${spec(v, ['4.3.3-2', '3.1.2-4'], ['4.3.3-9', '3.1.2-5'])} the QoS 2 packet identifiers of a persistent session survive a restart: the resent PUBLISH is not delivered again`, async function () {
        hearthOnly('restarts the broker on the same persistence')
        const persistence = new MemoryPersistence()
        const first = await h.broker({ persistence })
        const sessionProps = v === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}
        const c = await first.connect({ protocolVersion: v, clientId: 'q2p', clean: false, ...sessionProps })
        c.send({ cmd: 'publish', topic: 'q2/a', payload: Buffer.from('once'), qos: 2, messageId: 9, retain: false, dup: false })
        assert.equal((await c.next('pubrec')).messageId, 9)
        c.destroy()
        await first.broker.close()
        const second = await h.broker({ persistence })
        const sub = await second.connect({ protocolVersion: v })
        await sub.subscribe('q2/#', 0)
        const again = await second.connect({ protocolVersion: v, clientId: 'q2p', clean: false, ...sessionProps })
        assert.equal(again.connack?.sessionPresent, true)
        again.send({ cmd: 'publish', topic: 'q2/a', payload: Buffer.from('once'), qos: 2, messageId: 9, retain: false, dup: true })
        assert.equal((await again.next('pubrec')).messageId, 9)
        again.send({ cmd: 'pubrel', messageId: 9 })
        assert.equal((await again.next('pubcomp')).reasonCode ?? 0, 0)
        await sub.expectNothing(150, 'publish')
        // PUBCOMP came once the identifier was forgotten in the store too: after another restart it is a new message
        again.destroy()
        await second.broker.close()
        const third = await h.broker({ persistence })
        const sub3 = await third.connect({ protocolVersion: v })
        await sub3.subscribe('q2/#', 0)
        const last = await third.connect({ protocolVersion: v, clientId: 'q2p', clean: false, ...sessionProps })
        last.send({ cmd: 'publish', topic: 'q2/a', payload: Buffer.from('new'), qos: 2, messageId: 9, retain: false, dup: false })
        assert.equal((await last.next('pubrec')).messageId, 9)
        const got = await sub3.waitFor('publish')
        assert.deepEqual([got.topic, got.payload.toString()], ['q2/a', 'new'])
      })

      it(`${spec(v, ['4.3.3-2'], ['4.3.3-4'])} a QoS 2 delivery: PUBREC from the subscriber is answered with exactly PUBREL (reason 0x00, two-byte form)`, async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('q2o/#', 2)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('q2o/a', 'x', { qos: 2 })
        const p = await sub.waitFor('publish')
        sub.send({ cmd: 'pubrec', messageId: p.messageId })
        const rel = await sub.next('pubrel')
        assert.deepEqual(rawBytes.get(rel), Buffer.from([0x62, 0x02, (p.messageId as number) >> 8, (p.messageId as number) & 0xff]))
      })
    })
  }

  it('[MQTT-3.3.2-4] a QoS 1 PUBLISH with Payload Format Indicator 1 and a payload that is not UTF-8 gets exactly PUBACK 0x99, and the connection stays', async function () {
    hearthOnly('validating a payload marked UTF-8 is optional (MAY, MQTT 5 3.3.2.3.2)')
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 5 })
    c.send({ cmd: 'publish', topic: 'pf/a', payload: Buffer.from([0x80]), qos: 1, messageId: 0x0102, retain: false, dup: false, properties: { payloadFormatIndicator: true } })
    assert.deepEqual(rawBytes.get(await c.next('puback')), Buffer.from([0x40, 0x04, 0x01, 0x02, 0x99, 0x00]))
    c.send({ cmd: 'pingreq' })
    await c.next('pingresp')
  })

  it('[MQTT-3.3.4-7] Receive Maximum counts QoS 1 and 2 only: a QoS 0 PUBLISH is delivered while the quota is used up', async function () {
    hearthOnly('sets receiveMaximum')
    const b = await h.broker({ receiveMaximum: 2 })
    const sub = await b.connect({ protocolVersion: 5 })
    await sub.subscribe('rq/#', 0)
    const c = await b.connect({ protocolVersion: 5 })
    for (const id of [1, 2]) {
      c.send({ cmd: 'publish', topic: 'rq/2', payload: Buffer.from(String(id)), qos: 2, messageId: id, retain: false, dup: false })
      assert.equal((await c.next('pubrec')).messageId, id)
    }
    c.send({ cmd: 'publish', topic: 'rq/0', payload: Buffer.from('zero'), qos: 0, retain: false, dup: false })
    const got = await sub.publishes(3)
    assert.deepEqual(got.map(p => p.topic), ['rq/2', 'rq/2', 'rq/0'])
    c.send({ cmd: 'pingreq' })
    await c.next('pingresp')
  })
})
