// hearth-connection: user counting, in-process link, credentials, birth/close/will, redeploy with traffic.
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import mqtt from 'mqtt'
import { flow, helperNode, publish, subscribe, tab, broker, connection } from './flows/client.flows'
import { collect, connectClient, endClient, errors, freePort, hearthNodes, helper, unloadClean, lastStatus, sink, sinkNode, waitFor } from './support'

const nodes = [...hearthNodes, sinkNode]

async function brokerPort (): Promise<number> {
  const n = helper.getNode('broker')
  await n.ready
  assert.ok(n.port, String(n.failure))
  return n.port as number
}

describe('hearth-connection config node', function () {
  let clients: MqttClient[] = []

  afterEach(async function () {
    await Promise.all(clients.map(endClient))
    clients = []
    await unloadClean()
  })

  it('connects in-process on its first user, as hearth-<id>, and disconnects after its last', async function () {
    await helper.load(nodes, flow([publish()]))
    const events = collect('events')
    const connected = await waitFor(() => events.find((m) => m.topic === 'clientConnected'))
    assert.equal(connected.payload.clientId, 'hearth-conn')
    assert.equal(connected.payload.kind, 'local')
    assert.equal(connected.payload.address, 'local')
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
    assert.equal(helper.getNode('broker').broker.clients().length, 1)

    // Deploy 'nodes': only the publish node goes; the broker stays, the connection loses its last user.
    await helper.setFlows(flow([]), 'nodes')
    await waitFor(() => helper.getNode('broker').broker.clients().length === 0, 3000, 'the local client to leave')
  })

  it('reconnects to the new broker node when only the broker is redeployed', async function () {
    const port = await freePort()
    await helper.load(nodes, flow([publish()], { broker: { port } }))
    await brokerPort()
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
    const before = helper.getNode('broker')
    await helper.setFlows(flow([publish()], { broker: { port, name: 'renamed' } }), 'nodes')
    const after = helper.getNode('broker')
    assert.notEqual(after, before)
    assert.equal(await brokerPort(), port)
    await waitFor(() => after.broker?.clients().some((c: { clientId: string }) => c.clientId === 'hearth-conn'), 5000, 'the connection on the new broker')
  })

  it('shares one broker connection among all its users', async function () {
    await helper.load(nodes, flow([publish(), subscribe({ topic: 'x' }, 'sub1'), subscribe({ topic: 'y' }, 'sub2'), helperNode('out')]))
    await brokerPort()
    await waitFor(() => lastStatus('sub2')?.text === 'node-red:common.status.connected')
    assert.deepEqual(helper.getNode('broker').broker.clients().map((c: { clientId: string }) => c.clientId), ['hearth-conn'])
  })

  it('finds its broker node wherever it sits in the flow (broker listed after its users)', async function () {
    await helper.load(nodes, [tab, connection(), publish(), helperNode('events'), broker()])
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
  })

  it('publishes the birth message on connect, the close message on a clean disconnect, the will when cut off', async function () {
    const conn = {
      birthTopic: 'dev/state', birthPayload: 'online', birthQos: '1', birthRetain: true,
      closeTopic: 'dev/state', closePayload: 'offline', closeQos: '1', closeRetain: true,
      willTopic: 'dev/will', willPayload: 'lost', willQos: '1', willRetain: false,
    }
    await helper.load(nodes, flow([publish()], { connection: conn }))
    const port = await brokerPort()
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
    const seen: string[] = []
    const watcher = await connectClient(port, {}, (t, p) => seen.push(`${t}=${p.toString()}`))
    clients.push(watcher)
    await watcher.subscribeAsync('dev/#', { qos: 1 })
    await waitFor(() => seen.includes('dev/state=online'), 3000, 'the retained birth message')

    await helper.setFlows(flow([], { connection: conn }), 'nodes')
    await waitFor(() => seen.includes('dev/state=offline'), 3000, 'the close message')
    assert.ok(!seen.includes('dev/will=lost'), 'a clean disconnect must not publish the will')

    await helper.setFlows(flow([publish()], { connection: conn }), 'nodes')
    await waitFor(() => seen.filter((s) => s === 'dev/state=online').length === 2, 3000, 'the birth message again')

    // [MQTT-3.1.2-8] the will is published when the connection is closed by the server.
    helper.getNode('broker').receive({ action: 'disconnect', clientId: 'hearth-conn' })
    await waitFor(() => seen.includes('dev/will=lost'), 3000, 'the will message')
    // The connection comes back by itself, with a new birth message.
    await waitFor(() => seen.filter((s) => s === 'dev/state=online').length === 3, 5000, 'the reconnect')
  })

  it('the will carries its MQTT 5 user properties, a null one left out (as in the publish node)', async function () {
    const conn = { willTopic: 'dev/will', willPayload: 'lost', willQos: '1', willUserProperties: '{"site":"north","gone":null,"n":2}' }
    await helper.load(nodes, flow([publish()], { connection: conn }))
    const port = await brokerPort()
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
    const wills: Array<Record<string, unknown>> = []
    const watcher = await connectClient(port, { protocolVersion: 5 }, (t, _p, packet) => { if (t === 'dev/will') wills.push({ ...packet.properties?.userProperties }) })
    clients.push(watcher)
    await watcher.subscribeAsync('dev/will', { qos: 1 })
    helper.getNode('broker').receive({ action: 'disconnect', clientId: 'hearth-conn' })
    await waitFor(() => wills.length === 1, 3000, 'the will message')
    assert.deepEqual(wills[0], { site: 'north', n: '2' })
  })

  it('full redeploy: the close message goes out before the broker closes', async function () {
    const port = await freePort()
    const conn = { closeTopic: 'dev/closed', closePayload: 'bye', closeQos: '1', closeRetain: true }
    await helper.load(nodes, flow([publish()], { broker: { port }, connection: conn }))
    await brokerPort()
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
    await helper.setFlows(flow([publish()], { broker: { port, name: 'again' }, connection: conn }), 'full')
    await brokerPort()
    const retained = helper.getNode('broker').broker.retained('dev/closed')
    assert.equal(retained.length, 1)
    assert.equal(retained[0].payload.toString(), 'bye')
  })

  it('uses its credentials; the broker refuses wrong ones and the users show the reason', async function () {
    const brokerProps = { allowAnonymous: false }
    const creds = { broker: { username: 'node', password: 's3cret' }, conn: { username: 'node', password: 's3cret' } }
    await helper.load(nodes, flow([publish()], { broker: brokerProps }), creds)
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
    assert.equal(helper.getNode('broker').broker.clients()[0].username, 'node')

    await helper.unload()
    await helper.load(nodes, flow([publish()], { broker: brokerProps }), { ...creds, conn: { username: 'node', password: 'wrong' } })
    await waitFor(() => lastStatus('pub')?.text === 'hearth-connection.errors.refused', 3000, 'the refusal in the status')
    assert.equal(lastStatus('pub')?.fill, 'red')
    assert.ok(errors('conn').includes('hearth-connection.errors.refused'))
  })

  it('with anonymous clients refused, an in-process connection without a username is still let in', async function () {
    await helper.load(nodes, flow([publish()], { broker: { allowAnonymous: false } }), { broker: { username: 'u', password: 'p' } })
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected')
  })

  for (const [url, key] of [['http://example.invalid', 'bad-scheme'], ['mqtt://user:pw@example.invalid', 'url-credentials'], ['', 'no-url']]) {
    it(`an external connection with the URL "${url}": red status saying what to fix (${key})`, async function () {
      await helper.load(nodes, flow([publish()], { connection: { brokerType: 'external', url } }))
      await waitFor(() => lastStatus('pub')?.text === `hearth-connection.errors.${key}`)
      assert.equal(lastStatus('pub')?.fill, 'red')
    })
  }

  it('a broker node that failed to start: users show "broker not running"', async function () {
    await helper.load(nodes, flow([publish()], { broker: { port: 'nope' } }))
    await waitFor(() => lastStatus('pub')?.text === 'hearth-connection.status.broker-down')
  })

  it('persistent session: a full redeploy while QoS 1 traffic flows loses no message', async function () {
    this.timeout(30000)
    sink.length = 0
    const port = await freePort()
    const conn = { clean: false, sessionExpiry: 300 }
    const nodesOf = (name: string): object[] => flow([subscribe({ topic: 'seq', qos: '1', datatype: 'string' }, 'sub', 'sink'), { id: 'sink', type: 'sink', z: 'f1', x: 1, y: 1, wires: [] }],
      { broker: { port, name }, connection: conn })
    await helper.load(nodes, nodesOf('a'))
    await brokerPort()
    await waitFor(() => lastStatus('sub')?.text === 'node-red:common.status.connected')

    const pub = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'seq-pub', clean: false, reconnectPeriod: 50 })
    clients.push(pub)
    const total = 300
    let sent = 0
    const sending = new Promise<void>((resolve) => {
      const tick = (): void => {
        if (sent === total) return resolve()
        pub.publish('seq', String(sent++), { qos: 1 })
        setTimeout(tick, 2)
      }
      pub.once('connect', tick)
    })
    await waitFor(() => sink.length >= 50, 5000, 'traffic before the redeploy')
    await helper.setFlows(nodesOf('b'), 'full')
    await sending
    await waitFor(() => new Set(sink.map((m) => m.payload)).size === total, 15000, `all ${total} messages (got ${new Set(sink.map((m) => m.payload)).size})`)
  })
})
