import assert from 'node:assert/strict'
import { UserTableAuthenticator } from '../../src/broker/auth'
import {
  VERSIONS, assertPublish, assertServing, bytes, connackCode, connectPacket, hex, sleep, spec, uniqueId, deviates, useHarness,
  type TestClient,
} from '../helpers'

/**
 * Wait for the broker to close a connection it refused. Every packet it sent before closing must be
 * a CONNACK whose code is in `codes` (no DISCONNECT before a successful CONNACK: [MQTT-3.14.0-1]).
 * Returns the CONNACK code seen, if any.
 */
async function expectRefusedAndClosed (c: TestClient, codes: number[]): Promise<number | undefined> {
  await c.expectClosed()
  let seen: number | undefined
  for (const p of c.received) {
    assert.equal(p.cmd, 'connack', `only a CONNACK may precede the close, got ${p.cmd}`)
    if (p.cmd === 'connack') {
      seen = connackCode(p)
      assert.ok(codes.includes(seen), `CONNACK code ${hex(seen)}, expected one of ${codes.map(hex).join(', ') || '(none: close without CONNACK)'}`)
      assert.equal(p.sessionPresent, false, 'a refusing CONNACK has Session Present 0 [MQTT-3.2.2-4 / v5 MQTT-3.2.2-6]')
    }
  }
  return seen
}

