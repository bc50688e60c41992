// hearth-broker: bridges to remote brokers, in Node-RED 4.1 (the built node), with real remotes: a Hearth
// broker on an ephemeral port (the core, over TCP) and Debian's Mosquitto over TLS. The dialog's settings
// turned into the bridge module's, the state as events, status and listBridges, bad settings refusing
// that bridge only, the password from the credentials, the ACL trusting the bridge's local side, the
// local session across a redeploy and its bounded queue, and the state topic when the node goes.
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { UserTableAuthenticator } from '../../src/broker'
import { counts, pollUntil, retainedOf, sleep, useFixture, type HearthNode } from '../bridge/helpers'
import { Mosquitto } from '../helpers/mosquitto'
import { makeCerts } from '../listeners/certs'
import { bridge, bridgedFlow, tlsConfig } from './flows/bridge.flows'
import { collect, connectClient, endClient, errors, hearthNodes, helper, lastStatus, logged, tlsNode, waitFor } from './support'

const nodes = [...hearthNodes, tlsNode]
const STATE = '$SYS/broker/connection/house1/state'

async function brokerPort (id = 'broker'): Promise<number> {
  const n = helper.getNode(id)
  await n.ready
  assert.ok(n.port, `broker ${id} is not listening: ${String(n.failure)}`)
  return n.port as number
}

type Events = Array<Record<string, any>>
const bridgeEvents = (events: Events, name?: string): Array<Record<string, any>> =>
  events.filter((m) => m.topic === 'bridgeState' && (name === undefined || m.payload.name === name)).map((m) => m.payload)

/** Wait for a bridgeState event of `name` in `state` (from index `from` on). */
function stateEvent (events: Events, name: string, state: string, ms = 8000, from = 0): Promise<Record<string, any>> {
  return waitFor(() => bridgeEvents(events.slice(from), name).find((p) => p.state === state), ms, `bridge ${name} ${state}`)
}

/** The answer to a command sent into the broker node (collected in `events` with the node's other output). */
async function command (events: Events, action: string): Promise<any> {
  const from = events.length
  helper.getNode('broker').receive({ action })
  return (await waitFor(() => events.slice(from).find((m) => m.topic === action), 3000, `the answer to ${action}`)).payload
}

