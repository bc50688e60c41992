// hearth-broker: listener lifecycle, status, events, commands, redeploy and failures, in Node-RED 4.1.
import assert from 'node:assert/strict'
import type net from 'node:net'
import type { MqttClient } from 'mqtt'
import { brokerFlow, brokerWithCatch } from './flows/broker.flows'
import { catchNode, caughtText, collect, connectClient, endClient, errors, freePort, hearthNodes, helper, lastStatus, nextMessage, occupyPort, waitFor } from './support'

const nodes = [...hearthNodes, catchNode]

async function brokerPort (id = 'broker'): Promise<number> {
  const n = helper.getNode(id)
  await n.ready
  assert.ok(n.port, `broker ${id} is not listening: ${String(n.failure)}`)
  return n.port as number
}

describe('hearth-broker node', function () {
  let clients: MqttClient[] = []
  let blocker: net.Server | undefined

  afterEach(async function () {
    await Promise.all(clients.map(endClient))
    clients = []
    await helper.unload()
    if (blocker) await new Promise((resolve) => blocker!.close(resolve))
    blocker = undefined
  })

  it('listens on port 0, exposes the bound port and shows ":port · n clients"', async function () {
    await helper.load(nodes, brokerFlow())
    const port = await brokerPort()
    assert.ok(port > 0)
    assert.deepEqual(lastStatus('broker'), { fill: 'green', shape: 'dot', text: 'hearth-broker.status.listening' })
    const events = collect('events')
    clients.push(await connectClient(port, { clientId: 'c1' }))
    const ev = await waitFor(() => events.find((m) => m.topic === 'clientConnected'))
    assert.equal(ev.payload.clientId, 'c1')
    assert.equal(ev.payload.protocol, 'MQTT 3.1.1')
    assert.match(ev.payload.address, /^127\.0\.0\.1:\d+$/)
    await waitFor(() => lastStatus('broker')?.text === 'hearth-broker.status.listening-one', 3000, 'the status to count the client')
  })

  it('emits subscribed, unsubscribed and clientDisconnected events with the details', async function () {
    await helper.load(nodes, brokerFlow())
    const port = await brokerPort()
    const events = collect('events')
    const c = await connectClient(port, { clientId: 'c2', protocolVersion: 5 })
    await c.subscribeAsync('a/+', { qos: 1 })
    await c.unsubscribeAsync('a/+')
    await c.endAsync()
    const sub = await waitFor(() => events.find((m) => m.topic === 'subscribed'))
    assert.equal(sub.payload.clientId, 'c2')
    assert.equal(sub.payload.subscriptions[0].topic, 'a/+')
    const unsub = await waitFor(() => events.find((m) => m.topic === 'unsubscribed'))
    assert.deepEqual(unsub.payload.topics, ['a/+'])
    const gone = await waitFor(() => events.find((m) => m.topic === 'clientDisconnected'))
    assert.equal(gone.payload.clientId, 'c2')
  })

  it('port in use: red ring, an error naming the port, no throw, and commands fail with done(err)', async function () {
    blocker = await occupyPort()
    const port = (blocker.address() as net.AddressInfo).port
    await helper.load(nodes, brokerWithCatch({ port }))
    const n = helper.getNode('broker')
    await n.ready
    assert.equal(n.broker, undefined)
    const status = lastStatus('broker')
    assert.equal(status?.fill, 'red')
    assert.equal(status?.shape, 'ring')
    assert.ok(errors('broker').some((e) => e === 'hearth-broker.errors.port-in-use'), errors('broker').join())
    const caught = nextMessage('caught')
    n.receive({ action: 'stats' })
    assert.equal(caughtText(await caught), 'hearth-broker.errors.not-running')
  })

  for (const [what, options] of [
    ['a port that is not a number', { port: 'abc' }],
    ['a port out of range', { port: 70000 }],
    ['no protocol version', { mqtt31: false, mqtt311: false, mqtt5: false }],
    ['anonymous off with no user', { allowAnonymous: false }],
    ['a bad maximum QoS', { maximumQoS: 3 }],
  ] as const) {
    it(`bad option (${what}): red ring and an error saying what to fix`, async function () {
      await helper.load(nodes, brokerFlow(options))
      const n = helper.getNode('broker')
      await n.ready
      assert.equal(n.broker, undefined)
      assert.equal(lastStatus('broker')?.fill, 'red')
      assert.equal(errors('broker').length, 1)
      assert.match(errors('broker')[0], /^hearth-broker\.errors\./)
    })
  }

  it('bad option (a user with an empty password): red ring and an error saying what to fix', async function () {
    await helper.load(nodes, brokerFlow(), { broker: { username: 'u', password: '' } })
    const n = helper.getNode('broker')
    await n.ready
    assert.equal(n.broker, undefined)
    assert.equal(lastStatus('broker')?.fill, 'red')
    assert.deepEqual(errors('broker'), ['hearth-broker.errors.empty-password'])
  })

  it('defaults (no account, anonymous allowed): a client sending a factory-default user name and password is let in like an anonymous one', async function () {
    await helper.load(nodes, brokerFlow())
    const port = await brokerPort()
    clients.push(await connectClient(port, { protocolVersion: 4, clientId: 'DVES_A1B2C3', username: 'DVES_USER', password: 'DVES_PASS' }))
    clients.push(await connectClient(port, { protocolVersion: 5, username: 'anything', password: 'at all' }))
    clients.push(await connectClient(port, { protocolVersion: 4, username: 'user-only' }))
  })

  it('an account configured, anonymous allowed: no user name gets in; a wrong user name or password is refused (3.1.1: 4, 5: 0x86)', async function () {
    await helper.load(nodes, brokerFlow(), { broker: { username: 'u', password: 'p' } })
    const port = await brokerPort()
    clients.push(await connectClient(port, { protocolVersion: 4 }))
    const code = async (options: Parameters<typeof connectClient>[1]): Promise<unknown> => {
      const err = await connectClient(port, options).then(c => { clients.push(c); return undefined }, (e: { code?: unknown }) => e)
      return (err as { code?: unknown } | undefined)?.code
    }
    assert.equal(await code({ protocolVersion: 4, username: 'DVES_USER', password: 'DVES_PASS' }), 4)
    assert.equal(await code({ protocolVersion: 4, username: 'u', password: 'wrong' }), 4)
    assert.equal(await code({ protocolVersion: 5, username: 'x', password: 'p' }), 0x86)
    assert.equal(await code({ protocolVersion: 5, username: 'u', password: 'wrong' }), 0x86)
    assert.equal(await code({ protocolVersion: 5, username: 'u', password: 'p' }), undefined)
  })

  it('anonymous off: refuses a client without credentials and accepts the configured user', async function () {
    await helper.load(nodes, brokerFlow({ allowAnonymous: false }), { broker: { username: 'u', password: 'p' } })
    const port = await brokerPort()
    await assert.rejects(connectClient(port, { protocolVersion: 5 }))
    await assert.rejects(connectClient(port, { username: 'u', password: 'wrong' }))
    clients.push(await connectClient(port, { username: 'u', password: 'p' }))
  })

  it('refuses a protocol version that is not allowed', async function () {
    await helper.load(nodes, brokerFlow({ mqtt5: false }))
    const port = await brokerPort()
    await assert.rejects(connectClient(port, { protocolVersion: 5 }))
    clients.push(await connectClient(port, { protocolVersion: 4 }))
  })

  it('commands: publish as the broker, list and clear retained, list clients, stats', async function () {
    await helper.load(nodes, brokerFlow())
    const port = await brokerPort()
    const sub = await connectClient(port, { clientId: 'watcher' })
    clients.push(sub)
    await sub.subscribeAsync('news/#', { qos: 1 })
    const got = new Promise<[string, Buffer]>((resolve) => sub.once('message', (t, p) => resolve([t, p])))
    const n = helper.getNode('broker')

    let answer = nextMessage('events')
    n.receive({ action: 'publish', topic: 'news/today', payload: { hot: true }, qos: 1, retain: true })
    assert.deepEqual((await answer).payload, { topic: 'news/today', qos: 1, retain: true, bytes: 12 })
    const [topic, payload] = await got
    assert.equal(topic, 'news/today')
    assert.equal(payload.toString(), '{"hot":true}')

    answer = nextMessage('events')
    n.receive({ action: 'listRetained', filter: 'news/+' })
    let m = await answer
    assert.equal(m.topic, 'listRetained')
    assert.deepEqual(m.payload.map((r: { topic: string, payload: string }) => [r.topic, r.payload]), [['news/today', '{"hot":true}']])

    answer = nextMessage('events')
    n.receive({ action: 'listClients' })
    m = await answer
    assert.deepEqual(m.payload.map((c: { clientId: string }) => c.clientId), ['watcher'])

    answer = nextMessage('events')
    n.receive({ action: 'stats' })
    m = await answer
    assert.equal(m.payload.retained, 1)

    answer = nextMessage('events')
    n.receive({ action: 'clearRetained', filter: '#' })
    assert.deepEqual((await answer).payload, { filter: '#', cleared: 1 })
  })

  it('command disconnect: the client is disconnected and the answer says so', async function () {
    await helper.load(nodes, brokerFlow())
    const port = await brokerPort()
    const c = await connectClient(port, { clientId: 'victim', protocolVersion: 5 })
    clients.push(c)
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()))
    const events = collect('events')
    helper.getNode('broker').receive({ action: 'disconnect', clientId: 'victim' })
    await closed
    const reply = await waitFor(() => events.find((m) => m.topic === 'disconnect'))
    assert.deepEqual(reply.payload, { clientId: 'victim', disconnected: true })
    const event = await waitFor(() => events.find((m) => m.topic === 'clientDisconnected'))
    assert.equal(event.payload.reasonCode, 0x98)
  })

  it('unknown action and invalid topic end in done(err), caught by a Catch node', async function () {
    await helper.load(nodes, brokerWithCatch())
    await brokerPort()
    const n = helper.getNode('broker')
    let caught = nextMessage('caught')
    n.receive({ action: 'reboot' })
    assert.equal(caughtText(await caught), 'hearth-broker.errors.invalid-action')
    caught = nextMessage('caught')
    n.receive({ action: 'publish', topic: 'a/#', payload: 'x' })
    assert.equal(caughtText(await caught), 'hearth-broker.errors.invalid-topic')
  })

  it('full redeploy rebinds the same port and keeps retained messages and persistent sessions', async function () {
    const port = await freePort()
    const flow = brokerFlow({ port })
    await helper.load(nodes, flow)
    await brokerPort()
    // A persistent session with a QoS 1 subscription, then offline.
    const c = await connectClient(port, { clientId: 'keeper', clean: false })
    await c.subscribeAsync('jobs', { qos: 1 })
    await c.endAsync()
    helper.getNode('broker').receive({ action: 'publish', topic: 'state', payload: 'on', qos: 1, retain: true })
    await waitFor(() => helper.getNode('broker').broker?.retained('state').length)

    await helper.setFlows(brokerFlow({ port, name: 'changed' }), 'full')
    assert.equal(await brokerPort(), port)
    helper.getNode('broker').receive({ action: 'publish', topic: 'jobs', payload: 'queued', qos: 1 })

    const received: string[] = []
    const back = await connectClient(port, { clientId: 'keeper', clean: false }, (_t, p) => received.push(p.toString()))
    clients.push(back)
    assert.deepEqual(await waitFor(() => received.length > 0 && received), ['queued'])
    const retained = await connectClient(port)
    clients.push(retained)
    const r = new Promise<string>((resolve) => retained.once('message', (_t, p) => resolve(p.toString())))
    await retained.subscribeAsync('state')
    assert.equal(await r, 'on')
  })

  it('deleting the node forgets its retained messages', async function () {
    await helper.load(nodes, brokerFlow())
    await brokerPort()
    helper.getNode('broker').receive({ action: 'publish', topic: 'gone', payload: 'x', retain: true })
    await waitFor(() => helper.getNode('broker').broker?.retained('gone').length)
    await helper.setFlows(brokerFlow().filter((n) => (n as { type: string }).type !== 'hearth-broker'), 'full')
    await helper.setFlows(brokerFlow(), 'full')
    await brokerPort()
    assert.equal(helper.getNode('broker').broker?.retained('#').length, 0)
  })
})
