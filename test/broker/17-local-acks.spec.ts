/*
 * In-process clients that acknowledge explicitly (manualAck), as a bridge does once the other side
 * has the message: QoS 1/2 deliveries stay in flight in the session, within the client's Receive
 * Maximum, until puback / pubrec + pubcomp; they come again with DUP and the same identifier when
 * the session resumes, also after a restart with FilePersistence. And QoS 2 publishes under a
 * packet identifier, remembered until pubrel, so that a resent one is not routed twice.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createBroker, FilePersistence, type Broker, type LocalClient } from '../../src/broker'
import type { DeliveredMessage } from '../../src/broker/types'
import { pollUntil } from '../helpers/wait'
import { sleep, uniqueId, useHarness } from '../helpers'

/** A delivery as a whole, payload as text. */
function seen (m: DeliveredMessage): Record<string, unknown> {
  return { ...m, payload: m.payload.toString() }
}

function collect (c: LocalClient): DeliveredMessage[] {
  const got: DeliveredMessage[] = []
  c.on('message', (m: DeliveredMessage) => got.push(m))
  return got
}

function inflightOf (b: Broker, clientId: string): { inflight: number, queued: number } | undefined {
  const c = b.clients().find(x => x.clientId === clientId)
  return c === undefined ? undefined : { inflight: c.inflight, queued: c.queued }
}

