import assert from 'node:assert/strict'
import type { IPublishPacket } from 'mqtt-packet'
import { assertPublish, assertPublishes, assertServing, sleep, uniqueId, deviates, useHarness, type TestBroker, type TestClient } from '../helpers'

describe('09 shared subscriptions (MQTT 5)', function () {
  const h = useHarness()

  async function members (b: TestBroker, n: number, filter: string, qos: 0 | 1 | 2 = 1): Promise<TestClient[]> {
    const out: TestClient[] = []
    for (let i = 0; i < n; i++) {
      const c = await b.connect({ protocolVersion: 5 })
      assert.deepEqual(await c.subscribe(filter, qos), [qos])
      c.autoAck = true
      out.push(c)
    }
    return out
  }

  /** Publish `n` messages, then collect everything the clients received until all `n` are accounted for. */
  async function spread (pub: TestClient, clients: TestClient[], topic: string, n: number, qos: 0 | 1 | 2 = 1): Promise<IPublishPacket[][]> {
    for (let i = 0; i < n; i++) await pub.publish(topic, String(i), { qos })
    const got: IPublishPacket[][] = clients.map(() => [])
    const deadline = Date.now() + 3000
    while (got.flat().length < n && Date.now() < deadline) {
      await sleep(20)
      clients.forEach((c, i) => { got[i].push(...c.drain().filter((p): p is IPublishPacket => p.cmd === 'publish')) })
    }
    await sleep(100)
    clients.forEach((c, i) => { got[i].push(...c.drain().filter((p): p is IPublishPacket => p.cmd === 'publish')) })
    return got
  }

  /** Each of `got` is exactly a message of `spread` on `topic` (payload its sequence number) at `qos`. */
  function whole (got: IPublishPacket[], topic: string, qos: 0 | 1 | 2): void {
    for (const m of got) {
      assert.match(m.payload.toString(), /^\d+$/)
      assertPublish(m, { topic, payload: m.payload.toString(), qos })
    }
  }

  it('[MQTT-4.8.2-1][MQTT-4.8.2-2] CONNACK does not deny shared subscriptions, and $share/{ShareName}/{filter} is granted', async function () {
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 5 })
    assert.notEqual(c.connack!.properties?.sharedSubscriptionAvailable, false)
    assert.deepEqual(await c.subscribe('$share/g1/jobs/#', 2), [2])
  })

  it('(MQTT 5 §4.8.2) messages are spread over the group: each goes to exactly one member, and every member gets some', async function () {
    const b = await h.broker()
    const group = await members(b, 3, '$share/workers/jobs/+')
    const pub = await b.connect({ protocolVersion: 5 })
    const got = await spread(pub, group, 'jobs/x', 30)
    whole(got.flat(), 'jobs/x', 1)
    const all = got.flat().map(m => Number(m.payload.toString())).sort((a, z) => a - z)
    assert.deepEqual(all, Array.from({ length: 30 }, (_, i) => i), 'each message delivered exactly once across the group')
    for (const [i, g] of got.entries()) assert.ok(g.length > 0, `member ${i} got nothing: ${got.map(x => x.length).join('/')}`)
  })

  it('(MQTT 5 §4.8.2) each group gets its own copy, and a non-shared subscriber gets one too', async function () {
    const b = await h.broker()
    const g1 = await members(b, 2, '$share/g1/t/#')
    const g2 = await members(b, 2, '$share/g2/t/#')
    const plain = await members(b, 1, 't/#')
    const pub = await b.connect({ protocolVersion: 5 })
    const got = await spread(pub, [...g1, ...g2, ...plain], 't/a', 10)
    whole(got.flat(), 't/a', 1)
    const count = (cs: IPublishPacket[][]) => cs.flat().length
    assert.equal(count(got.slice(0, 2)), 10, 'group g1')
    assert.equal(count(got.slice(2, 4)), 10, 'group g2')
    assert.equal(count(got.slice(4)), 10, 'non-shared subscriber')
  })

  it('(MQTT 5 §4.8.2, §3.3.1.3) no retained messages are sent when a shared subscription is made', async function () {
    deviates('mosquitto', '(MQTT 5 4.8.2, 3.3.1.3) Mosquitto 2.0.11 sends retained messages when a shared subscription is made')
    const b = await h.broker()
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('sr/a', 'retained', { qos: 1, retain: true })
    const c = await b.connect({ protocolVersion: 5 })
    await c.subscribe('$share/g/sr/#', 1)
    await c.expectNothing(250, 'publish')
    await pub.publish('sr/a', 'live', { qos: 1 })
    assertPublish(await c.waitFor('publish'), { topic: 'sr/a', payload: 'live', qos: 1 })
  })

  it('[MQTT-4.8.2-3] each member gets at most its own granted QoS', async function () {
    const b = await h.broker()
    const q0 = await members(b, 1, '$share/mix/q/#', 0)
    const q2 = await members(b, 1, '$share/mix/q/#', 2)
    const pub = await b.connect({ protocolVersion: 5 })
    const got = await spread(pub, [...q0, ...q2], 'q/a', 10, 2)
    assert.equal(got.flat().length, 10)
    whole(got[0], 'q/a', 0)
    whole(got[1], 'q/a', 2)
  })

  it('(MQTT 5 §4.8.2) when a member leaves, the remaining members receive all the messages', async function () {
    const b = await h.broker()
    const [a, bb] = await members(b, 2, '$share/left/l/#')
    a.disconnect()
    await a.closed
    await sleep(20)
    const pub = await b.connect({ protocolVersion: 5 })
    const got = await spread(pub, [bb], 'l/a', 10)
    assertPublishes(got[0], Array.from({ length: 10 }, (_, i) => ({ topic: 'l/a', payload: String(i), qos: 1 })))
  })

  it('(MQTT 5 §3.10.4) unsubscribing $share/{ShareName}/{filter} removes the member from the group', async function () {
    const b = await h.broker()
    const [a, bb] = await members(b, 2, '$share/u/u/#')
    assert.deepEqual(await a.unsubscribe('$share/u/u/#'), [0])
    const pub = await b.connect({ protocolVersion: 5 })
    const got = await spread(pub, [a, bb], 'u/a', 6)
    assert.equal(got[0].length, 0)
    assertPublishes(got[1], Array.from({ length: 6 }, (_, i) => ({ topic: 'u/a', payload: String(i), qos: 1 })))
  })

  it('(MQTT 5 §4.8.2) a shared and a non-shared subscription of the same client are independent', async function () {
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 5 })
    await c.subscribe('$share/own/o/#', 1)
    await c.subscribe('o/#', 1)
    c.autoAck = true
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('o/a', 'x', { qos: 1 })
    assertPublishes(await c.publishes(2), [{ topic: 'o/a', payload: 'x', qos: 1 }, { topic: 'o/a', payload: 'x', qos: 1 }])
    await c.expectNothing(100, 'publish')
  })

  it('[MQTT-3.3.4-5] the copy for a shared subscription carries that subscription\'s identifier', async function () {
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 5 })
    await c.subscribe('$share/sid/s/#', 1, { subscriptionIdentifier: 42 })
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('s/a', 'x', { qos: 1 })
    assertPublish(await c.waitFor('publish'), { topic: 's/a', payload: 'x', qos: 1, properties: { subscriptionIdentifier: 42 } })
  })

  it('[MQTT-3.8.3-4] No Local 1 on a shared subscription is a protocol error: DISCONNECT 0x82', async function () {
    deviates('mosquitto', '[MQTT-3.8.3-4] Mosquitto 2.0.11 grants a shared subscription with No Local 1 instead of treating it as a Protocol Error')
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 5 })
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/a', qos: 0, nl: true }] })
    const d = await c.expectClosed()
    assert.equal(d?.reasonCode, 0x82)
    await assertServing(b, 5)
  })

  for (const [filter, why, ref] of [
    ['$share//a', 'an empty ShareName', '[MQTT-4.8.2-1]'],
    ['$share/g', 'no topic filter', '[MQTT-4.8.2-2]'],
    ['$share/g/', 'an empty topic filter', '[MQTT-4.8.2-2]'],
    ['$share/g+/a', 'a ShareName with +', '[MQTT-4.8.2-2]'],
    ['$share/g#/a', 'a ShareName with #', '[MQTT-4.8.2-2]'],
  ] as const) {
    it(`${ref} a shared subscription with ${why} (${filter}) is refused: SUBACK 0x8F/0x80 or DISCONNECT`, async function () {
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: 5 })
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] })
      const ack = await c.waitFor('suback').catch(() => null)
      if (ack && (ack.granted as number[])[0] < 0x80) deviates('mosquitto', `${ref} Mosquitto 2.0.11 grants the malformed shared subscription filters $share//a, $share/g and $share/g/`)
      if (ack) assert.ok([0x80, 0x8f].includes((ack.granted as number[])[0]), `SUBACK ${ack.granted}`)
      else await c.expectErrorClose([0x81, 0x82, 0x8f])
    })
  }

  it('[MQTT-4.8.2-4] a QoS 1 message sent to a member that drops before acknowledging is completed when that member\'s session resumes', async function () {
    const b = await h.broker()
    const id = uniqueId()
    const props = { sessionExpiryInterval: 60 }
    const m1 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
    await m1.subscribe('$share/persist/p/#', 1)
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('p/a', 'pending', { qos: 1 })
    const first = await m1.waitFor('publish')
    assertPublish(first, { topic: 'p/a', payload: 'pending', qos: 1 })
    m1.destroy()
    await m1.closed
    const m2 = await b.connect({ protocolVersion: 5, clientId: id, clean: false, properties: props })
    assertPublish(await m2.waitFor('publish'), { topic: 'p/a', payload: 'pending', qos: 1, dup: true, messageId: first.messageId })
  })

  it('(issue 2: shared subscriptions on 3.1.1 too, as MQTT.js uses them) a 3.1.1 client can join a $share group', async function () {
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 4 })
    assert.deepEqual(await c.subscribe('$share/v4/v4/#', 1), [1])
    const pub = await b.connect({ protocolVersion: 4 })
    await pub.publish('v4/a', 'x', { qos: 1 })
    assertPublish(await c.waitFor('publish'), { topic: 'v4/a', payload: 'x', qos: 1 })
  })
})
