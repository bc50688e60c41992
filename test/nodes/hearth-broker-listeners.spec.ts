// hearth-broker: several listeners per node (mqtt, mqtts, ws, wss on their own ports), TLS from a core
// tls-config node, mutual TLS with the certificate's CN as user name, and MQTT over WebSocket on
// Node-RED's own HTTP server under a path, next to a core websocket node and the editor's /comms,
// in Node-RED 4.1 (node-red-node-test-helper with its HTTP server) and MQTT.js.
import assert from 'node:assert/strict'
import path from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import WebSocket from 'ws'
import { CLIENT_CN, KEY_PASSPHRASE, makeCerts, type TestCerts } from '../listeners/certs'
import { currentFlow } from './flows/broker.flows'
import { collect, endClient, hearthNodes, helper, lastStatus, logged, waitFor } from './support'

const coreNetwork = path.join(path.dirname(require.resolve('node-red-4/package.json')), 'node_modules/@node-red/nodes/core/network')
/* eslint-disable @typescript-eslint/no-require-imports */
const tlsNode: unknown = require(path.join(coreNetwork, '05-tls.js'))
const websocketNode: unknown = require(path.join(coreNetwork, '22-websocket.js'))
/* eslint-enable @typescript-eslint/no-require-imports */
const nodes = [...hearthNodes, tlsNode, websocketNode]

/** A core tls-config node reading the certificates from files, as the editor saves it. */
function tlsConfig (certs: TestCerts, id = 'tls', ca: string | undefined = certs.caCert): Record<string, unknown> {
  return { id, type: 'tls-config', name: '', cert: certs.serverCert, key: certs.serverKey, ca: ca ?? '', certname: '', keyname: '', caname: '', servername: '', verifyservercert: true, alpnprotocol: '' }
}

