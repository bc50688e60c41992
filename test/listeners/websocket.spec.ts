// MQTT over WebSocket and secure WebSocket on the listener's own port (src/listeners, 'ws'/'wss'):
// MQTT.js, Python paho (transport="websockets") and raw WebSocket clients that send MQTT bytes.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type WebSocket from 'ws'
import type { Broker, PeerInfo } from '../../src/broker'
import type { MqttListener, ListenerOptions } from '../../src/listeners'
import { Children, exitOf, requirePaho, uniq } from '../interop/helpers'
import { CLIENT_CN, makeCerts, type TestCerts } from './certs'
import { connectPacket, encode, HOST, Scope, sleep, waitFor, WsMqtt } from './support'

const PAHO = join(__dirname, 'py', 'paho_ws.py')

describe('listeners: MQTT over WebSocket (ws, wss)', function () {
  this.timeout(30000)
  let certs: TestCerts
  const scope = new Scope()
  const children = new Children()
  let clientErrors: Array<{ err: Error, peer: PeerInfo }> = []

  before(function () { certs = makeCerts() })
  after(function () { certs.remove() })
  beforeEach(function () { clientErrors = [] })
  afterEach(async function () {
    await children.killAll()
    await scope.close()
  })

  async function wsListener (broker: Broker, protocol: 'ws' | 'wss', extra: Partial<ListenerOptions> = {}): Promise<MqttListener> {
    const tls = protocol === 'wss' ? { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey), ca: certs.read(certs.caCert) } : undefined
    return scope.listen({ protocol, port: 0, host: HOST, tls, onClientError: (err, peer) => clientErrors.push({ err, peer }), ...extra }, broker)
  }

  /** A raw WebSocket that has sent CONNECT and read CONNACK. */
  async function rawClient (url: string, clientId: string, options: WebSocket.ClientOptions = {}): Promise<WsMqtt> {
    const ws = await scope.webSocket(url, 'mqtt', options)
    const c = new WsMqtt(ws)
    c.send(connectPacket(clientId))
    const ack = await c.next('connack')
    assert.deepEqual({ cmd: ack.cmd, returnCode: (ack as { returnCode?: number }).returnCode }, { cmd: 'connack', returnCode: 0 })
    return c
  }

  for (const protocol of ['ws', 'wss'] as const) {
    for (const version of [4, 5] as const) {
      it(`MQTT.js over ${protocol}:// (MQTT ${version === 5 ? '5' : '3.1.1'}): QoS 1 round trip; broker.clients() shows transport ${protocol} and 127.0.0.1`, async function () {
        const broker = scope.broker()
        const l = await wsListener(broker, protocol, { path: '/mqtt' })
        const options = protocol === 'wss' ? { ca: certs.read(certs.caCert) } : {}
        const client = await scope.connect(`${protocol}://${HOST}:${l.port}/mqtt`, { ...options, clientId: `js-${protocol}-${version}`, protocolVersion: version })
        const topic = uniq(`${protocol}/rt`)
        const got: string[] = []
        client.on('message', (t, p, packet) => got.push(`${t}|${p.toString()}|${packet.qos}`))
        await client.subscribeAsync(topic, { qos: 1 })
        await client.publishAsync(topic, `over ${protocol}`, { qos: 1 })
        await waitFor(() => got.length > 0, 'the message back')
        assert.deepEqual(got, [`${topic}|over ${protocol}|1`])
        assert.deepEqual(broker.clients().map(c => ({ id: c.clientId, transport: c.transport, address: c.remoteAddress, version: c.protocolVersion })),
          [{ id: `js-${protocol}-${version}`, transport: protocol, address: HOST, version }])
      })
    }

    it(`Python paho (transport="websockets") over ${protocol}://: subscribe, QoS 1 publish, message back`, async function () {
      requirePaho()
      const broker = scope.broker()
      const l = await wsListener(broker, protocol, { path: '/mqtt' })
      const topic = uniq(`paho/${protocol}`)
      const args = [PAHO, '--host', HOST, '--port', String(l.port), '--path', '/mqtt', '--protocol', '4', '--topic', topic]
      if (protocol === 'wss') args.push('--cafile', certs.caCert)
      const child = children.spawn('/usr/bin/python3', args, { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: '' } })
      const { code } = await exitOf(child, 25000)
      const out = JSON.parse(child.out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>
      assert.equal(code, 0, child.describe())
      delete out.paho_version
      assert.deepEqual(out, { connack: 0, granted: [1], received: { topic, payload: 'hello over websockets', qos: 1 } })
    })
  }

  it('the real peer: remoteAddress and remotePort in broker.clients() are the WebSocket client\'s own', async function () {
    const broker = scope.broker()
    const l = await wsListener(broker, 'ws')
    const c = await rawClient(`ws://${HOST}:${l.port}/`, 'raw-peer')
    const local = (c.ws as unknown as { _socket: { localPort: number } })._socket.localPort
    assert.deepEqual(broker.clients().map(x => ({ address: x.remoteAddress, port: x.remotePort, transport: x.transport })), [{ address: HOST, port: local, transport: 'ws' }])
  })

  it('wss with requireCertificate and useIdentityAsUsername: the certificate CN is the user name', async function () {
    const broker = scope.broker()
    const l = await wsListener(broker, 'wss', { tls: { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey), ca: certs.read(certs.caCert), requireCertificate: true, useIdentityAsUsername: true } })
    await scope.connect(`wss://${HOST}:${l.port}/`, { ca: certs.read(certs.caCert), cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey), clientId: 'wss-cn', username: 'ignored', password: 'ignored' })
    assert.deepEqual(broker.clients().map(x => ({ id: x.clientId, user: x.username, transport: x.transport })), [{ id: 'wss-cn', user: CLIENT_CN, transport: 'wss' }])
    await assert.rejects(scope.connect(`wss://${HOST}:${l.port}/`, { ca: certs.read(certs.caCert), clientId: 'wss-nocert' }), 'no client certificate: refused')
    assert.deepEqual(broker.clients().map(x => x.clientId), ['wss-cn'])
  })

  it('path: with path /mqtt only /mqtt is served (a query string is fine), another path gets HTTP 404; without path any path is served', async function () {
    const broker = scope.broker()
    const strict = await wsListener(broker, 'ws', { path: '/mqtt' })
    const any = await wsListener(broker, 'ws')
    await rawClient(`ws://${HOST}:${strict.port}/mqtt`, 'p1')
    await rawClient(`ws://${HOST}:${strict.port}/mqtt?token=1`, 'p2')
    for (const path of ['/', '/mqtt/', '/other', '/mqttx']) {
      await assert.rejects(scope.webSocket(`ws://${HOST}:${strict.port}${path}`), (err: { status?: number }) => err.status === 404, path)
    }
    await rawClient(`ws://${HOST}:${any.port}/`, 'p3')
    await rawClient(`ws://${HOST}:${any.port}/some/where`, 'p4')
    assert.deepEqual(broker.clients().map(c => c.clientId).sort(), ['p1', 'p2', 'p3', 'p4'])
  })

  it('a text frame closes the connection (close code 1003) and the client is gone from the broker [MQTT-6.0.0-1]', async function () {
    const broker = scope.broker()
    const l = await wsListener(broker, 'ws')
    const gone: string[] = []
    broker.on('clientDisconnected', i => gone.push(i.clientId))
    const c = await rawClient(`ws://${HOST}:${l.port}/`, 'texter')
    c.ws.send(encode({ cmd: 'pingreq' }).toString('latin1')) // a PINGREQ, but in a text frame
    await waitFor(() => c.closeCode !== undefined, 'the close')
    assert.equal(c.closeCode, 1003)
    assert.deepEqual(c.packets, [], 'no PINGRESP for a text frame')
    await waitFor(() => gone.length > 0, 'clientDisconnected')
    assert.deepEqual(gone, ['texter'])
    assert.deepEqual(broker.clients(), [])
  })

  it('a WebSocket message may hold part of a packet or several packets [MQTT-6.0.0-2]', async function () {
    const broker = scope.broker()
    const l = await wsListener(broker, 'ws')
    const ws = await scope.webSocket(`ws://${HOST}:${l.port}/`)
    const c = new WsMqtt(ws)
    const connect = encode(connectPacket('splitter'))
    for (const part of [connect.subarray(0, 1), connect.subarray(1, 5), connect.subarray(5)]) ws.send(part, { binary: true }) // one CONNECT in three messages
    assert.deepEqual({ ...await c.next('connack') }, { cmd: 'connack', retain: false, qos: 0, dup: false, length: 2, topic: null, payload: null, sessionPresent: false, returnCode: 0 })
    const topic = 'split/t'
    const sub = encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] })
    const pub = encode({ cmd: 'publish', topic, payload: Buffer.from('two in one'), qos: 1, messageId: 2, retain: false, dup: false })
    const ping = encode({ cmd: 'pingreq' })
    ws.send(Buffer.concat([sub, pub, ping.subarray(0, 1)]), { binary: true }) // SUBSCRIBE, PUBLISH and half a PINGREQ
    ws.send(ping.subarray(1), { binary: true })
    const suback = await c.next('suback')
    assert.deepEqual({ id: suback.messageId, granted: (suback as { granted: number[] }).granted }, { id: 1, granted: [1] })
    assert.equal((await c.next('puback')).messageId, 2)
    const msg = await c.next('publish')
    assert.deepEqual({ topic: (msg as { topic: string }).topic, payload: String((msg as { payload: Buffer }).payload), qos: (msg as { qos: number }).qos }, { topic, payload: 'two in one', qos: 1 })
    assert.equal((await c.next('pingresp')).cmd, 'pingresp')
  })

  it('subprotocols: "mqtt" is chosen whenever offered [MQTT-6.0.0-4], "mqttv3.1" for 3.1 clients, none when none is offered; any other offer is refused (HTTP 400, reported)', async function () {
    const broker = scope.broker()
    const l = await wsListener(broker, 'ws')
    const url = `ws://${HOST}:${l.port}/`
    const chosen = async (offer: string[]): Promise<string> => (await scope.webSocket(url, offer)).protocol
    assert.equal(await chosen(['mqtt']), 'mqtt')
    assert.equal(await chosen(['mqttv3.1']), 'mqttv3.1')
    assert.equal(await chosen(['mqttv3.1', 'mqtt']), 'mqtt')
    assert.equal(await chosen(['chat', 'mqtt']), 'mqtt')
    assert.equal(await chosen([]), '')
    await assert.rejects(scope.webSocket(url, ['chat']), (err: { status?: number }) => err.status === 400)
    await waitFor(() => clientErrors.length > 0, 'the refusal reported')
    assert.deepEqual(clientErrors.map(e => ({ code: (e.err as { code?: string }).code, transport: e.peer.transport, address: e.peer.remoteAddress })),
      [{ code: 'BAD_PROTOCOL', transport: 'ws', address: HOST }])
  })

  it('a WebSocket message larger than maxPacketSize closes the connection (close code 1009)', async function () {
    const broker = scope.broker({ maxPacketSize: 1000 })
    const l = await wsListener(broker, 'ws', { maxPacketSize: 1000 })
    const c = await rawClient(`ws://${HOST}:${l.port}/`, 'big')
    c.ws.send(encode({ cmd: 'publish', topic: 'ok', payload: Buffer.alloc(900), qos: 0, retain: false, dup: false }), { binary: true })
    await sleep(100)
    assert.equal(c.closeCode, undefined, 'a message within the bound is fine')
    c.ws.send(Buffer.alloc(1001), { binary: true })
    await waitFor(() => c.closeCode !== undefined, 'the close')
    assert.equal(c.closeCode, 1009)
    await waitFor(() => broker.clients().length === 0, 'the client gone')
  })

  const XFF = '203.0.113.9, 198.51.100.7'
  const cases: Array<{ trustProxy: boolean | number | undefined, want: (port: number) => { address: string, port: number | undefined } }> = [
    { trustProxy: undefined, want: (port) => ({ address: HOST, port }) },
    { trustProxy: false, want: (port) => ({ address: HOST, port }) },
    { trustProxy: true, want: () => ({ address: '198.51.100.7', port: undefined }) },
    { trustProxy: 2, want: () => ({ address: '203.0.113.9', port: undefined }) },
  ]
  for (const c of cases) {
    it(`X-Forwarded-For: ${XFF} with trustProxy ${String(c.trustProxy)}: broker.clients() shows ${c.want(0).address}`, async function () {
      const broker = scope.broker()
      const l = await wsListener(broker, 'ws', { trustProxy: c.trustProxy })
      const client = await rawClient(`ws://${HOST}:${l.port}/mqtt`, 'proxied', { headers: { 'X-Forwarded-For': XFF } })
      const local = (client.ws as unknown as { _socket: { localPort: number } })._socket.localPort
      assert.deepEqual(broker.clients().map(x => ({ address: x.remoteAddress, port: x.remotePort })), [c.want(local)])
    })
  }

  it('trustProxy without an X-Forwarded-For header keeps the socket\'s address', async function () {
    const broker = scope.broker()
    const l = await wsListener(broker, 'wss', { trustProxy: true })
    const ws = await scope.webSocket(`wss://${HOST}:${l.port}/`, 'mqtt', { ca: certs.read(certs.caCert) })
    const c = new WsMqtt(ws)
    c.send(connectPacket('direct'))
    await c.next('connack')
    assert.deepEqual(broker.clients().map(x => ({ address: x.remoteAddress, transport: x.transport })), [{ address: HOST, transport: 'wss' }])
  })

  it('a plain HTTP request gets 426 Upgrade Required', async function () {
    const broker = scope.broker()
    const l = await wsListener(broker, 'ws')
    const res = await fetch(`http://${HOST}:${l.port}/`)
    assert.equal(res.status, 426)
  })
})
