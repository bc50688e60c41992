// The external connection on a slow or absent broker (a real Mosquitto behind a TCP proxy that can
// refuse, cut or stall the link): the bounded outgoing queue and its limits, back-pressure with one
// drain listener, in-flight bounded by the broker's Receive Maximum, reconnect with backoff and
// jitter, and the status while the broker comes and goes.
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { backoff } from '../../src/nodes/hearth-connection/clients'
import { HOST, Mosquitto, TcpProxy } from '../helpers/mosquitto'
import { externalFlow, observers, publish } from './flows/client.flows'
import {
  catchNode, caughtText, completeNode, connectClient, endClient, hearthNodes, helper, lastStatus, nextMessage, sink, sinkNode, unspy, waitFor,
} from './support'

const nodes = [...hearthNodes, catchNode, completeNode, sinkNode]
const CONNECTED = 'node-red:common.status.connected'

type Seen = Array<{ topic: string, payload: string, qos: number }>

describe('hearth-connection to an external broker: queue, back-pressure, reconnect', function () {
  this.timeout(60000)
  let mosq: Mosquitto
  let proxy: TcpProxy
  let clients: MqttClient[] = []

  before(async function () { mosq = await Mosquitto.start() })
  after(async function () { await mosq?.remove() })
  beforeEach(async function () { proxy = await TcpProxy.open(mosq.ports.tcp) })
  afterEach(async function () {
    await helper.unload()
    await proxy.close()
    await Promise.all(clients.map(endClient))
    clients = []
  })

  const viaProxy = (): string => `mqtt://${HOST}:${proxy.port}`

  async function watcher (filter: string): Promise<Seen> {
    const seen: Seen = []
    const c = await connectClient(mosq.ports.tcp, { protocolVersion: 5 }, (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), qos: packet.qos }))
    clients.push(c)
    await c.subscribeAsync(filter, { qos: 2 })
    return seen
  }

  /** Completed and caught messages of node `id`, kept across the whole test. */
  function outcomes (): { completed: Array<Record<string, any>>, caught: Array<Record<string, any>> } {
    const completed: Array<Record<string, any>> = []
    const caught: Array<Record<string, any>> = []
    helper.getNode('completed').on('input', (m: Record<string, any>) => completed.push(m))
    helper.getNode('caught').on('input', (m: Record<string, any>) => caught.push(m))
    return { completed, caught }
  }

  it('backoff(): doubles from the first delay up to the longest, each jittered to 50-100 %', function () {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 40].map((n) => backoff(n, 1000, 6000, () => 1)), [1000, 2000, 4000, 6000, 6000, 6000, 6000])
    assert.deepEqual([0, 1, 2, 3].map((n) => backoff(n, 1000, 6000, () => 0)), [500, 1000, 2000, 3000])
    assert.equal(backoff(1, 1000, 6000, () => 0.5), 1500)
  })

  it('a broker that is not there: the status says connecting, attempts back off (doubling, with jitter), and it connects when the broker comes', async function () {
    proxy.accepting = false
    await helper.load(nodes, externalFlow(viaProxy(), [publish({ topic: 'q/a' })], { reconnectDelay: 100, reconnectDelayMax: 800 }))
    await waitFor(() => proxy.attempts.length >= 7, 15000, 'seven connection attempts')
    assert.equal(lastStatus('pub')?.text, 'node-red:common.status.connecting')
    assert.equal(lastStatus('pub')?.fill, 'yellow')
    const gaps = proxy.attempts.slice(1, 7).map((t, i) => t - proxy.attempts[i])
    // Attempt n waits between half and all of min(800, 100 * 2^n) after the link closed (plus scheduling).
    gaps.forEach((gap, n) => {
      const full = Math.min(800, 100 * 2 ** n)
      assert.ok(gap >= full / 2 - 5 && gap <= full + 400, `gap ${n} is ${gap} ms, expected ${full / 2}..${full}: ${JSON.stringify(gaps)}`)
    })
    proxy.accepting = true
    await waitFor(() => lastStatus('pub')?.text === CONNECTED, 5000, 'connected once the broker is there')
  })

  it('queues while the broker is unreachable and sends everything in order once it is back; QoS 1 done() after PUBACK', async function () {
    const seen = await watcher('q/#')
    await helper.load(nodes, externalFlow(viaProxy(), [publish({ topic: 'q/a' }), ...observers('pub')], { reconnectDelay: 100, reconnectDelayMax: 200 }))
    await waitFor(() => lastStatus('pub')?.text === CONNECTED, 5000, 'connected')
    const { completed, caught } = outcomes()
    proxy.accepting = false
    proxy.cut()
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.disconnected' || lastStatus('pub')?.text === 'node-red:common.status.connecting', 5000, 'the drop in the status')
    const pub = helper.getNode('pub')
    for (let i = 0; i < 20; i++) pub.receive({ payload: String(i), qos: i % 3 === 0 ? 0 : 1 })
    await waitFor(() => helper.getNode('conn').stats().queued === 20, 5000, '20 queued messages')
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(completed.length, 0, 'nothing is done while it waits')
    assert.equal(seen.length, 0)
    proxy.accepting = true
    await waitFor(() => seen.length === 20 && completed.length === 20, 10000, 'all 20 messages and done() for each')
    assert.deepEqual(seen.map((m) => m.payload), Array.from({ length: 20 }, (_, i) => String(i)))
    assert.deepEqual(seen.map((m) => m.qos), Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? 0 : 1)))
    assert.deepEqual(caught, [])
    assert.deepEqual(helper.getNode('conn').stats(), { queued: 0, queuedBytes: 0, inflight: 0, dropped: 0, drainListeners: 0 })
  })

  it('past the queue limit: QoS 0 is dropped and counted (done, a warning), QoS 1 ends in done(err) saying the queue is full', async function () {
    const seen = await watcher('q/#')
    proxy.accepting = false
    await helper.load(nodes, externalFlow(viaProxy(), [publish({ topic: 'q/b' }), ...observers('pub')], { reconnectDelay: 100, reconnectDelayMax: 200, queueMaxMessages: 3 }))
    await waitFor(() => proxy.attempts.length >= 1, 5000, 'a first attempt')
    const { completed, caught } = outcomes()
    const pub = helper.getNode('pub')
    for (const p of ['a', 'b', 'c']) pub.receive({ payload: p, qos: 1 })
    pub.receive({ payload: 'refused', qos: 1 })
    pub.receive({ payload: 'dropped1', qos: 0 })
    pub.receive({ payload: 'dropped2', qos: 0 })
    await waitFor(() => caught.length === 1 && completed.length === 2, 5000, 'one error and two dropped QoS 0 messages done')
    assert.equal(caughtText(caught[0]), 'hearth-connection.errors.queue-full')
    assert.equal(caught[0].payload, 'refused')
    assert.deepEqual(completed.map((m) => m.payload), ['dropped1', 'dropped2'])
    const conn = helper.getNode('conn')
    assert.deepEqual(conn.stats(), { queued: 3, queuedBytes: 12, inflight: 0, dropped: 2, drainListeners: 0 })
    const warned = (conn.warn.getCalls() as Array<{ thisValue: unknown, args: unknown[] }>).filter((c) => c.thisValue === conn).map((c) => String(c.args[0]))
    assert.deepEqual(warned, ['hearth-connection.errors.queue-dropped'])
    proxy.accepting = true
    await waitFor(() => seen.length === 3 && completed.length === 5, 10000, 'the queued messages')
    assert.deepEqual(seen.map((m) => m.payload), ['a', 'b', 'c'])
  })

  it('the byte limit: a message that does not fit is refused (QoS 1)', async function () {
    proxy.accepting = false
    await helper.load(nodes, externalFlow(viaProxy(), [publish({ topic: 'q/c' }), ...observers('pub')], { reconnectDelay: 100, queueMaxBytes: 20 }))
    const caught = nextMessage('caught', 5000)
    // Topic (3 bytes) + payload: 21 bytes do not fit in 20, 13 do.
    helper.getNode('pub').receive({ payload: 'x'.repeat(18), qos: 1 })
    assert.equal(caughtText(await caught), 'hearth-connection.errors.queue-full')
    helper.getNode('pub').receive({ payload: 'x'.repeat(10), qos: 1 })
    await waitFor(() => helper.getNode('conn').stats().queuedBytes === 13, 5000, 'the message that fits queued')
  })

  it('a stalled broker: the queue takes the burst with one drain listener, and every message arrives once the link moves again', async function () {
    const seen: string[] = []
    const c = await connectClient(mosq.ports.tcp, { protocolVersion: 5 }, (_t, payload) => seen.push(payload.subarray(0, 8).toString()))
    clients.push(c)
    await c.subscribeAsync('bp/#', { qos: 0 })
    await helper.load(nodes, externalFlow(viaProxy(), [publish({ topic: 'bp/a' }), { id: 'complete', type: 'complete', z: 'f1', x: 1, y: 1, scope: ['pub'], uncaught: false, wires: [['sink']] }, { id: 'sink', type: 'sink', z: 'f1', x: 1, y: 1, wires: [] }]))
    await waitFor(() => lastStatus('pub')?.text === CONNECTED, 5000, 'connected')
    unspy(['pub', 'complete'])
    sink.length = 0
    proxy.stall()
    const total = 20000
    const filler = 'x'.repeat(1016)
    const pub = helper.getNode('pub')
    const conn = helper.getNode('conn')
    let maxQueued = 0
    let maxListeners = 0
    for (let i = 0; i < total; i++) {
      pub.receive({ payload: String(i).padStart(8, '0') + filler })
      if (i % 1000 === 0) {
        const s = conn.stats()
        maxQueued = Math.max(maxQueued, s.queued)
        maxListeners = Math.max(maxListeners, s.drainListeners)
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    const stalled = conn.stats()
    assert.ok(stalled.queued > 1000, `messages wait in the queue while the link is stalled (${stalled.queued})`)
    assert.ok(Math.max(maxListeners, stalled.drainListeners) <= 1, `one drain listener at most (saw ${Math.max(maxListeners, stalled.drainListeners)})`)
    assert.ok(sink.length < total - 1000, 'done() waits for the socket')
    proxy.resume()
    await waitFor(() => seen.length === total && sink.length === total, 30000, `all ${total} messages (got ${seen.length}, ${sink.length} done)`)
    assert.deepEqual(seen.slice(0, 3), ['00000000', '00000001', '00000002'])
    assert.equal(new Set(seen).size, total)
    console.log(`      stalled link: up to ${Math.max(maxQueued, stalled.queued)} queued, ${Math.max(maxListeners, stalled.drainListeners)} drain listener(s)`)
  })

  it('[MQTT-3.3.4-7] QoS 1 in flight stays within the broker\'s Receive Maximum (Mosquitto: 20) and maxInflight', async function () {
    const seen = await watcher('inf/#')
    await helper.load(nodes, externalFlow(viaProxy(), [publish({ topic: 'inf/a' }), ...observers('pub')], { maxInflight: 1000 }))
    await waitFor(() => lastStatus('pub')?.text === CONNECTED, 5000, 'connected')
    const { completed } = outcomes()
    const conn = helper.getNode('conn')
    const pub = helper.getNode('pub')
    let maxInflight = 0
    for (let i = 0; i < 500; i++) {
      pub.receive({ payload: String(i), qos: 1 })
      maxInflight = Math.max(maxInflight, conn.stats().inflight)
    }
    const poll = setInterval(() => { maxInflight = Math.max(maxInflight, conn.stats().inflight) }, 1)
    await waitFor(() => completed.length === 500 && seen.length === 500, 20000, 'all 500 acknowledged').finally(() => clearInterval(poll))
    assert.equal(maxInflight, 20)
    assert.deepEqual(seen.map((m) => Number(m.payload)), Array.from({ length: 500 }, (_, i) => i))
  })
})
