// hearth-connection with an external broker (MQTT.js) against a real Mosquitto started here: the
// publish and subscribe nodes over TCP (MQTT 5 and 3.1.1), TLS through core's tls-config node,
// WebSocket to Hearth's own MqttListener; birth, close and will seen by mosquitto_sub; credentials
// and the broker's refusals.
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { createBroker, type Broker } from '../../src/broker'
import { MqttListener } from '../../src/listeners'
import { ACCOUNT, HOST, Mosquitto, MosquittoSub, TcpProxy } from '../helpers/mosquitto'
import { externalFlow, helperNode, observers, publish, subscribe, tlsConfig } from './flows/client.flows'
import {
  catchNode, caughtText, collect, completeNode, connectClient, endClient, errors, hearthNodes, helper, lastStatus, nextMessage, tlsNode, waitFor,
} from './support'

const nodes = [...hearthNodes, catchNode, completeNode, tlsNode]
const CONNECTED = 'node-red:common.status.connected'

describe('hearth-connection to an external broker (Mosquitto)', function () {
  this.timeout(30000)
  let mosq: Mosquitto
  let clients: MqttClient[] = []
  let subs: MosquittoSub[] = []
  const tcp = (): string => `mqtt://${HOST}:${mosq.ports.tcp}`

  before(async function () { mosq = await Mosquitto.start() })
  after(async function () { await mosq?.remove() })
  afterEach(async function () {
    await helper.unload()
    await Promise.all(clients.map(endClient))
    clients = []
    await Promise.all(subs.map((s) => s.stop()))
    subs = []
  })

  async function watcher (port: number, filter = '#', protocolVersion: 4 | 5 = 5): Promise<Array<{ topic: string, payload: Buffer, packet: any }>> {
    const seen: Array<{ topic: string, payload: Buffer, packet: any }> = []
    const c = await connectClient(port, { protocolVersion }, (topic, payload, packet) => seen.push({ topic, payload, packet }))
    clients.push(c)
    await c.subscribeAsync(filter, { qos: 2 })
    return seen
  }

  async function connected (ids: string[]): Promise<void> {
    for (const id of ids) await waitFor(() => lastStatus(id)?.text === CONNECTED, 10000, `${id} connected`)
  }

  it('MQTT 5 over TCP: the publish node sends topic, QoS, retain and properties; done() once acknowledged (PUBACK)', async function () {
    const seen = await watcher(mosq.ports.tcp, 'ext/#')
    await helper.load(nodes, externalFlow(tcp(), [publish({ topic: 'ext/a', contentType: 'text/plain', userProperties: '{"site":"north","gone":null}' }), ...observers('pub')]))
    await connected(['pub'])
    const completed = nextMessage('completed', 5000)
    helper.getNode('pub').receive({
      payload: { v: 1 }, qos: 1, retain: true, responseTopic: 'ext/reply', correlationData: Buffer.from('c-1'), messageExpiryInterval: 60, payloadFormatIndicator: true,
    })
    await completed
    await waitFor(() => seen.length === 1, 5000, 'the message at the watcher')
    const { topic, payload, packet } = seen[0]
    // [MQTT-3.3.1-9] a live subscriber (Retain As Published off) sees retain 0.
    assert.deepEqual({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }, { topic: 'ext/a', payload: '{"v":1}', qos: 1, retain: false })
    const p = packet.properties
    assert.deepEqual({ ...p, userProperties: { ...p.userProperties }, messageExpiryInterval: p.messageExpiryInterval <= 60 && p.messageExpiryInterval > 50 }, {
      contentType: 'text/plain', responseTopic: 'ext/reply', correlationData: Buffer.from('c-1'), userProperties: { site: 'north' }, messageExpiryInterval: true, payloadFormatIndicator: true,
    })
    // The broker kept it: a new subscriber gets it retained.
    const late = await watcher(mosq.ports.tcp, 'ext/a')
    await waitFor(() => late.length === 1, 5000, 'the retained message')
    assert.equal(late[0].packet.retain, true)
    await clients[clients.length - 1].publishAsync('ext/a', '', { retain: true, qos: 1 })
  })

  it('MQTT 5 over TCP: the subscribe node outputs the msg fields as in-process (and as core mqtt in)', async function () {
    await helper.load(nodes, externalFlow(tcp(), [subscribe({ topic: 'in/+' }), helperNode('out')]))
    await connected(['sub'])
    await helper.getNode('sub').ready
    const c = await connectClient(mosq.ports.tcp, { protocolVersion: 5 })
    clients.push(c)
    const got = nextMessage('out', 5000)
    await c.publishAsync('in/x', '{"t":21.5}', {
      qos: 1, properties: { contentType: 'application/json', responseTopic: 'r/1', correlationData: Buffer.from('id-7'), userProperties: { a: 'b' }, messageExpiryInterval: 120 },
    })
    const m = await got
    delete m._msgid
    assert.ok(m.messageExpiryInterval > 100 && m.messageExpiryInterval <= 120)
    delete m.messageExpiryInterval
    assert.deepEqual(m, {
      topic: 'in/x', payload: { t: 21.5 }, qos: 1, retain: false, responseTopic: 'r/1', correlationData: Buffer.from('id-7'), contentType: 'application/json', userProperties: { a: 'b' },
    })
  })

  for (const protocolVersion of ['4', '5']) {
    it(`overlapping filters on one external connection (protocol ${protocolVersion}): each node gets each message once`, async function () {
      await helper.load(nodes, externalFlow(tcp(), [
        subscribe({ topic: 'ov/#' }, 'sub', 'out'), subscribe({ topic: 'ov/b' }, 'sub2', 'out2'), helperNode('out'), helperNode('out2'),
      ], { protocolVersion }))
      await connected(['sub', 'sub2'])
      await helper.getNode('sub').ready
      await helper.getNode('sub2').ready
      const out = collect('out')
      const out2 = collect('out2')
      const c = await connectClient(mosq.ports.tcp)
      clients.push(c)
      await c.publishAsync('ov/b', 'once', { qos: 1 })
      await c.publishAsync('ov/c', 'other', { qos: 1 })
      await waitFor(() => out.length === 2 && out2.length === 1, 5000, 'the messages')
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.deepEqual(out.map((m) => m.payload), ['once', 'other'])
      assert.deepEqual(out2.map((m) => m.payload), ['once'])
    })
  }

  it('MQTT 3.1.1: no MQTT 5 properties go out', async function () {
    const seen = await watcher(mosq.ports.tcp, 'v4/#')
    await helper.load(nodes, externalFlow(tcp(), [publish({ topic: 'v4/a' })], { protocolVersion: '4' }))
    await connected(['pub'])
    helper.getNode('pub').receive({ payload: 'x', contentType: 'text/plain', userProperties: { a: 'b' } })
    await waitFor(() => seen.length === 1, 5000, 'the message')
    assert.equal(seen[0].packet.properties, undefined)
  })

  it('TLS through a tls-config node (the test CA, verification on): publish and subscribe round trip', async function () {
    await helper.load(nodes, [
      ...externalFlow(`mqtts://localhost:${mosq.ports.tls}`, [publish({ topic: 'tls/a' }), subscribe({ topic: 'tls/#' }), helperNode('out')], { tls: 'tls' }),
      tlsConfig({ ca: mosq.certs.caCert }),
    ])
    await connected(['pub', 'sub'])
    await helper.getNode('sub').ready
    const got = nextMessage('out', 5000)
    helper.getNode('pub').receive({ payload: 'secure', qos: 2 })
    assert.equal((await got).payload, 'secure')
  })

  it('TLS without the CA: the broker certificate is not trusted, the status stays connecting and the reason is logged', async function () {
    await helper.load(nodes, [
      ...externalFlow(`mqtts://localhost:${mosq.ports.tls}`, [publish({ topic: 'tls/a' })], { tls: 'tls', reconnectDelay: 200 }),
      tlsConfig({}),
    ])
    const conn = helper.getNode('conn')
    await waitFor(() => (conn.log.getCalls() as Array<{ thisValue: unknown, args: unknown[] }>).some((c) => c.thisValue === conn && String(c.args[0]).startsWith('hearth-connection.errors.connection')), 10000, 'the TLS failure in the log')
    assert.equal(lastStatus('pub')?.text, 'node-red:common.status.connecting')
    assert.equal(conn.connected, false)
  })

  it('WebSocket to Hearth\'s own listener (MqttListener ws): publish and subscribe round trip', async function () {
    const broker: Broker = createBroker({})
    const listener = await MqttListener.open({ protocol: 'ws', port: 0, host: HOST, path: '/mqtt' })
    listener.serve(broker)
    try {
      await helper.load(nodes, externalFlow(`ws://${HOST}:${listener.port}/mqtt`, [publish({ topic: 'ws/a' }), subscribe({ topic: 'ws/#' }), helperNode('out')]))
      await connected(['pub', 'sub'])
      await helper.getNode('sub').ready
      const got = nextMessage('out', 5000)
      helper.getNode('pub').receive({ payload: { over: 'ws' }, qos: 1 })
      assert.deepEqual((await got).payload, { over: 'ws' })
      assert.deepEqual(broker.clients().map((c) => [c.clientId, c.transport]), [['hearth-conn', 'ws']])
    } finally {
      await helper.unload()
      await listener.close()
      await broker.close()
    }
  })

  it('[MQTT-3.14.4-3] birth on connect, close on redeploy (and no will), will when the link is cut, birth again on reconnect: seen by mosquitto_sub', async function () {
    const proxy = await TcpProxy.open(mosq.ports.tcp)
    try {
      const sub = new MosquittoSub(mosq.ports.tcp, ['dev/#'])
      subs.push(sub)
      await sub.ready(mosq.ports.tcp)
      const conn = {
        reconnectDelay: 100,
        birthTopic: 'dev/state', birthPayload: 'online', birthQos: '1', birthRetain: false,
        closeTopic: 'dev/state', closePayload: 'offline', closeQos: '1', closeRetain: false,
        willTopic: 'dev/will', willPayload: 'lost', willQos: '1', willRetain: false,
      }
      const lines = (): string[] => sub.lines.filter((l) => l.startsWith('dev/'))
      const flow = externalFlow(`mqtt://${HOST}:${proxy.port}`, [publish()], conn)
      await helper.load(nodes, flow)
      await waitFor(() => lines().length === 1, 10000, 'the birth message')
      await helper.setFlows(externalFlow(`mqtt://${HOST}:${proxy.port}`, [], conn), 'nodes')
      await waitFor(() => lines().length === 2, 10000, 'the close message')
      await helper.setFlows(flow, 'nodes')
      await waitFor(() => lines().length === 3, 10000, 'the birth message again')
      proxy.cut()
      await waitFor(() => lines().length === 5, 10000, 'the will, then the birth message after reconnecting')
      // Deleting the connection closes it cleanly too.
      await helper.setFlows([{ id: 'f1', type: 'tab' }], 'full')
      await waitFor(() => lines().length === 6, 10000, 'the close message on delete')
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.deepEqual(lines(), ['dev/state online', 'dev/state offline', 'dev/state online', 'dev/will lost', 'dev/state online', 'dev/state offline'])
    } finally {
      await proxy.close()
    }
  })

  it('[MQTT-3.14.4-3] a redeploy while the birth message still awaits its acknowledgement sends the close message after it, not the will', async function () {
    // The broker takes 400 ms to authorise dev/state, so the birth is still unacknowledged when the flow is redeployed.
    let slow = 0
    const broker: Broker = createBroker({
      authorize: {
        authorizePublish: (_c, topic) => topic !== 'dev/state' ? true : new Promise<boolean>((resolve) => { slow++; setTimeout(() => resolve(true), 400) }),
        authorizeSubscribe: () => true,
      },
    })
    const seen: string[] = []
    const stopObserving = broker.observe((m) => { if (m.topic.startsWith('dev/')) seen.push(`${m.topic} ${m.payload.toString()}`) })
    const { port } = await broker.listen({ port: 0, host: HOST })
    try {
      const conn = {
        birthTopic: 'dev/state', birthPayload: 'online', birthQos: '1', birthRetain: false,
        closeTopic: 'dev/state', closePayload: 'offline', closeQos: '1', closeRetain: false,
        willTopic: 'dev/will', willPayload: 'lost', willQos: '1', willRetain: false,
      }
      await helper.load(nodes, externalFlow(`mqtt://${HOST}:${port}`, [publish()], conn))
      await waitFor(() => slow === 1, 10000, 'the birth message at the broker')
      assert.deepEqual(seen, [])
      await helper.setFlows(externalFlow(`mqtt://${HOST}:${port}`, [], conn), 'nodes')
      await waitFor(() => seen.length >= 2 && broker.clients().length === 0, 10000, 'the birth, the close message and the disconnect')
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.deepEqual(seen, ['dev/state online', 'dev/state offline'])
    } finally {
      stopObserving()
      await helper.unload()
      await broker.close()
    }
  })

  it('credentials: the right account connects; a wrong password shows the broker\'s refusal (MQTT 5: 0x86; 3.1.1: 4)', async function () {
    const auth = `mqtt://${HOST}:${mosq.ports.auth}`
    await helper.load(nodes, externalFlow(auth, [publish({ topic: 'open/a' })]), { conn: { ...ACCOUNT } })
    await connected(['pub'])
    await helper.unload()
    await helper.load(nodes, externalFlow(auth, [publish({ topic: 'open/a' })], { reconnectDelay: 5000 }), { conn: { username: ACCOUNT.username, password: 'wrong' } })
    await waitFor(() => lastStatus('pub')?.text === 'hearth-connection.errors.refused', 10000, 'the refusal in the status')
    assert.equal(lastStatus('pub')?.fill, 'red')
    assert.deepEqual(errors('conn'), ['hearth-connection.errors.refused'])
    await helper.unload()
    await helper.load(nodes, externalFlow(auth, [publish({ topic: 'open/a' })], { protocolVersion: '4', reconnectDelay: 5000 }), { conn: { username: 'nobody', password: 'x' } })
    await waitFor(() => lastStatus('pub')?.text === 'hearth-connection.errors.refused', 10000, 'the 3.1.1 refusal in the status')
  })

  it('done(err) when the broker does not authorise a QoS 1 publish (MQTT 5 PUBACK 0x87); allowed topics complete', async function () {
    await helper.load(nodes, externalFlow(`mqtt://${HOST}:${mosq.ports.auth}`, [publish(), ...observers('pub')]), { conn: { ...ACCOUNT } })
    await connected(['pub'])
    const caught = nextMessage('caught', 5000)
    helper.getNode('pub').receive({ topic: 'secret/plans', payload: 'x', qos: 1 })
    assert.equal(caughtText(await caught), 'hearth-publish.errors.not-authorised')
    const completed = nextMessage('completed', 5000)
    helper.getNode('pub').receive({ topic: 'open/plans', payload: 'x', qos: 1 })
    await completed
  })
})
