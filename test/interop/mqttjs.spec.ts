// Interop: MQTT.js (an independent client implementation) against the broker over TCP,
// on MQTT 3.1.1 (protocolVersion 4) and MQTT 5.0 (protocolVersion 5).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt'
import { assertPublish, type ExpectedPublish } from '../helpers/packets'
import { Children, Clients, sleep, startTarget, TARGET, type Target, uniq, waitFor } from './helpers'

interface Got { topic: string, payload: Buffer, packet: IPublishPacket }

/** The whole PUBLISH MQTT.js received is the expected one, and MQTT.js reported its topic and payload. */
function assertGot (g: Got | undefined, expected: ExpectedPublish, message?: string): void {
  assert.ok(g, `expected a message${message ? ` (${message})` : ''}, got none`)
  assertPublish(g.packet, expected, message)
  assert.equal(g.topic, expected.topic)
  assert.ok(g.payload.equals(g.packet.payload as Buffer))
}

function collect (client: MqttClient, into: Got[] = []): Got[] {
  client.on('message', (topic, payload, packet) => { into.push({ topic, payload, packet }) })
  return into
}

function subIds (packet: IPublishPacket): number[] {
  const v = packet.properties?.subscriptionIdentifier
  if (v === undefined) return []
  return Array.isArray(v) ? v : [v]
}

