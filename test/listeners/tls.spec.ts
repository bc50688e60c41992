// MQTT over TLS (src/listeners, protocol 'mqtts'): mosquitto_pub/sub and MQTT.js against a listener
// with certificates made by openssl for this run. Client certificates (requireCertificate), the
// CN as user name (useIdentityAsUsername), failures that stay with the one client, coded option errors.
import assert from 'node:assert/strict'
import type { PeerCertificate } from 'node:tls'
import { UserTableAuthenticator, type AuthenticateRequest, type Broker, type PeerInfo } from '../../src/broker'
import { ListenerError, MqttListener, type ListenerOptions, type TlsSettings } from '../../src/listeners'
import { Children, exitOf, requireTool, uniq } from '../interop/helpers'
import { CLIENT_CN, KEY_PASSPHRASE, makeCerts, type TestCerts } from './certs'
import { HOST, Scope, sleep, waitFor } from './support'

describe('listeners: MQTT over TLS (mqtts)', function () {
  this.timeout(30000)
  let certs: TestCerts
  const scope = new Scope()
  const children = new Children()
  let clientErrors: Array<{ err: Error, peer: PeerInfo }> = []
  const onClientError = (err: Error, peer: PeerInfo): void => { clientErrors.push({ err, peer }) }

  before(function () { certs = makeCerts() })
  after(function () { certs.remove() })
  beforeEach(function () { clientErrors = [] })
  afterEach(async function () {
    await children.killAll()
    await scope.close()
  })

  const serverTls = (extra: Partial<TlsSettings> = {}): TlsSettings => ({ cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey), ca: certs.read(certs.caCert), ...extra })

  async function tlsListener (broker: Broker, extra: Partial<TlsSettings> = {}, options: Partial<ListenerOptions> = {}): Promise<MqttListener> {
    return scope.listen({ protocol: 'mqtts', port: 0, host: HOST, tls: serverTls(extra), onClientError, ...options }, broker)
  }

  /** mosquitto_pub over TLS; resolves with its exit code. */
  async function mosquittoPub (port: number, topic: string, message: string, tlsArgs: string[], extra: string[] = []): Promise<{ code: number | null, out: string }> {
    const pub = children.spawn(requireTool('mosquitto_pub'), ['-h', HOST, '-p', String(port), '-V', 'mqttv311', '-q', '1', '-t', topic, '-m', message, ...tlsArgs, ...extra])
    const { code } = await exitOf(pub, 15000)
    return { code, out: pub.out + pub.err }
  }

  it('mosquitto_sub and mosquitto_pub with --cafile: a QoS 1 round trip; broker.clients() shows transport mqtts and the real peer address', async function () {
    const broker = scope.broker()
    const l = await tlsListener(broker)
    const topic = uniq('tls/rt')
    const sub = children.spawn(requireTool('stdbuf'), ['-oL', requireTool('mosquitto_sub'), '-h', HOST, '-p', String(l.port), '--cafile', certs.caCert,
      '-V', 'mqttv5', '-i', 'tls-sub', '-q', '1', '-t', topic, '-C', '1', '-W', '15', '-F', '%t|%q|%p', '-d'])
    await sub.waitOut(/Subscribed \(mid: \d+\): 1/, 10000)
    const clients = broker.clients()
    assert.equal(clients.length, 1)
    assert.deepEqual({ id: clients[0].clientId, transport: clients[0].transport, address: clients[0].remoteAddress, kind: clients[0].kind },
      { id: 'tls-sub', transport: 'mqtts', address: HOST, kind: 'network' })
    assert.ok(Number.isInteger(clients[0].remotePort) && (clients[0].remotePort ?? 0) > 0 && clients[0].remotePort !== l.port, `the client's own port: ${String(clients[0].remotePort)}`)
    const pub = await mosquittoPub(l.port, topic, 'over tls', ['--cafile', certs.caCert])
    assert.equal(pub.code, 0, pub.out)
    assert.equal((await exitOf(sub, 15000)).code, 0, sub.describe())
    assert.equal(sub.out.split('\n').filter(x => x.startsWith(topic)).join('\n'), `${topic}|1|over tls`)
  })

  it('MQTT.js over mqtts: remotePort in broker.clients() is the client socket\'s own port', async function () {
    const broker = scope.broker()
    const l = await tlsListener(broker)
    const client = await scope.connect(`mqtts://${HOST}:${l.port}`, { ca: certs.read(certs.caCert), clientId: 'js-tls', protocolVersion: 5 })
    const local = (client.stream as unknown as { localPort: number }).localPort
    const info = broker.clients().map(c => ({ id: c.clientId, transport: c.transport, address: c.remoteAddress, port: c.remotePort }))
    assert.deepEqual(info, [{ id: 'js-tls', transport: 'mqtts', address: HOST, port: local }])
  })

  it('requireCertificate: a client certificate from the CA gets in; one from another CA and none at all are refused at the handshake, reported through onClientError (not as broker warnings), and an established client is unaffected', async function () {
    const broker = scope.broker()
    const warnings: string[] = []
    broker.on('warning', w => warnings.push(w.message))
    const l = await tlsListener(broker, { requireCertificate: true })
    const topic = uniq('tls/req')
    const got: string[] = []
    const keeper = await scope.connect(`mqtts://${HOST}:${l.port}`, {
      ca: certs.read(certs.caCert), cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey), clientId: 'keeper', protocolVersion: 4,
    })
    let keeperClosed = false
    keeper.on('close', () => { keeperClosed = true })
    keeper.on('message', (t, p) => got.push(`${t}|${p.toString()}`))
    await keeper.subscribeAsync(topic, { qos: 1 })

    const stranger = await mosquittoPub(l.port, topic, 'stranger', ['--cafile', certs.caCert, '--cert', certs.strangerCert, '--key', certs.strangerKey])
    assert.notEqual(stranger.code, 0, `a certificate from another CA is refused: ${stranger.out}`)
    const none = await mosquittoPub(l.port, topic, 'no certificate', ['--cafile', certs.caCert])
    assert.notEqual(none.code, 0, `no certificate is refused: ${none.out}`)
    const good = await mosquittoPub(l.port, topic, 'with certificate', ['--cafile', certs.caCert, '--cert', certs.clientCert, '--key', certs.clientKey])
    assert.equal(good.code, 0, good.out)

    await waitFor(() => got.length >= 1, 'the message from the certified client')
    await sleep(200)
    assert.deepEqual(got, [`${topic}|with certificate`], 'only the certified publisher got through')
    assert.equal(keeperClosed, false, 'the established client was not touched')
    assert.deepEqual(broker.clients().map(c => c.clientId), ['keeper'])
    await waitFor(() => clientErrors.length >= 2, 'two handshake failures reported')
    assert.deepEqual(clientErrors.map(e => ({ transport: e.peer.transport, address: e.peer.remoteAddress })),
      [{ transport: 'mqtts', address: HOST }, { transport: 'mqtts', address: HOST }])
    assert.deepEqual(warnings, [], 'failed handshakes are no broker warnings')
  })

  it('a client that trusts another CA refuses the server: its handshake fails, is reported through onClientError, and an established client is unaffected', async function () {
    const broker = scope.broker()
    const warnings: string[] = []
    broker.on('warning', w => warnings.push(w.message))
    const l = await tlsListener(broker)
    const keeper = await scope.connect(`mqtts://${HOST}:${l.port}`, { ca: certs.read(certs.caCert), clientId: 'keeper' })
    let keeperClosed = false
    keeper.on('close', () => { keeperClosed = true })
    const wrong = await mosquittoPub(l.port, 't', 'm', ['--cafile', certs.otherCaCert])
    assert.notEqual(wrong.code, 0, wrong.out)
    await waitFor(() => clientErrors.length >= 1, 'the failed handshake reported')
    assert.deepEqual(clientErrors.map(e => ({ transport: e.peer.transport, address: e.peer.remoteAddress })), [{ transport: 'mqtts', address: HOST }])
    await keeper.publishAsync('still/here', 'yes', { qos: 1 })
    assert.equal(keeperClosed, false)
    assert.deepEqual(broker.clients().map(c => c.clientId), ['keeper'])
    assert.deepEqual(warnings, [])
  })

  it('requireCertificate: the authenticator sees the verified client certificate; without it no certificate is asked for', async function () {
    const seen: Array<{ listener: string, cn: string | undefined }> = []
    let current = ''
    const broker = scope.broker({
      authenticate: {
        authenticate: (req: AuthenticateRequest) => {
          seen.push({ listener: current, cn: (req.certificate as PeerCertificate | undefined)?.subject?.CN as string | undefined })
          return true
        },
      },
    })
    const opts = { ca: certs.read(certs.caCert), cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey), protocolVersion: 4 as const }
    const required = await tlsListener(broker, { requireCertificate: true })
    const optional = await tlsListener(broker)
    current = 'required'
    await scope.connect(`mqtts://${HOST}:${required.port}`, { ...opts, clientId: 'a' })
    current = 'optional'
    await scope.connect(`mqtts://${HOST}:${optional.port}`, { ...opts, clientId: 'b' })
    assert.deepEqual(seen, [{ listener: 'required', cn: CLIENT_CN }, { listener: 'optional', cn: undefined }])
  })

  it('useIdentityAsUsername: the certificate CN is the user name in broker.clients() and for the authoriser; the CONNECT\'s user name and password are not used, whatever the accounts say', async function () {
    const authorised: Array<string | undefined> = []
    const broker = scope.broker({
      authenticate: new UserTableAuthenticator({ alice: 'secret' }, { allowAnonymous: false }),
      authorize: { authorizePublish: (c) => { authorised.push(c.username); return true }, authorizeSubscribe: () => true },
    })
    const l = await tlsListener(broker, { requireCertificate: true, useIdentityAsUsername: true })
    const topic = uniq('tls/cn')
    const sub = children.spawn(requireTool('stdbuf'), ['-oL', requireTool('mosquitto_sub'), '-h', HOST, '-p', String(l.port), '-i', 'cn-sub',
      '--cafile', certs.caCert, '--cert', certs.clientCert, '--key', certs.clientKey, '-u', 'mallory', '-P', 'wrong', '-t', topic, '-C', '1', '-W', '15', '-d'])
    await sub.waitOut(/Subscribed/, 10000)
    assert.deepEqual(broker.clients().map(c => ({ id: c.clientId, user: c.username })), [{ id: 'cn-sub', user: CLIENT_CN }])
    const js = await scope.connect(`mqtts://${HOST}:${l.port}`, { ca: certs.read(certs.caCert), cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey), clientId: 'cn-js', protocolVersion: 5 })
    assert.equal(broker.clients().find(c => c.clientId === 'cn-js')?.username, CLIENT_CN, 'no user name in CONNECT: the CN all the same')
    await js.publishAsync(topic, 'by certificate', { qos: 1 })
    assert.equal((await exitOf(sub, 15000)).code, 0, sub.describe())
    assert.deepEqual(authorised, [CLIENT_CN])
  })

  it('useIdentityAsUsername: a certificate without a CN is refused (NO_CERTIFICATE_CN reported)', async function () {
    const broker = scope.broker()
    const l = await tlsListener(broker, { requireCertificate: true, useIdentityAsUsername: true })
    const pub = await mosquittoPub(l.port, 'x', 'y', ['--cafile', certs.caCert, '--cert', certs.noCnCert, '--key', certs.noCnKey])
    assert.notEqual(pub.code, 0, pub.out)
    await waitFor(() => clientErrors.length >= 1, 'the refusal reported')
    assert.deepEqual(clientErrors.map(e => (e.err as ListenerError).code), ['NO_CERTIFICATE_CN'])
    assert.deepEqual(broker.clients(), [])
  })

  it('an encrypted key with keyPassphrase serves clients', async function () {
    const broker = scope.broker()
    const l = await tlsListener(broker, { key: certs.read(certs.serverKeyEncrypted), keyPassphrase: KEY_PASSPHRASE })
    await scope.connect(`mqtts://${HOST}:${l.port}`, { ca: certs.read(certs.caCert), clientId: 'enc' })
    assert.deepEqual(broker.clients().map(c => c.clientId), ['enc'])
  })

  const refusals: Array<{ title: string, options: () => ListenerOptions, code: string }> = [
    { title: 'mqtts without TLS settings', options: () => ({ protocol: 'mqtts', port: 0 }), code: 'TLS_REQUIRED' },
    { title: 'mqtts without a key', options: () => ({ protocol: 'mqtts', port: 0, tls: { ...serverTls(), key: '' } }), code: 'TLS_REQUIRED' },
    { title: 'requireCertificate without a CA', options: () => ({ protocol: 'mqtts', port: 0, tls: { ...serverTls(), ca: undefined, requireCertificate: true } }), code: 'CA_REQUIRED' },
    { title: 'useIdentityAsUsername without requireCertificate', options: () => ({ protocol: 'wss', port: 0, tls: serverTls({ useIdentityAsUsername: true }) }), code: 'IDENTITY_NEEDS_CERTIFICATE' },
    { title: 'a wrong keyPassphrase', options: () => ({ protocol: 'mqtts', port: 0, tls: serverTls({ key: certs.read(certs.serverKeyEncrypted), keyPassphrase: 'wrong' }) }), code: 'TLS_INVALID' },
    { title: 'a key that does not match the certificate', options: () => ({ protocol: 'mqtts', port: 0, tls: serverTls({ key: certs.read(certs.clientKey) }) }), code: 'TLS_INVALID' },
    { title: 'TLS settings on a plain listener', options: () => ({ protocol: 'mqtt', port: 0, tls: serverTls() }), code: 'TLS_NOT_ALLOWED' },
    { title: 'a path on a TLS listener', options: () => ({ protocol: 'mqtts', port: 0, path: '/mqtt', tls: serverTls() }), code: 'BAD_PATH' },
    { title: 'a WebSocket path without a slash', options: () => ({ protocol: 'ws', port: 0, path: 'mqtt' }), code: 'BAD_PATH' },
    { title: 'port 65536', options: () => ({ protocol: 'mqtt', port: 65536 }), code: 'BAD_PORT' },
    { title: 'an unknown protocol', options: () => ({ protocol: 'mqtt+ssl' as 'mqtt', port: 0 }), code: 'BAD_PROTOCOL' },
  ]
  for (const r of refusals) {
    it(`refuses ${r.title} with ListenerError ${r.code}, before binding anything`, async function () {
      await assert.rejects(MqttListener.open(r.options()), (err: unknown) => err instanceof ListenerError && err.code === r.code)
    })
  }
})
