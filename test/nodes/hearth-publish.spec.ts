// hearth-publish: payload encoding, node-over-msg precedence, MQTT 5 properties, done() semantics.
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { flow, observers, publish, tab, connection, helperNode } from './flows/client.flows'
import { aclBrokerNode, catchNode, caughtText, completeNode, connectClient, endClient, hearthNodes, helper, unloadClean, lastStatus, nextMessage, waitFor } from './support'

const nodes = [...hearthNodes, catchNode, completeNode, aclBrokerNode]

interface Seen { topic: string, payload: Buffer, qos: number, retain: boolean, properties?: Record<string, unknown> }

async function setup (pubProps: Record<string, unknown> = {}, options: Parameters<typeof flow>[1] = {}): Promise<{ seen: Seen[], watcher: MqttClient }> {
  await helper.load(nodes, flow([publish(pubProps), ...observers('pub')], options))
  const b = helper.getNode('broker')
  await b.ready
  await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
  const seen: Seen[] = []
  const watcher = await connectClient(b.port, { protocolVersion: 5 }, (topic, payload, packet) => {
    seen.push({ topic, payload, qos: packet.qos, retain: packet.retain, properties: packet.properties })
  })
  await watcher.subscribeAsync('#', { qos: 2 })
  return { seen, watcher }
}

