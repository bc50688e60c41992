// Routing paths that mutation testing found undriven (src/broker/router.ts; docs/mutation.md).
import assert from 'node:assert/strict'
import type { DeliveredMessage } from '../../src/broker/types'
import { pollUntil } from '../helpers/wait'
import { gc } from '../fuzz/checks'
import type { Authorizer } from '../../src/broker/auth'
import { VERSIONS, WAIT, assertPublishes, hearthOnly, spec, useHarness } from '../helpers'

describe('39 routing paths', function () {
  const h = useHarness()

  it('[MQTT-4.8.2-3] (MQTT 5 §4.8.2, issue 12) a shared subscription\'s copy tells an in-process client the shared filter that matched, apart from the copy for its own subscription', async function () {
    const b = await h.broker()
    const local = await b.local({ protocolVersion: 5 })
    const got: DeliveredMessage[] = []
    local.on('message', (m: DeliveredMessage) => got.push(m))
    await local.subscribe([{ topic: '$share/g1/sh/+', qos: 1 }, { topic: 'sh/x', qos: 0 }])
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('sh/x', 'one', { qos: 1 })
    await pollUntil(() => got.length === 2, WAIT, 'both copies')
    // whole delivered messages: no Subscription Identifier was given, so none is reported
    const plain = { topic: 'sh/x', payload: Buffer.from('one'), retain: false, dup: false, properties: undefined, subscriptionIdentifiers: undefined }
    assert.deepStrictEqual([...got].sort((a, b) => a.qos - b.qos), [
      { ...plain, qos: 0, filters: ['sh/x'] },
      { ...plain, qos: 1, filters: ['$share/g1/sh/+'] },
    ])
  })

  for (const v of VERSIONS) {
    it(`${spec(v, ['3.8.4-6'], ['3.8.4-8', '4.8.2-3'])} (level ${v}) a shared subscription delivers at the lower of the published and the granted QoS, and only topics its member may read`, async function () {
      hearthOnly('uses a custom authoriser with a read check')
      const authorize: Authorizer = { authorizePublish: () => true, authorizeSubscribe: () => true, authorizeRead: (_c, topic) => topic !== 'sr/hidden' }
      const b = await h.broker({ authorize })
      const member = await b.connect({ protocolVersion: v })
      assert.deepEqual(await member.subscribe('$share/g/sr/#', 1), [1])
      const pub = await b.connect({ protocolVersion: v })
      await pub.publish('sr/hidden', 'h', { qos: 1 })
      await pub.publish('sr/zero', '0', { qos: 0 })
      await pub.publish('sr/two', '2', { qos: 2 })
      const got = await member.publishes(2)
      assertPublishes(got, [
        { topic: 'sr/zero', payload: '0', qos: 0, retain: false, dup: false },
        { topic: 'sr/two', payload: '2', qos: 1, retain: false, dup: false },
      ])
      await member.ack(got[1])
      await member.expectNothing(150, 'publish')
    })
  }

  it('[MQTT-3.3.1-12][MQTT-3.3.1-13] (MQTT 5) a shared subscription keeps RETAIN on live delivery only with Retain As Published', async function () {
    const b = await h.broker()
    const keep = await b.connect({ protocolVersion: 5 })
    const clear = await b.connect({ protocolVersion: 5 })
    assert.deepEqual(await keep.subscribe([{ topic: '$share/k/rp/#', qos: 0, rap: true }]), [0])
    assert.deepEqual(await clear.subscribe([{ topic: '$share/c/rp/#', qos: 0, rap: false }]), [0])
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('rp/r', 'r', { qos: 0, retain: true })
    await pub.publish('rp/n', 'n', { qos: 0, retain: false })
    assertPublishes(await keep.publishes(2), [
      { topic: 'rp/r', payload: 'r', qos: 0, retain: true, dup: false },
      { topic: 'rp/n', payload: 'n', qos: 0, retain: false, dup: false },
    ])
    assertPublishes(await clear.publishes(2), [
      { topic: 'rp/r', payload: 'r', qos: 0, retain: false, dup: false },
      { topic: 'rp/n', payload: 'n', qos: 0, retain: false, dup: false },
    ])
  })

  it('[MQTT-3.3.1-12][MQTT-3.3.4-2] (MQTT 5) overlapping subscriptions without Retain As Published give one copy with RETAIN cleared; one with it keeps RETAIN', async function () {
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 5 })
    assert.deepEqual(await c.subscribe([{ topic: 'ov/#', qos: 0, rap: false }, { topic: 'ov/+', qos: 1, rap: false }, { topic: 'ov/x/+', qos: 0, rap: true }]), [0, 1, 0])
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('ov/a', 'a', { qos: 1, retain: true })
    await pub.publish('ov/x/y', 'y', { qos: 1, retain: true })
    const got = await c.publishes(2)
    assertPublishes(got, [
      { topic: 'ov/a', payload: 'a', qos: 1, retain: false, dup: false },
      { topic: 'ov/x/y', payload: 'y', qos: 0, retain: true, dup: false },
    ])
    await c.ack(got[0])
    await c.expectNothing(150, 'publish')
  })

  it('[MQTT-3.3.4-3][MQTT-3.3.4-4] (MQTT 5) identifiers and filters stay those of each message: an overlap, then one subscription, then the overlap again', async function () {
    // A subscription matched alone lends its one-element lists to every delivery; an overlap must not grow them.
    const b = await h.broker()
    const local = await b.local({ protocolVersion: 5 })
    const got: DeliveredMessage[] = []
    local.on('message', (m: DeliveredMessage) => got.push(m))
    await local.subscribe([{ topic: 'ln/+', qos: 0, subscriptionIdentifier: 5 }, { topic: 'ln/b', qos: 0, subscriptionIdentifier: 6 }])
    const net = await b.connect({ protocolVersion: 5 })
    await net.subscribe('ln/+', 0, { subscriptionIdentifier: 5 })
    await net.subscribe('ln/b', 0, { subscriptionIdentifier: 6 })
    const pub = await b.connect({ protocolVersion: 5 })
    for (const t of ['ln/a', 'ln/b', 'ln/a', 'ln/b', 'ln/a']) await pub.publish(t, t)
    await pollUntil(() => got.length === 5, WAIT, 'five messages')
    const one = (topic: string): object => ({ topic, payload: Buffer.from(topic), qos: 0, retain: false, dup: false, properties: undefined, subscriptionIdentifiers: [5], filters: ['ln/+'] })
    const both = (topic: string): object => ({ topic, payload: Buffer.from(topic), qos: 0, retain: false, dup: false, properties: undefined, subscriptionIdentifiers: [6, 5], filters: ['ln/b', 'ln/+'] })
    assert.deepStrictEqual(got, [one('ln/a'), both('ln/b'), one('ln/a'), both('ln/b'), one('ln/a')])
    assertPublishes(await net.publishes(5), [
      { topic: 'ln/a', payload: 'ln/a', qos: 0, retain: false, dup: false, properties: { subscriptionIdentifier: 5 } },
      { topic: 'ln/b', payload: 'ln/b', qos: 0, retain: false, dup: false, properties: { subscriptionIdentifier: [6, 5] } },
      { topic: 'ln/a', payload: 'ln/a', qos: 0, retain: false, dup: false, properties: { subscriptionIdentifier: 5 } },
      { topic: 'ln/b', payload: 'ln/b', qos: 0, retain: false, dup: false, properties: { subscriptionIdentifier: [6, 5] } },
      { topic: 'ln/a', payload: 'ln/a', qos: 0, retain: false, dup: false, properties: { subscriptionIdentifier: 5 } },
    ])
  })

  it('the router keeps no session once its message is routed: a subscriber that left can be collected', async function () {
    hearthOnly('looks at the broker object itself')
    const b = await h.broker()
    const pub = await b.local({ protocolVersion: 5 })
    let ref: WeakRef<object> | undefined
    await (async () => {
      const gone = await b.local({ protocolVersion: 5, clean: true })
      await gone.subscribe([{ topic: 'wk/#', qos: 0 }])
      await pub.publish({ topic: 'wk/a', payload: Buffer.from('x'), qos: 0, retain: false })
      ref = new WeakRef(gone.endpoint.session as object)
      await gone.end()
    })()
    // the router's last message matched only that session
    await pollUntil(() => { gc(); return ref?.deref() === undefined }, WAIT, 'the session collected')
  })
})
