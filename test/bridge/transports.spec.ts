/*
 * The remote side over each transport: mqtts (CA, client certificate, encrypted key, host name
 * check, rejectUnauthorized), ws and wss with a path, against Hearth's own listeners with
 * certificates made by openssl for this run.
 */
import assert from 'node:assert/strict'
import { MqttListener, type ListenerOptions } from '../../src/listeners'
import type { BridgeConfig } from '../../src/bridge'
import { KEY_PASSPHRASE, makeCerts, type TestCerts } from '../listeners/certs'
import { HOST, inState, pollUntil, useFixture, type HearthNode } from './helpers'

describe('bridge: transports (mqtts, ws, wss)', function () {
  this.timeout(30000)
  const f = useFixture()
  let certs: TestCerts
  before(function () { this.timeout(60000); certs = makeCerts() })
  after(function () { certs.remove() })

  async function listen (remote: HearthNode, o: Partial<ListenerOptions> & { protocol: ListenerOptions['protocol'] }): Promise<number> {
    const l = await MqttListener.open({ port: 0, host: HOST, ...o })
    f.track(() => l.close())
    l.serve(remote.broker)
    return Number(new URL(l.url).port)
  }

  /** The bridge connects, and a message crosses from here to the remote. */
  async function crosses (remote: HearthNode, config: Omit<BridgeConfig, 'name' | 'topics' | 'restartTimeout'>): Promise<void> {
    const local = await f.hearth()
    const b = f.bridge(local.broker, { name: 't', restartTimeout: 0.3, topics: [{ pattern: 't/#', qos: 1 }], ...config })
    await inState(b, 'connected')
    const at = await f.peer(remote.url, {}, [{ topic: 't/#', qos: 1 }])
    const pub = await f.peer(local.url)
    await pub.client.publishAsync('t/x', 'x', { qos: 1 })
    await pollUntil(() => at.got.length === 1, 3000, 'the message at the remote')
    assert.deepEqual(at.got, [{ topic: 't/x', payload: 'x', qos: 1, retain: false, dup: false }])
  }

  const tls = (): { cert: Buffer, key: Buffer, ca: Buffer } => ({ cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey), ca: certs.read(certs.caCert) })

  it('mqtts: the remote checked against ca (a file path) and by host name, with a client certificate it requires', async function () {
    const remote = await f.hearth()
    const port = await listen(remote, { protocol: 'mqtts', tls: { ...tls(), requireCertificate: true } })
    await crosses(remote, { url: `mqtts://localhost:${port}`, ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey })
  })

  it('mqtts: an encrypted client key with keyPassphrase; the PEM given as Buffers', async function () {
    const remote = await f.hearth()
    const port = await listen(remote, { protocol: 'mqtts', tls: tls() })
    await crosses(remote, { url: `mqtts://127.0.0.1:${port}`, ca: certs.read(certs.caCert), cert: certs.read(certs.serverCert), key: certs.read(certs.serverKeyEncrypted), keyPassphrase: KEY_PASSPHRASE })
  })

  it('mqtts: a certificate from another CA is refused (rejectUnauthorized by default), accepted with rejectUnauthorized false', async function () {
    const remote = await f.hearth()
    const port = await listen(remote, { protocol: 'mqtts', tls: tls() })
    const local = await f.hearth()
    const b = f.bridge(local.broker, { name: 'bad', url: `mqtts://127.0.0.1:${port}`, ca: certs.otherCaCert, restartTimeout: 5, topics: [{ pattern: 't/#' }] })
    await inState(b, 'disconnected')
    assert.equal(b.status().lastError?.code, 'NETWORK')
    assert.match(b.status().lastError?.message ?? '', /certificate/i)
    await crosses(remote, { url: `mqtts://127.0.0.1:${port}`, ca: certs.otherCaCert, rejectUnauthorized: false })
  })

  it('ws: MQTT over WebSocket on a path', async function () {
    const remote = await f.hearth()
    const port = await listen(remote, { protocol: 'ws', path: '/mqtt' })
    await crosses(remote, { url: `ws://127.0.0.1:${port}/mqtt` })
  })

  it('wss: MQTT over secure WebSocket on a path', async function () {
    const remote = await f.hearth()
    const port = await listen(remote, { protocol: 'wss', path: '/mqtt', tls: tls() })
    await crosses(remote, { url: `wss://localhost:${port}/mqtt`, ca: certs.caCert })
  })
})
