/**
 * The broker over FilePersistence, through TCP clients: a publish owed to many sessions is stored
 * once and shared again after a restart, subscriptions are saved one by one, and a full store
 * turns into counted drops and reason codes (0x97 Quota exceeded on MQTT 5).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IPubackPacket } from 'mqtt-packet'
import { FilePersistence, type FilePersistenceOptions } from '../../src/broker/persistence-file'
import type { BrokerEvents } from '../../src/broker/types'
import type { BrokerCore } from '../../src/broker/core'
import { VERSIONS, sleep, spec, uniqueId, useHarness, type ConnectOptions, type TestBroker, type Version } from '../helpers'
import { pollUntil } from '../helpers/wait'

type Drop = BrokerEvents['messageDropped'][0]

describe('22 persistence through the broker', function () {
  this.timeout(60000)
  const h = useHarness()
  const dirs: string[] = []
  after(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })

  async function store (): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'hearth-pb-'))
    dirs.push(d)
    return d
  }

  const warnings: string[] = []
  function file (dir: string, extra: Partial<FilePersistenceOptions> = {}): FilePersistence {
    return new FilePersistence({ dir, onWarning: m => warnings.push(m), ...extra })
  }

  function persistent (v: Version, clientId: string): ConnectOptions {
    return { protocolVersion: v, clientId, clean: false, ...(v === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}) }
  }

  async function offline (b: TestBroker, v: Version, id: string, filters: string[]): Promise<void> {
    const c = await b.connect(persistent(v, id))
    await c.subscribe(filters.map(topic => ({ topic, qos: 1 as const })))
    c.disconnect()
    await c.closed
  }

  function core (b: TestBroker): BrokerCore { return (b.broker as unknown as { core: BrokerCore }).core }

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, () => {
      it(`${spec(v, ['3.1.2-4'], ['3.1.2-5'])} a 64 KB QoS 1 publish owed to 100 offline sessions is written once, and after a restart the sessions share one copy and each gets it whole`, async () => {
        const dir = await store()
        let b = await h.broker({ persistence: file(dir, { compactThreshold: 1 << 30 }) })
        const ids = Array.from({ length: 100 }, () => uniqueId('f'))
        for (const id of ids) await offline(b, v, id, ['fan/out'])
        const fp = core(b).persistence as FilePersistence
        await fp.sync()
        const before = fp.stats().fileBytes
        const payload = Buffer.alloc(64 * 1024)
        for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('fan/out', payload, { qos: 1 })
        const grew = fp.stats().fileBytes - before
        assert.ok(grew > payload.length && grew < payload.length + 100 * 100, `the store grew by ${grew} bytes for 100 deliveries of ${payload.length} bytes`)
        await b.broker.close()
        b = await h.broker({ persistence: file(dir) })
        const queued = ids.map(id => core(b).sessions.get(id)?.queue[0]?.msg)
        assert.ok(queued[0] !== undefined && queued.every(m => m === queued[0]), 'one message object for every restored session')
        for (const id of [ids[0], ids[99]]) {
          const c = await b.connect(persistent(v, id))
          c.autoAck = true
          const [m] = await c.publishes(1)
          assert.deepEqual([m.topic, m.qos, Buffer.compare(m.payload as Buffer, payload)], ['fan/out', 1, 0])
        }
        assert.deepEqual(warnings.splice(0), [])
      })

      it(`${spec(v, ['3.1.2-4'], ['3.1.2-5'])} subscriptions are saved one by one: after a restart the session holds what SUBSCRIBE and UNSUBSCRIBE left`, async () => {
        const dir = await store()
        let b = await h.broker({ persistence: file(dir) })
        const id = uniqueId('s')
        const c = await b.connect(persistent(v, id))
        for (let p = 0; p < 5; p++) await c.subscribe(Array.from({ length: 200 }, (_, j) => ({ topic: `s/${p}/${j}`, qos: 1 as const })))
        await c.subscribe('s/0/0', 0) // replaces
        await c.unsubscribe(['s/1/5', 's/4/199'])
        c.disconnect()
        await c.closed
        await sleep(20)
        await b.broker.close()
        b = await h.broker({ persistence: file(dir) })
        const subs = core(b).sessions.get(id)?.subscriptions
        assert.equal(subs?.size, 998)
        assert.equal(subs?.get('s/0/0')?.qos, 0)
        assert.equal(subs?.has('s/1/5'), false)
        const back = await b.connect(persistent(v, id))
        back.autoAck = true
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('s/4/198', 'in', { qos: 1 })
        await pub.publish('s/4/199', 'out', { qos: 1 })
        assert.deepEqual((await back.publishes(1)).map(m => m.payload.toString()), ['in'])
        await back.expectNothing(150, 'publish')
        assert.deepEqual(warnings.splice(0), [])
      })

      it(`a full store: QoS 1 messages for a persistent session are dropped as 'persistence-full' (counted), the stored ones are delivered`, async () => {
        const dir = await store()
        const b = await h.broker({ persistence: file(dir, { maxStoreBytes: 16 * 1024 }) })
        const drops: Drop[] = []
        b.broker.on('messageDropped', d => drops.push(d))
        const id = uniqueId('q')
        await offline(b, v, id, ['full/#'])
        const pub = await b.connect({ protocolVersion: v })
        for (let i = 0; i < 40; i++) {
          const ack = await pub.publish('full/q', Buffer.alloc(1000, i), { qos: 1 }) as IPubackPacket
          assert.equal(ack.reasonCode ?? 0, 0, 'the publisher is acknowledged: its message was accepted')
        }
        const stored = 40 - drops.length
        assert.ok(stored > 5 && stored < 16, `${stored} of 40 stored in 16 KiB`)
        assert.deepEqual(drops, Array.from({ length: 40 - stored }, () => ({ clientId: id, topic: 'full/q', qos: 1, reason: 'persistence-full' })))
        assert.equal(b.broker.stats().dropped, drops.length)
        const c = await b.connect(persistent(v, id))
        c.autoAck = true
        const got = await c.publishes(stored)
        assert.deepEqual(got.map(m => (m.payload as Buffer)[0]), Array.from({ length: stored }, (_, i) => i), 'the first ones, in order')
        await c.expectNothing(150, 'publish')
        assert.equal(warnings.filter(w => /is full/.test(w)).length, 1)
        warnings.length = 0
      })

      it(`a full store: a retained publish is refused ${v === 5 ? 'with PUBACK 0x97 Quota exceeded' : '(acknowledged: 3.1.1 has no reason code)'}, not routed, counted, and the topic keeps its retained message; SUBSCRIBE gets ${v === 5 ? '0x97' : '0x80'}`, async () => {
        const dir = await store()
        const b = await h.broker({ persistence: file(dir, { maxStoreBytes: 8 * 1024 }) })
        const drops: Drop[] = []
        b.broker.on('messageDropped', d => drops.push(d))
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('keep', 'old value', { qos: 1, retain: true })
        const live = await b.connect({ protocolVersion: v })
        await live.subscribe('big/#', 1)
        const sub = await b.connect(persistent(v, uniqueId('r')))
        let refused: IPubackPacket | undefined
        let n = 0
        for (; n < 20 && refused === undefined; n++) {
          const ack = await pub.publish(`big/${n}`, Buffer.alloc(1000, n), { qos: 1, retain: true }) as IPubackPacket
          if (drops.length > 0) refused = ack
        }
        assert.ok(refused !== undefined, 'the store filled up')
        assert.equal(refused.reasonCode ?? 0, v === 5 ? 0x97 : 0)
        assert.deepEqual(drops, [{ clientId: pub.clientId, topic: `big/${n - 1}`, qos: 1, reason: 'persistence-full' }])
        const routed = await live.publishes(n - 1)
        assert.deepEqual(routed.map(m => m.topic), Array.from({ length: n - 1 }, (_, i) => `big/${i}`), 'the refused publish was not routed')
        await live.expectNothing(100, 'publish')
        assert.deepEqual(await sub.subscribe([{ topic: 'a/new/filter/' + 'does-not-fit'.repeat(200), qos: 1 }]), [v === 5 ? 0x97 : 0x80])
        await pub.publish('keep', Buffer.alloc(7000, 1), { qos: 1, retain: true }) // would pass the bound: refused, the old value stays
        const check = await b.connect({ protocolVersion: v })
        await check.subscribe('keep', 1)
        assert.equal((await check.waitFor('publish')).payload.toString(), 'old value')
        await pollUntil(() => warnings.length > 0, 2000, 'the warning')
        warnings.length = 0
      })
    })
  }
})
