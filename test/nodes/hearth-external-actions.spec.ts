// msg.action on an external connection, as core mqtt in / mqtt out take them: connect (with
// msg.broker overrides and force) and disconnect on both nodes, 'connect automatically' off, the
// dynamic subscribe actions, the subscription limit, and the errors for actions that do not apply.
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { ACCOUNT, HOST, Mosquitto, MosquittoSub } from '../helpers/mosquitto'
import { externalFlow, helperNode, observers, publish, subscribe } from './flows/client.flows'
import { catchNode, caughtText, completeNode, connectClient, endClient, hearthNodes, helper, lastStatus, nextMessage, waitFor } from './support'

const nodes = [...hearthNodes, catchNode, completeNode]
const CONNECTED = 'node-red:common.status.connected'
const DISCONNECTED = 'node-red:common.status.disconnected'

describe('hearth-connection to an external broker: connect and disconnect actions', function () {
  this.timeout(30000)
  let mosq: Mosquitto
  let clients: MqttClient[] = []
  let subs: MosquittoSub[] = []
  const tcp = (): string => `mqtt://${HOST}:${mosq.ports.tcp}`

  before(async function () { mosq = await Mosquitto.start() })
  after(async function () { await mosq?.remove() })
  afterEach(async function () {
    await helper.unload()
    await Promise.all(clients.map(endClient))
    clients = []
    await Promise.all(subs.map((s) => s.stop()))
    subs = []
  })

  /** Complete and Catch messages in arrival order (listeners that stay: no stale once-listeners between steps). */
  let outcomes: Array<{ ok: boolean, msg: Record<string, any> }> = []
  async function load (flow: object[], credentials?: Record<string, object>): Promise<void> {
    await helper.load(nodes, flow, credentials)
    outcomes = []
    helper.getNode('completed').on('input', (m: Record<string, any>) => outcomes.push({ ok: true, msg: m }))
    helper.getNode('caught').on('input', (m: Record<string, any>) => outcomes.push({ ok: false, msg: m }))
  }

  /** Send `msg` into node `id`; resolve with the Complete or the Catch message that follows. */
  async function act (id: string, msg: Record<string, unknown>): Promise<{ ok: boolean, msg: Record<string, any> }> {
    const n = outcomes.length
    helper.getNode(id).receive(msg)
    await waitFor(() => outcomes.length > n, 10000, `done() for ${JSON.stringify(msg)}`)
    return outcomes[n]
  }

  it('connect automatically off: disconnected and publishing fails until a connect action; disconnect closes cleanly (close message, no will)', async function () {
    const sub = new MosquittoSub(mosq.ports.tcp, ['act/#'])
    subs.push(sub)
    await sub.ready(mosq.ports.tcp)
    const conn = { autoConnect: false, birthTopic: 'act/state', birthPayload: 'on', closeTopic: 'act/state', closePayload: 'off', willTopic: 'act/will', willPayload: 'lost' }
    await load(externalFlow(tcp(), [publish({ topic: 'act/data' }), ...observers('pub')], conn))
    await helper.getNode('conn').ready
    assert.equal(lastStatus('pub')?.text, DISCONNECTED)
    let r = await act('pub', { payload: 'early', qos: 1 })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-connection.errors.not-connected'])

    r = await act('pub', { action: 'connect' })
    assert.equal(r.ok, true)
    assert.equal(helper.getNode('conn').connected, true, 'done() comes once connected')
    assert.equal(lastStatus('pub')?.text, CONNECTED)
    r = await act('pub', { payload: 'data', qos: 1 })
    assert.equal(r.ok, true)
    // Connected already and no msg.broker: nothing to do, done().
    r = await act('pub', { action: 'connect' })
    assert.equal(r.ok, true)

    r = await act('pub', { action: 'disconnect' })
    assert.equal(r.ok, true)
    assert.equal(lastStatus('pub')?.text, DISCONNECTED)
    await waitFor(() => sub.lines.includes('act/state off'), 5000, 'the close message')
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.deepEqual(sub.lines.filter((l) => l.startsWith('act/')), ['act/state on', 'act/data data', 'act/state off'])
    r = await act('pub', { payload: 'late', qos: 0 })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-connection.errors.not-connected'])
  })

  it('connect with msg.broker: refused while connected without force; with force it moves to another listener, account and client id', async function () {
    await load(externalFlow(tcp(), [publish(), ...observers('pub')]))
    await waitFor(() => lastStatus('pub')?.text === CONNECTED, 10000, 'connected')
    const override = { broker: HOST, port: mosq.ports.auth, username: ACCOUNT.username, password: ACCOUNT.password, clientid: 'moved-here' }
    let r = await act('pub', { action: 'connect', broker: override })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-connection.errors.already-connected'])

    const seen: string[] = []
    const watcher = await connectClient(mosq.ports.auth, { username: ACCOUNT.username, password: ACCOUNT.password }, (t, p) => seen.push(`${t}=${p.toString()}`))
    clients.push(watcher)
    await watcher.subscribeAsync('open/#', { qos: 1 })
    r = await act('pub', { action: 'connect', broker: { ...override, force: true } })
    assert.equal(r.ok, true)
    assert.equal(helper.getNode('conn').clientId, 'moved-here')
    r = await act('pub', { topic: 'open/x', payload: 'via auth', qos: 1 })
    assert.equal(r.ok, true)
    // The ACL of the account applies: this is the password listener.
    r = await act('pub', { topic: 'secret/x', payload: 'no', qos: 1 })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-publish.errors.not-authorised'])
    await waitFor(() => seen.includes('open/x=via auth'), 5000, 'the message on the auth listener')
  })

  it('connect with a bad msg.broker is refused with what to fix, and the connection is left as it was', async function () {
    await load(externalFlow(tcp(), [publish(), ...observers('pub')], { autoConnect: false }))
    await helper.getNode('conn').ready
    let r = await act('pub', { action: 'connect', broker: { url: 'http://example.invalid' } })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-connection.errors.bad-scheme'])
    r = await act('pub', { action: 'connect', broker: { keepalive: 'soon' } })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-connection.errors.bad-number'])
    r = await act('pub', { action: 'connect' })
    assert.equal(r.ok, true)
  })

  it('a connect action the broker refuses ends in done(err) with the refusal', async function () {
    await load(externalFlow(`mqtt://${HOST}:${mosq.ports.auth}`, [publish(), ...observers('pub')], { autoConnect: false, reconnectDelay: 5000 }), { conn: { username: ACCOUNT.username, password: 'wrong' } })
    await helper.getNode('conn').ready
    const r = await act('pub', { action: 'connect' })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-connection.errors.refused'])
    assert.equal(lastStatus('pub')?.text, 'hearth-connection.errors.refused')
  })

  it('the publish node: any other msg.action is an error on an external connection (as core mqtt out)', async function () {
    await load(externalFlow(tcp(), [publish({ topic: 'x' }), ...observers('pub')]))
    await waitFor(() => lastStatus('pub')?.text === CONNECTED, 10000, 'connected')
    const r = await act('pub', { action: 'subscribe', payload: 1 })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-publish.errors.invalid-action'])
  })

  it('dynamic subscribe node: connect, subscribe, getSubscriptions, unsubscribe, disconnect', async function () {
    await load(externalFlow(tcp(), [subscribe({ topic: '', dynamic: true, inputs: 1 }), helperNode('out'), ...observers('sub')], { autoConnect: false }))
    await helper.getNode('conn').ready
    assert.equal(lastStatus('sub')?.text, DISCONNECTED)
    let r = await act('sub', { action: 'connect' })
    assert.equal(r.ok, true)
    assert.equal(lastStatus('sub')?.text, CONNECTED)
    r = await act('sub', { action: 'subscribe', topic: [{ topic: 'dyn/a', qos: 1 }, 'dyn/b/#'] })
    assert.deepEqual(r.msg.subscriptions, [{ topic: 'dyn/a', qos: 1, rh: 0, rap: true }, { topic: 'dyn/b/#', qos: 2, rh: 0, rap: true }])

    const c = await connectClient(mosq.ports.tcp)
    clients.push(c)
    let got = nextMessage('out', 5000)
    await c.publishAsync('dyn/b/c', '42', { qos: 1 })
    assert.deepEqual([(await got).topic, (await got).payload], ['dyn/b/c', 42])

    got = nextMessage('out', 5000)
    r = await act('sub', { action: 'getSubscriptions' })
    assert.equal(r.ok, true)
    const list = await got
    assert.deepEqual([list.topic, list.payload.map((s: { topic: string }) => s.topic)], ['subscriptions', ['dyn/a', 'dyn/b/#']])

    r = await act('sub', { action: 'unsubscribe', topic: 'dyn/b/#' })
    assert.deepEqual(r.msg.subscriptions.map((s: { topic: string }) => s.topic), ['dyn/a'])
    got = nextMessage('out', 5000)
    await c.publishAsync('dyn/b/c', 'not any more', { qos: 1 })
    await c.publishAsync('dyn/a', 'still', { qos: 1 })
    assert.equal((await got).payload, 'still')

    r = await act('sub', { action: 'disconnect' })
    assert.equal(r.ok, true)
    assert.equal(lastStatus('sub')?.text, DISCONNECTED)
    // Connecting again brings the remaining subscription back.
    r = await act('sub', { action: 'connect' })
    assert.equal(r.ok, true)
    got = nextMessage('out', 5000)
    await c.publishAsync('dyn/a', 'back', { qos: 1 })
    assert.equal((await got).payload, 'back')

    r = await act('sub', { action: 'bogus' })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-subscribe.errors.invalid-action'])
  })

  it('the subscription limit (maxSubscriptions): a filter past it is refused and not listed', async function () {
    await load(externalFlow(tcp(), [subscribe({ topic: '', dynamic: true, inputs: 1 }), helperNode('out'), ...observers('sub')], { maxSubscriptions: 2 }))
    await waitFor(() => lastStatus('sub')?.text === CONNECTED, 10000, 'connected')
    let r = await act('sub', { action: 'subscribe', topic: ['lim/a', 'lim/b'] })
    assert.equal(r.ok, true)
    r = await act('sub', { action: 'subscribe', topic: 'lim/c' })
    assert.deepEqual([r.ok, caughtText(r.msg)], [false, 'hearth-connection.errors.subscriptions-full'])
    const got = nextMessage('out', 5000)
    await act('sub', { action: 'getSubscriptions' })
    assert.deepEqual((await got).payload.map((s: { topic: string }) => s.topic), ['lim/a', 'lim/b'])
    // Resubscribing a filter it already has is not a new one.
    r = await act('sub', { action: 'subscribe', topic: { topic: 'lim/a', qos: 0 } })
    assert.equal(r.ok, true)
  })
})
