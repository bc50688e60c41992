// hearth-broker: the Prometheus endpoint on a port of its own and GET /hearth-broker/:id/metrics, in Node-RED 4.1.
import assert from 'node:assert/strict'
import http from 'node:http'
import type net from 'node:net'
import type { MqttClient } from 'mqtt'
import { parsePrometheus, valueOf, type Family } from '../helpers/prometheus'
import { currentFlow } from './flows/broker.flows'
import { connectClient, endClient, errors, hearthNodes, helper, lastStatus, occupyPort, waitFor } from './support'

async function get (url: string): Promise<{ status: number, type: string | undefined, body: string }> {
  return await new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    }).on('error', reject)
  })
}

/** The figures a known load leaves, read from an exposition. */
function figures (fam: Map<string, Family>): Record<string, unknown> {
  const v = (name: string, labels: Record<string, string> = {}): number => valueOf(fam, name, labels)
  return {
    connected: v('hearth_connected_clients', { listener: 'mqtt' }),
    connections: v('hearth_connections_total', { listener: 'mqtt' }),
    publish: [v('hearth_publish_received_total'), v('hearth_publish_sent_total'), v('hearth_publish_received_bytes_total'), v('hearth_publish_sent_bytes_total')],
    // PUBLISH in; PUBACK to the publisher; PUBLISH out; PUBACK from the subscriber; SUBSCRIBE.
    packets: ['publish', 'puback'].flatMap((type) => [v('hearth_packets_received_total', { type }), v('hearth_packets_sent_total', { type })]).concat(v('hearth_packets_received_total', { type: 'subscribe' })),
    subscriptions: v('hearth_subscriptions'),
    retained: v('hearth_retained_messages'),
  }
}

describe('hearth-broker node: Prometheus metrics', function () {
  this.timeout(30000)
  let clients: MqttClient[] = []
  let blocker: net.Server | undefined

  afterEach(async function () {
    await Promise.all(clients.map(endClient))
    clients = []
    helper.getNode('broker')?.broker?.clearRetained('#')
    await helper.unload()
    if (blocker) await new Promise((resolve) => blocker!.close(resolve))
    blocker = undefined
  })

  it('serves no endpoint unless it is ticked', async function () {
    await helper.load(hearthNodes, currentFlow({ persistence: false }))
    const n = helper.getNode('broker')
    await n.ready
    assert.ok(n.broker)
    assert.equal(n.metricsUrl, undefined)
  })

  it('serves /metrics on its own port after a known load, labelled with the node id and name, and closes it with the node', async function () {
    await helper.load(hearthNodes, currentFlow({ persistence: false, name: 'hall', metrics: true, metricsPort: '0', metricsHost: '127.0.0.1' }))
    const n = helper.getNode('broker')
    await n.ready
    assert.match(String(n.metricsUrl), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    const port = n.port as number
    const sub = await connectClient(port, { clientId: 'sub' })
    clients.push(sub)
    await sub.subscribeAsync('load/#', { qos: 1 })
    const got: string[] = []
    sub.on('message', (topic) => got.push(topic))
    const pub = await connectClient(port, { clientId: 'pub' })
    clients.push(pub)
    for (let i = 0; i < 25; i++) await pub.publishAsync(`load/${i % 5}`, Buffer.from('12345678'), { qos: 1 })
    await pub.publishAsync('load/kept', 'abc', { qos: 1, retain: true })
    await waitFor(() => got.length === 26, 5000, 'every message delivered')

    const res = await get(String(n.metricsUrl))
    assert.equal(res.status, 200)
    assert.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8')
    const fam = parsePrometheus(res.body)
    assert.deepEqual(figures(fam), {
      connected: 2,
      connections: 2,
      publish: [26, 26, 25 * 8 + 3, 25 * 8 + 3],
      packets: [26, 26, 26, 26, 1],
      subscriptions: 1,
      retained: 1,
    })
    // Every series carries the node's labels, and nothing per client.
    for (const f of fam.values()) {
      for (const s of f.samples) {
        assert.equal(s.labels.node_id, 'broker', `${s.name} without node_id`)
        assert.equal(s.labels.node_name, 'hall', `${s.name} without node_name`)
        assert.deepEqual(Object.keys(s.labels).filter((k) => !['node_id', 'node_name', 'listener', 'type', 'reason', 'version', 'le'].includes(k)), [])
      }
    }

    // The admin route serves the same figures.
    const admin = await helper.request().get('/hearth-broker/broker/metrics').expect(200)
    assert.equal(admin.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
    assert.deepEqual(figures(parsePrometheus(admin.text)), figures(fam))
    await helper.request().get('/hearth-broker/nobody/metrics').expect(404)

    const url = String(n.metricsUrl)
    await Promise.all(clients.map(endClient))
    clients = []
    await helper.unload()
    await assert.rejects(get(url), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED')
  })

  it('a metrics port in use: red status and an error saying what to fix, and the broker keeps running', async function () {
    blocker = await occupyPort()
    const taken = (blocker.address() as net.AddressInfo).port
    await helper.load(hearthNodes, currentFlow({ persistence: false, metrics: true, metricsPort: String(taken), metricsHost: '127.0.0.1' }))
    const n = helper.getNode('broker')
    await n.ready
    assert.ok(n.broker, 'the broker runs')
    assert.equal(n.metricsUrl, undefined)
    assert.deepEqual(lastStatus('broker'), { fill: 'red', shape: 'ring', text: 'hearth-broker.status.listening · hearth-broker.monitoring.status.port-in-use' })
    assert.deepEqual(errors('broker'), ['hearth-broker.monitoring.errors.port-in-use'])
    const c = await connectClient(n.port as number, { clientId: 'still-here' })
    clients.push(c)
    await waitFor(() => lastStatus('broker')?.text === 'hearth-broker.status.listening-one · hearth-broker.monitoring.status.port-in-use', 3000, 'the status to count the client')
  })
})