describe('hearth-broker node: listeners', function () {
  this.timeout(30000)
  let certs: TestCerts
  let other: TestCerts
  let clients: MqttClient[] = []
  let sockets: WebSocket[] = []

  before(function () {
    certs = makeCerts()
    other = makeCerts()
  })
  after(function () {
    certs?.remove()
    other?.remove()
  })
  afterEach(async function () {
    for (const s of sockets) s.terminate()
    sockets = []
    await Promise.all(clients.map(endClient))
    clients = []
    await helper.unload()
  })

  /** Connect an MQTT.js client (no reconnect); resolves on CONNACK, rejects on error or close. */
  function connect (url: string, options: IClientOptions = {}): Promise<MqttClient> {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 8000, ...options })
    clients.push(c)
    return new Promise((resolve, reject) => {
      c.once('connect', () => resolve(c))
      c.once('error', reject)
      c.once('close', () => reject(new Error(`closed before CONNACK: ${url}`)))
    })
  }

  async function started (id = 'broker'): Promise<Record<string, any>> {
    const n = helper.getNode(id)
    await n.ready
    assert.ok(n.broker, `broker ${id} is not running: ${String(n.failure)}`)
    return n
  }

  it('mqtt, mqtts, ws and wss on their own ports at once: MQTT.js through each, one broker behind them; events give the transport and the real address', async function () {
    await helper.load(nodes, [...currentFlow({
      tls: 'tls',
      listeners: [
        { kind: 'mqtt', port: '0', host: '127.0.0.1' },
        { kind: 'mqtts', port: '0', host: '127.0.0.1' },
        { kind: 'ws', port: '0', host: '127.0.0.1', path: '/mqtt' },
        { kind: 'wss', port: '0', host: '127.0.0.1' },
      ],
    }), tlsConfig(certs)])
    const n = await started()
    const ports = (n.listening as Array<{ kind: string, port: number, label: string }>)
    assert.deepEqual(ports.map((l) => l.kind), ['mqtt', 'mqtts', 'ws', 'wss'])
    assert.deepEqual(ports.map((l) => l.label), ports.map((l) => `:${l.port}`))
    assert.equal(n.port, ports[0].port)
    assert.equal(new Set(ports.map((l) => l.port)).size, 4)
    const events = collect('events')
    const ca = certs.read(certs.caCert)
    const sub = await connect(`ws://127.0.0.1:${ports[2].port}/mqtt`, { clientId: 'c-ws' })
    const got: string[] = []
    sub.on('message', (t, p) => got.push(`${t}=${p.toString()}`))
    await sub.subscribeAsync('t/#', { qos: 1 })
    const tcp = await connect(`mqtt://127.0.0.1:${ports[0].port}`, { clientId: 'c-mqtt' })
    const tls = await connect(`mqtts://127.0.0.1:${ports[1].port}`, { clientId: 'c-mqtts', ca })
    const wss = await connect(`wss://127.0.0.1:${ports[3].port}`, { clientId: 'c-wss', ca })
    await tcp.publishAsync('t/1', 'tcp', { qos: 1 })
    await tls.publishAsync('t/2', 'tls', { qos: 1 })
    await wss.publishAsync('t/3', 'wss', { qos: 1 })
    await waitFor(() => got.length === 3, 5000, 'three messages over WebSocket')
    assert.deepEqual(got.sort(), ['t/1=tcp', 't/2=tls', 't/3=wss'])
    const connected = events.filter((m) => m.topic === 'clientConnected').map((m) => [m.payload.clientId, m.payload.transport, m.payload.address.replace(/:\d+$/, '')])
    assert.deepEqual(connected.sort(), [['c-mqtt', 'mqtt', '127.0.0.1'], ['c-mqtts', 'mqtts', '127.0.0.1'], ['c-ws', 'ws', '127.0.0.1'], ['c-wss', 'wss', '127.0.0.1']])
    // A WebSocket listener with a path serves that path only.
    await assert.rejects(connect(`ws://127.0.0.1:${ports[2].port}/other`))
  })

  it('mutual TLS: only a certificate signed by the CA gets in, its CN is the user name the ACL sees; a failed handshake is logged at debug level and the other clients go on', async function () {
    await helper.load(nodes, [...currentFlow({
      tls: 'tls',
      allowAnonymous: false,
      listeners: [{ kind: 'mqtts', port: '0', host: '127.0.0.1', requireCertificate: true, useIdentityAsUsername: true }],
      aclEnabled: true,
      acl: [{ who: 'user', user: CLIENT_CN, access: 'readwrite', topic: 'sensors/%c/#' }, { who: 'pattern', access: 'readwrite', topic: 'sensors/%u/#' }],
    }), tlsConfig(certs)])
    const n = await started()
    const url = `mqtts://127.0.0.1:${n.port as number}`
    const ca = certs.read(certs.caCert)
    const events = collect('events')
    const device = await connect(url, { clientId: 'dev1', protocolVersion: 5, ca, cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey), username: 'ignored', password: 'ignored' })
    const connected = await waitFor(() => events.find((m) => m.topic === 'clientConnected'), 5000, 'the device')
    assert.equal(connected.payload.username, CLIENT_CN)
    assert.equal(connected.payload.transport, 'mqtts')
    const code = (topic: string): Promise<number> => device.publishAsync(topic, 'x', { qos: 1 })
      .then((p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0, (e: { code: number }) => e.code)
    assert.equal(await code(`sensors/${CLIENT_CN}/temp`), 0)
    assert.equal(await code('sensors/other/temp'), 0x87)

    await assert.rejects(connect(url, { clientId: 'nocert', ca }))
    await assert.rejects(connect(url, { clientId: 'stranger', ca, cert: other.read(other.clientCert), key: other.read(other.clientKey) }))
    await waitFor(() => logged('broker', 'debug').filter((l) => l === 'hearth-broker.debug.client-error').length >= 2, 5000, 'two debug lines')
    assert.deepEqual(logged('broker', 'log').filter((l) => l.includes('client-error')), [])
    assert.equal(device.connected, true)
    assert.equal(await code(`sensors/${CLIENT_CN}/humidity`), 0)
  })

  it('uploaded certificates: the TLS config\'s credentials hold the certificate, the encrypted key and its passphrase, and the CA', async function () {
    const uploaded = { id: 'tls', type: 'tls-config', name: '', cert: '', key: '', ca: '', certname: 'server.crt', keyname: 'server.key', caname: 'ca.crt', servername: '', verifyservercert: true }
    const creds = {
      tls: {
        certdata: certs.read(certs.serverCert).toString(),
        keydata: certs.read(certs.serverKeyEncrypted).toString(),
        cadata: certs.read(certs.caCert).toString(),
        passphrase: KEY_PASSPHRASE,
      },
    }
    await helper.load(nodes, [...currentFlow({ tls: 'tls', listeners: [{ kind: 'mqtts', port: '0', host: '127.0.0.1', requireCertificate: true }] }), uploaded], creds)
    const n = await started()
    await connect(`mqtts://127.0.0.1:${n.port as number}`, { ca: certs.read(certs.caCert), cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) })
    await assert.rejects(connect(`mqtts://127.0.0.1:${n.port as number}`, { ca: certs.read(certs.caCert) }))
  })

  for (const [what, flow, key] of [
    ['a required client certificate and no CA in the TLS config', (c: TestCerts) => [...currentFlow({ tls: 'tls', listeners: [{ kind: 'mqtts', port: '0', host: '127.0.0.1', requireCertificate: true }] }), tlsConfig(c, 'tls', '')], 'hearth-broker.errors.tls-no-ca'],
    ['a TLS config that is gone', () => currentFlow({ tls: 'gone', listeners: [{ kind: 'wss', port: '0', host: '127.0.0.1' }] }), 'hearth-broker.errors.tls-missing'],
    ['a TLS config without certificate', () => [...currentFlow({ tls: 'tls', listeners: [{ kind: 'mqtts', port: '0', host: '127.0.0.1' }] }), { id: 'tls', type: 'tls-config', name: '', cert: '', key: '', ca: '', verifyservercert: true }], 'hearth-broker.errors.tls-no-cert'],
  ] as const) {
    it(`refuses ${what}: red ring saying what to fix, no port bound`, async function () {
      await helper.load(nodes, flow(certs))
      const n = helper.getNode('broker')
      await n.ready
      assert.equal(n.broker, undefined)
      assert.equal(n.listening, undefined)
      assert.deepEqual(lastStatus('broker'), { fill: 'red', shape: 'ring', text: key })
    })
  }

  it('a full redeploy takes new certificates without a restart', async function () {
    const listeners = [{ kind: 'mqtts', port: '0', host: '127.0.0.1' }]
    await helper.load(nodes, [...currentFlow({ tls: 'tls', listeners }), tlsConfig(certs)])
    const port = (await started()).port as number
    // Keep the same port across the redeploy.
    const fixed = [{ kind: 'mqtts', port: String(port), host: '127.0.0.1' }]
    await helper.setFlows([...currentFlow({ tls: 'tls', listeners: fixed }), tlsConfig(certs)], 'full')
    await started()
    await connect(`mqtts://127.0.0.1:${port}`, { ca: certs.read(certs.caCert) })
    const stay = clients[clients.length - 1]
    await helper.setFlows([...currentFlow({ tls: 'tls', listeners: fixed }), tlsConfig(other)], 'full')
    await started()
    await waitFor(() => !stay.connected, 5000, 'the old client closed by the redeploy')
    await connect(`mqtts://127.0.0.1:${port}`, { ca: other.read(other.caCert) })
    await assert.rejects(connect(`mqtts://127.0.0.1:${port}`, { ca: certs.read(certs.caCert) }))
  })

  describe('WebSocket on Node-RED\'s port', function () {
    before(async function () { await helper.startServer() })
    after(async function () {
      helper.settings({})
      await helper.stopServer()
    })
    afterEach(function () { helper.settings({}) })

    const wsUrl = (p: string): string => helper.url().replace(/^http/, 'ws') + p
    const onNodeRed = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ listeners: [{ kind: 'nodered', path: '/mqtt' }], ...extra })
    /** A core websocket-listener on /ws with a websocket in node wired to helper `wsmsgs`. */
    const coreWebsocket = [
      { id: 'wsl', type: 'websocket-listener', path: '/ws', wholemsg: 'false' },
      { id: 'wsin', type: 'websocket in', z: 'f1', x: 100, y: 100, name: '', server: 'wsl', client: '', wires: [['wsmsgs']] },
      { id: 'wsmsgs', type: 'helper', z: 'f1', x: 100, y: 100, wires: [] },
    ]

    /** Open a raw WebSocket; resolves once open, rejects with the HTTP status of a refused upgrade. */
    function rawWebSocket (url: string, options: WebSocket.ClientOptions = {}, protocol = 'mqtt'): Promise<WebSocket> {
      const ws = new WebSocket(url, protocol, options)
      sockets.push(ws)
      return new Promise((resolve, reject) => {
        ws.once('open', () => resolve(ws))
        ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${String(res.statusCode)}`), { status: res.statusCode })))
        ws.once('error', reject)
      })
    }

    it('MQTT.js connects to ws://<Node-RED>/mqtt while a core websocket node on /ws keeps its own connections', async function () {
      await helper.load(nodes, currentFlow(onNodeRed(), coreWebsocket))
      const n = await started()
      assert.equal(n.port, undefined)
      assert.deepEqual(n.listening, [{ kind: 'nodered', port: undefined, label: '/mqtt' }])
      const events = collect('events')
      const got: string[] = []
      const c = await connect(wsUrl('/mqtt'), { clientId: 'on-nodered', protocolVersion: 5 })
      c.on('message', (t, p) => got.push(`${t}=${p.toString()}`))
      await c.subscribeAsync('x')
      await c.publishAsync('x', 'round trip', { qos: 1 })
      await waitFor(() => got.includes('x=round trip'), 5000, 'the round trip')
      const ev = await waitFor(() => events.find((m) => m.topic === 'clientConnected'), 5000, 'the event')
      assert.equal(ev.payload.transport, 'ws')
      assert.match(ev.payload.address, /^127\.0\.0\.1:\d+$/)
      // The core websocket node gets its own path's traffic.
      const wsMessages = collect('wsmsgs')
      const plain = await rawWebSocket(wsUrl('/ws'), {}, 'chat')
      plain.send('hello core')
      await waitFor(() => wsMessages.some((m) => m.payload === 'hello core'), 5000, 'the core websocket node')
    })

    for (const [what, options, extra, key] of [
      ['used by a core websocket node', onNodeRed({ listeners: [{ kind: 'nodered', path: 'ws' }] }), coreWebsocket, 'hearth-broker.errors.path-in-use-websocket'],
      ['the editor\'s /comms', onNodeRed({ listeners: [{ kind: 'nodered', path: '/comms' }] }), [], 'hearth-broker.errors.path-in-use-editor'],
    ] as const) {
      it(`a path ${what} is refused with a red status and takes nothing over`, async function () {
        await helper.load(nodes, currentFlow(options, [...extra]))
        const n = helper.getNode('broker')
        await n.ready
        assert.equal(n.broker, undefined)
        assert.deepEqual(lastStatus('broker'), { fill: 'red', shape: 'ring', text: key })
      })
    }

    it('two broker nodes on one path: the second is refused with a red status; the first serves', async function () {
      await helper.load(nodes, [...currentFlow(onNodeRed()), { ...currentFlow(onNodeRed())[1] as object, id: 'broker2', wires: [] }])
      const a = helper.getNode('broker')
      const b = helper.getNode('broker2')
      await Promise.all([a.ready, b.ready])
      const [winner, loser] = a.broker !== undefined ? ['broker', 'broker2'] : ['broker2', 'broker']
      assert.ok(helper.getNode(winner).broker)
      assert.equal(helper.getNode(loser).broker, undefined)
      assert.deepEqual(lastStatus(loser), { fill: 'red', shape: 'ring', text: 'hearth-broker.errors.path-in-use-hearth' })
      await connect(wsUrl('/mqtt'))
    })

    it('a redeploy releases the path and closes its clients; deleting the node frees it for good', async function () {
      await helper.load(nodes, currentFlow(onNodeRed()))
      await started()
      const c = await connect(wsUrl('/mqtt'), { clientId: 'first' })
      await helper.setFlows(currentFlow(onNodeRed({ name: 'again' })), 'full')
      await started()
      await waitFor(() => !c.connected, 5000, 'the client closed by the redeploy')
      const again = await connect(wsUrl('/mqtt'), { clientId: 'second' })
      await helper.setFlows([{ id: 'f1', type: 'tab', label: 'empty' }], 'full')
      await waitFor(() => !again.connected, 5000, 'the client closed by the deletion')
      // Nothing answers the path any more: the upgrade is left unanswered.
      const ws = new WebSocket(wsUrl('/mqtt'), 'mqtt')
      sockets.push(ws)
      const outcome = await new Promise<string>((resolve) => {
        ws.once('open', () => resolve('open'))
        ws.once('error', () => resolve('error'))
        setTimeout(() => resolve('no answer'), 1000)
      })
      assert.notEqual(outcome, 'open')
    })

    it('Node-RED\'s webSocketNodeVerifyClient decides, as for core websocket nodes', async function () {
      helper.settings({ webSocketNodeVerifyClient: (info: { req: { headers: Record<string, string> } }) => info.req.headers['x-token'] === 'let-me-in' })
      await helper.load(nodes, currentFlow(onNodeRed()))
      await started()
      await assert.rejects(rawWebSocket(wsUrl('/mqtt')), (e: { status?: number }) => e.status === 401)
      await rawWebSocket(wsUrl('/mqtt'), { headers: { 'x-token': 'let-me-in' } })
    })

    it('behind a trusted proxy the address in events is the one X-Forwarded-For names; without trust the header is ignored', async function () {
      await helper.load(nodes, currentFlow(onNodeRed({ listeners: [{ kind: 'nodered', path: '/mqtt', trustProxy: true }, { kind: 'nodered', path: '/direct' }] })))
      await started()
      const events = collect('events')
      const headers = { 'X-Forwarded-For': '198.51.100.7, 203.0.113.9' }
      await connect(wsUrl('/mqtt'), { clientId: 'proxied', wsOptions: { headers } })
      await connect(wsUrl('/direct'), { clientId: 'direct', wsOptions: { headers } })
      await waitFor(() => events.filter((m) => m.topic === 'clientConnected').length === 2, 5000, 'two clients')
      const address = (id: string): string => events.find((m) => m.topic === 'clientConnected' && m.payload.clientId === id)?.payload.address
      assert.equal(address('proxied'), '203.0.113.9')
      assert.match(address('direct'), /^127\.0\.0\.1:\d+$/)
    })
  })
})
