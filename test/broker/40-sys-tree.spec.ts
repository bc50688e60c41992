/**
 * The $SYS tree: Mosquitto 2.0's topic names, retained, published every sysInterval seconds and
 * only when a value changes; values after a known load; never written to the persistent store and
 * outside the retained limits; clients cannot publish under $SYS (bridge state topics aside); what
 * a client reads of it follows the ACL. The tests that only use MQTT also run against Mosquitto
 * 2.0.11 (HEARTH_BROKER_TARGET=mosquitto), which proves the names and the behaviour are Mosquitto's.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IPublishPacket } from 'mqtt-packet'
import { AclAuthorizer, FilePersistence, UserTableAuthenticator, type Broker } from '../../src/broker'
import { VERSIONS, assertPublish, sleep, spec, uniqueId, useHarness, type TestClient } from '../helpers'
import { pollUntil } from '../helpers/wait'
import { SYS_TOPICS } from '../helpers/sys-topics'
import { version as VERSION } from '../../package.json'

/** Every PUBLISH a client receives during `ms`, in order (the client must already be subscribed). */
async function collect (c: TestClient, ms: number): Promise<IPublishPacket[]> {
  await sleep(ms)
  return c.drain().filter((p): p is IPublishPacket => p.cmd === 'publish')
}

/** The $SYS values the broker holds now, by topic. */
function sysValues (broker: Broker): Map<string, string> {
  return new Map(broker.retained('$SYS/#').map(m => [m.topic, m.payload.toString()]))
}

/** Resolve once the broker published a $SYS round that started after this call. */
async function nextRound (broker: Broker): Promise<Map<string, string>> {
  const uptime = sysValues(broker).get('$SYS/broker/uptime')
  return pollUntil(() => {
    const v = sysValues(broker)
    return v.get('$SYS/broker/uptime') !== uptime ? v : undefined
  }, 5000, 'a new $SYS round')
}

