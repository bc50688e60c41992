import assert from 'node:assert/strict'
import type { IPublishPacket, QoS } from 'mqtt-packet'
import { VERSIONS, assertPublish, deviates, assertPublishes, assertServing, sleep, spec, uniqueId, useHarness, type TestBroker, type TestClient } from '../helpers'

describe('02 publish and QoS', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      async function pair (b: TestBroker, filter: string, qos: QoS) {
        const sub = await b.connect({ protocolVersion: v })
        assert.deepEqual(await sub.subscribe(filter, qos), [qos])
        const pub = await b.connect({ protocolVersion: v })
        return { sub, pub }
      }

      it(`${spec(v, ['3.3.1-2', '2.3.1-5', '4.3.1-1'], ['3.3.1-2', '2.2.1-2', '4.3.1-1'])} QoS 0: delivered once with QoS 0, DUP 0 and no packet identifier`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'q0/#', 2)
        await pub.publish('q0/a', 'zero', { qos: 0 })
        assertPublish(await sub.waitFor('publish'), { topic: 'q0/a', payload: 'zero', qos: 0, dup: false })
        await sub.expectNothing(100, 'publish')
      })

      it(`${spec(v, ['3.3.4-1', '2.3.1-6', '4.3.2-2'], ['3.3.4-1', '2.2.1-5', '4.3.2-4'])} QoS 1 inbound: PUBACK carries the PUBLISH's packet identifier`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        pub.send({ cmd: 'publish', topic: 'q1/a', payload: Buffer.from('x'), qos: 1, messageId: 4242, retain: false, dup: false })
        const ack = await pub.next('puback')
        assert.equal(ack.messageId, 4242)
        if (v === 5) assert.ok([0x00, 0x10].includes(ack.reasonCode ?? 0), 'Success or No matching subscribers [MQTT-3.4.2-1]')
      })

      it(`${spec(v, ['2.3.1-1', '2.3.1-4', '4.3.2-1'], ['2.2.1-3', '2.2.1-4', '4.3.2-1', '4.3.2-2'])} QoS 1 outbound: the subscriber gets QoS 1, DUP 0, a non-zero packet identifier`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'q1/#', 1)
        await pub.publish('q1/a', 'one', { qos: 1 })
        const m = await sub.waitFor('publish')
        assertPublish(m, { topic: 'q1/a', payload: 'one', qos: 1, dup: false })
        await sub.ack(m)
      })

      it(`${spec(v, ['2.3.1-2', '2.3.1-4'], ['2.2.1-3', '2.2.1-4'])} unacknowledged outbound QoS 1/2 messages use distinct packet identifiers`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'ids/#', 2)
        for (let i = 0; i < 10; i++) await pub.publish(`ids/${i}`, String(i), { qos: (1 + (i % 2)) as QoS })
        const got = await sub.publishes(10)
        assertPublishes(got, Array.from({ length: 10 }, (_, i) => ({ topic: `ids/${i}`, payload: String(i), qos: (1 + (i % 2)) as QoS })))
        const ids = got.map(p => p.messageId)
        assert.equal(new Set(ids).size, 10, `identifiers ${ids.join(',')}`)
        assert.ok(ids.every(id => id !== undefined && id > 0 && id <= 65535))
      })

      it(`${spec(v, ['4.3.2-2'], ['4.3.2-5'])} QoS 1: after PUBACK, the same packet identifier is a new message (even with DUP set)`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'again/#', 1)
        await pub.publish('again/a', 'first', { qos: 1, messageId: 9 })
        await pub.publish('again/a', 'second', { qos: 1, messageId: 9, dup: true })
        assertPublishes(await sub.publishes(2), [{ topic: 'again/a', payload: 'first', qos: 1 }, { topic: 'again/a', payload: 'second', qos: 1 }])
      })

      it(`${spec(v, ['4.3.3-2'], ['4.3.3-8', '4.3.3-11'])} QoS 2 inbound: PUBREC then, on PUBREL, PUBCOMP with the same packet identifier`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'q2/#', 2)
        pub.send({ cmd: 'publish', topic: 'q2/a', payload: Buffer.from('two'), qos: 2, messageId: 77, retain: false, dup: false })
        const rec = await pub.next('pubrec')
        assert.equal(rec.messageId, 77)
        pub.send({ cmd: 'pubrel', messageId: 77 })
        const comp = await pub.next('pubcomp')
        assert.equal(comp.messageId, 77)
        if (v === 5) assert.equal(comp.reasonCode ?? 0, 0, 'PUBCOMP Success [MQTT-3.7.2-1]')
        assertPublish(await sub.waitFor('publish'), { topic: 'q2/a', payload: 'two', qos: 2 })
      })

      it(`${spec(v, ['4.3.3-2'], ['4.3.3-10'])} QoS 2 exactly once: a PUBLISH resent with DUP before PUBREL gets another PUBREC and is not delivered twice`, async function () {
        const b = await h.broker()
        deviates('mosquitto', '[MQTT-4.3.3-2 / v5 MQTT-4.3.3-10] Mosquitto 2.0.11 answers the first DUP resend of an unreleased QoS 2 PUBLISH with PUBREC but closes the connection (v5: DISCONNECT 0x82 Protocol Error) on the second')
        const { sub, pub } = await pair(b, 'eo/#', 2)
        const p = { cmd: 'publish' as const, topic: 'eo/a', payload: Buffer.from('once'), qos: 2 as QoS, messageId: 5, retain: false, dup: false }
        pub.send(p)
        assert.equal((await pub.next('pubrec')).messageId, 5)
        pub.send({ ...p, dup: true })
        assert.equal((await pub.next('pubrec')).messageId, 5)
        pub.send({ ...p, dup: true })
        assert.equal((await pub.next('pubrec')).messageId, 5)
        pub.send({ cmd: 'pubrel', messageId: 5 })
        await pub.next('pubcomp')
        const m = await sub.waitFor('publish')
        assertPublish(m, { topic: 'eo/a', payload: 'once', qos: 2 })
        await sub.ack(m)
        await sub.expectNothing(200, 'publish')
      })

      it(`${spec(v, ['4.3.3-2'], ['4.3.3-10'])} QoS 2 exactly once: a second PUBLISH with the same unreleased packet identifier (even without DUP) is not delivered again`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'eo3/#', 2)
        sub.autoAck = true
        const p = { cmd: 'publish' as const, topic: 'eo3/a', payload: Buffer.from('once'), qos: 2 as QoS, messageId: 8, retain: false, dup: false }
        pub.send(p)
        await pub.next('pubrec')
        pub.send(p)
        assert.equal((await pub.next('pubrec')).messageId, 8)
        pub.send({ cmd: 'pubrel', messageId: 8 })
        await pub.next('pubcomp')
        assertPublish(await sub.waitFor('publish'), { topic: 'eo3/a', payload: 'once', qos: 2 })
        await sub.expectNothing(200, 'publish')
      })

      it(`${spec(v, ['4.3.3-2'], ['4.3.3-12'])} QoS 2: after PUBCOMP the same packet identifier starts a new message`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'eo2/#', 2)
        await pub.publish('eo2/a', 'first', { qos: 2, messageId: 3 })
        await pub.publish('eo2/a', 'second', { qos: 2, messageId: 3 })
        assertPublishes(await sub.publishes(2), [{ topic: 'eo2/a', payload: 'first', qos: 2 }, { topic: 'eo2/a', payload: 'second', qos: 2 }])
      })

      it(`${spec(v, ['4.3.3-1', '2.3.1-6'], ['4.3.3-1', '4.3.3-2', '4.3.3-4', '2.2.1-5'])} QoS 2 outbound: PUBLISH QoS 2 DUP 0, on PUBREC the broker sends PUBREL (flags 0010) with the same identifier`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'out2/#', 2)
        await pub.publish('out2/a', 'x', { qos: 2 })
        const m = await sub.waitFor('publish')
        assertPublish(m, { topic: 'out2/a', payload: 'x', qos: 2, dup: false })
        sub.send({ cmd: 'pubrec', messageId: m.messageId })
        const rel = await sub.next('pubrel')
        assert.equal(rel.messageId, m.messageId)
        sub.send({ cmd: 'pubcomp', messageId: m.messageId })
        await sub.expectNothing(150)
      })

      it(`${spec(v, ['4.4.0-1'], ['4.4.0-1'])} an unacknowledged QoS 1 message is not resent on the same connection`, async function () {
        const b = await h.broker({ tickInterval: 50 })
        const { sub, pub } = await pair(b, 'nore/#', 1)
        await pub.publish('nore/a', 'x', { qos: 1 })
        assertPublish(await sub.waitFor('publish'), { topic: 'nore/a', payload: 'x', qos: 1 })
        await sub.expectNothing(600, 'publish')
      })

      it(`${spec(v, ['3.3.1-3'], ['3.3.1-3'])} the outgoing DUP flag is set only for retransmissions: an incoming DUP=1 is forwarded with DUP 0`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'dup/#', 1)
        await pub.publish('dup/a', 'x', { qos: 1, dup: true })
        assertPublish(await sub.waitFor('publish'), { topic: 'dup/a', payload: 'x', qos: 1, dup: false })
      })

      it(`${spec(v, ['3.8.4-6'], ['3.8.4-8'])} delivered QoS = min(published QoS, granted QoS), for all nine combinations`, async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v })
        const subs: TestClient[] = []
        for (const sq of [0, 1, 2] as QoS[]) {
          const s = await b.connect({ protocolVersion: v })
          assert.deepEqual(await s.subscribe(`min/${sq}/#`, sq), [sq])
          subs.push(s)
        }
        for (const sq of [0, 1, 2] as QoS[]) {
          for (const pq of [0, 1, 2] as QoS[]) {
            await pub.publish(`min/${sq}/p${pq}`, `${pq}`, { qos: pq })
            const m = await subs[sq].waitFor('publish', p => p.topic === `min/${sq}/p${pq}`)
            assertPublish(m, { topic: `min/${sq}/p${pq}`, payload: `${pq}`, qos: Math.min(pq, sq) as QoS }, `published ${pq}, granted ${sq}`)
            await subs[sq].ack(m)
          }
        }
      })

      it(`${spec(v, ['4.6.0-5', '4.6.0-6'], ['4.6.0-5', '4.6.0-6'])} messages from one client on one topic and QoS reach a subscriber in the order sent (QoS 0, 1 and 2 streams)`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'ord/#', 2)
        sub.autoAck = true
        // The broker may forward a QoS 2 message on PUBLISH or only on PUBREL (4.3.3 methods A and B).
        pub.autoRelease = true
        const N = 60
        // At most 10 unacknowledged QoS 1/2 PUBLISHes, within any broker's Receive Maximum [MQTT-3.3.4-7].
        let unacked = 0
        for (const q of [0, 1, 2] as QoS[]) {
          for (let i = 0; i < N; i++) {
            if (q > 0 && unacked >= 10) {
              await pub.waitFor(q === 1 ? 'puback' : 'pubcomp')
              unacked--
            }
            pub.send({ cmd: 'publish', topic: `ord/${q}`, payload: Buffer.from(String(i)), qos: q, messageId: q ? pub.packetId() : undefined, retain: false, dup: false })
            if (q > 0) unacked++
          }
          for (; q > 0 && unacked > 0; unacked--) await pub.waitFor(q === 1 ? 'puback' : 'pubcomp')
        }
        const got = await sub.publishes(3 * N, 5000)
        for (const q of [0, 1, 2] as QoS[]) {
          assertPublishes(got.filter(p => p.topic === `ord/${q}`), Array.from({ length: N }, (_, i) => ({ topic: `ord/${q}`, payload: String(i), qos: q })), `QoS ${q} order`)
        }
      })

      it(`${spec(v, ['3.3.2-3'], ['3.3.2-3'])} the topic name delivered is the published one, matching the subscriber's filter`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'sport/+/score', 0)
        await pub.publish('sport/tennis/score', '15-0')
        assertPublish(await sub.waitFor('publish'), { topic: 'sport/tennis/score', payload: '15-0' })
      })

      it(`${spec(v, ['3.3.1-9'], ['3.3.1-12'])} a live message is delivered with RETAIN 0 even when published with RETAIN 1`, async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'live/#', 0)
        await pub.publish('live/a', 'r', { qos: 1, retain: true })
        assertPublish(await sub.waitFor('publish'), { topic: 'live/a', payload: 'r', qos: 0, retain: false })
        b.broker.clearRetained('#')
      })

      if (v === 5) {
        it('[MQTT-4.4.0-2] a PUBACK with a failure reason code (0x80) completes the message: it is not resent on resume', async function () {
          const b = await h.broker()
          const id = uniqueId()
          const props = { sessionExpiryInterval: 60 }
          const s1 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
          await s1.subscribe('fail/#', 1)
          const pub = await b.connect({ protocolVersion: 5 })
          await pub.publish('fail/a', 'x', { qos: 1 })
          const m = await s1.waitFor('publish')
          assertPublish(m, { topic: 'fail/a', payload: 'x', qos: 1 })
          s1.send({ cmd: 'puback', messageId: m.messageId, reasonCode: 0x80 })
          await sleep(50)
          s1.destroy()
          await s1.closed
          const s2 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
          await s2.expectNothing(300, 'publish')
        })

        it('[MQTT-4.3.3-4][MQTT-4.4.0-2] a PUBREC with a failure reason code ends the QoS 2 flow: no PUBREL, no resend on resume', async function () {
          const b = await h.broker()
          const id = uniqueId()
          const props = { sessionExpiryInterval: 60 }
          const s1 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
          await s1.subscribe('fail2/#', 2)
          const pub = await b.connect({ protocolVersion: 5 })
          await pub.publish('fail2/a', 'x', { qos: 2 })
          const m = await s1.waitFor('publish')
          assertPublish(m, { topic: 'fail2/a', payload: 'x', qos: 2 })
          s1.send({ cmd: 'pubrec', messageId: m.messageId, reasonCode: 0x80 })
          await s1.expectNothing(200, 'pubrel')
          s1.destroy()
          await s1.closed
          const s2 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
          await s2.expectNothing(300)
        })

        it('[MQTT-3.3.4-9] a PUBREC with a failure code frees the Receive Maximum slot: the next message is sent', async function () {
          const b = await h.broker()
          const sub = await b.connect({ protocolVersion: 5, properties: { receiveMaximum: 1 } })
          await sub.subscribe('slot/#', 2)
          const pub = await b.connect({ protocolVersion: 5 })
          await pub.publish('slot/a', '1', { qos: 2 })
          await pub.publish('slot/a', '2', { qos: 2 })
          const m1 = await sub.waitFor('publish')
          assertPublish(m1, { topic: 'slot/a', payload: '1', qos: 2 })
          await sub.expectNothing(150, 'publish')
          sub.send({ cmd: 'pubrec', messageId: m1.messageId, reasonCode: 0x80 })
          assertPublish(await sub.waitFor('publish'), { topic: 'slot/a', payload: '2', qos: 2 })
        })
      }

      it('a publisher receives its own message when subscribed (no No Local by default)', async function () {
        const b = await h.broker()
        const c = await b.connect({ protocolVersion: v })
        await c.subscribe('self/#', 1)
        await c.publish('self/a', 'me', { qos: 1 })
        assertPublish(await c.waitFor('publish'), { topic: 'self/a', payload: 'me', qos: 1 })
      })

      it('a large (1 MB) payload is delivered intact', async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'big', 1)
        const payload = Buffer.alloc(1024 * 1024)
        for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff
        await pub.publish('big', payload, { qos: 1 })
        assertPublish(await sub.waitFor('publish', undefined, 5000), { topic: 'big', payload, qos: 1 })
      })

      it('a zero-length payload is delivered as a zero-length payload', async function () {
        const b = await h.broker()
        const { sub, pub } = await pair(b, 'empty', 1)
        await pub.publish('empty', Buffer.alloc(0), { qos: 1 })
        assertPublish(await sub.waitFor('publish'), { topic: 'empty', payload: Buffer.alloc(0), qos: 1 })
      })

      describe('topic name validation', function () {
        const cases: Array<[string, string, string[], string[]]> = [
          ['a single-level wildcard', 'a/+/b', ['3.3.2-2', '4.7.1-1'], ['3.3.2-2', '4.7.0-1']],
          ['a multi-level wildcard', 'a/#', ['3.3.2-2', '4.7.1-1'], ['3.3.2-2', '4.7.0-1']],
          ['a lone +', '+', ['3.3.2-2'], ['3.3.2-2']],
          ['a null character', 'a\u0000b', ['4.7.3-2', '1.5.3-2'], ['4.7.3-2', '1.5.4-2']],
          ['zero length (and no Topic Alias)', '', ['4.7.3-1'], ['4.7.3-1']],
        ]
        for (const [what, topic, r4, r5] of cases) {
          it(`${spec(v, r4, r5)} a PUBLISH whose topic name contains ${what} closes the connection and is not delivered; the broker keeps serving`, async function () {
            const b = await h.broker()
            const watcher = await b.connect({ protocolVersion: v })
            await watcher.subscribe('#', 0)
            const pub = await b.connect({ protocolVersion: v })
            pub.send({ cmd: 'publish', topic, payload: Buffer.from('bad'), qos: 1, messageId: 1, retain: false, dup: false })
            await pub.expectErrorClose([0x81, 0x82, 0x90])
            await watcher.expectNothing(100, 'publish')
            await assertServing(b, v)
          })
        }

        it(`${spec(v, ['4.7.3-4'], ['4.7.3-4'])} topic names are not normalised: case, trailing slash, spaces and U+FEFF are significant`, async function () {
          const b = await h.broker()
          const sub = await b.connect({ protocolVersion: v })
          await sub.subscribe('Norm/A', 0)
          const pub = await b.connect({ protocolVersion: v })
          for (const t of ['norm/a', 'Norm/A/', 'Norm/A ', '\uFEFFNorm/A', 'Norm/A']) await pub.publish(t, t)
          assertPublish(await sub.waitFor('publish'), { topic: 'Norm/A', payload: 'Norm/A' })
          await sub.expectNothing(100, 'publish')
        })

        it(`${spec(v, ['1.5.3-3'], ['1.5.4-3'])} a topic containing U+FEFF (EF BB BF) is delivered with it intact`, async function () {
          const b = await h.broker()
          const topic = 'bom/\uFEFFx'
          const { sub, pub } = await pair(b, topic, 0)
          await pub.publish(topic, 'x')
          assertPublish(await sub.waitFor('publish'), { topic, payload: 'x' })
        })

        it(`${spec(v, ['4.7.3-3'], ['4.7.3-3'])} a 65535-byte topic name is accepted and delivered`, async function () {
          const b = await h.broker()
          const topic = 'long/' + 'x'.repeat(65535 - 5)
          const { sub, pub } = await pair(b, 'long/+', 0)
          await pub.publish(topic, 'x', { qos: 1 })
          const m: IPublishPacket = await sub.waitFor('publish')
          assert.equal(Buffer.byteLength(m.topic), 65535)
          assertPublish(m, { topic, payload: 'x' })
        })
      })

      it('a client that publishes to a topic nobody subscribes gets its acknowledgements normally', async function () {
        const b = await h.broker()
        const pub = await b.connect({ protocolVersion: v, clientId: uniqueId('lonely') })
        const a1 = await pub.publish('nobody/here', 'x', { qos: 1 })
        assert.equal(a1?.cmd, 'puback')
        if (v === 5 && a1?.cmd === 'puback') assert.ok([0x00, 0x10].includes(a1.reasonCode ?? 0))
        const a2 = await pub.publish('nobody/here', 'x', { qos: 2 })
        assert.equal(a2?.cmd, 'pubcomp')
      })
    })
  }
})
