// hearth-broker: the sidebar's admin routes in Node-RED 4.1: the broker list, the watch keepalive and the
// figures it publishes on comms, the clients table (MQTT.js and mosquitto_sub), disconnect, the topic tree
// with bounded previews, publish and clearing a retained message.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import type { MqttClient } from 'mqtt'
import { currentFlow } from './flows/broker.flows'
import { connectClient, endClient, hearthNodes, helper, waitFor } from './support'

type Row = Record<string, any>

async function getJson (path: string): Promise<Row> {
  const res = await helper.request().get(path).expect(200)
  return res.body as Row
}
async function postJson (path: string, body: unknown): Promise<Row> {
  const res = await helper.request().post(path).send(body).expect(200)
  return res.body as Row
}

/** The comms messages the runtime publishes (node API RED.comms.publish emits them on the runtime's events). */
function commsLog (): { frames: Row[], stop (): void } {
  const events = (helper as unknown as { _events: { on (e: string, f: (m: Row) => void): void, off (e: string, f: (m: Row) => void): void } })._events
  const frames: Row[] = []
  const on = (m: Row): void => { if (String(m.topic).startsWith('hearth/broker/')) frames.push(m) }
  events.on('comms', on)
  return { frames, stop: () => events.off('comms', on) }
}

describe('hearth-broker node: the sidebar admin routes', function () {
  this.timeout(40000)
  let clients: MqttClient[] = []
  let procs: ChildProcess[] = []
  let comms: ReturnType<typeof commsLog> | undefined

  afterEach(async function () {
    comms?.stop()
    comms = undefined
    await Promise.all(clients.map(endClient))
    clients = []
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM')
    procs = []
    helper.getNode('broker')?.broker?.clearRetained('#')
    await helper.unload()
  })

  async function start (): Promise<number> {
    await helper.load(hearthNodes, currentFlow({ persistence: false, name: 'hall', usernames: ['alice'] }, []), { broker: { newPasswords: JSON.stringify({ alice: { password: 'alice-secret' } }) } })
    const n = helper.getNode('broker')
    await n.ready
    assert.ok(n.port, String(n.failure))
    return n.port as number
  }

  it('lists the broker nodes, and answers {error} for a broker that does not exist', async function () {
    await start()
    assert.deepEqual(await getJson('/hearth-broker/brokers'), { brokers: [{ id: 'broker', name: 'hall', running: true }] })
    assert.deepEqual(await getJson('/hearth-broker/nobody/clients'), { error: { code: 'NO_SUCH_NODE' } })
    assert.deepEqual(await postJson('/hearth-broker/nobody/watch', {}), { error: { code: 'NO_SUCH_NODE' } })
  })

  it('lists clients (MQTT.js and mosquitto_sub) without their passwords, and disconnect ends one', async function () {
    const port = await start()
    const js = await connectClient(port, { clientId: 'js-client', username: 'alice', password: 'alice-secret', protocolVersion: 4 })
    clients.push(js)
    await js.subscribeAsync(['a/#', 'b/#'], { qos: 1 })
    // MQTT 5: mosquitto_sub exits on the server's DISCONNECT (0x98) instead of reconnecting.
    const sub = spawn('/usr/bin/mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-i', 'mosq-sub', '-V', 'mqttv5', '-t', 'x/#', '-q', '1'], { stdio: 'ignore' })
    procs.push(sub)
    const exited = new Promise((resolve) => sub.once('exit', resolve))
    let rows: Row[] = []
    const deadline = Date.now() + 10000
    while (!(rows.length === 2 && rows.every((r) => r.subscriptions > 0))) {
      if (Date.now() > deadline) throw new Error(`clients: ${JSON.stringify(rows)}`)
      rows = (await getJson('/hearth-broker/broker/clients')).clients as Row[]
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const text = JSON.stringify(rows)
    assert.ok(!text.includes('alice-secret'), 'no password in the answer')
    const byId = Object.fromEntries(rows.map((r) => [r.clientId, r]))
    const now = Date.now()
    for (const r of rows) {
      assert.ok(r.connectedAt > now - 15000 && r.connectedAt <= now, `connectedAt ${r.connectedAt}`)
      assert.match(r.address, /^127\.0\.0\.1:\d+$/)
      delete r.connectedAt
      delete r.address
    }
    assert.deepEqual(byId['js-client'], { clientId: 'js-client', username: 'alice', transport: 'mqtt', protocolVersion: 4, subscriptions: 2, inflight: 0, queued: 0, dropped: 0 })
    assert.deepEqual(byId['mosq-sub'], { clientId: 'mosq-sub', username: '', transport: 'mqtt', protocolVersion: 5, subscriptions: 1, inflight: 0, queued: 0, dropped: 0 })

    assert.deepEqual(await postJson('/hearth-broker/broker/disconnect', { clientId: 'js-client' }), { clientId: 'js-client', disconnected: true })
    await new Promise<void>((resolve) => js.once('close', () => resolve()))
    assert.deepEqual(await postJson('/hearth-broker/broker/disconnect', { clientId: 'mosq-sub' }), { clientId: 'mosq-sub', disconnected: true })
    await exited
    assert.deepEqual(await getJson('/hearth-broker/broker/clients'), { clients: [] })
    assert.deepEqual(await postJson('/hearth-broker/broker/disconnect', { clientId: 'js-client' }), { clientId: 'js-client', disconnected: false })
    assert.deepEqual(await postJson('/hearth-broker/broker/disconnect', {}), { error: { code: 'NO_CLIENT_ID' } })
  })

  it('records topics only while watched, with counts and bounded previews; shows and clears retained messages; publishes', async function () {
    const port = await start()
    const pub = await connectClient(port, { clientId: 'pub', username: 'alice', password: 'alice-secret' })
    clients.push(pub)
    await pub.publishAsync('home/kept', 'on', { qos: 1, retain: true })
    await pub.publishAsync('home/unseen', 'x', { qos: 1 }) // before anyone watches: not recorded

    // Not watched: only the retained message, nothing recorded.
    assert.deepEqual(await getJson('/hearth-broker/broker/topics'), {
      recording: false,
      since: 0,
      truncated: false,
      topics: [{ topic: 'home/kept', count: 0, lastAt: 0, retained: { text: 'on', encoding: 'utf8', bytes: 2, truncated: false, qos: 1 } }],
    })

    comms = commsLog()
    assert.deepEqual(await postJson('/hearth-broker/broker/watch', {}), { watching: true, seconds: 10 })
    for (let i = 0; i < 3; i++) await pub.publishAsync('home/temp', String(20 + i), { qos: 0 })
    await pub.publishAsync('home/blob', Buffer.alloc(1000, 0xff), { qos: 1 })
    await pub.publishAsync('home/long', 'é'.repeat(300), { qos: 0 }) // 600 bytes: the cut falls inside a character
    const t = await getJson('/hearth-broker/broker/topics')
    assert.equal(t.recording, true)
    const rows = Object.fromEntries((t.topics as Row[]).map((r) => [r.topic, r]))
    assert.deepEqual(Object.keys(rows).sort(), ['home/blob', 'home/kept', 'home/long', 'home/temp'])
    assert.equal(rows['home/temp'].count, 3)
    assert.deepEqual(rows['home/temp'].last, { text: '22', encoding: 'utf8', bytes: 2, truncated: false, qos: 0, retain: false })
    assert.deepEqual(rows['home/blob'].last, { text: 'ff'.repeat(256), encoding: 'hex', bytes: 1000, truncated: true, qos: 1, retain: false })
    assert.deepEqual(rows['home/long'].last, { text: 'é'.repeat(128), encoding: 'utf8', bytes: 600, truncated: true, qos: 0, retain: false })
    assert.equal(rows['home/kept'].count, 0)

    // Figures go out on comms once a second while watched.
    const frames = await waitFor(() => comms!.frames.length >= 2 && comms!.frames, 5000, 'two stats frames')
    for (const f of frames) {
      assert.equal(f.topic, 'hearth/broker/broker/stats')
      assert.equal(f.retain, false)
      assert.deepEqual(Object.keys(f.data).sort(), ['bytesIn', 'bytesOut', 'clients', 'dropped', 'id', 'msgsIn', 'msgsOut', 'retained', 'subscriptions', 'time'])
      assert.equal(f.data.id, 'broker')
      assert.equal(f.data.clients, 1)
      assert.equal(f.data.retained, 1)
    }

    // Publish through the sidebar (a retained message), then clear it.
    const seen: string[] = []
    const watcher = await connectClient(port, { clientId: 'watcher', username: 'alice', password: 'alice-secret' }, (topic, payload) => seen.push(`${topic}=${payload.toString()}`))
    clients.push(watcher)
    await watcher.subscribeAsync('set/#', { qos: 1 })
    assert.deepEqual(await postJson('/hearth-broker/broker/publish', { topic: 'set/lamp', payload: 'ON', qos: 1, retain: true }), { topic: 'set/lamp', published: true })
    await waitFor(() => seen.includes('set/lamp=ON'), 3000, 'the published message')
    assert.deepEqual(await postJson('/hearth-broker/broker/publish', { topic: 'set/+', payload: 'x' }), { error: { code: 'BAD_TOPIC' } })
    assert.deepEqual(await postJson('/hearth-broker/broker/publish', { topic: '$SYS/broker/uptime', payload: 'x' }), { error: { code: 'BAD_TOPIC' } })
    assert.deepEqual(await postJson('/hearth-broker/broker/publish', { topic: 'set/x', payload: 'x', qos: 3 }), { error: { code: 'BAD_QOS' } })
    assert.deepEqual(helper.getNode('broker').broker.retained('#').map((m: Row) => m.topic).sort(), ['home/kept', 'set/lamp'])
    assert.deepEqual(await postJson('/hearth-broker/broker/clear', { topic: 'home/kept' }), { topic: 'home/kept', cleared: 1 })
    assert.deepEqual(await postJson('/hearth-broker/broker/clear', { topic: 'home/#' }), { error: { code: 'BAD_TOPIC' } })
    assert.deepEqual(helper.getNode('broker').broker.retained('#').map((m: Row) => m.topic), ['set/lamp'])
    const after = Object.fromEntries(((await getJson('/hearth-broker/broker/topics')).topics as Row[]).map((r) => [r.topic, r]))
    assert.equal(after['home/kept'], undefined, 'cleared, and never seen while recording')
    assert.equal(after['set/lamp'].retained.text, 'ON')
  })

  it('stops publishing figures and drops the recorded topics some seconds after the last keepalive', async function () {
    this.timeout(60000)
    const port = await start()
    const pub = await connectClient(port, { clientId: 'pub', username: 'alice', password: 'alice-secret' })
    clients.push(pub)
    comms = commsLog()
    await postJson('/hearth-broker/broker/watch', {})
    await pub.publishAsync('seen/1', 'x', { qos: 1 })
    assert.deepEqual(((await getJson('/hearth-broker/broker/topics')).topics as Row[]).map((r) => r.topic), ['seen/1'])
    const asked = Date.now()
    let stoppedAt = 0
    await waitFor(() => {
      const last = comms!.frames[comms!.frames.length - 1]
      if (last !== undefined && Date.now() - last.data.time > 2500) { stoppedAt = last.data.time; return true }
      return false
    }, 20000, 'the frames to stop')
    // The last frame goes out in the last second of the 10 s watch.
    assert.ok(stoppedAt - asked >= 8000 && stoppedAt - asked <= 11500, `stopped ${stoppedAt - asked} ms after the keepalive`)
    assert.deepEqual(await getJson('/hearth-broker/broker/topics'), { recording: false, since: 0, truncated: false, topics: [] })
    await pub.publishAsync('seen/2', 'x', { qos: 1 })
    assert.deepEqual(((await getJson('/hearth-broker/broker/topics')).topics as Row[]), [])
  })
})
