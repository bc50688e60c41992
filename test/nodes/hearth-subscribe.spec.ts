// hearth-subscribe: output formats, MQTT 5 fields, filters, $share, options, dynamic mode, a 300k burst.
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { connection, flow, helperNode, observers, publish, subscribe } from './flows/client.flows'
import {
  catchNode, caughtText, collect, completeNode, connectClient, endClient, errors, hearthNodes, helper, lastStatus,
  nextMessage, sink, sinkNode, unloadClean, unspy, waitFor,
} from './support'

const nodes = [...hearthNodes, catchNode, completeNode, sinkNode]

async function ready (subIds: string[] = ['sub']): Promise<number> {
  const b = helper.getNode('broker')
  await b.ready
  for (const id of subIds) {
    await waitFor(() => lastStatus(id)?.text === 'node-red:common.status.connected', 3000, `${id} connected`)
    await helper.getNode(id).ready
  }
  return b.port as number
}

describe('hearth-subscribe node', function () {
  let clients: MqttClient[] = []

  afterEach(async function () {
    await Promise.all(clients.map(endClient))
    clients = []
    await unloadClean()
  })

  async function publisher (port: number, protocolVersion: 4 | 5 = 5): Promise<MqttClient> {
    const c = await connectClient(port, { protocolVersion })
    clients.push(c)
    return c
  }

  it('auto-detect: JSON to a value, UTF-8 text to a string, anything else to a Buffer', async function () {
    await helper.load(nodes, flow([subscribe({ topic: 'auto/#' }), helperNode('out')]))
    const c = await publisher(await ready())
    const out = collect('out')
    await c.publishAsync('auto/json', '{"temp":21.5}')
    await c.publishAsync('auto/text', 'hello ✓')
    await c.publishAsync('auto/bin', Buffer.from([0xff, 0xfe, 0x00]))
    await waitFor(() => out.length === 3)
    assert.deepEqual(out.map((m) => m.payload), [{ temp: 21.5 }, 'hello ✓', Buffer.from([0xff, 0xfe, 0x00])])
    assert.deepEqual(out.map((m) => [m.topic, m.qos, m.retain]), [['auto/json', 0, false], ['auto/text', 0, false], ['auto/bin', 0, false]])
  })

  it('each message it sends is a new message with its own _msgid, 16 hexadecimal digits as Node-RED makes them', async function () {
    await helper.load(nodes, flow([subscribe({ topic: 'ids/#' }), helperNode('out')]))
    const c = await publisher(await ready())
    const out = collect('out')
    for (let i = 0; i < 20; i++) await c.publishAsync(`ids/${i}`, String(i))
    await waitFor(() => out.length === 20)
    const ids = out.map((m) => m._msgid as string)
    for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/)
    assert.equal(new Set(ids).size, 20, ids.join(' '))
  })

  for (const [datatype, sent, expected] of [
    ['string', '{"a":1}', '{"a":1}'],
    ['buffer', 'abc', Buffer.from('abc')],
    ['json', '[1,2]', [1, 2]],
    ['base64', 'hi', Buffer.from('hi').toString('base64')],
  ] as const) {
    it(`output ${datatype}`, async function () {
      await helper.load(nodes, flow([subscribe({ topic: 'f', datatype }), helperNode('out')]))
      const c = await publisher(await ready())
      const got = nextMessage('out')
      await c.publishAsync('f', sent)
      assert.deepEqual((await got).payload, expected)
    })
  }

  it('output json: a payload that is not JSON is an error a Catch node gets', async function () {
    await helper.load(nodes, flow([subscribe({ topic: 'f', datatype: 'json' }), helperNode('out'), ...observers('sub')]))
    const c = await publisher(await ready())
    const caught = nextMessage('caught')
    await c.publishAsync('f', 'not json')
    const msg = await caught
    assert.equal(caughtText(msg), 'hearth-subscribe.errors.invalid-json')
    assert.equal(msg.topic, 'f')
  })

  it('carries the MQTT 5 fields named as core mqtt in names them', async function () {
    await helper.load(nodes, flow([subscribe({ topic: 'v5' }), helperNode('out')]))
    const c = await publisher(await ready())
    const got = nextMessage('out')
    await c.publishAsync('v5', 'x', {
      qos: 1,
      properties: { responseTopic: 'r/1', correlationData: Buffer.from('id-7'), contentType: 'text/plain', userProperties: { a: 'b' }, messageExpiryInterval: 120 },
    })
    const m = await got
    assert.equal(m.qos, 1)
    assert.equal(m.responseTopic, 'r/1')
    assert.deepEqual(m.correlationData, Buffer.from('id-7'))
    assert.equal(m.contentType, 'text/plain')
    assert.deepEqual({ ...m.userProperties }, { a: 'b' })
    assert.ok(m.messageExpiryInterval > 0 && m.messageExpiryInterval <= 120)
  })

  it('matches + and # wildcards, and each node gets only its own filter', async function () {
    await helper.load(nodes, flow([
      subscribe({ topic: 'home/+/temp' }, 'sub', 'out'), subscribe({ topic: 'home/#' }, 'sub2', 'out2'), helperNode('out'), helperNode('out2'),
    ]))
    const c = await publisher(await ready(['sub', 'sub2']))
    const out = collect('out')
    const out2 = collect('out2')
    for (const t of ['home/kitchen/temp', 'home/kitchen/hum', 'home', 'garden/temp']) await c.publishAsync(t, t)
    await waitFor(() => out2.length === 3)
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.deepEqual(out.map((m) => m.topic), ['home/kitchen/temp'])
    assert.deepEqual(out2.map((m) => m.topic), ['home/kitchen/temp', 'home/kitchen/hum', 'home'])
  })

  for (const protocolVersion of ['4', '5']) {
    it(`overlapping filters on one connection (protocol ${protocolVersion}): each node gets each message once`, async function () {
      await helper.load(nodes, flow([
        subscribe({ topic: 'a/#' }, 'sub', 'out'), subscribe({ topic: 'a/b' }, 'sub2', 'out2'), helperNode('out'), helperNode('out2'),
      ], { connection: { protocolVersion } }))
      const c = await publisher(await ready(['sub', 'sub2']))
      const out = collect('out')
      const out2 = collect('out2')
      await c.publishAsync('a/b', 'once', { qos: 1 })
      await waitFor(() => out.length === 1 && out2.length === 1)
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(out.length, 1)
      assert.equal(out2.length, 1)
    })
  }

  it('$share/group/filter: two connections in one group share the messages', async function () {
    await helper.load(nodes, [
      ...flow([subscribe({ topic: '$share/workers/jobs' }, 'sub', 'out'), subscribe({ topic: '$share/workers/jobs', connection: 'conn2' }, 'sub2', 'out'), helperNode('out')]),
      connection({}, 'conn2'),
    ])
    const c = await publisher(await ready(['sub', 'sub2']))
    const out = collect('out')
    for (let i = 0; i < 10; i++) await c.publishAsync('jobs', String(i), { qos: 1 })
    await waitFor(() => out.length === 10)
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(out.length, 10, 'each job is delivered once')
    assert.deepEqual(out.map((m) => m.payload).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('an invalid topic filter: red status and an error, no subscription', async function () {
    await helper.load(nodes, flow([subscribe({ topic: 'a/#/b' }), helperNode('out')]))
    await helper.getNode('broker').ready
    assert.equal(lastStatus('sub')?.fill, 'red')
    assert.deepEqual(errors('sub'), ['hearth-subscribe.errors.invalid-topic'])
  })

  it('[MQTT-3.8.3-3] no local: a node does not get what its own connection publishes', async function () {
    await helper.load(nodes, flow([
      subscribe({ topic: 'echo', nl: true }, 'sub', 'out'), publish({ topic: 'echo' }), helperNode('out'),
      subscribe({ topic: 'echo', connection: 'conn2' }, 'sub2', 'out2'), helperNode('out2'),
    ]).concat([connection({}, 'conn2')]))
    await ready(['sub', 'sub2'])
    const out = collect('out')
    const got2 = nextMessage('out2')
    helper.getNode('pub').receive({ payload: 'me' })
    assert.equal((await got2).payload, 'me')
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(out.length, 0)
  })

  it('[MQTT-3.3.1-9] retain handling 2: no retained message on subscribe; 0: retained sent', async function () {
    await helper.load(nodes, flow([publish({ topic: 'kept', retain: 'true', qos: '1' }), ...observers('pub')]))
    await ready(['pub'])
    const completed = nextMessage('completed')
    helper.getNode('pub').receive({ payload: 'old' })
    await completed
    await helper.setFlows(flow([
      subscribe({ topic: 'kept', rh: '2' }, 'sub', 'out'), helperNode('out'), subscribe({ topic: 'kept', rh: '0', connection: 'conn2' }, 'sub2', 'out2'), helperNode('out2'),
    ]).concat([connection({}, 'conn2')]), 'full')
    const out = collect('out')
    const out2 = collect('out2')
    await ready(['sub', 'sub2'])
    await waitFor(() => out2.length === 1)
    assert.equal(out2[0].retain, true)
    assert.equal(out.length, 0)
  })

  describe('dynamic mode', function () {
    const dyn = (): object[] => flow([subscribe({ topic: '', dynamic: true, inputs: 1 }), helperNode('out'), ...observers('sub')])

    it('subscribe with a string, an object (own datatype) and an array; getSubscriptions lists them as core does', async function () {
      await helper.load(nodes, dyn())
      const port = await ready()
      const sub = helper.getNode('sub')
      let completed = nextMessage('completed')
      sub.receive({ action: 'subscribe', topic: 'a' })
      assert.deepEqual((await completed).subscriptions, [{ topic: 'a', qos: 2, rh: 0, rap: true }])
      completed = nextMessage('completed')
      sub.receive({ action: 'subscribe', topic: [{ topic: 'b', qos: 1, datatype: 'buffer' }, 'c/#'] })
      await completed

      const c = await publisher(port)
      const out = collect('out')
      await c.publishAsync('a', '1')
      await c.publishAsync('b', '2')
      await c.publishAsync('c/d', '3')
      await waitFor(() => out.length === 3)
      assert.deepEqual(out.map((m) => m.payload), [1, Buffer.from('2'), 3])

      const answer = nextMessage('out')
      sub.receive({ action: 'getSubscriptions' })
      const m = await answer
      assert.equal(m.topic, 'subscriptions')
      assert.deepEqual(m.payload, [
        { topic: 'a', qos: 2, rh: 0, rap: true },
        { topic: 'b', qos: 1, rh: 0, rap: true, datatype: 'buffer' },
        { topic: 'c/#', qos: 2, rh: 0, rap: true },
      ])
    })

    it('unsubscribe one topic, then all with topic true', async function () {
      await helper.load(nodes, dyn())
      const port = await ready()
      const sub = helper.getNode('sub')
      let completed = nextMessage('completed')
      sub.receive({ action: 'subscribe', topic: ['a', 'b'] })
      await completed
      completed = nextMessage('completed')
      sub.receive({ action: 'unsubscribe', topic: 'a' })
      assert.deepEqual((await completed).subscriptions.map((s: { topic: string }) => s.topic), ['b'])
      const c = await publisher(port)
      const out = collect('out')
      await c.publishAsync('a', 'no')
      await c.publishAsync('b', 'yes')
      await waitFor(() => out.length === 1)
      assert.equal(out[0].payload, 'yes')
      completed = nextMessage('completed')
      sub.receive({ action: 'unsubscribe', topic: true })
      assert.deepEqual((await completed).subscriptions, [])
      assert.equal(helper.getNode('broker').broker.clients()[0].subscriptions, 0)
    })

    for (const [what, msg, key] of [
      ['an unknown action', { action: 'connect' }, 'hearth-subscribe.errors.invalid-action'],
      ['an invalid filter', { action: 'subscribe', topic: 'a/#/b' }, 'hearth-subscribe.errors.invalid-topic'],
      ['no topic', { action: 'subscribe' }, 'hearth-subscribe.errors.bad-subscription'],
    ] as const) {
      it(`done(err) on ${what}`, async function () {
        await helper.load(nodes, dyn())
        await ready()
        const caught = nextMessage('caught')
        helper.getNode('sub').receive({ ...msg })
        assert.equal(caughtText(await caught), key)
      })
    }
  })

  it('a burst of 300,000 in-process messages arrives in full (no per-message listeners)', async function () {
    this.timeout(60000)
    sink.length = 0
    await helper.load(nodes, flow([subscribe({ topic: 'burst', datatype: 'buffer' }, 'sub', 'sink'), { id: 'sink', type: 'sink', z: 'f1', x: 1, y: 1, wires: [] }]))
    await ready()
    unspy(['sub'])
    const total = 300000
    const conn = helper.getNode('conn')
    const payload = Buffer.from('x')
    const started = Date.now()
    const accepted: Array<Promise<void>> = []
    for (let i = 0; i < total; i++) accepted.push(conn.publish({ topic: 'burst', payload, qos: 0, retain: false }))
    await Promise.all(accepted)
    await waitFor(() => sink.length === total, 50000, `${total} messages (got ${sink.length})`)
    const ms = Date.now() - started
    console.log(`      300k in-process messages through a subscribe node in ${ms} ms`)
  })
})