describe('hearth-publish node', function () {
  let watcher: MqttClient | undefined

  afterEach(async function () {
    await endClient(watcher)
    watcher = undefined
    await unloadClean()
  })

  it('encodes the payload: object as JSON, Buffer as is, number and boolean as text, null as empty', async function () {
    const s = await setup({ topic: 'p' })
    watcher = s.watcher
    const pub = helper.getNode('pub')
    const inputs: unknown[] = [{ a: 1, b: [true] }, Buffer.from([0, 255, 1]), 42, false, null, 'text ✓', undefined]
    for (const payload of inputs) pub.receive({ payload })
    await waitFor(() => s.seen.length === inputs.length)
    assert.deepEqual(s.seen.map((m) => m.payload), [
      Buffer.from('{"a":1,"b":[true]}'), Buffer.from([0, 255, 1]), Buffer.from('42'), Buffer.from('false'), Buffer.alloc(0), Buffer.from('text ✓'), Buffer.alloc(0),
    ])
  })

  it('takes topic, QoS and retain from the msg when the node sets none', async function () {
    const s = await setup()
    watcher = s.watcher
    helper.getNode('pub').receive({ topic: 'from/msg', payload: 'x', qos: 1, retain: true })
    await waitFor(() => s.seen.length === 1)
    assert.equal(s.seen[0].topic, 'from/msg')
    assert.equal(s.seen[0].qos, 1)
    assert.equal(helper.getNode('broker').broker.retained('from/msg').length, 1)
  })

  it('the node wins over the msg for topic, QoS and retain (as core mqtt out)', async function () {
    const s = await setup({ topic: 'fixed', qos: '2', retain: 'false' })
    watcher = s.watcher
    helper.getNode('pub').receive({ topic: 'other', payload: 'x', qos: 0, retain: true })
    await waitFor(() => s.seen.length === 1)
    assert.equal(s.seen[0].topic, 'fixed')
    assert.equal(s.seen[0].qos, 2)
    assert.equal(helper.getNode('broker').broker.retained('#').length, 0)
  })

  it('sends MQTT 5 properties from the msg, and from the node when it sets them', async function () {
    const s = await setup({ topic: 'v5', contentType: 'text/plain', userProperties: '{"site":"north"}' })
    watcher = s.watcher
    helper.getNode('pub').receive({
      payload: 'x', contentType: 'application/json', responseTopic: 'reply/here', correlationData: Buffer.from('c1'),
      userProperties: { site: 'south', n: 3 }, messageExpiryInterval: 60,
    })
    await waitFor(() => s.seen.length === 1)
    const p = s.seen[0].properties as Record<string, unknown>
    assert.equal(p.contentType, 'text/plain')
    assert.equal(p.responseTopic, 'reply/here')
    assert.deepEqual(p.correlationData, Buffer.from('c1'))
    assert.deepEqual({ ...(p.userProperties as object) }, { site: 'north' })
    assert.ok(Number(p.messageExpiryInterval) > 0 && Number(p.messageExpiryInterval) <= 60)
  })

  it('an MQTT 3.1.1 connection sends no properties', async function () {
    const s = await setup({ topic: 'v4' }, { connection: { protocolVersion: '4' } })
    watcher = s.watcher
    helper.getNode('pub').receive({ payload: 'x', contentType: 'text/plain', userProperties: { a: 'b' } })
    await waitFor(() => s.seen.length === 1)
    assert.equal(s.seen[0].properties?.contentType, undefined)
    assert.equal(s.seen[0].properties?.userProperties, undefined)
  })

  it('[MQTT-4.3.2-1] done() comes once the broker accepted a QoS 1 message: it is already retained', async function () {
    const s = await setup({ topic: 'acked' })
    watcher = s.watcher
    const completed = nextMessage('completed')
    helper.getNode('pub').receive({ payload: 'v', qos: 1, retain: true })
    const msg = await completed
    assert.equal(msg.payload, 'v')
    assert.equal(helper.getNode('broker').broker.retained('acked').length, 1)
  })

  for (const [what, msg, key] of [
    ['a topic with a wildcard', { topic: 'a/+', payload: 1 }, 'hearth-publish.errors.invalid-topic'],
    ['no topic at all', { payload: 1 }, 'hearth-publish.errors.invalid-topic'],
    ['a QoS of 3', { topic: 't', qos: 3, payload: 1 }, 'hearth-publish.errors.invalid-qos'],
    ['user properties that are not an object', { topic: 't', userProperties: '[1]', payload: 1 }, 'hearth-publish.errors.bad-user-properties'],
  ] as const) {
    it(`done(err) on ${what}, so a Catch node gets it`, async function () {
      const s = await setup()
      watcher = s.watcher
      const caught = nextMessage('caught')
      helper.getNode('pub').receive({ ...msg })
      assert.equal(caughtText(await caught), key)
    })
  }

  it('done(err) when the broker does not authorise the publish (0x87)', async function () {
    await helper.load(nodes, [tab, { id: 'acl', type: 'acl-broker', z: 'f1', x: 1, y: 1, wires: [] }, connection({ broker: 'acl' }), publish(), ...observers('pub')])
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
    const caught = nextMessage('caught')
    helper.getNode('pub').receive({ topic: 'secret/plans', payload: 'x', qos: 1 })
    assert.equal(caughtText(await caught), 'hearth-publish.errors.not-authorised')
    const completed = nextMessage('completed')
    helper.getNode('pub').receive({ topic: 'open/plans', payload: 'x', qos: 1 })
    await completed
  })

  it('done(err) when the broker refuses retained messages (0x9a)', async function () {
    const s = await setup({}, { broker: { retainAvailable: false } })
    watcher = s.watcher
    const caught = nextMessage('caught')
    helper.getNode('pub').receive({ topic: 't', payload: 'x', retain: true })
    assert.equal(caughtText(await caught), 'hearth-publish.errors.retain-unsupported')
  })

  it('done(err) when not connected (the broker node failed to start)', async function () {
    await helper.load(nodes, flow([publish(), ...observers('pub')], { broker: { port: -1 } }))
    await waitFor(() => lastStatus('pub')?.text === 'hearth-connection.status.broker-down')
    const caught = nextMessage('caught')
    helper.getNode('pub').receive({ topic: 't', payload: 'x' })
    assert.equal(caughtText(await caught), 'hearth-connection.errors.not-connected')
  })

  it('without a connection config node: red status, and done(err) on input', async function () {
    await helper.load(nodes, [tab, helperNode('x'), publish({ connection: 'missing' }), ...observers('pub')])
    assert.equal(lastStatus('pub')?.text, 'hearth-publish.errors.no-connection')
    const caught = nextMessage('caught')
    helper.getNode('pub').receive({ topic: 't', payload: 'x' })
    assert.equal(caughtText(await caught), 'hearth-publish.errors.no-connection')
  })
})