describe('01 connect', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      it(`${spec(v, ['3.1.0-1'], ['3.1.0-1'])} a first packet other than CONNECT closes the connection, with no CONNACK`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        c.send({ cmd: 'pingreq' })
        await c.expectClosed()
        assert.deepEqual(c.received.map(p => p.cmd), [], 'nothing may be sent before CONNACK [MQTT-3.2.0-1]')
        await assertServing(b, v)
      })

      it(`${spec(v, ['3.1.0-1'], ['3.1.0-1'])} a SUBSCRIBE before CONNECT is not processed and the connection closes`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] })
        await c.expectClosed()
        assert.deepEqual(c.received.map(p => p.cmd), [])
      })

      it(`${spec(v, ['3.1.0-2'], ['3.1.0-2', '3.2.0-2'])} a second CONNECT is a protocol violation: the connection closes (v5: DISCONNECT 0x82 if any, never a second CONNACK)`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        c.send(connectPacket({ protocolVersion: v, clientId: c.clientId }))
        await c.expectErrorClose([0x82])
        assert.equal(c.received.filter(p => p.cmd === 'connack').length, 1, 'exactly one CONNACK per connection')
        await assertServing(b, v)
      })

      it(`${spec(v, ['3.1.2-3', '3.1.4-1'], ['3.1.2-3', '3.1.4-1'])} a CONNECT with the reserved flag set closes the connection (v5: CONNACK 0x81 allowed)`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        const raw = c.encode(connectPacket({ protocolVersion: v }))
        c.sendRaw(bytes.patchByte(raw, bytes.connectFlagsOffset(raw), f => f | 0x01))
        await expectRefusedAndClosed(c, v === 5 ? [0x81] : [])
        await assertServing(b, v)
      })

      it(`${spec(v, ['3.1.2-1'], ['3.1.2-1'])} a wrong protocol name is not processed as MQTT: no accepting CONNACK, the connection closes`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        const raw = c.encode(connectPacket({ protocolVersion: v }))
        const at = raw.indexOf(Buffer.from('MQTT'))
        const bad = Buffer.from(raw)
        bad.write('MQTX', at, 'latin1')
        c.sendRaw(bad)
        await expectRefusedAndClosed(c, v === 5 ? [0x84] : [0x01])
      })

      it(`${spec(v, ['3.1.3-5'], ['3.1.3-5'])} a 23-character alphanumeric client identifier is accepted`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v, clientId: '0123456789abcdefghijKLM' })
        assert.equal(connackCode(c.connack!), 0)
      })

      it(`${spec(v, ['3.2.2-1'], ['3.2.2-2'])} a clean-session CONNECT is accepted with Session Present 0`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v, clean: true })
        assert.equal(c.connack!.sessionPresent, false)
        assert.equal(connackCode(c.connack!), 0)
      })

      it(`${spec(v, ['3.2.2-2', '3.2.2-3'], ['3.2.2-3', '3.1.2-5', '3.1.2-6'])} Session Present is 0 for a new persistent session and 1 when it resumes`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const props = v === 5 ? { sessionExpiryInterval: 60 } : undefined
        const c1 = await b.connect({ protocolVersion: v, clientId: id, clean: false, properties: props })
        assert.equal(c1.connack!.sessionPresent, false, 'no session existed')
        c1.disconnect()
        await c1.closed
        const c2 = await b.connect({ protocolVersion: v, clientId: id, clean: false, properties: props })
        assert.equal(c2.connack!.sessionPresent, true, 'the session was stored')
        c2.disconnect()
        await c2.closed
        const c3 = await b.connect({ protocolVersion: v, clientId: id, clean: true, properties: props })
        assert.equal(c3.connack!.sessionPresent, false, 'clean session/start discards it')
      })

      it(`${spec(v, ['3.2.0-1', '3.12.4-1'], ['3.2.0-1', '3.12.4-1'])} packets sent right behind CONNECT are answered after the CONNACK, in order`, async function () {
        const b = await h.broker()
        const c = await b.open({ protocolVersion: v })
        c.sendRaw(Buffer.concat([
          c.encode(connectPacket({ protocolVersion: v })),
          c.encode({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'x/y', qos: 1 }] }),
          c.encode({ cmd: 'pingreq' }),
        ]))
        const first = await c.next()
        assert.equal(first.cmd, 'connack', 'the first packet from the server is CONNACK')
        const suback = await c.next('suback')
        assert.equal(suback.messageId, 7)
        await c.next('pingresp')
      })

      it(`${spec(v, ['3.12.4-1'], ['3.12.4-1'])} PINGREQ is answered with PINGRESP`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        c.send({ cmd: 'pingreq' })
        await c.next('pingresp')
        c.send({ cmd: 'pingreq' })
        await c.next('pingresp')
      })

      it(`${spec(v, ['3.1.4-2'], ['3.1.4-3'])} a second connection with the same client id takes over: the old one is closed${v === 5 ? ' after DISCONNECT 0x8E' : ''}`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const old = await b.connect({ protocolVersion: v, clientId: id })
        const neu = await b.connect({ protocolVersion: v, clientId: id })
        const d = await old.expectClosed()
        if (v === 5) {
          if (d === undefined) deviates('mosquitto', '(MQTT 5 3.1.4, CONNECT actions step 2) on a session takeover Mosquitto 2.0.11 closes the existing connection without sending it DISCONNECT 0x8E (Session taken over)')
          assert.ok(d, 'MQTT 5: the existing client gets a DISCONNECT')
          assert.equal(d.reasonCode, 0x8e, 'Session taken over')
          assert.equal(d.properties?.sessionExpiryInterval, undefined, 'the Server never sends Session Expiry Interval on DISCONNECT [MQTT-3.14.2-2]')
        } else {
          assert.equal(d, undefined, 'MQTT 3.1.1 has no server DISCONNECT')
        }
        neu.send({ cmd: 'pingreq' })
        await neu.next('pingresp')
        assert.equal(neu.isClosed, false)
      })

      it(`${spec(v, ['3.1.4-2'], ['3.1.4-3'])} takeover also works when the old connection is on another transport`, async function () {
        const b = await h.broker()
        const id = uniqueId()
        const old = await b.connect({ protocolVersion: v, clientId: id, transport: 'duplex' })
        await b.connect({ protocolVersion: v, clientId: id, transport: 'tcp' })
        await old.expectClosed()
      })

      it(`${spec(v, ['3.1.2-24'], ['3.1.2-22'])} with Keep Alive 1 s and silence, the broker closes the connection after 1.5 s (not before 1 s)${v === 5 ? '; DISCONNECT 0x8D if any' : ''}`, async function () {
        deviates('mosquitto', '[MQTT-3.1.2-24 / v5 MQTT-3.1.2-22] Mosquitto 2.0.11 checks Keep Alive only every few seconds: with Keep Alive 1 s it closed a silent connection after about 5.5 s, not within 1.5 s')
        const b = await h.broker({ tickInterval: 50 })
        const c = await b.connect({ protocolVersion: v, keepalive: 1 })
        const t0 = Date.now()
        await c.expectErrorClose([0x8d], 4000)
        const elapsed = c.closedAt - t0
        assert.ok(elapsed >= 1000, `closed too early, after ${elapsed} ms`)
        assert.ok(elapsed <= 2600, `closed too late, after ${elapsed} ms`)
      })

      it(`${spec(v, ['3.1.2-23', '3.1.2-24'], ['3.1.2-20', '3.1.2-22'])} PINGREQs within the Keep Alive keep the connection open past 1.5x`, async function () {
        const b = await h.broker({ tickInterval: 50 })
        const c = await b.connect({ protocolVersion: v, keepalive: 1 })
        for (let i = 0; i < 4; i++) {
          await sleep(600)
          c.send({ cmd: 'pingreq' })
          await c.next('pingresp')
        }
        assert.equal(c.isClosed, false, 'open after 2.4 s of regular PINGREQs')
      })

      it(`${spec(v, ['3.1.2-24'], ['3.1.2-22'])} any control packet (not only PINGREQ) counts as activity for Keep Alive`, async function () {
        const b = await h.broker({ tickInterval: 50 })
        const c = await b.connect({ protocolVersion: v, keepalive: 1 })
        for (let i = 0; i < 4; i++) {
          await sleep(600)
          await c.publish(`ka/${i}`, 'x', { qos: 1 })
        }
        assert.equal(c.isClosed, false)
      })

      it(`${spec(v, null, null, '§3.1.4 / §4.8')} a socket that sends no CONNECT within connectTimeout is closed, without any packet`, async function () {
        const b = await h.broker({ connectTimeout: 300, tickInterval: 50 })
        const c = await b.open({ protocolVersion: v })
        const t0 = Date.now()
        await c.expectClosed(3000)
        assert.ok(c.closedAt - t0 >= 200, `closed after ${c.closedAt - t0} ms, before the timeout`)
        assert.deepEqual(c.received, [])
      })

      it(`${spec(v, null, null, '§3.1.4 / §4.8')} a socket that sends half a CONNECT is closed after connectTimeout`, async function () {
        const b = await h.broker({ connectTimeout: 300, tickInterval: 50 })
        const c = await b.open({ protocolVersion: v })
        const raw = c.encode(connectPacket({ protocolVersion: v }))
        c.sendRaw(raw.subarray(0, 6))
        await c.expectClosed(3000)
        assert.deepEqual(c.received, [])
      })

      it(`${spec(v, ['3.1.4-5', '3.2.2-4', '3.2.2-5'], ['3.1.4-6', '3.2.2-6', '3.2.2-7'])} after a refused CONNECT nothing the client sent is processed, and the connection closes`, async function () {
        const b = await h.broker({ authenticate: new UserTableAuthenticator({ alice: 'secret' }) })
        const c = await b.open({ protocolVersion: v })
        c.sendRaw(Buffer.concat([
          c.encode(connectPacket({ protocolVersion: v, username: 'alice', password: 'wrong' })),
          c.encode({ cmd: 'publish', topic: 'refused/x', payload: Buffer.from('must not be stored'), qos: 0, retain: true, dup: false }),
        ]))
        const ack = await c.next('connack')
        assert.notEqual(connackCode(ack), 0)
        assert.equal(ack.sessionPresent, false)
        await c.expectClosed()
        await sleep(50)
        assert.deepEqual(b.broker.retained('refused/#'), [], 'the PUBLISH after the refused CONNECT was not processed')
      })

      it('the broker serves MQTT over any duplex stream (broker.handle) alongside TCP', async function () {
        const b = await h.broker()
        const sub = await b.connect({ protocolVersion: v, transport: 'duplex' })
        await sub.subscribe('mix/#', 1)
        const pub = await b.connect({ protocolVersion: v, transport: 'tcp' })
        await pub.publish('mix/a', 'hello', { qos: 1 })
        assertPublish(await sub.waitFor('publish'), { topic: 'mix/a', payload: 'hello', qos: 1 })
      })

      it(`${spec(v, ['3.14.4-1'], ['3.14.4-2'])} after the client's DISCONNECT the broker closes the connection`, async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        c.send(v === 5 ? { cmd: 'disconnect', reasonCode: 0 } : { cmd: 'disconnect' })
        await c.expectClosed()
        assert.equal(c.received.filter(p => p.cmd !== 'connack').length, 0, 'nothing is sent in reply to DISCONNECT')
      })
    })
  }

  describe('client identifier, MQTT 3.1.1', function () {
    it('[MQTT-3.1.3-6] a zero-byte client id with CleanSession 1 is accepted and treated as a unique id (two such clients coexist)', async function () {
      const b = await h.broker()
      const c1 = await b.connect({ protocolVersion: 4, clientId: '', clean: true })
      const c2 = await b.connect({ protocolVersion: 4, clientId: '', clean: true })
      assert.equal(connackCode(c1.connack!), 0)
      assert.equal(connackCode(c2.connack!), 0)
      c1.send({ cmd: 'pingreq' })
      await c1.next('pingresp')
      assert.equal(c1.isClosed, false, 'the second empty-id client did not take over the first')
    })

    it('[MQTT-3.1.3-8][MQTT-3.2.2-4][MQTT-3.2.2-5] a zero-byte client id with CleanSession 0 gets CONNACK 0x02 and the connection closes', async function () {
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: 4, clientId: '', clean: false, allowRefusal: true })
      assert.equal(connackCode(c.connack!), 0x02)
      assert.equal(c.connack!.sessionPresent, false)
      await c.expectClosed()
    })

    it('(MQTT 3.1.1 §3.1.2.2, issue 2: 3.1 support) MQTT 3.1 (MQIsdp, level 3) clients connect and exchange messages with 3.1.1 clients', async function () {
      const b = await h.broker()
      const old = await b.connect({ protocolVersion: 3 })
      assert.equal(connackCode(old.connack!), 0)
      await old.subscribe('v31/#', 1)
      const neu = await b.connect({ protocolVersion: 4 })
      await neu.publish('v31/x', 'hi', { qos: 1 })
      assertPublish(await old.waitFor('publish'), { topic: 'v31/x', payload: 'hi', qos: 1 })
    })
  })

  describe('client identifier, MQTT 5', function () {
    it('[MQTT-3.1.3-6][MQTT-3.1.3-7][MQTT-3.2.2-16] a zero-length client id gets a unique Assigned Client Identifier in CONNACK', async function () {
      const b = await h.broker()
      const c1 = await b.connect({ protocolVersion: 5, clientId: '' })
      const c2 = await b.connect({ protocolVersion: 5, clientId: '' })
      const id1 = c1.connack!.properties?.assignedClientIdentifier
      const id2 = c2.connack!.properties?.assignedClientIdentifier
      assert.ok(id1 && id1.length > 0, 'assigned id present')
      assert.ok(id2 && id2.length > 0, 'assigned id present')
      assert.notEqual(id1, id2)
      c1.send({ cmd: 'pingreq' })
      await c1.next('pingresp')
      assert.equal(c1.isClosed, false)
    })

    it('[MQTT-3.1.3-7] the broker processes the CONNECT as if the client had sent the assigned id (it is the id in broker.clients())', async function () {
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: 5, clientId: '' })
      const id = c.connack!.properties?.assignedClientIdentifier
      assert.ok(b.broker.clients().some(ci => ci.clientId === id))
    })

    it('[MQTT-3.1.2-21][MQTT-3.2.2-21] with maxKeepalive 1 and a client Keep Alive of 30, CONNACK carries Server Keep Alive 1 and the broker enforces it', async function () {
      const b = await h.broker({ maxKeepalive: 1, tickInterval: 50 })
      const c = await b.connect({ protocolVersion: 5, keepalive: 30 })
      assert.equal(c.connack!.properties?.serverKeepAlive, 1)
      const t0 = Date.now()
      await c.expectErrorClose([0x8d], 4000)
      assert.ok(c.closedAt - t0 <= 2600, `closed after ${c.closedAt - t0} ms`)
    })

    it('[MQTT-3.2.2-22] a Keep Alive within maxKeepalive is kept: no different Server Keep Alive is sent', async function () {
      const b = await h.broker({ maxKeepalive: 60 })
      const c = await b.connect({ protocolVersion: 5, keepalive: 10 })
      const ska = c.connack!.properties?.serverKeepAlive
      assert.ok(ska === undefined || ska === 10, `Server Keep Alive ${ska}`)
    })
  })

  describe('unsupported protocol versions', function () {
    it('[MQTT-3.1.2-2] (3.1.1) a level the broker does not accept (4 with protocols [5]) gets CONNACK 0x01 and the connection closes', async function () {
      const b = await h.broker({ protocols: [5] })
      const c = await b.connect({ protocolVersion: 4, allowRefusal: true })
      assert.equal(connackCode(c.connack!), 0x01)
      assert.equal(c.connack!.sessionPresent, false)
      await c.expectClosed()
    })

    it('[MQTT-3.1.2-2] (3.1.1) MQTT 3.1 disabled by the protocols option gets CONNACK 0x01', async function () {
      const b = await h.broker({ protocols: [4, 5] })
      const c = await b.connect({ protocolVersion: 3, allowRefusal: true })
      assert.equal(connackCode(c.connack!), 0x01)
      await c.expectClosed()
    })

    it('[MQTT-3.1.2-2] (5.0) MQTT 5 disabled by the protocols option gets CONNACK 0x84 Unsupported Protocol Version and the connection closes', async function () {
      const b = await h.broker({ protocols: [3, 4] })
      const c = await b.connect({ protocolVersion: 5, allowRefusal: true })
      assert.equal(connackCode(c.connack!), 0x84)
      await c.expectClosed()
      await assertServing(b, 4)
    })

    it('[MQTT-3.1.2-2] an unknown protocol level (6) is refused with CONNACK 0x01 (or 0x84) and the connection closes', async function () {
      const b = await h.broker()
      const c = await b.open({ protocolVersion: 4 })
      const raw = c.encode(connectPacket({ protocolVersion: 4 }))
      c.sendRaw(bytes.patchByte(raw, bytes.connectLevelOffset(raw), () => 6))
      const ack = await c.next('connack')
      assert.ok([0x01, 0x84].includes(connackCode(ack)), `CONNACK ${hex(connackCode(ack))}`)
      await c.expectClosed()
    })
  })

  describe('enhanced authentication, MQTT 5', function () {
    it('[MQTT-4.12.0-1] a CONNECT with an Authentication Method the broker does not support gets CONNACK 0x8C (or 0x87) and the connection closes', async function () {
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: 5, properties: { authenticationMethod: 'SCRAM-SHA-256' }, allowRefusal: true })
      assert.ok([0x8c, 0x87].includes(connackCode(c.connack!)), `CONNACK ${hex(connackCode(c.connack!))}`)
      await c.expectClosed()
    })

    it('(MQTT 5 §4.12, §4.13) an AUTH packet on a connection without an Authentication Method closes it with DISCONNECT 0x8C (or 0x82)', async function () {
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: 5 })
      c.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'SCRAM-SHA-256' } })
      const d = await c.expectClosed()
      if (d === undefined) deviates('mosquitto', '(SHOULD, MQTT 5 4.13.1) Mosquitto 2.0.11 closes the connection on a Protocol Error (here an AUTH without Authentication Method) without a DISCONNECT giving the reason')
      assert.ok(d, 'a DISCONNECT explains the close')
      assert.ok([0x8c, 0x82].includes(d.reasonCode ?? 0), `DISCONNECT ${hex(d.reasonCode)}`)
      await assertServing(b, 5)
    })
  })
})
