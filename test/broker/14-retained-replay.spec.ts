// Test whether a new subscription's retained messages are delivered in full at any QoS, paced by
// the socket instead of dropped as a slow consumer (issue 8: a Home Assistant restart subscribing
// to thousands of discovery configs), never older than a value delivered live meanwhile, and
// without holding the event loop.
import assert from 'node:assert/strict'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { IPublishPacket } from 'mqtt-packet'
import type { QoS } from '../../src/broker/types'
import { spec, useHarness, type TestBroker } from '../helpers'

const COUNT = 10_000

/** 10,000 retained discovery configs of 1 to 4 KB (about 25 MB), as a large home has. */
async function fillDiscovery (b: TestBroker, count = COUNT): Promise<Map<string, string>> {
  const want = new Map<string, string>()
  for (let i = 0; i < count; i++) {
    const topic = `homeassistant/sensor/dev${i % 500}/e${i}/config`
    const payload = JSON.stringify({ name: `entity ${i}`, pad: 'x'.repeat(1000 + (i * 37) % 3000) })
    want.set(topic, payload)
    await b.broker.publish({ topic, payload: Buffer.from(payload), qos: 1, retain: true })
  }
  return want
}

describe('14 retained replay on subscribe', function () {
  this.timeout(60000)
  const h = useHarness()

  for (const qos of [0, 1] as QoS[]) {
    it(`${spec(5, ['3.3.1-6'], ['3.3.1-9'])} all ${COUNT} retained messages of 1–4 KB reach a QoS ${qos} subscriber over a real socket, none dropped as a slow consumer, with the event loop never held for long`, async function () {
      const b = await h.broker({ maxQueuedMessages: 100 })
      const want = await fillDiscovery(b)
      const drops: string[] = []
      b.broker.on('messageDropped', d => drops.push(d.reason))
      const sub = await b.connect({ protocolVersion: 5 })
      sub.autoAck = true
      const loop = monitorEventLoopDelay({ resolution: 5 })
      loop.enable()
      const granted = await sub.subscribe('homeassistant/+/+/+/config', qos)
      assert.deepEqual(granted, [qos])
      const got = await sub.publishes(COUNT, 30000)
      loop.disable()
      const seen = new Map(got.map(p => [p.topic, p.payload.toString()]))
      assert.equal(seen.size, COUNT, 'each retained topic once')
      assert.deepEqual(seen, want)
      // [MQTT-3.3.1-8] RETAIN=1 on every one, at the granted QoS
      assert.deepEqual(new Set(got.map(p => `${p.retain ? 1 : 0}/${p.qos}/${p.dup ? 1 : 0}`)), new Set([`1/${qos}/0`]))
      assert.deepEqual(drops, [])
      assert.ok(loop.max < 500e6, `the event loop was held for ${(loop.max / 1e6).toFixed(0)} ms at most`)
    })
  }

  it('a value published live while the replay is under way is never followed by the older retained value', async function () {
    const b = await h.broker()
    await fillDiscovery(b, 3000)
    const sub = await b.connect({ protocolVersion: 4 })
    const pub = await b.connect({ protocolVersion: 4 })
    const last = 'homeassistant/sensor/dev499/e2999/config'
    const subscribed = sub.subscribe('homeassistant/#', 0)
    await pub.publish(last, 'new value', { qos: 1, retain: true })
    await pub.publish(last, 'newer, not retained', { qos: 1, retain: false })
    await subscribed
    const got: IPublishPacket[] = []
    while (got.length === 0 || got[got.length - 1].payload.toString() !== 'newer, not retained') got.push(await sub.waitFor('publish', undefined, 20000))
    await sub.expectNothing(100, 'publish')
    assert.equal(new Set(got.map(p => p.topic)).size, 3000)
    const forLast = got.filter(p => p.topic === last).map(p => `${p.payload.toString()}|${p.retain ? 1 : 0}`)
    // the replay sends the current retained value ("new value"); the live ones arrive after it, in order
    assert.deepEqual(forLast.slice(-1), ['newer, not retained|0'])
    assert.ok(!forLast.some(x => x.startsWith('{')), `never the replaced value: ${forLast.join(', ')}`)
  })

  it('an in-process subscriber gets a large replay in batches, letting other work run in between', async function () {
    const b = await h.broker()
    await fillDiscovery(b, 3000)
    const local = await b.local({ protocolVersion: 5 })
    let n = 0
    // Other work: a callback that runs once per turn of the event loop (a 1 ms timer was too coarse: a fast
    // replay of 12 batches can end within 2 ms). The replay's 3000 messages must span many turns.
    let turns = 0
    let running = true
    const turn = (): void => { turns++; if (running) setImmediate(turn) }
    setImmediate(turn)
    const turnsAt: number[] = []
    const done = new Promise<void>(resolve => local.on('message', () => { turnsAt.push(turns); if (++n === 3000) resolve() }))
    await local.subscribe([{ topic: 'homeassistant/#', qos: 0 }])
    await done
    running = false
    assert.equal(n, 3000)
    const spanned = turnsAt[turnsAt.length - 1] - turnsAt[0]
    assert.ok(spanned >= 10, `the replay ran in ${spanned + 1} turns of the event loop (3000 messages, batches of 256)`)
  })
})