for (const version of [4, 5] as const) {
  /** Statement ids differ between 3.1.1 and 5.0; cite the one of the version under test. */
  const cite = (v4: string, v5: string): string => (version === 4 ? v4 : v5)

  describe(`interop: MQTT.js ${version === 4 ? '3.1.1' : '5.0'} client vs ${TARGET} broker`, function () {
    this.timeout(20000)
    const children = new Children()
    const clients = new Clients()
    let target: Target | undefined

    beforeEach(async function () {
      target = await startTarget(children)
    })

    afterEach(async function () {
      await clients.endAll()
      if (target !== undefined) await target.stop().catch(() => undefined)
      target = undefined
      await children.killAll()
    })

    const t = (): Target => {
      if (target === undefined) throw new Error('broker not started')
      return target
    }
    const connect = (opts: IClientOptions = {}, setup?: (c: MqttClient) => void): ReturnType<Clients['connect']> =>
      clients.connect(t(), { protocolVersion: version, clientId: uniq('mqttjs'), ...opts }, setup)

    describe('QoS round trips', function () {
      for (const qos of [0, 1, 2] as const) {
        it(`QoS ${qos}: 20 messages arrive exactly once each, in order, payloads intact, delivered at QoS ${qos} [MQTT-3.3.4-1] [MQTT-4.6.0-5]`, async function () {
          const topic = uniq(`interop/qos${qos}`)
          const { client: sub } = await connect()
          const got = collect(sub)
          const granted = await sub.subscribeAsync(topic, { qos })
          assert.equal(granted[0]?.qos, qos, 'granted QoS')
          const { client: pub } = await connect()
          const payloads: Buffer[] = []
          for (let i = 0; i < 20; i++) {
            if (i === 0) payloads.push(Buffer.from(Array.from({ length: 256 }, (_v, b) => b))) // every byte value
            else if (i === 1) payloads.push(randomBytes(100 * 1024)) // spans many TCP segments
            else if (i === 2) payloads.push(Buffer.alloc(0)) // empty payload
            else payloads.push(Buffer.from(`message ${i} ✓ ünïcödé`))
          }
          for (const p of payloads) await pub.publishAsync(topic, p, { qos })
          await waitFor(() => got.length >= payloads.length, 8000, `${payloads.length} messages (got ${got.length})`)
          await sleep(300) // nothing extra may follow
          assert.equal(got.length, payloads.length, 'message count')
          // [MQTT-3.3.1-1] no DUP on first delivery; payloads intact and in order
          got.forEach((g, i) => { assertGot(g, { topic, payload: payloads[i] as Buffer, qos }, `message ${i}`) })
        })
      }

      it(`delivered QoS is min(publish QoS, granted QoS): QoS 2 publish to a QoS 1 subscription arrives at QoS 1 ${cite('[MQTT-3.8.4-6]', '[MQTT-3.8.4-8]')}`, async function () {
        const topic = uniq('interop/downgrade')
        const { client: sub } = await connect()
        const got = collect(sub)
        await sub.subscribeAsync(topic, { qos: 1 })
        const { client: sub0 } = await connect()
        const got0 = collect(sub0)
        await sub0.subscribeAsync(topic, { qos: 0 })
        const { client: pub } = await connect()
        await pub.publishAsync(topic, 'two', { qos: 2 })
        await waitFor(() => got.length === 1 && got0.length === 1, 5000, 'both subscribers')
        assertGot(got[0], { topic, payload: 'two', qos: 1 })
        assertGot(got0[0], { topic, payload: 'two', qos: 0 })
      })
    })

    describe('retained messages', function () {
      it(`a retained message is stored and sent with RETAIN=1 to a new subscriber; live copies carry RETAIN=0 ${cite('[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-9]', '[MQTT-3.3.1-5] [MQTT-3.3.1-9] [MQTT-3.3.1-12]')}`, async function () {
        const base = uniq('interop/retain')
        const { client: live } = await connect()
        const liveGot = collect(live)
        await live.subscribeAsync(`${base}/#`, { qos: 1 })
        const { client: pub } = await connect()
        await pub.publishAsync(`${base}/a`, 'first', { qos: 1, retain: true })
        await pub.publishAsync(`${base}/a`, 'second', { qos: 1, retain: true }) // replaces 'first'
        await pub.publishAsync(`${base}/b`, 'bee', { qos: 0, retain: true })
        await waitFor(() => liveGot.length === 3, 5000, 'live copies')
        assertGot(liveGot[0], { topic: `${base}/a`, payload: 'first', qos: 1 }, 'live copies have RETAIN=0')
        assertGot(liveGot[1], { topic: `${base}/a`, payload: 'second', qos: 1 })
        assertGot(liveGot[2], { topic: `${base}/b`, payload: 'bee', qos: 0 })

        const { client: late } = await connect()
        const lateGot = collect(late)
        await late.subscribeAsync(`${base}/#`, { qos: 1 })
        await waitFor(() => lateGot.length >= 2, 5000, 'retained messages')
        await sleep(300)
        const byTopic = new Map(lateGot.map(g => [g.topic, g]))
        assert.equal(lateGot.length, 2, 'one retained message per topic')
        assertGot(byTopic.get(`${base}/a`), { topic: `${base}/a`, payload: 'second', qos: 1, retain: true }, 'the newest retained message replaced the old one')
        assertGot(byTopic.get(`${base}/b`), { topic: `${base}/b`, payload: 'bee', qos: 0, retain: true })
      })

      it(`a retained message with an empty payload deletes the retained message and is not stored ${cite('[MQTT-3.3.1-10] [MQTT-3.3.1-11]', '[MQTT-3.3.1-6] [MQTT-3.3.1-7]')}`, async function () {
        const base = uniq('interop/unretain')
        const { client: pub } = await connect()
        await pub.publishAsync(`${base}/gone`, 'to be deleted', { qos: 1, retain: true })
        await pub.publishAsync(`${base}/kept`, 'stays', { qos: 1, retain: true })
        const { client: live } = await connect()
        const liveGot = collect(live)
        await live.subscribeAsync(`${base}/#`, { qos: 1 })
        await waitFor(() => liveGot.length === 2, 5000, 'retained messages before delete')
        await pub.publishAsync(`${base}/gone`, Buffer.alloc(0), { qos: 1, retain: true })
        // the empty retained publish is still forwarded normally to existing subscribers
        await waitFor(() => liveGot.length === 3, 5000, 'the empty publish forwarded to the live subscriber')
        assertGot(liveGot[2], { topic: `${base}/gone`, payload: Buffer.alloc(0), qos: 1 })

        const { client: late } = await connect()
        const lateGot = collect(late)
        await late.subscribeAsync(`${base}/#`, { qos: 1 })
        await waitFor(() => lateGot.length >= 1, 5000, 'the kept retained message')
        await sleep(400)
        assert.equal(lateGot.length, 1, 'only the kept message; the deleted one and the empty message are not retained')
        assertGot(lateGot[0], { topic: `${base}/kept`, payload: 'stays', qos: 1, retain: true })
      })
    })

    describe('will message', function () {
      it('an abnormal close (socket destroyed, no DISCONNECT) publishes the will [MQTT-3.1.2-8]', async function () {
        const topic = uniq('interop/will')
        const { client: watcher } = await connect()
        const got = collect(watcher)
        await watcher.subscribeAsync(topic, { qos: 1 })
        const { client: victim } = await connect({ will: { topic, payload: Buffer.from('victim died'), qos: 1, retain: false } })
        victim.stream.destroy()
        await waitFor(() => got.length === 1, 6000, 'the will message')
        assertGot(got[0], { topic, payload: 'victim died', qos: 1, retain: false }, cite('[MQTT-3.1.2-16]', '[MQTT-3.1.2-14]') + ' will retain 0 -> not retained')
      })

      it(`a clean DISCONNECT discards the will; a later abnormal close still publishes its own will ${cite('[MQTT-3.1.2-10]', '[MQTT-3.1.2-10] [MQTT-3.14.4-3]')}`, async function () {
        const topic = uniq('interop/nowill')
        const { client: watcher } = await connect()
        const got = collect(watcher)
        await watcher.subscribeAsync(topic, { qos: 1 })
        const { client: polite } = await connect({ will: { topic, payload: Buffer.from('polite will'), qos: 1, retain: false } })
        await polite.endAsync()
        await sleep(1000)
        // control: the watcher does receive wills on this topic
        const { client: rude } = await connect({ will: { topic, payload: Buffer.from('rude will'), qos: 1, retain: false } })
        rude.stream.destroy()
        await waitFor(() => got.length >= 1, 6000, 'the rude will')
        await sleep(300)
        assert.equal(got.length, 1)
        assertGot(got[0], { topic, payload: 'rude will', qos: 1 })
      })

      it(`a will with Will Retain=1 is published as a retained message ${cite('[MQTT-3.1.2-17]', '[MQTT-3.1.2-15]')}`, async function () {
        const topic = uniq('interop/willretain')
        const { client: watcher } = await connect()
        const live = collect(watcher)
        await watcher.subscribeAsync(topic, { qos: 1 })
        const { client: victim } = await connect({ will: { topic, payload: Buffer.from('retained will'), qos: 1, retain: true } })
        victim.stream.destroy()
        await waitFor(() => live.length === 1, 6000, 'the will, live')
        assertGot(live[0], { topic, payload: 'retained will', qos: 1, retain: false })
        const { client: late } = await connect()
        const got = collect(late)
        await late.subscribeAsync(topic, { qos: 1 })
        await waitFor(() => got.length >= 1, 5000, 'the retained will')
        assert.ok(got.length >= 1, 'retained will delivered to a later subscriber')
        assertGot(got[0], { topic, payload: 'retained will', qos: 1, retain: true })
      })

      if (version === 5) {
        it('v5: DISCONNECT with reason 0x04 (Disconnect with Will Message) publishes the will [MQTT-3.1.2-8]', async function () {
          const topic = uniq('interop/will04')
          const { client: watcher } = await connect()
          const got = collect(watcher)
          await watcher.subscribeAsync(topic, { qos: 1 })
          const { client: leaver } = await connect({ will: { topic, payload: Buffer.from('left with will'), qos: 1, retain: false } })
          await leaver.endAsync(false, { reasonCode: 0x04 })
          await waitFor(() => got.length === 1, 6000, 'the will after DISCONNECT 0x04')
          assertGot(got[0], { topic, payload: 'left with will', qos: 1 })
        })
      }
    })

    describe('session resume', function () {
      const persistent = (): IClientOptions => (version === 5
        ? { clean: false, properties: { sessionExpiryInterval: 300 } }
        : { clean: false })

      it(`QoS 1 messages published while a persistent session is offline are delivered on reconnect, Session Present=1 ${cite('[MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2]', '[MQTT-3.1.2-5] [MQTT-3.1.2-23] [MQTT-3.2.2-3]')}`, async function () {
        const clientId = uniq('resume')
        const topic = uniq('interop/resume')
        const first = await connect({ clientId, ...persistent() })
        assert.equal(first.connack.sessionPresent, false, 'no session existed yet')
        await first.client.subscribeAsync(topic, { qos: 1 })
        await first.client.endAsync()
        await sleep(300) // let the broker finish the DISCONNECT before anything else happens

        const { client: pub } = await connect()
        const sent = ['q1-a', 'q1-b', 'q1-c', 'q1-d', 'q1-e']
        for (const m of sent) await pub.publishAsync(topic, m, { qos: 1 })

        const got: Got[] = []
        const second = await connect({ clientId, ...persistent() }, c => collect(c, got))
        assert.equal(second.connack.sessionPresent, true, 'Session Present on resume')
        await waitFor(() => got.length >= sent.length, 6000, `${sent.length} queued messages (got ${got.length})`)
        await sleep(300)
        assert.equal(got.length, sent.length, 'queued messages exactly once')
        sent.forEach((m, i) => { assertGot(got[i], { topic, payload: m, qos: 1 }, 'in order') })

        // the resumed subscription is live: no re-subscribe needed
        await pub.publishAsync(topic, 'after resume', { qos: 1 })
        await waitFor(() => got.length === sent.length + 1, 5000, 'a live message on the resumed subscription')
        assertGot(got[sent.length], { topic, payload: 'after resume', qos: 1 })
      })

      it(`a clean ${version === 5 ? 'start' : 'session'} discards the old session: Session Present=0 and nothing queued is delivered ${cite('[MQTT-3.1.2-6] [MQTT-3.2.2-1]', '[MQTT-3.1.2-4] [MQTT-3.2.2-2]')}`, async function () {
        const clientId = uniq('discard')
        const topic = uniq('interop/discard')
        const first = await connect({ clientId, ...persistent() })
        await first.client.subscribeAsync(topic, { qos: 1 })
        await first.client.endAsync()
        await sleep(300) // let the broker finish the DISCONNECT before anything else happens
        const { client: pub } = await connect()
        await pub.publishAsync(topic, 'lost with the session', { qos: 1 })

        const got: Got[] = []
        const second = await connect({ clientId, clean: true }, c => collect(c, got))
        assert.equal(second.connack.sessionPresent, false)
        // control: the new session works, the old subscription is gone
        await second.client.subscribeAsync(`${topic}/control`, { qos: 1 })
        await pub.publishAsync(topic, 'not subscribed any more', { qos: 1 })
        await pub.publishAsync(`${topic}/control`, 'control', { qos: 1 })
        await waitFor(() => got.length >= 1, 5000, 'the control message')
        await sleep(300)
        assert.equal(got.length, 1)
        assertGot(got[0], { topic: `${topic}/control`, payload: 'control', qos: 1 })
      })

      if (version === 5) {
        it('v5: with Session Expiry Interval 0 the session ends at disconnect, so Clean Start=0 finds no session [MQTT-3.1.2-23] [MQTT-3.2.2-3]', async function () {
          const clientId = uniq('noexpiry')
          const first = await connect({ clientId, clean: false, properties: { sessionExpiryInterval: 0 } })
          await first.client.subscribeAsync(uniq('interop/x'), { qos: 1 })
          await first.client.endAsync()
          await sleep(300) // let the broker finish the DISCONNECT before reconnecting
          const second = await connect({ clientId, clean: false, properties: { sessionExpiryInterval: 0 } })
          assert.equal(second.connack.sessionPresent, false)
        })

        it('v5: a queued message whose Message Expiry Interval passes while offline is not delivered [MQTT-3.3.2-5]', async function () {
          const clientId = uniq('expiry')
          const topic = uniq('interop/expiry')
          const first = await connect({ clientId, ...persistent() })
          await first.client.subscribeAsync(topic, { qos: 1 })
          await first.client.endAsync()
          await sleep(300) // let the broker finish the DISCONNECT before anything else happens
          const { client: pub } = await connect()
          await pub.publishAsync(topic, 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } })
          await pub.publishAsync(topic, 'long-lived', { qos: 1, properties: { messageExpiryInterval: 600 } })
          await sleep(2500)
          const got: Got[] = []
          const second = await connect({ clientId, ...persistent() }, c => collect(c, got))
          assert.equal(second.connack.sessionPresent, true)
          await waitFor(() => got.length >= 1, 5000, 'the long-lived message')
          await sleep(300)
          assert.equal(got.length, 1)
          const left = got[0]?.packet.properties?.messageExpiryInterval
          assert.ok(left !== undefined && left <= 598 && left >= 590, `[MQTT-3.3.2-6] remaining expiry decremented (got ${String(left)})`)
          assertGot(got[0], { topic, payload: 'long-lived', qos: 1, properties: { messageExpiryInterval: left } })
        })
      }
    })

    describe('shared subscriptions', function () {
      it(`$share/<group>/<filter>: messages are spread over the group, each delivered to exactly one member [MQTT-4.8.2-1] [MQTT-4.8.2-2]${version === 4 ? ' (MQTT 5 feature, used from a 3.1.1 client)' : ''}`, async function () {
        const group = uniq('g').replace(/-/g, '')
        const topic = uniq('interop/shared')
        const filter = `$share/${group}/${topic}`
        const { client: a } = await connect()
        const { client: b } = await connect()
        const gotA = collect(a)
        const gotB = collect(b)
        const grantA = await a.subscribeAsync(filter, { qos: 1 })
        const grantB = await b.subscribeAsync(filter, { qos: 1 })
        assert.equal(grantA[0]?.qos, 1, 'shared subscription granted')
        assert.equal(grantB[0]?.qos, 1, 'shared subscription granted')
        const { client: pub } = await connect()
        const n = 40
        for (let i = 0; i < n; i++) await pub.publishAsync(topic, `s${i}`, { qos: 1 })
        await waitFor(() => gotA.length + gotB.length >= n, 8000, `${n} shared messages (got ${gotA.length}+${gotB.length})`)
        await sleep(300)
        assert.equal(gotA.length + gotB.length, n, 'each message delivered to exactly one member')
        assert.ok(gotA.length > 0, 'member A received some')
        assert.ok(gotB.length > 0, 'member B received some')
        const all = [...gotA, ...gotB].map(g => g.payload.toString()).sort()
        assert.deepEqual(all, Array.from({ length: n }, (_v, i) => `s${i}`).sort(), 'every message once')
        for (const g of [...gotA, ...gotB]) assertGot(g, { topic, payload: g.payload.toString(), qos: 1 }, 'delivered with the real topic name')
      })

      if (version === 5) {
        it('v5: no retained messages are sent on a shared subscribe (MQTT 5.0 §3.3.1.3: retained messages go to a new Non-shared Subscription)', async function () {
          // Mosquitto 2.0.11 does send them (a known deviation), so this one is only meaningful against Hearth.
          if (TARGET === 'mosquitto') this.skip()
          const group = uniq('g').replace(/-/g, '')
          const topic = uniq('interop/sharedretain')
          const { client: pub } = await connect()
          await pub.publishAsync(topic, 'retained before shared subscribe', { qos: 1, retain: true })
          const { client: member } = await connect()
          const got = collect(member)
          await member.subscribeAsync(`$share/${group}/${topic}`, { qos: 1 })
          await sleep(500)
          // control: the shared subscription is live
          await pub.publishAsync(topic, 'live', { qos: 1 })
          await waitFor(() => got.length >= 1, 5000, 'the live message')
          await sleep(200)
          assert.equal(got.length, 1)
          assertGot(got[0], { topic, payload: 'live', qos: 1 })
        })
      }

      it('a shared subscription and a normal subscription on the same topic each get the message', async function () {
        const group = uniq('g').replace(/-/g, '')
        const topic = uniq('interop/sharedplus')
        const { client: shared } = await connect()
        const { client: normal } = await connect()
        const gotS = collect(shared)
        const gotN = collect(normal)
        await shared.subscribeAsync(`$share/${group}/${topic}`, { qos: 1 })
        await normal.subscribeAsync(topic, { qos: 1 })
        const { client: pub } = await connect()
        for (let i = 0; i < 5; i++) await pub.publishAsync(topic, `m${i}`, { qos: 1 })
        await waitFor(() => gotS.length >= 5 && gotN.length >= 5, 5000, 'both subscribers')
        await sleep(200)
        for (const g of [gotS, gotN]) {
          assert.equal(g.length, 5)
          g.forEach((m, i) => { assertGot(m, { topic, payload: `m${i}`, qos: 1 }) })
        }
      })
    })

    if (version === 5) {
      describe('MQTT 5 properties', function () {
        it('PUBLISH properties are forwarded unaltered: user properties (order kept), content type, response topic, correlation data, payload format, message expiry [MQTT-3.3.2-4] [MQTT-3.3.2-6] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20]', async function () {
          const topic = uniq('interop/props')
          const { client: sub } = await connect()
          const got = collect(sub)
          await sub.subscribeAsync(topic, { qos: 1 })
          const { client: pub } = await connect()
          const correlationData = Buffer.from([0, 1, 2, 0xfe, 0xff])
          await pub.publishAsync(topic, '{"hello":"world"}', {
            qos: 1,
            properties: {
              payloadFormatIndicator: true,
              messageExpiryInterval: 120,
              contentType: 'application/json; charset=utf-8',
              responseTopic: 'reply/to/me',
              correlationData,
              userProperties: { first: '1', multi: ['x', 'y', 'z'], 'ünï': 'cödé ✓' },
            },
          })
          await waitFor(() => got.length === 1, 5000, 'the message')
          const left = got[0]?.packet.properties?.messageExpiryInterval
          assert.ok(left !== undefined && left <= 120 && left >= 118, `message expiry forwarded and not increased (got ${String(left)})`)
          assertGot(got[0], {
            topic,
            payload: '{"hello":"world"}',
            qos: 1,
            properties: {
              payloadFormatIndicator: true,
              messageExpiryInterval: left,
              contentType: 'application/json; charset=utf-8',
              responseTopic: 'reply/to/me',
              correlationData,
              userProperties: { first: '1', multi: ['x', 'y', 'z'], 'ünï': 'cödé ✓' },
            },
          })
        })

        it('a message without properties is forwarded without application properties', async function () {
          const topic = uniq('interop/noprops')
          const { client: sub } = await connect()
          const got = collect(sub)
          await sub.subscribeAsync(topic, { qos: 1 })
          const { client: pub } = await connect()
          await pub.publishAsync(topic, 'plain', { qos: 1 })
          await waitFor(() => got.length === 1, 5000, 'the message')
          assertGot(got[0], { topic, payload: 'plain', qos: 1 })
        })

        it('a retained message keeps its properties for later subscribers [MQTT-3.3.2-17] [MQTT-3.3.2-20]', async function () {
          const topic = uniq('interop/retprops')
          const { client: pub } = await connect()
          await pub.publishAsync(topic, 'r', { qos: 1, retain: true, properties: { contentType: 'text/plain', userProperties: { k: 'v' } } })
          const { client: sub } = await connect()
          const got = collect(sub)
          await sub.subscribeAsync(topic, { qos: 1 })
          await waitFor(() => got.length === 1, 5000, 'the retained message')
          assertGot(got[0], { topic, payload: 'r', qos: 1, retain: true, properties: { contentType: 'text/plain', userProperties: { k: 'v' } } })
        })

        it('request/response: a responder answers on the Response Topic with the Correlation Data [MQTT-3.3.2-15] [MQTT-3.3.2-16]', async function () {
          const reqTopic = uniq('interop/req')
          const resTopic = uniq('interop/res')
          const { client: responder } = await connect()
          responder.on('message', (_topic, payload, packet) => {
            const rt = packet.properties?.responseTopic
            if (rt === undefined) return
            responder.publish(rt, Buffer.concat([Buffer.from('re: '), payload]), { qos: 1, properties: { correlationData: packet.properties?.correlationData } })
          })
          await responder.subscribeAsync(reqTopic, { qos: 1 })
          const { client: requester } = await connect()
          const got = collect(requester)
          await requester.subscribeAsync(resTopic, { qos: 1 })
          await requester.publishAsync(reqTopic, 'ping', { qos: 1, properties: { responseTopic: resTopic, correlationData: Buffer.from('id-42') } })
          await waitFor(() => got.length === 1, 5000, 'the response')
          assertGot(got[0], { topic: resTopic, payload: 're: ping', qos: 1, properties: { correlationData: Buffer.from('id-42') } })
        })
      })

      describe('subscription identifiers', function () {
        it('the Subscription Identifier of the matching subscription is sent with the message [MQTT-3.3.4-3]', async function () {
          const topic = uniq('interop/subid')
          const { client: sub, connack } = await connect()
          assert.notEqual(connack.properties?.subscriptionIdentifiersAvailable, false, 'subscription identifiers available')
          const got = collect(sub)
          await sub.subscribeAsync(topic, { qos: 1, properties: { subscriptionIdentifier: 268435455 } }) // largest allowed
          await sub.subscribeAsync(`${topic}/plain`, { qos: 1 }) // no identifier
          const { client: pub } = await connect()
          await pub.publishAsync(topic, 'with id', { qos: 1 })
          await pub.publishAsync(`${topic}/plain`, 'without id', { qos: 1 })
          await waitFor(() => got.length === 2, 5000, 'both messages')
          const withId = got.find(g => g.topic === topic)
          const withoutId = got.find(g => g.topic === `${topic}/plain`)
          assertGot(withId, { topic, payload: 'with id', qos: 1, properties: { subscriptionIdentifier: 268435455 } })
          assertGot(withoutId, { topic: `${topic}/plain`, payload: 'without id', qos: 1 }, 'no identifier on a subscription without one')
        })

        it('overlapping subscriptions: the identifiers of all matching subscriptions are sent, one per copy or all in a single copy [MQTT-3.3.4-3] [MQTT-3.3.4-4] [MQTT-3.3.4-5]', async function () {
          const base = uniq('interop/subids')
          const { client: sub } = await connect()
          const got = collect(sub)
          await sub.subscribeAsync(`${base}/+`, { qos: 1, properties: { subscriptionIdentifier: 7 } })
          await sub.subscribeAsync(`${base}/#`, { qos: 1, properties: { subscriptionIdentifier: 9 } })
          const { client: pub } = await connect()
          await pub.publishAsync(`${base}/x`, 'overlap', { qos: 1 })
          await waitFor(() => got.length >= 1, 5000, 'the message')
          await sleep(400)
          assert.ok(got.length === 1 || got.length === 2, `one copy, or one copy per subscription (got ${got.length})`)
          if (got.length === 1) {
            assertGot(got[0], { topic: `${base}/x`, payload: 'overlap', qos: 1, properties: { subscriptionIdentifier: [7, 9] } }, '[MQTT-3.3.4-4] single copy carries all identifiers')
          } else {
            const ids = got.map(g => subIds(g.packet))
            for (const one of ids) assert.equal(one.length, 1, '[MQTT-3.3.4-5] each copy carries its own subscription identifier')
            assert.deepEqual(ids.flat().sort((x, y) => x - y), [7, 9])
            for (const g of got) assertGot(g, { topic: `${base}/x`, payload: 'overlap', qos: 1, properties: { subscriptionIdentifier: subIds(g.packet) } })
          }
        })
      })
    }
  })
}