describe('17 in-process clients with explicit acknowledgements (manualAck)', function () {
  const h = useHarness()

  it('[MQTT-4.3.2] QoS 1 deliveries carry a packet identifier and stay in flight, within receiveMaximum, until puback', async function () {
    const b = await h.broker()
    const id = uniqueId('ma')
    const c = await b.local({ clientId: id, manualAck: true, receiveMaximum: 2 })
    const got = collect(c)
    assert.deepEqual(await c.subscribe([{ topic: 'ma/#', qos: 1 }]), [1])
    const pub = await b.local()
    for (let i = 1; i <= 4; i++) await pub.publish({ topic: `ma/${i}`, payload: Buffer.from(String(i)), qos: 1, retain: false })
    await pollUntil(() => got.length === 2, 2000, 'two deliveries')
    await sleep(50)
    assert.deepEqual(got.map(seen), [
      { topic: 'ma/1', payload: '1', qos: 1, retain: false, dup: false, packetId: got[0].packetId, properties: undefined, subscriptionIdentifiers: undefined },
      { topic: 'ma/2', payload: '2', qos: 1, retain: false, dup: false, packetId: got[1].packetId, properties: undefined, subscriptionIdentifiers: undefined },
    ])
    assert.notEqual(got[0].packetId, got[1].packetId)
    assert.ok((got[0].packetId ?? 0) > 0)
    assert.deepEqual(inflightOf(b.broker, id), { inflight: 2, queued: 2 })
    assert.equal(c.puback(got[0].packetId as number), true)
    assert.equal(c.puback(got[0].packetId as number), false, 'a second puback finds nothing in flight')
    await pollUntil(() => got.length === 3, 2000, 'the third delivery')
    assert.equal(got[2].topic, 'ma/3')
    assert.deepEqual(inflightOf(b.broker, id), { inflight: 2, queued: 1 })
    for (const m of got.slice(1)) c.puback(m.packetId as number)
    await pollUntil(() => got.length === 4, 2000, 'the fourth delivery')
    c.puback(got[3].packetId as number)
    assert.deepEqual(inflightOf(b.broker, id), { inflight: 0, queued: 0 })
  })

  it('a client without manualAck gets no packet identifier and keeps nothing in flight (as before)', async function () {
    const b = await h.broker()
    const id = uniqueId('auto')
    const c = await b.local({ clientId: id })
    const got = collect(c)
    await c.subscribe([{ topic: 'auto/#', qos: 2 }])
    const pub = await b.local()
    await pub.publish({ topic: 'auto/x', payload: Buffer.from('x'), qos: 2, retain: false })
    await pollUntil(() => got.length === 1, 2000, 'a delivery')
    assert.deepEqual(got[0], { topic: 'auto/x', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, properties: undefined, subscriptionIdentifiers: undefined, filters: ['auto/#'] })
    assert.deepEqual(inflightOf(b.broker, id), { inflight: 0, queued: 0 })
  })

  it('[MQTT-4.4.0-1] unacknowledged deliveries come again with DUP and the same identifiers when the session resumes', async function () {
    const b = await h.broker()
    const id = uniqueId('rs')
    const c1 = await b.local({ clientId: id, clean: false, manualAck: true })
    const got1 = collect(c1)
    await c1.subscribe([{ topic: 'rs/#', qos: 1 }])
    const pub = await b.local()
    await pub.publish({ topic: 'rs/a', payload: Buffer.from('a'), qos: 1, retain: false })
    await pub.publish({ topic: 'rs/b', payload: Buffer.from('b'), qos: 1, retain: false })
    await pollUntil(() => got1.length === 2, 2000, 'two deliveries')
    c1.puback(got1[0].packetId as number)
    await c1.end()
    await pub.publish({ topic: 'rs/c', payload: Buffer.from('c'), qos: 1, retain: false })
    const c2 = await b.local({ clientId: id, clean: false, manualAck: true })
    assert.equal(c2.sessionPresent, true)
    const got2 = collect(c2)
    await pollUntil(() => got2.length === 2, 2000, 'the resent and the queued message')
    assert.deepEqual(got2.map(seen), [
      { topic: 'rs/b', payload: 'b', qos: 1, retain: false, dup: true, packetId: got1[1].packetId, properties: undefined, subscriptionIdentifiers: undefined },
      { topic: 'rs/c', payload: 'c', qos: 1, retain: false, dup: false, packetId: got2[1].packetId, properties: undefined, subscriptionIdentifiers: undefined },
    ])
  })

  it('[MQTT-4.3.3] QoS 2: pubrec keeps it in flight; on resume it comes back as a pubrel event, not as a message; pubcomp completes it', async function () {
    const b = await h.broker()
    const id = uniqueId('q2')
    const c1 = await b.local({ clientId: id, clean: false, manualAck: true })
    const got1 = collect(c1)
    await c1.subscribe([{ topic: 'q2/#', qos: 2 }])
    const pub = await b.local()
    await pub.publish({ topic: 'q2/a', payload: Buffer.from('a'), qos: 2, retain: false })
    await pollUntil(() => got1.length === 1, 2000, 'a delivery')
    const pid = got1[0].packetId as number
    assert.equal(c1.pubcomp(pid), false, 'pubcomp before pubrec is refused')
    assert.equal(c1.pubrec(pid), true)
    await c1.end()
    const c2 = await b.local({ clientId: id, clean: false, manualAck: true })
    const got2 = collect(c2)
    const released: number[] = []
    c2.on('pubrel', (p: number) => released.push(p))
    await pollUntil(() => released.length === 1, 2000, 'the pubrel event')
    assert.deepEqual({ released, messages: got2.length }, { released: [pid], messages: 0 })
    assert.deepEqual(inflightOf(b.broker, id), { inflight: 1, queued: 0 })
    assert.equal(c2.pubcomp(pid), true)
    assert.deepEqual(inflightOf(b.broker, id), { inflight: 0, queued: 0 })
  })

  it('[MQTT-4.3.3-9] a QoS 2 publish under a remembered packet identifier is accepted and not routed again until pubrel', async function () {
    const b = await h.broker()
    const sub = await b.local()
    const got = collect(sub)
    await sub.subscribe([{ topic: 'dd/#', qos: 2 }])
    const pub = await b.local({ clientId: uniqueId('dd'), clean: false })
    const msg = { topic: 'dd/x', payload: Buffer.from('x'), qos: 2 as const, retain: false }
    await pub.publish(msg, { packetId: 7 })
    await pub.publish(msg, { packetId: 7 })
    await pub.publish({ ...msg, payload: Buffer.from('y') }, { packetId: 8 })
    await pollUntil(() => got.length === 2, 2000, 'two deliveries')
    await sleep(50)
    assert.deepEqual(got.map(m => m.payload.toString()), ['x', 'y'])
    await pub.pubrel(7)
    await pub.publish(msg, { packetId: 7 })
    await pollUntil(() => got.length === 3, 2000, 'the publish after pubrel')
    await assert.rejects(pub.publish(msg, { packetId: 0 }), RangeError)
  })

  it('subscriptions() lists the session\'s subscriptions as granted', async function () {
    const b = await h.broker({ maximumQoS: 1 })
    const c = await b.local()
    await c.subscribe([{ topic: 'sl/#', qos: 2, nl: true, rap: true }, { topic: 'sl2', qos: 0, rh: 2, subscriptionIdentifier: 5 }])
    assert.deepEqual(c.subscriptions(), [
      { topic: 'sl/#', qos: 1, nl: true, rap: true, rh: 0 },
      { topic: 'sl2', qos: 0, nl: false, rap: false, rh: 2, subscriptionIdentifier: 5 },
    ])
  })

  describe('with FilePersistence, across a restart', function () {
    let dir: string
    const brokers: Broker[] = []
    beforeEach(async function () { dir = await mkdtemp(join(tmpdir(), 'hearth-la-')) })
    afterEach(async function () {
      for (const x of brokers.splice(0)) await x.close().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    })
    const open = async (): Promise<Broker> => {
      const x = createBroker({ persistence: new FilePersistence({ dir }) })
      brokers.push(x)
      await x.ready
      return x
    }

    it('in-flight QoS 1 and released QoS 2 deliveries, and remembered incoming QoS 2 identifiers, survive', async function () {
      const id = uniqueId('fp')
      let b = await open()
      const c1 = await b.connectLocal({ clientId: id, clean: false, manualAck: true })
      const got1 = collect(c1)
      await c1.subscribe([{ topic: 'fp/#', qos: 2 }])
      const pub = await b.connectLocal({ clientId: id + 'p', clean: false })
      await pub.publish({ topic: 'fp/one', payload: Buffer.from('1'), qos: 1, retain: false })
      await pub.publish({ topic: 'fp/two', payload: Buffer.from('2'), qos: 2, retain: false })
      await pub.publish({ topic: 'fp/in', payload: Buffer.from('i'), qos: 2, retain: false }, { packetId: 42 })
      await pollUntil(() => got1.length === 3, 2000, 'three deliveries')
      const two = got1.find(m => m.topic === 'fp/two') as DeliveredMessage
      c1.pubrec(two.packetId as number)
      c1.puback(got1.find(m => m.topic === 'fp/in')?.packetId as number) // QoS 2 delivery acknowledged wrongly: still in flight
      await b.close()

      b = await open()
      const c2 = await b.connectLocal({ clientId: id, clean: false, manualAck: true })
      const got2 = collect(c2)
      const released: number[] = []
      c2.on('pubrel', (p: number) => released.push(p))
      await pollUntil(() => got2.length === 2 && released.length === 1, 3000, 'the resent deliveries')
      assert.deepEqual(got2.map(seen).sort((x, y) => String(x.topic).localeCompare(String(y.topic))), [
        { topic: 'fp/in', payload: 'i', qos: 2, retain: false, dup: true, packetId: got1[2].packetId, properties: undefined, subscriptionIdentifiers: undefined },
        { topic: 'fp/one', payload: '1', qos: 1, retain: false, dup: true, packetId: got1[0].packetId, properties: undefined, subscriptionIdentifiers: undefined },
      ])
      assert.deepEqual(released, [two.packetId])
      // the publisher's identifier 42 is still remembered: the resent publish is not routed again
      const pub2 = await b.connectLocal({ clientId: id + 'p', clean: false })
      await pub2.publish({ topic: 'fp/in', payload: Buffer.from('i'), qos: 2, retain: false }, { packetId: 42 })
      await sleep(100)
      assert.equal(got2.length, 2)
      await pub2.pubrel(42)
      await pub2.publish({ topic: 'fp/in', payload: Buffer.from('again'), qos: 2, retain: false }, { packetId: 42 })
      await pollUntil(() => got2.length === 3, 2000, 'a new publish under 42')
      assert.equal(got2[2].payload.toString(), 'again')
      await c2.end()
      await pub2.end()
    })
  })
})
