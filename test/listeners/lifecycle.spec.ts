// Listener life cycle (src/listeners): bind first and serve once the broker is ready (connections
// wait meanwhile), close promptly and completely (its clients, handshakes in progress, the port),
// bind errors, the waiting bound; X-Forwarded-For parsing; the built bundle.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { forwardedAddress, MqttListener, type ListenerProtocol } from '../../src/listeners'
import { makeCerts, type TestCerts } from './certs'
import { connectPacket, HOST, portIsFree, Scope, sleep, waitFor, WsMqtt } from './support'

describe('listeners: life cycle', function () {
  this.timeout(30000)
  let certs: TestCerts
  const scope = new Scope()
  const raw: net.Socket[] = []

  before(function () { certs = makeCerts() })
  after(function () { certs.remove() })
  afterEach(async function () {
    for (const s of raw.splice(0)) s.destroy()
    await scope.close()
  })

  const tlsFor = (p: ListenerProtocol): { cert: Buffer, key: Buffer } | undefined =>
    p === 'mqtts' || p === 'wss' ? { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) } : undefined
  const urlOf = (p: ListenerProtocol, port: number): string => `${p}://${HOST}:${port}`

  for (const protocol of ['mqtt', 'mqtts', 'ws', 'wss'] as const) {
    it(`${protocol}: a client that connects before serve() waits, and gets its CONNACK once the listener serves the broker`, async function () {
      const l = await scope.listen({ protocol, port: 0, host: HOST, tls: tlsFor(protocol) })
      let connected = false
      const pending = scope.connect(urlOf(protocol, l.port), { clientId: `early-${protocol}`, ca: certs.read(certs.caCert) }).then(c => { connected = true; return c })
      await waitFor(() => l.connections === 1, 'the connection accepted')
      await sleep(300)
      assert.equal(connected, false, 'no CONNACK yet')
      const broker = scope.broker()
      l.serve(broker)
      await pending
      assert.deepEqual(broker.clients().map(c => ({ id: c.clientId, transport: c.transport, address: c.remoteAddress })), [{ id: `early-${protocol}`, transport: protocol, address: HOST }])
    })

    it(`${protocol}: close() closes its clients and a handshake in progress promptly (grace of half a second), and frees the port`, async function () {
      const broker = scope.broker()
      const l = await scope.listen({ protocol, port: 0, host: HOST, tls: tlsFor(protocol) }, broker)
      const client = await scope.connect(urlOf(protocol, l.port), { clientId: `closing-${protocol}`, ca: certs.read(certs.caCert) })
      const clientClosed = new Promise<void>(resolve => client.once('close', () => resolve()))
      // A TCP connection that never finishes its TLS/HTTP handshake (or never sends CONNECT).
      const idle = net.connect(l.port, HOST)
      raw.push(idle)
      const idleClosed = new Promise<void>(resolve => idle.once('close', () => resolve()))
      idle.on('error', () => {})
      await new Promise<void>(resolve => idle.once('connect', () => resolve()))
      await sleep(50)
      const t0 = Date.now()
      await l.close()
      const took = Date.now() - t0
      assert.ok(took < 2500, `close() took ${took} ms`)
      await clientClosed
      await idleClosed
      assert.equal(await portIsFree(l.port), true, 'the port is free')
      await waitFor(() => broker.clients().length === 0, 'the client gone from the broker')
      assert.equal(l.connections, 0)
    })
  }

  for (const protocol of ['ws', 'wss'] as const) {
    it(`${protocol}: close() says goodbye to WebSocket clients with a close frame (1000), not a cut connection (1006)`, async function () {
      const broker = scope.broker()
      const l = await scope.listen({ protocol, port: 0, host: HOST, tls: tlsFor(protocol) }, broker)
      const c = new WsMqtt(await scope.webSocket(`${protocol}://${HOST}:${l.port}/`, 'mqtt', { ca: certs.read(certs.caCert) }))
      c.send(connectPacket('goodbye'))
      await c.next('connack')
      await l.close()
      await waitFor(() => c.closeCode !== undefined, 'the close')
      assert.equal(c.closeCode, 1000)
    })
  }

  it('a port in use rejects open() with EADDRINUSE, before any broker exists', async function () {
    const l = await scope.listen({ protocol: 'mqtt', port: 0, host: HOST })
    for (const protocol of ['mqtt', 'mqtts', 'ws', 'wss'] as const) {
      await assert.rejects(MqttListener.open({ protocol, port: l.port, host: HOST, tls: tlsFor(protocol) }), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE', protocol)
    }
  })

  it('url and host: the bound address and real port; IPv6 in brackets; the WebSocket path', async function () {
    const a = await scope.listen({ protocol: 'ws', port: 0, host: HOST, path: '/mqtt' })
    assert.equal(a.url, `ws://${HOST}:${a.port}/mqtt`)
    const b = await scope.listen({ protocol: 'mqtt', port: 0, host: '::1' })
    assert.equal(b.url, `mqtt://[::1]:${b.port}`)
    assert.equal(b.host, '::1')
  })

  it('maxWaiting: connections beyond it are closed while the broker is not served yet', async function () {
    const l = await scope.listen({ protocol: 'mqtt', port: 0, host: HOST, maxWaiting: 2 })
    const closed: boolean[] = [false, false, false]
    for (let i = 0; i < 3; i++) {
      const s = net.connect(l.port, HOST)
      raw.push(s)
      s.on('error', () => {})
      s.once('close', () => { closed[i] = true })
      await waitFor(() => l.connections === Math.min(i + 1, 2) && (i < 2 || closed[2]), `connection ${i}`)
    }
    assert.deepEqual(closed, [false, false, true])
  })

  it('serve() after close() throws LISTENER_CLOSED', async function () {
    const l = await MqttListener.open({ protocol: 'mqtt', port: 0, host: HOST })
    await l.close()
    assert.throws(() => l.serve(scope.broker()), (err: { code?: string }) => err.code === 'LISTENER_CLOSED')
  })
})