describe('hearth-broker node: bridges', function () {
  this.timeout(40000)
  let clients: MqttClient[] = []
  afterEach(async function () {
    await Promise.all(clients.map(endClient))
    clients = []
    // Deleting the broker node forgets its in-memory state (sessions, retained): each test starts empty.
    await helper.setFlows([{ id: 'f1', type: 'tab', label: 'empty' }], 'full').catch(() => undefined)
    await helper.unload()
  })
  const f = useFixture()

  async function local (port: number, id: string, subscribe?: string): Promise<{ client: MqttClient, got: Array<{ topic: string, payload: string, retain: boolean }> }> {
    const got: Array<{ topic: string, payload: string, retain: boolean }> = []
    const client = await connectClient(port, { clientId: id, protocolVersion: 5 }, (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }))
    clients.push(client)
    if (subscribe !== undefined) await client.subscribeAsync(subscribe, { qos: 1 })
    return { client, got }
  }

  it('bridges home/# both ways with the remote prefix; bridgeState events connecting then connected (the whole status); the state topic 1 here and at the remote; the status names the bridge; listBridges answers its status', async function () {
    const remote = await f.hearth()
    const cfg = bridge({ url: remote.url })
    await helper.load(nodes, bridgedFlow([cfg]))
    const events = collect('events')
    const port = await brokerPort()
    const connected = await stateEvent(events, 'cloud', 'connected')
    const states = bridgeEvents(events, 'cloud')
    assert.deepEqual(states.map((s) => s.state), ['connecting', 'connected'])
    const common = { name: 'cloud', url: remote.url, clientId: 'house1', localClientId: 'local.house1', protocolVersion: 5, messagesIn: 0, messagesOut: 0, dropped: 0, pending: 0, queued: 0 }
    assert.deepEqual(states[0], { ...common, state: 'connecting', since: states[0].since })
    assert.deepEqual(connected, { ...common, state: 'connected', since: connected.since, sessionPresent: false })
    assert.ok(connected.since >= states[0].since && connected.since <= Date.now())

    const here = await local(port, 'here', 'home/#')
    const there = await f.peer(remote.url, {}, [{ topic: 'house1/#', qos: 1 }])
    await here.client.publishAsync('home/kitchen/temp', '21.5', { qos: 1 })
    await there.client.publishAsync('house1/home/lamp/set', 'on', { qos: 1 })
    await pollUntil(() => there.on('house1/home/kitchen/temp').length === 1 && here.got.some((m) => m.topic === 'home/lamp/set'), 5000, 'a message each way')
    assert.deepEqual(there.on('house1/home/kitchen/temp'), [{ topic: 'house1/home/kitchen/temp', payload: '21.5', qos: 1, retain: false, dup: false }])
    assert.deepEqual(here.got.filter((m) => m.topic !== 'home/kitchen/temp'), [{ topic: 'home/lamp/set', payload: 'on', retain: false }])
    await sleep(200)
    assert.equal(there.got.length, 2, 'no loop: the lamp command does not come back to the remote')

    assert.deepEqual(retainedOf(remote.broker, '$SYS/broker/connection/#'), { [STATE]: '1' })
    const n = helper.getNode('broker')
    assert.deepEqual(retainedOf(n.broker, '$SYS/broker/connection/#'), { [STATE]: '1' })
    await waitFor(() => lastStatus('broker')?.text === 'hearth-broker.status.listening · hearth-broker.status.bridge cloud ✓', 3000, 'the status with the bridge')
    assert.deepEqual(lastStatus('broker'), { fill: 'green', shape: 'dot', text: 'hearth-broker.status.listening · hearth-broker.status.bridge cloud ✓' })

    const list = await command(events, 'listBridges')
    assert.deepEqual(list, [{ ...common, state: 'connected', since: connected.since, sessionPresent: false, messagesIn: 1, messagesOut: 1 }])
    assert.deepEqual(list, n.bridges.list())
  })

  it('a bad bridge is refused on its own: an error names the bridge and the field, a bridgeState "refused" event, a yellow status; the broker and the good bridge run; never a throw', async function () {
    const remote = await f.hearth()
    const good = bridge({ url: remote.url })
    const bad = [
      bridge({ id: 'b2', name: 'pattern', clientId: 'c2', topics: [{ pattern: 'a/#/b', direction: 'out', qos: '0', localPrefix: '', remotePrefix: '' }] }),
      bridge({ id: 'b3', name: 'prefix', clientId: 'c3', topics: [{ pattern: '#', direction: 'in', qos: '2', localPrefix: 'x/+/', remotePrefix: '' }] }),
      bridge({ id: 'b4', name: 'url', clientId: 'c4', url: 'http://example.com' }),
      bridge({ id: 'b5', name: 'cloud', clientId: 'c5' }),
      bridge({ id: 'b6', name: 'tls', clientId: 'c6', url: 'mqtts://127.0.0.1:8883', tls: 'no-such-tls' }),
      bridge({ id: 'b7', name: 'keepalive', clientId: 'c7', keepalive: '2' }),
      bridge({ id: 'b8', name: 'same-id', clientId: 'house1' }),
      bridge({ id: 'b9', name: 'qos', clientId: 'c9', topics: [{ pattern: 'a', direction: 'out', qos: '3', localPrefix: '', remotePrefix: '' }] }),
    ]
    await helper.load(nodes, bridgedFlow([good, ...bad]))
    const events = collect('events')
    const port = await brokerPort()
    await stateEvent(events, 'cloud', 'connected')
    const refused = bridgeEvents(events).filter((p) => p.state === 'refused')
    assert.deepEqual(refused.map((p) => [p.name, p.lastError.code, p.lastError.key]), [
      ['pattern', 'BAD_VALUE', 'topics[0].pattern'],
      ['prefix', 'BAD_VALUE', 'topics[0].localPrefix'],
      ['url', 'BAD_VALUE', 'url'],
      ['cloud', 'CONFLICT', 'name'],
      ['tls', 'TLS', 'tls'],
      ['keepalive', 'BAD_VALUE', 'keepalive'],
      ['same-id', 'CONFLICT', 'clientId'],
      ['qos', 'BAD_VALUE', 'topics[0].qos'],
    ])
    assert.deepEqual(refused[0], { name: 'pattern', state: 'refused', url: 'mqtt://127.0.0.1:1', lastError: { code: 'BAD_VALUE', key: 'topics[0].pattern', message: 'topics[0].pattern: is not a valid topic filter: "a/#/b"' } })
    // One error per refused bridge, naming it and the field (the test helper shows catalog keys).
    assert.deepEqual(errors('broker'), Array(8).fill('hearth-broker.errors.bridge-refused'))
    const list = await command(events, 'listBridges')
    assert.deepEqual(list.map((b: any) => [b.name, b.state]), [['cloud', 'connected'], ...refused.map((p) => [p.name, 'refused'])])
    assert.deepEqual(list.slice(1), refused)
    // More than three bridges: the status counts them; one is down, so the dot is yellow.
    await waitFor(() => /bridges 1\/9 ✓$/.test(lastStatus('broker')?.text ?? ''), 3000, 'the bridge count')
    // (One client: the bridge's local side.)
    assert.deepEqual(lastStatus('broker'), { fill: 'yellow', shape: 'dot', text: 'hearth-broker.status.listening-one · hearth-broker.status.bridges 1/9 ✓' })
    // The broker serves.
    const c = await local(port, 'still-here', 'x')
    assert.ok(c.client.connected)
  })

  it('the status with up to three bridges names each: ✓, ✗ and the reason (a refused setting, an unreachable remote, a refusing remote); yellow while one is down', async function () {
    const remote = await f.hearth({ authenticate: new UserTableAuthenticator({ house2: 'right' }, { allowAnonymous: true }) })
    const good = bridge({ url: remote.url })
    const refusing = bridge({ id: 'b2', name: 'auth', clientId: 'house2', url: remote.url, username: 'house2' })
    const bad = bridge({ id: 'b3', name: 'bad', clientId: 'c3', topics: [{ pattern: '', direction: 'out', qos: '0', localPrefix: 'lamp', remotePrefix: '' }] })
    await helper.load(nodes, bridgedFlow([good, refusing, bad]), { broker: { newBridgePasswords: JSON.stringify({ b2: 'wrong' }) } })
    const events = collect('events')
    await brokerPort()
    await stateEvent(events, 'cloud', 'connected')
    const down = await stateEvent(events, 'auth', 'disconnected')
    assert.deepEqual(down.lastError, { code: 'REFUSED', message: down.lastError.message, reasonCode: 0x86 })
    const text = 'hearth-broker.status.listening · hearth-broker.status.bridges cloud ✓, auth ✗ hearth-broker.bridge.reason.REFUSED-code, bad ✗ hearth-broker.bridge.bad'
    await waitFor(() => lastStatus('broker')?.text === text, 3000, 'the status of three bridges')
    assert.deepEqual(lastStatus('broker'), { fill: 'yellow', shape: 'dot', text })
  })

  it('a remote that goes away and comes back: bridgeState disconnected with the reason, a yellow status "✗ unreachable", the state topic 0 here; then connected, green, 1', async function () {
    const first = await f.hearth()
    await helper.load(nodes, bridgedFlow([bridge({ url: first.url })]))
    const events = collect('events')
    const n = helper.getNode('broker')
    await brokerPort()
    await stateEvent(events, 'cloud', 'connected')
    await first.broker.close()
    // The remote's DISCONNECT (server shutting down) first, then refused connections while it is away.
    const down = await waitFor(() => bridgeEvents(events, 'cloud').find((p) => p.state === 'disconnected' && p.lastError.code === 'NETWORK'), 8000, 'the bridge down, the remote unreachable')
    assert.match(down.lastError.message, /ECONNREFUSED/)
    assert.ok(down.retryAt > down.since)
    await waitFor(() => retainedOf(n.broker, '$SYS/broker/connection/#')[STATE] === '0', 3000, 'state 0 here')
    const downText = 'hearth-broker.status.listening-one · hearth-broker.status.bridge cloud ✗ hearth-broker.bridge.reason.NETWORK'
    await waitFor(() => lastStatus('broker')?.text === downText, 3000, 'the status with the bridge down').catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(lastStatus('broker'))}`) })
    assert.equal(lastStatus('broker')?.fill, 'yellow')
    const from = events.length
    const again: HearthNode = await f.hearth({}, first.port)
    await stateEvent(events, 'cloud', 'connected', 8000, from)
    await waitFor(() => lastStatus('broker')?.fill === 'green', 3000, 'a green status')
    assert.deepEqual(retainedOf(n.broker, '$SYS/broker/connection/#'), { [STATE]: '1' })
    assert.deepEqual(retainedOf(again.broker, '$SYS/broker/connection/#'), { [STATE]: '1' })
  })

  it('the password: sent once in newBridgePasswords, kept in bridgePasswords (never sent to the editor), used with the user name; a redeploy keeps it; removed with null', async function () {
    const remote = await f.hearth({ authenticate: new UserTableAuthenticator({ house1: 's3cret' }) })
    const cfg = bridge({ url: remote.url, username: 'house1' })
    await helper.load(nodes, bridgedFlow([cfg]), { broker: { newBridgePasswords: JSON.stringify({ 'b-cloud': 's3cret', gone: 'x' }) } })
    const events = collect('events')
    await brokerPort()
    await stateEvent(events, 'cloud', 'connected')
    assert.deepEqual(helper.credentials.get('broker'), { bridgePasswords: JSON.stringify({ 'b-cloud': 's3cret' }) })
    // The editor learns which bridges have a password, never the password.
    const res = await helper.request().get('/hearth-broker/broker/bridges').expect(200)
    assert.deepEqual(res.body, { withPassword: ['b-cloud'] })

    await helper.setFlows(bridgedFlow([{ ...cfg, name: 'renamed' }]), 'full')
    const events2 = collect('events')
    await brokerPort()
    await stateEvent(events2, 'renamed', 'connected')

    await helper.setFlows(bridgedFlow([cfg], { credentials: { newBridgePasswords: JSON.stringify({ 'b-cloud': null }) } }), 'full')
    const events3 = collect('events')
    await brokerPort()
    const refused = await stateEvent(events3, 'cloud', 'disconnected')
    assert.deepEqual({ code: refused.lastError.code, reasonCode: refused.lastError.reasonCode }, { code: 'REFUSED', reasonCode: 0x86 })
    assert.deepEqual(helper.credentials.get('broker'), {})
  })

  it('the ACL on and anonymous clients refused: the bridge\'s local side (in-process, no user name) is trusted and both directions cross; a user is still held to the ACL', async function () {
    const remote = await f.hearth()
    await helper.load(nodes, bridgedFlow([bridge({ url: remote.url })], {
      allowAnonymous: false,
      usernames: ['dev'],
      aclEnabled: true,
      acl: [{ who: 'user', user: 'dev', access: 'readwrite', topic: 'home/dev/#' }],
    }), { broker: { newPasswords: JSON.stringify({ dev: { password: 'dev-pw' } }) } })
    const events = collect('events')
    const port = await brokerPort()
    await stateEvent(events, 'cloud', 'connected', 15000)
    const got: string[] = []
    const dev = await connectClient(port, { clientId: 'dev', username: 'dev', password: 'dev-pw', protocolVersion: 5 }, (t, p) => got.push(`${t}=${p.toString()}`))
    clients.push(dev)
    await dev.subscribeAsync('home/#', { qos: 1 })
    const there = await f.peer(remote.url, {}, [{ topic: 'house1/#', qos: 1 }])
    await dev.publishAsync('home/dev/t', '1', { qos: 1 })
    await there.client.publishAsync('house1/home/dev/cmd', 'go', { qos: 1 })
    await there.client.publishAsync('house1/home/other/cmd', 'no', { qos: 1 })
    await pollUntil(() => there.on('house1/home/dev/t').length === 1 && got.includes('home/dev/cmd=go'), 5000, 'both directions through the ACL')
    await sleep(300)
    // The ACL still applies to the user: home/other is not delivered to it, though it came over the bridge.
    assert.deepEqual(got.sort(), ['home/dev/cmd=go', 'home/dev/t=1'])
    assert.deepEqual(logged('broker', 'warn').filter((l) => l.includes('bridge')), [])
  })

  it('what waits for the remote stays in the bridge\'s local session across a redeploy, bounded like any session\'s queue (maxQueuedMessages): the rest are dropped with messageDropped queue-full', async function () {
    // The remote runs; the bridge reaches it through a proxy that refuses connections until told otherwise.
    const remote = await f.hearth()
    const proxy = await f.proxy(remote.port)
    proxy.setDown(true)
    const there = await f.peer(remote.url, { clientId: 'watcher' }, [{ topic: 'house1/#', qos: 1 }])
    const cfg = bridge({ url: `mqtt://127.0.0.1:${proxy.port}`, topics: [{ pattern: 'home/#', direction: 'out', qos: '1', localPrefix: '', remotePrefix: 'house1/' }] })
    const flow = bridgedFlow([cfg], { maxQueuedMessages: '10' })
    await helper.load(nodes, flow)
    const events = collect('events')
    const port = await brokerPort()
    await stateEvent(events, 'cloud', 'disconnected')
    const pub = await local(port, 'pub')
    for (let i = 0; i < 130; i++) await pub.client.publishAsync('home/n', String(i), { qos: 1 })
    const dropped = await waitFor(() => events.find((m) => m.topic === 'messageDropped'), 5000, 'messageDropped')
    assert.deepEqual({ ...dropped.payload, topic: dropped.payload.topic }, { clientId: 'local.house1', topic: 'home/n', qos: 1, reason: 'queue-full', count: 20, reasons: { 'queue-full': 20 } })
    const [status] = await command(events, 'listBridges')
    assert.deepEqual([status.state, status.pending, status.queued, status.dropped], ['disconnected', 100, 10, 0])

    await helper.setFlows(bridgedFlow([cfg], { maxQueuedMessages: '10', name: 'redeployed' }), 'full')
    const events2 = collect('events')
    await brokerPort()
    await stateEvent(events2, 'cloud', 'disconnected')
    assert.equal(there.got.length, 0)
    proxy.setDown(false)
    await stateEvent(events2, 'cloud', 'connected', 10000)
    await pollUntil(() => there.on('house1/home/n').length >= 110, 8000, 'the 110 kept messages at the remote')
    await sleep(300)
    const c = counts(there.on('house1/home/n'))
    assert.deepEqual([...c.keys()].map(Number).sort((a, b) => a - b), Array.from({ length: 110 }, (_, i) => i))
    assert.ok([...c.values()].every((v) => v === 1))
  })

  it('deleting the node: the bridge says 0 on the state topic at the remote and disconnects; its session at the remote stays', async function () {
    const remote = await f.hearth()
    await helper.load(nodes, bridgedFlow([bridge({ url: remote.url })]))
    const events = collect('events')
    await brokerPort()
    await stateEvent(events, 'cloud', 'connected')
    const watch = await f.peer(remote.url, {}, [{ topic: STATE, qos: 1 }])
    await pollUntil(() => watch.got.at(-1)?.payload === '1', 3000, 'state 1 at the remote')
    const sessions = remote.broker.stats().sessions
    await helper.setFlows([{ id: 'f1', type: 'tab', label: 'empty' }], 'full')
    await pollUntil(() => watch.got.at(-1)?.payload === '0', 5000, 'state 0 at the remote')
    assert.deepEqual(watch.got.map((r) => [r.payload, r.retain]), [['1', true], ['0', false]])
    await pollUntil(() => !remote.broker.clients().some((c) => c.clientId === 'house1'), 3000, 'the bridge gone from the remote')
    assert.equal(remote.broker.stats().sessions, sessions, 'its persistent session stays at the remote')
  })

  describe('over TLS to Mosquitto', function () {
    let mosquitto: Mosquitto
    before(async function () { this.timeout(30000); mosquitto = await Mosquitto.start() })
    after(async function () { await mosquitto?.remove() })

    it('mqtts with a tls-config node (the CA of the remote): connected; another CA: unreachable (the certificate is refused); the tls-config\'s server name is reported as not used', async function () {
      const other = makeCerts()
      try {
        const url = `mqtts://127.0.0.1:${mosquitto.ports.tls}`
        const rules = (pattern: string): object[] => [{ pattern, direction: 'in', qos: '1', localPrefix: '', remotePrefix: '' }]
        const flow = bridgedFlow([
          bridge({ id: 'b1', name: 'ok', clientId: 'tls-ok', url, tls: 'tls-ok', topics: rules('tls/#') }),
          bridge({ id: 'b2', name: 'wrongca', clientId: 'tls-wrong', url, tls: 'tls-wrong', topics: rules('tls/#') }),
          // A plain URL ignores a TLS configuration left over from an mqtts one.
          bridge({ id: 'b3', name: 'plain', clientId: 'plain', url: `mqtt://127.0.0.1:${mosquitto.ports.tcp}`, tls: 'tls-ok', topics: rules('plain/#') }),
        ], {}, [
          tlsConfig('tls-ok', { ca: mosquitto.certs.caCert }, { servername: 'localhost' }),
          tlsConfig('tls-wrong', { ca: other.caCert }),
        ])
        await helper.load(nodes, flow)
        const events = collect('events')
        const port = await brokerPort()
        await stateEvent(events, 'ok', 'connected', 10000)
        await stateEvent(events, 'plain', 'connected', 10000)
        const wrong = await stateEvent(events, 'wrongca', 'disconnected', 10000)
        assert.equal(wrong.lastError.code, 'NETWORK')
        assert.match(wrong.lastError.message, /certificate/i)
        assert.deepEqual(logged('broker', 'warn'), ['hearth-broker.warnings.bridge-tls-ignored'])
        const here = await local(port, 'tls-here', '#')
        const there = await f.peer(`mqtt://127.0.0.1:${mosquitto.ports.tcp}`)
        await there.client.publishAsync('tls/x', 'over tls', { qos: 1 })
        await there.client.publishAsync('plain/x', 'over tcp', { qos: 1 })
        await pollUntil(() => here.got.length >= 2, 5000, 'the messages over the bridges')
        await sleep(300)
        assert.deepEqual(here.got.sort((a, b) => a.topic.localeCompare(b.topic)), [{ topic: 'plain/x', payload: 'over tcp', retain: false }, { topic: 'tls/x', payload: 'over tls', retain: false }])
      } finally {
        other.remove()
      }
    })
  })
})