describe('40 $SYS tree (Mosquitto 2.0 topic names)', function () {
  this.timeout(30000)
  const h = useHarness()

  it('publishes every topic Mosquitto 2.0 publishes, under the same names, retained (a new subscriber gets them all with RETAIN 1)', async function () {
    const b = await h.broker({ sysInterval: 1 })
    const first = await b.connect({ protocolVersion: 4 })
    await first.subscribe('k/#', 0) // a client and a subscription, so that every value has been published
    await sleep(1500)
    const sub = await b.connect({ protocolVersion: 4 })
    assert.deepEqual(await sub.subscribe('$SYS/#', 0), [0])
    const got = await collect(sub, 2500)
    const names = new Set(got.map(p => p.topic))
    assert.deepEqual([...names].sort(), [...SYS_TOPICS].sort())
    for (const t of SYS_TOPICS) assert.ok(got.some(p => p.topic === t && p.retain), `${t} arrived retained`)
  })

  it('publishes a value only when it changed: version and a value that stays 0 once, uptime at every interval', async function () {
    const b = await h.broker({ sysInterval: 1 })
    const sub = await b.connect({ protocolVersion: 4 })
    await sub.subscribe('$SYS/#', 0)
    const got = await collect(sub, 3500)
    const count = (t: string): number => got.filter(p => p.topic === `$SYS/broker/${t}`).length
    assert.equal(count('version'), 1, 'version: once')
    assert.equal(count('clients/expired'), 1, 'clients/expired stays 0: once')
    assert.equal(count('shared_subscriptions/count'), 1, 'shared_subscriptions/count stays 0: once')
    assert.equal(count('load/publish/dropped/15min'), 1, 'load/publish/dropped/15min stays 0.00: once')
    assert.ok(count('uptime') >= 3, `uptime at every interval, got ${count('uptime')} in 3.5 s`)
    const uptimes = got.filter(p => p.topic === '$SYS/broker/uptime').map(p => Number(/^(\d+) seconds$/.exec(p.payload.toString())?.[1]))
    assert.ok(uptimes.every((u, i) => Number.isInteger(u) && (i === 0 || u > uptimes[i - 1])), `uptime increases: ${uptimes.join(', ')}`)
  })

  it('sysInterval 0 turns the tree off', async function () {
    const b = await h.broker({ sysInterval: 0 })
    const sub = await b.connect({ protocolVersion: 4 })
    await sub.subscribe('$SYS/#', 0)
    await sub.expectNothing(1500, 'publish')
  })

  it('values after a known load: clients, packets of every type, PUBLISH and payload bytes, drops, subscriptions, retained and stored messages, loads', async function () {
    const b = await h.broker({ sysInterval: 1 })
    const broker = b.broker
    await nextRound(broker)
    const sockets: Socket[] = []
    const tcp = async (o: Parameters<typeof b.connect>[0]): Promise<TestClient> => {
      const c = await b.connect({ ...o, transport: 'tcp' })
      sockets.push(c.stream as Socket)
      return c
    }
    const sub = await tcp({ protocolVersion: 5 })
    await sub.subscribe('k/#', 1)
    const pub = await tcp({ protocolVersion: 4 })
    await pub.publish('k/a', 'abc', { qos: 1, retain: true })
    const m1 = await sub.waitFor('publish')
    assertPublish(m1, { topic: 'k/a', payload: 'abc', qos: 1 })
    await sub.ack(m1)
    await pub.publish('k/b', 'hello', { qos: 0 })
    assertPublish(await sub.waitFor('publish'), { topic: 'k/b', payload: 'hello' })
    await pub.publish('$SYS/broker/uptime', 'no', { qos: 1 }) // refused: acknowledged (3.1.1) and dropped
    const keep = await tcp({ protocolVersion: 5, clientId: uniqueId('keep'), clean: false, properties: { sessionExpiryInterval: 3600 } })
    await keep.subscribe('q/p', 1)
    keep.disconnect()
    await keep.closed
    await pub.publish('q/p', 'q', { qos: 1 }) // queued for the offline session
    pub.disconnect()
    await pub.closed
    await pollUntil(() => broker.metrics().clients.connected === 1, 5000, 'the publisher gone')

    const v = await nextRound(broker)
    const written = sockets.reduce((n, s) => n + s.bytesWritten, 0)
    const read = sockets.reduce((n, s) => n + s.bytesRead, 0)
    const sys = v.size
    assert.equal(sys, 53, 'every $SYS topic holds a value')
    const numbers: Record<string, string> = {}
    const loads: Record<string, string> = {}
    for (const [t, x] of v) {
      const name = t.slice('$SYS/broker/'.length)
      if (name.startsWith('load/')) loads[name] = x
      else if (!['version', 'uptime', 'heap/current', 'heap/maximum', 'store/messages/bytes'].includes(name)) numbers[name] = x
    }
    assert.deepEqual(numbers, {
      'clients/total': '2',
      'clients/maximum': '3',
      'clients/disconnected': '1',
      'clients/inactive': '1',
      'clients/connected': '1',
      'clients/active': '1',
      'clients/expired': '0',
      'messages/stored': String(1 + sys + 1),
      'store/messages/count': String(1 + sys + 1),
      'subscriptions/count': '2',
      'shared_subscriptions/count': '0',
      'retained messages/count': String(1 + sys),
      // CONNECT 3, SUBSCRIBE 2, PUBLISH 4, PUBACK 1, DISCONNECT 2
      'messages/received': '12',
      // CONNACK 3, SUBACK 2, PUBACK 3, PUBLISH 2
      'messages/sent': '10',
      'publish/messages/received': '4',
      'publish/messages/sent': '2',
      'publish/messages/dropped': '1',
      'publish/bytes/received': String(3 + 5 + 2 + 1),
      'publish/bytes/sent': String(3 + 5),
      'bytes/received': String(written),
      'bytes/sent': String(read),
    })
    assert.equal(v.get('$SYS/broker/version'), `hearth version ${VERSION}`)
    assert.match(v.get('$SYS/broker/uptime') ?? '', /^\d+ seconds$/)
    const heap = Number(v.get('$SYS/broker/heap/current'))
    assert.ok(heap > 0 && Number(v.get('$SYS/broker/heap/maximum')) >= heap, 'heap/current and heap/maximum')
    assert.ok(Number(v.get('$SYS/broker/store/messages/bytes')) > 3 + 3 + 1, 'store/messages/bytes')
    assert.equal(Object.keys(loads).length, 27)
    for (const [name, x] of Object.entries(loads)) assert.match(x, /^\d+\.\d\d$/, name)
    assert.ok(Number(loads['load/publish/received/1min']) > 0 && Number(loads['load/connections/1min']) > 0, 'the load averages moved')
  })

  for (const v of VERSIONS) {
    it(`${spec(v, null, null, '§4.7.2')} a client cannot publish under $SYS: ${v === 5 ? 'PUBACK/PUBREC 0x87' : 'acknowledged and dropped'}, the values stay; a bridge state topic $SYS/broker/connection/<id>/state is allowed`, async function () {
      const b = await h.broker({ sysInterval: 1 })
      const watcher = await b.connect({ protocolVersion: v })
      await watcher.subscribe('$SYS/#', 0)
      const pub = await b.connect({ protocolVersion: v })
      const ack1 = await pub.publish('$SYS/broker/uptime', 'no', { qos: 1, retain: true })
      const ack2 = await pub.publish('$SYS/hack', 'no', { qos: 2, retain: true })
      await pub.publish('$SYS', 'no', { qos: 0, retain: true })
      if (v === 5) {
        assert.deepEqual([ack1?.cmd, (ack1 as { reasonCode?: number }).reasonCode], ['puback', 0x87])
        assert.deepEqual([ack2?.cmd, (ack2 as { reasonCode?: number }).reasonCode], ['pubrec', 0x87])
      } else {
        assert.deepEqual([ack1?.cmd, ack2?.cmd], ['puback', 'pubcomp'])
      }
      const ok = await pub.publish('$SYS/broker/connection/br1/state', '1', { qos: 1, retain: true })
      assert.equal(ok?.cmd, 'puback')
      assert.ok(((ok as { reasonCode?: number }).reasonCode ?? 0) < 0x80, 'the bridge state is accepted')
      const got = await collect(watcher, 1500)
      assert.deepEqual(got.filter(p => p.payload.toString() === 'no'), [], 'nothing a client published under $SYS reached a subscriber')
      assert.ok(got.some(p => p.topic === '$SYS/broker/connection/br1/state' && p.payload.toString() === '1'), 'the bridge state reached the subscriber')
      const late = await b.connect({ protocolVersion: v })
      await late.subscribe([{ topic: '$SYS/hack', qos: 0 }, { topic: '$SYS', qos: 0 }, { topic: '$SYS/broker/connection/+/state', qos: 0 }])
      const retained = await collect(late, 500)
      assert.deepEqual(retained.map(p => [p.topic, p.payload.toString(), p.retain]), [['$SYS/broker/connection/br1/state', '1', true]])
    })
  }

  it('a will under $SYS is not published', async function () {
    const b = await h.broker({ sysInterval: 1 })
    const watcher = await b.connect({ protocolVersion: 4 })
    await watcher.subscribe('$SYS/#', 0)
    const c = await b.connect({ protocolVersion: 4, will: { topic: '$SYS/broker/version', payload: Buffer.from('will'), qos: 0, retain: true } })
    c.destroy()
    const got = await collect(watcher, 1500)
    assert.deepEqual(got.filter(p => p.payload.toString() === 'will'), [])
  })

  it('an in-process client cannot publish under $SYS either (0x87)', async function () {
    const b = await h.broker({ sysInterval: 1 })
    const local = await b.local()
    await assert.rejects(local.publish({ topic: '$SYS/broker/uptime', payload: Buffer.from('no'), qos: 1, retain: true }), (e: { reasonCode?: number }) => e.reasonCode === 0x87)
    await local.publish({ topic: '$SYS/broker/connection/local1/state', payload: Buffer.from('1'), qos: 1, retain: true })
    assert.equal(sysValues(b.broker).get('$SYS/broker/connection/local1/state'), '1')
  })

  it('$SYS values are never written to the persistent store, even for persistent sessions subscribed to $SYS at QoS 1 and 2', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-sys-'))
    h.track(() => rm(dir, { recursive: true, force: true }))
    const fp = new FilePersistence({ dir })
    const b = await h.broker({ sysInterval: 1, persistence: fp })
    const persistent = (id: string): Parameters<typeof b.connect>[0] => ({ protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 3600 } })
    const online = await b.connect(persistent(uniqueId('on')))
    await online.subscribe('$SYS/#', 1)
    const offId = uniqueId('off')
    const offline = await b.connect(persistent(offId))
    await offline.subscribe('$SYS/#', 2)
    offline.disconnect()
    await offline.closed
    await nextRound(b.broker)
    await fp.sync()
    const files = async (): Promise<string[]> => {
      const out: string[] = []
      for (const f of (await readdir(dir)).sort()) {
        const s = await stat(join(dir, f))
        out.push(`${f} ${s.size} ${s.mtimeMs} ${s.ino}`)
      }
      return out
    }
    const before = await files()
    const writes = fp.stats().writes
    for (let i = 0; i < 3; i++) await nextRound(b.broker)
    online.autoAck = true
    assert.ok((await collect(online, 100)).length > 0, 'the connected subscriber gets the $SYS values')
    assert.deepEqual(await files(), before, 'the store folder is untouched over three $SYS rounds')
    assert.equal(fp.stats().writes, writes, 'no write to the log')
    await b.broker.close()
    const again = new FilePersistence({ dir })
    const state = await again.open()
    await again.close()
    assert.deepEqual(state.retained.map(m => m.topic), [])
    assert.deepEqual(state.sessions.find(s => s.clientId === offId)?.outgoing, [], 'nothing was queued for the offline session')
  })

  it('$SYS values do not count against maxRetainedMessages and maxRetainedBytes', async function () {
    const b = await h.broker({ sysInterval: 1, maxRetainedMessages: 2, maxRetainedBytes: 64 })
    await nextRound(b.broker)
    assert.ok(b.broker.metrics().retained.sys >= 53, 'the $SYS values are retained')
    const pub = await b.connect({ protocolVersion: 5 })
    const codes: number[] = []
    for (const t of ['r/1', 'r/2', 'r/3']) codes.push((await pub.publish(t, 'x', { qos: 1, retain: true }) as { reasonCode?: number }).reasonCode ?? 0)
    assert.deepEqual(codes, [0, 0, 0x97], 'two retained messages fit; the third is over maxRetainedMessages')
    assert.deepEqual({ retained: b.broker.stats().retained, messages: b.broker.metrics().retained.messages, bytes: b.broker.metrics().retained.bytes }, { retained: 2, messages: 2, bytes: 2 * 4 })
    await nextRound(b.broker)
    assert.equal(sysValues(b.broker).get('$SYS/broker/retained messages/count'), String(2 + 53), 'Mosquitto\'s count includes $SYS')
  })

  it('what a client reads of $SYS follows the ACL', async function () {
    const acl = new AclAuthorizer('user alice\ntopic read $SYS/broker/uptime\ntopic read $SYS/broker/clients/#\n\nuser bob\ntopic readwrite other/#\n')
    const b = await h.broker({ sysInterval: 1, authenticate: new UserTableAuthenticator({ alice: 'a', bob: 'b' }), authorize: acl })
    const alice = await b.connect({ protocolVersion: 5, username: 'alice', password: 'a' })
    assert.deepEqual(await alice.subscribe('$SYS/#', 0), [0])
    const bob = await b.connect({ protocolVersion: 5, username: 'bob', password: 'b' })
    assert.deepEqual(await bob.subscribe([{ topic: '$SYS/#', qos: 0 }, { topic: 'other/#', qos: 0 }]), [0x87, 0])
    const got = await collect(alice, 2500)
    const names = [...new Set(got.map(p => p.topic))].sort()
    assert.deepEqual(names, [
      'active', 'connected', 'disconnected', 'expired', 'inactive', 'maximum', 'total',
    ].map(x => `$SYS/broker/clients/${x}`).concat('$SYS/broker/uptime').sort())
    assert.ok(got.filter(p => p.topic === '$SYS/broker/uptime').length >= 2, 'uptime, retained and then live')
    await bob.expectNothing(100, 'publish')
  })
})
