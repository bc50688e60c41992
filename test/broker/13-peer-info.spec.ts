// Broker.handle(stream, peer): what a listener tells about the other end of a stream. The address,
// port and transport show in broker.clients(); a listener-verified user name (PeerInfo.username, a
// certificate's CN with useIdentityAsUsername) replaces the CONNECT's, no password and no
// authenticator, and the authoriser sees it. Over in-memory streams, so only the peer info speaks.
import assert from 'node:assert/strict'
import { createBroker, UserTableAuthenticator, type Broker, type PeerInfo } from '../../src/broker'
import { connectPacket, duplexPair, TestClient, uniqueId } from '../helpers'

describe('Broker.handle(stream, peer): peer info', function () {
  let broker: Broker | undefined
  const clients: TestClient[] = []
  afterEach(async function () {
    for (const c of clients.splice(0)) c.destroy()
    await broker?.close()
    broker = undefined
  })

  async function connect (b: Broker, peer: PeerInfo | undefined, extra: { username?: string, password?: string, version?: 4 | 5 } = {}): Promise<TestClient> {
    const [client, server] = duplexPair()
    b.handle(server, peer)
    const c = new TestClient(client, extra.version ?? 4)
    clients.push(c)
    const id = uniqueId('peer')
    c.send(connectPacket({ clientId: id, protocolVersion: extra.version ?? 4, username: extra.username, password: extra.password }))
    c.clientId = id
    c.connack = await c.next('connack')
    return c
  }

  it('remoteAddress, remotePort and transport come from the peer info; without it, the stream\'s own and transport mqtt', async function () {
    broker = createBroker()
    await connect(broker, { remoteAddress: '198.51.100.7', remotePort: 4711, transport: 'wss' })
    await connect(broker, undefined)
    assert.deepEqual(broker.clients().map(c => ({ address: c.remoteAddress, port: c.remotePort, transport: c.transport })), [
      { address: '198.51.100.7', port: 4711, transport: 'wss' },
      { address: 'in-memory', port: 0, transport: 'mqtt' },
    ])
  })

  it('a verified user name replaces the CONNECT\'s; the password is not checked and the authenticator is not asked; the authoriser sees that name', async function () {
    const asked: Array<string | undefined> = []
    const authorised: Array<string | undefined> = []
    const table = new UserTableAuthenticator({ alice: 'secret' }, { allowAnonymous: false })
    broker = createBroker({
      authenticate: { authenticate: (req) => { asked.push(req.username); return table.authenticate(req) } },
      authorize: { authorizePublish: (c) => { authorised.push(c.username); return true }, authorizeSubscribe: () => true },
    })
    const byCert = await connect(broker, { transport: 'mqtts', username: 'sensor-17' }, { username: 'alice', password: 'wrong', version: 5 })
    assert.equal(byCert.connack?.reasonCode, 0, 'accepted without a valid password')
    const anonymousByCert = await connect(broker, { transport: 'mqtts', username: 'sensor-18' })
    assert.equal(anonymousByCert.connack?.returnCode, 0, 'accepted without any user name')
    const plain = await connect(broker, { transport: 'mqtt' }, { username: 'alice', password: 'wrong' })
    assert.equal(plain.connack?.returnCode, 4, 'without a verified name, the table decides: bad user name or password')
    assert.deepEqual(asked, ['alice'], 'only the plain client was asked about')
    assert.deepEqual(broker.clients().map(c => c.username), ['sensor-17', 'sensor-18'])
    await byCert.publish('t', 'x', { qos: 1 })
    assert.deepEqual(authorised, ['sensor-17'])
  })
})