describe('listeners: X-Forwarded-For parsing (forwardedAddress)', function () {
  const table: Array<[string | string[] | undefined, number, string | undefined]> = [
    [undefined, 1, undefined],
    ['', 1, undefined],
    ['198.51.100.7', 1, '198.51.100.7'],
    ['203.0.113.9, 198.51.100.7', 1, '198.51.100.7'],
    ['203.0.113.9, 198.51.100.7', 2, '203.0.113.9'],
    ['203.0.113.9, 198.51.100.7', 5, '203.0.113.9'],
    ['203.0.113.9,198.51.100.7', 0, undefined],
    [['203.0.113.9', '198.51.100.7'], 1, '198.51.100.7'],
    ['2001:db8::1', 1, '2001:db8::1'],
    ['[2001:db8::1]:4711', 1, '2001:db8::1'],
    ['198.51.100.7:4711', 1, '198.51.100.7'],
    ['unknown', 1, undefined],
    ['198.51.100.7, garbage', 1, undefined],
  ]
  for (const [header, hops, want] of table) {
    it(`${JSON.stringify(header)} with ${hops} trusted prox${hops === 1 ? 'y' : 'ies'} -> ${String(want)}`, function () {
      assert.equal(forwardedAddress(header, hops), want)
    })
  }
})

describe('listeners: build output (dist/listeners/index.js)', function () {
  const root = join(__dirname, '..', '..')
  it('is its own bundle: ws stays a runtime dependency and the core is not copied in', function () {
    const file = join(root, 'dist', 'listeners', 'index.js')
    if (!existsSync(file)) throw new Error('dist/listeners/index.js is missing: run npm run build')
    const js = readFileSync(file, 'utf8')
    assert.match(js, /require\("ws"\)/)
    assert.doesNotMatch(js, /mqtt-packet|class BrokerCore|function runConnect|class Connection\b/)
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    assert.ok(pkg.dependencies.ws !== undefined, 'ws is a runtime dependency')
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the built CommonJS bundle, as Node-RED loads it
    const mod = require(file) as Record<string, unknown>
    assert.deepEqual(Object.keys(mod).filter(k => typeof mod[k] === 'function').sort(),
      ['ListenerError', 'MqttListener', 'WebSocketAttachment', 'attachWebSocket', 'checkListenerOptions', 'commonName', 'forwardedAddress'])
  })
})
