// MQTT over WebSocket attached to an existing HTTP(S) server (src/listeners attachWebSocket), as the
// broker node does on Node-RED's own server: next to other WebSocket servers on other paths (the
// editor's /comms, websocket nodes), it handles only its own path and never touches other upgrades.
import assert from 'node:assert/strict'
import http from 'node:http'
import https from 'node:https'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { Broker } from '../../src/broker'
import { attachWebSocket, ListenerError, type AttachOptions, type VerifyClientInfo, type WebSocketAttachment } from '../../src/listeners'
import { makeCerts, type TestCerts } from './certs'
import { HOST, portOf, Scope, sleep, waitFor, WsMqtt, connectPacket } from './support'

describe('listeners: MQTT over WebSocket on an existing HTTP server (attachWebSocket)', function () {
  this.timeout(30000)
  let certs: TestCerts
  const scope = new Scope()
  const others: WebSocketServer[] = []

  before(function () { certs = makeCerts() })
  after(function () { certs.remove() })
  afterEach(async function () {
    for (const o of others.splice(0)) { for (const c of o.clients) c.terminate(); o.close() }
    await scope.close()
  })

  /** An HTTP server answering plain requests, like Node-RED's. */
  async function httpServer (secure = false): Promise<{ server: http.Server, port: number }> {
    const handler = (_req: IncomingMessage, res: http.ServerResponse): void => { res.end('plain http') }
    const server = secure
      ? https.createServer({ cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) }, handler)
      : http.createServer(handler)
    scope.servers.push(server)
    await new Promise<void>(resolve => server.listen(0, HOST, () => resolve()))
    return { server, port: portOf(server) }
  }

  /** Another WebSocket server on `path`, wired as Node-RED wires /comms and its websocket nodes: it ignores other paths. */
  function echoServer (server: http.Server, path: string, delayMs = 0): WebSocketServer {
    const wss = new WebSocketServer({ noServer: true })
    others.push(wss)
    wss.on('connection', ws => ws.on('message', (d, binary) => ws.send(d, { binary })))
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== path) return
      const go = (): void => wss.handleUpgrade(req, socket, head, ws => wss.emit('connection', ws, req))
      if (delayMs > 0) setTimeout(go, delayMs)
      else go()
    })
    return wss
  }

  function attach (server: http.Server, broker: Broker | undefined, options: AttachOptions): WebSocketAttachment {
    const a = attachWebSocket(server, options)
    scope.attachments.push(a)
    if (broker !== undefined) a.serve(broker)
    return a
  }

  async function echo (url: string, text: string, options = {}): Promise<string> {
    const ws = await scope.webSocket(url, [], options)
    const got = new Promise<string>(resolve => ws.once('message', d => resolve(String(d))))
    ws.send(text)
    return got
  }

  it('MQTT on /mqtt next to another WebSocket server on /comms and plain HTTP: all three work', async function () {
    const { server, port } = await httpServer()
    echoServer(server, '/comms')
    const broker = scope.broker()
    attach(server, broker, { path: '/mqtt' })
    const client = await scope.connect(`ws://${HOST}:${port}/mqtt`, { clientId: 'attached', protocolVersion: 5 })
    assert.equal(await echo(`ws://${HOST}:${port}/comms`, 'editor says hi'), 'editor says hi')
    assert.equal(await (await fetch(`http://${HOST}:${port}/`)).text(), 'plain http')
    const got: string[] = []
    client.on('message', (t, p) => got.push(`${t}|${p.toString()}`))
    await client.subscribeAsync('a/t', { qos: 1 })
    await client.publishAsync('a/t', 'mqtt on /mqtt', { qos: 1 })
    await waitFor(() => got.length > 0, 'the message back')
    assert.deepEqual(got, ['a/t|mqtt on /mqtt'])
    assert.deepEqual(broker.clients().map(c => ({ id: c.clientId, transport: c.transport, address: c.remoteAddress })), [{ id: 'attached', transport: 'ws', address: HOST }])
  })

  it('never touches another path\'s upgrade: a handler that answers only 150 ms later still gets an untouched socket', async function () {
    const { server, port } = await httpServer()
    const broker = scope.broker()
    attach(server, broker, { path: '/mqtt' }) // registered first: it sees every upgrade before the slow handler
    echoServer(server, '/slow', 150)
    assert.equal(await echo(`ws://${HOST}:${port}/slow`, 'still mine'), 'still mine')
    assert.equal(await echo(`ws://${HOST}:${port}/slow?x=/mqtt`, 'query is not path'), 'query is not path')
  })

  it('another server on /comms never sees MQTT traffic, and MQTT keeps working when /comms clients come and go', async function () {
    const { server, port } = await httpServer()
    const comms = echoServer(server, '/comms')
    let commsConnections = 0
    comms.on('connection', () => { commsConnections++ })
    const broker = scope.broker()
    attach(server, broker, { path: '/mqtt' })
    const a = await scope.connect(`ws://${HOST}:${port}/mqtt`, { clientId: 'm1' })
    const ws = await scope.webSocket(`ws://${HOST}:${port}/comms`, [])
    ws.close()
    const b = await scope.connect(`ws://${HOST}:${port}/mqtt`, { clientId: 'm2' })
    assert.equal(commsConnections, 1)
    assert.deepEqual(broker.clients().map(c => c.clientId).sort(), ['m1', 'm2'])
    assert.ok(a.connected && b.connected)
  })

  it('detach(): closes its clients promptly and stops handling the path, which is left to the server\'s other listeners', async function () {
    const { server, port } = await httpServer()
    const broker = scope.broker()
    const first = attach(server, broker, { path: '/mqtt' })
    const client = await scope.connect(`ws://${HOST}:${port}/mqtt`, { clientId: 'before-detach' })
    const closed = new Promise<void>(resolve => client.once('close', () => resolve()))
    const upgradeListeners = server.listenerCount('upgrade')
    const t0 = Date.now()
    await first.detach()
    await closed
    assert.ok(Date.now() - t0 < 2500, `prompt: ${Date.now() - t0} ms`)
    assert.equal(server.listenerCount('upgrade'), upgradeListeners - 1, 'its upgrade listener is gone')
    await waitFor(() => broker.clients().length === 0, 'the client gone from the broker')
    // Now /mqtt belongs to whoever else handles it.
    echoServer(server, '/mqtt')
    assert.equal(await echo(`ws://${HOST}:${port}/mqtt`, 'someone else'), 'someone else')
  })

  it('a path already attached on the same server is refused with PATH_IN_USE; other paths and other servers are fine; a detached path can be attached again', async function () {
    const { server } = await httpServer()
    const { server: other } = await httpServer()
    const a = attach(server, undefined, { path: '/mqtt' })
    assert.throws(() => attachWebSocket(server, { path: '/mqtt' }), (err: unknown) => err instanceof ListenerError && err.code === 'PATH_IN_USE')
    attach(server, undefined, { path: '/mqtt-2' })
    attach(other, undefined, { path: '/mqtt' })
    assert.throws(() => attachWebSocket(server, { path: 'mqtt' }), (err: unknown) => err instanceof ListenerError && err.code === 'BAD_PATH')
    await a.detach()
    attach(server, undefined, { path: '/mqtt' })
  })

  it('verifyClient (Node-RED\'s webSocketNodeVerifyClient): a refusal is HTTP 401 and no client; the one- and two-argument forms both work', async function () {
    const { server, port } = await httpServer()
    const broker = scope.broker()
    const seen: string[] = []
    attach(server, broker, { path: '/sync', verifyClient: (info: VerifyClientInfo) => { seen.push(info.req.url ?? ''); return info.req.headers.authorization === 'Bearer ok' } })
    attach(server, broker, { path: '/async', verifyClient: (info: VerifyClientInfo, cb: (ok: boolean, code?: number) => void) => { setTimeout(() => cb(info.req.headers.authorization === 'Bearer ok', 403), 10) } })
    await assert.rejects(scope.webSocket(`ws://${HOST}:${port}/sync`), (err: { status?: number }) => err.status === 401)
    await assert.rejects(scope.webSocket(`ws://${HOST}:${port}/async`), (err: { status?: number }) => err.status === 403)
    await scope.connect(`ws://${HOST}:${port}/sync`, { clientId: 'v1', wsOptions: { headers: { Authorization: 'Bearer ok' } } })
    await scope.connect(`ws://${HOST}:${port}/async`, { clientId: 'v2', wsOptions: { headers: { Authorization: 'Bearer ok' } } })
    assert.deepEqual(seen, ['/sync', '/sync'])
    assert.deepEqual(broker.clients().map(c => c.clientId).sort(), ['v1', 'v2'])
  })

  it('a verifyClient that throws refuses the handshake (HTTP 401) and is reported; the process goes on', async function () {
    const { server, port } = await httpServer()
    const broker = scope.broker()
    const errors: string[] = []
    const onClientError = (err: Error): void => { errors.push(err.message) }
    attach(server, broker, { path: '/sync', onClientError, verifyClient: () => { throw new Error('sync verifier broke') } })
    attach(server, broker, { path: '/async', onClientError, verifyClient: (_info: VerifyClientInfo, _cb: (ok: boolean) => void) => { throw new Error('async verifier broke') } })
    await assert.rejects(scope.webSocket(`ws://${HOST}:${port}/sync`), (err: { status?: number }) => err.status === 401)
    await assert.rejects(scope.webSocket(`ws://${HOST}:${port}/async`), (err: { status?: number }) => err.status === 401)
    assert.deepEqual(errors, ['sync verifier broke', 'async verifier broke'])
    assert.deepEqual(broker.clients(), [])
  })

  it('the same path taken by another WebSocket server first (a websocket node on /mqtt): that server keeps it, ours steps back with UPGRADE_TAKEN, nothing breaks', async function () {
    const { server, port } = await httpServer()
    echoServer(server, '/mqtt') // registered before the attachment, as Node-RED's websocket nodes are
    const broker = scope.broker()
    const errors: Array<string | undefined> = []
    attach(server, broker, { path: '/mqtt', onClientError: (err) => errors.push((err as ListenerError).code) })
    assert.equal(await echo(`ws://${HOST}:${port}/mqtt`, 'the node keeps its path'), 'the node keeps its path')
    assert.deepEqual(errors, ['UPGRADE_TAKEN'])
    assert.deepEqual(broker.clients(), [])
  })

  it('on an https server the transport is wss; trustProxy takes the X-Forwarded-For address', async function () {
    const { server, port } = await httpServer(true)
    const broker = scope.broker()
    attach(server, broker, { path: '/mqtt', trustProxy: true })
    const ws = await scope.webSocket(`wss://${HOST}:${port}/mqtt`, 'mqtt', { ca: certs.read(certs.caCert), headers: { 'X-Forwarded-For': '192.0.2.44' } })
    const c = new WsMqtt(ws)
    c.send(connectPacket('behind-proxy'))
    await c.next('connack')
    assert.deepEqual(broker.clients().map(x => ({ id: x.clientId, transport: x.transport, address: x.remoteAddress, port: x.remotePort })),
      [{ id: 'behind-proxy', transport: 'wss', address: '192.0.2.44', port: undefined }])
  })

  it('clients that connect before serve() wait and are served once it is called', async function () {
    const { server, port } = await httpServer()
    const broker = scope.broker()
    const a = attach(server, undefined, { path: '/mqtt' })
    let connected = false
    const pending = scope.connect(`ws://${HOST}:${port}/mqtt`, { clientId: 'early' }).then(c => { connected = true; return c })
    await waitFor(() => a.connections === 1, 'the WebSocket accepted')
    await sleep(300)
    assert.equal(connected, false, 'no CONNACK before serve()')
    a.serve(broker)
    await pending
    assert.deepEqual(broker.clients().map(c => c.clientId), ['early'])
  })
})
