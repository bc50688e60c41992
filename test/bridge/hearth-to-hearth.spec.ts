/*
 * Hearth bridging to Hearth, over real TCP, with MQTT.js clients on both sides: topic rules
 * (directions, prefixes, QoS) as Mosquitto's, no loops, retained messages both ways, the state
 * topic, the fallback from MQTT 5 to 3.1.1, the bounded queue, and nothing acknowledged lost when
 * the remote is away or the local broker restarts (FilePersistence).
 */
import assert from 'node:assert/strict'
import { FilePersistence, MemoryPersistence, type Persistence } from '../../src/broker'
import type { BridgeConfig, BridgeStatus, BridgeTopic } from '../../src/bridge'
import { counts, inState, pollUntil, retainedOf, sleep, useFixture, type HearthNode, type Peer } from './helpers'

interface Case {
  name: string
  rule: BridgeTopic
  from: 'local' | 'remote'
  topic: string
  qos: 0 | 1 | 2
  /** What a '#' subscriber (QoS 2) on the other side gets; null: nothing. */
  expect: { topic: string, qos: number } | null
}

// Mosquitto's topic rules (mosquitto.conf(5) `topic`): direction, QoS, local and remote prefix.
const CASES: Case[] = [
  { name: 'out (default): local -> remote, same topic', rule: { pattern: 'home/#', qos: 1 }, from: 'local', topic: 'home/a', qos: 1, expect: { topic: 'home/a', qos: 1 } },
  { name: 'out: nothing comes in', rule: { pattern: 'home/#', direction: 'out', qos: 1 }, from: 'remote', topic: 'home/a', qos: 1, expect: null },
  { name: 'in: remote -> local', rule: { pattern: 'home/#', direction: 'in', qos: 1 }, from: 'remote', topic: 'home/a', qos: 1, expect: { topic: 'home/a', qos: 1 } },
  { name: 'in: nothing goes out', rule: { pattern: 'home/#', direction: 'in', qos: 1 }, from: 'local', topic: 'home/a', qos: 1, expect: null },
  { name: 'both: local -> remote', rule: { pattern: 'home/#', direction: 'both', qos: 1 }, from: 'local', topic: 'home/a', qos: 1, expect: { topic: 'home/a', qos: 1 } },
  { name: 'both: remote -> local', rule: { pattern: 'home/#', direction: 'both', qos: 1 }, from: 'remote', topic: 'home/a', qos: 1, expect: { topic: 'home/a', qos: 1 } },
  { name: 'a topic outside the pattern does not cross', rule: { pattern: 'home/#', direction: 'both', qos: 1 }, from: 'local', topic: 'garden/a', qos: 1, expect: null },
  { name: 'out with prefixes: local prefix removed, remote prefix added', rule: { pattern: 'sensor/#', direction: 'out', qos: 1, localPrefix: 'house/', remotePrefix: 'site/1/' }, from: 'local', topic: 'house/sensor/t', qos: 1, expect: { topic: 'site/1/sensor/t', qos: 1 } },
  { name: 'out with prefixes: without the local prefix it does not cross', rule: { pattern: 'sensor/#', direction: 'out', qos: 1, localPrefix: 'house/', remotePrefix: 'site/1/' }, from: 'local', topic: 'sensor/t', qos: 1, expect: null },
  { name: 'in with prefixes: remote prefix removed, local prefix added', rule: { pattern: 'cmd/#', direction: 'in', qos: 1, localPrefix: 'house/', remotePrefix: 'site/1/' }, from: 'remote', topic: 'site/1/cmd/light', qos: 1, expect: { topic: 'house/cmd/light', qos: 1 } },
  { name: 'local prefix only', rule: { pattern: 'x/#', direction: 'out', qos: 1, localPrefix: 'L/' }, from: 'local', topic: 'L/x/1', qos: 1, expect: { topic: 'x/1', qos: 1 } },
  { name: 'remote prefix only', rule: { pattern: 'x/#', direction: 'in', qos: 1, remotePrefix: 'R/' }, from: 'remote', topic: 'R/x/1', qos: 1, expect: { topic: 'x/1', qos: 1 } },
  { name: 'empty pattern: one topic renamed, out', rule: { pattern: '', direction: 'both', qos: 1, localPrefix: 'local/one', remotePrefix: 'remote/one' }, from: 'local', topic: 'local/one', qos: 1, expect: { topic: 'remote/one', qos: 1 } },
  { name: 'empty pattern: one topic renamed, in', rule: { pattern: '', direction: 'both', qos: 1, localPrefix: 'local/one', remotePrefix: 'remote/one' }, from: 'remote', topic: 'remote/one', qos: 1, expect: { topic: 'local/one', qos: 1 } },
  { name: 'empty pattern: another topic does not cross', rule: { pattern: '', direction: 'both', qos: 1, localPrefix: 'local/one', remotePrefix: 'remote/one' }, from: 'local', topic: 'local/two', qos: 1, expect: null },
  { name: "'#' matches its parent level: 'a' -> 'b' with prefixes a/ and b/", rule: { pattern: '#', direction: 'out', qos: 1, localPrefix: 'a/', remotePrefix: 'b/' }, from: 'local', topic: 'a', qos: 1, expect: { topic: 'b', qos: 1 } },
  { name: "'+' pattern", rule: { pattern: '+/state', direction: 'out', qos: 1 }, from: 'local', topic: 'lamp/state', qos: 1, expect: { topic: 'lamp/state', qos: 1 } },
  { name: 'QoS: the rule QoS caps an out message (2 -> 1)', rule: { pattern: 'q/#', direction: 'out', qos: 1 }, from: 'local', topic: 'q/a', qos: 2, expect: { topic: 'q/a', qos: 1 } },
  { name: 'QoS: the rule QoS caps an in message (1 -> 0, the default)', rule: { pattern: 'q/#', direction: 'in' }, from: 'remote', topic: 'q/a', qos: 1, expect: { topic: 'q/a', qos: 0 } },
  { name: 'QoS 2 crosses as QoS 2 out', rule: { pattern: 'q/#', direction: 'out', qos: 2 }, from: 'local', topic: 'q/a', qos: 2, expect: { topic: 'q/a', qos: 2 } },
  { name: 'QoS 2 crosses as QoS 2 in', rule: { pattern: 'q/#', direction: 'in', qos: 2 }, from: 'remote', topic: 'q/a', qos: 2, expect: { topic: 'q/a', qos: 2 } },
  { name: "'#' does not carry $SYS topics [MQTT-4.7.2-1]", rule: { pattern: '#', direction: 'out', qos: 1 }, from: 'local', topic: '$SYS/x', qos: 1, expect: null },
]

describe('bridge: Hearth to Hearth', function () {
  this.timeout(20000)
  const f = useFixture()

  async function pair (topics: BridgeTopic[], extra: Partial<BridgeConfig> = {}): Promise<{ local: HearthNode, remote: HearthNode, config: BridgeConfig }> {
    const remote = await f.hearth()
    const local = await f.hearth()
    const config: BridgeConfig = { name: 'hh', url: remote.url, restartTimeout: 0.2, topics, ...extra }
    const b = f.bridge(local.broker, config)
    await inState(b, 'connected')
    return { local, remote, config }
  }

  describe('topic rules (table)', function () {
    for (const c of CASES) {
      it(c.name, async function () {
        const { local, remote } = await pair([c.rule])
        const [src, dst] = c.from === 'local' ? [local, remote] : [remote, local]
        const watch = await f.peer(dst.url, {}, [{ topic: '#', qos: 2 }, { topic: '$SYS/x', qos: 2 }])
        if (c.topic.startsWith('$SYS/')) { // clients may not publish under $SYS: the broker itself does
          await src.broker.publish({ topic: c.topic, payload: Buffer.from('m'), qos: c.qos as 0 | 1 | 2, retain: false })
        } else {
          const pub = await f.peer(src.url)
          await pub.client.publishAsync(c.topic, 'm', { qos: c.qos })
        }
        if (c.expect === null) {
          await sleep(300)
          assert.deepEqual(watch.got, [])
        } else {
          await pollUntil(() => watch.got.length >= 1, 3000, 'the message across')
          await sleep(100)
          assert.deepEqual(watch.got, [{ topic: c.expect.topic, payload: 'm', qos: c.expect.qos, retain: false, dup: false }])
        }
      })
    }
  })

  describe('no loops: each message arrives once per subscriber', function () {
    for (const protocolVersion of [5, 4, 3] as const) {
      it(`direction both on '#' with subscribers on both sides (MQTT ${protocolVersion === 5 ? '5: No Local' : protocolVersion === 4 ? '3.1.1: bridge bit 0x84' : '3.1: bridge bit 0x83'})`, async function () {
        const { local, remote } = await pair([{ pattern: 'loop/#', direction: 'both', qos: 1 }], { protocolVersion })
        const atLocal = await f.peer(local.url, {}, [{ topic: 'loop/#', qos: 1 }])
        const atRemote = await f.peer(remote.url, {}, [{ topic: 'loop/#', qos: 1 }])
        const pubL = await f.peer(local.url)
        const pubR = await f.peer(remote.url)
        const N = 20
        for (let i = 0; i < N; i++) {
          await pubL.client.publishAsync('loop/l', `L${i}`, { qos: 1 })
          await pubR.client.publishAsync('loop/r', `R${i}`, { qos: 1 })
        }
        await pollUntil(() => atLocal.got.length >= 2 * N && atRemote.got.length >= 2 * N, 5000, 'every message on both sides')
        await sleep(300) // a loop would keep messages coming
        for (const [side, peer] of [['local', atLocal], ['remote', atRemote]] as Array<[string, Peer]>) {
          const c = counts(peer.got)
          assert.equal(peer.got.length, 2 * N, `${side}: ${peer.got.length} messages`)
          for (let i = 0; i < N; i++) {
            assert.equal(c.get(`L${i}`), 1, `${side} got L${i} ${c.get(`L${i}`) ?? 0} times`)
            assert.equal(c.get(`R${i}`), 1, `${side} got R${i} ${c.get(`R${i}`) ?? 0} times`)
          }
        }
      })
    }
  })

  it('MQTT 5 properties cross both ways as they were published; over a 3.1.1 link there are none', async function () {
    const props = {
      payloadFormatIndicator: true,
      messageExpiryInterval: 3600,
      contentType: 'text/plain',
      responseTopic: 'pr/reply',
      correlationData: Buffer.from('c-17'),
      userProperties: { a: '1', b: ['2', '3'] },
    }
    const { local, remote } = await pair([{ pattern: 'pr/#', direction: 'both', qos: 1 }])
    const atRemote = await f.peer(remote.url, {}, [{ topic: 'pr/out', qos: 1 }])
    const atLocal = await f.peer(local.url, {}, [{ topic: 'pr/in', qos: 1 }])
    await (await f.peer(local.url)).client.publishAsync('pr/out', 'o', { qos: 1, properties: props })
    await (await f.peer(remote.url)).client.publishAsync('pr/in', 'i', { qos: 1, properties: props })
    await pollUntil(() => atRemote.got.length === 1 && atLocal.got.length === 1, 3000, 'both messages')
    assert.deepEqual(atRemote.got, [{ topic: 'pr/out', payload: 'o', qos: 1, retain: false, dup: false, properties: props }])
    assert.deepEqual(atLocal.got, [{ topic: 'pr/in', payload: 'i', qos: 1, retain: false, dup: false, properties: props }])

    const v4 = await pair([{ pattern: 'pr/#', direction: 'out', qos: 1 }], { protocolVersion: 4 })
    const w = await f.peer(v4.remote.url, {}, [{ topic: 'pr/out', qos: 1 }])
    await (await f.peer(v4.local.url)).client.publishAsync('pr/out', 'o', { qos: 1, properties: props })
    await pollUntil(() => w.got.length === 1, 3000, 'the message over 3.1.1')
    assert.deepEqual(w.got, [{ topic: 'pr/out', payload: 'o', qos: 1, retain: false, dup: false }])
  })

  it('retained messages cross in both directions, also those set before the bridge connected; after a reconnection none comes back', async function () {
    const remote = await f.hearth()
    const local = await f.hearth()
    const pl = await f.peer(local.url)
    const pr = await f.peer(remote.url)
    await pl.client.publishAsync('ret/before-l', 'bl', { qos: 1, retain: true })
    await pr.client.publishAsync('ret/before-r', 'br', { qos: 1, retain: true })
    const b = f.bridge(local.broker, { name: 'rt', url: remote.url, restartTimeout: 0.2, topics: [{ pattern: 'ret/#', direction: 'both', qos: 1 }] })
    await inState(b, 'connected')
    await pl.client.publishAsync('ret/live-l', 'll', { qos: 1, retain: true })
    await pr.client.publishAsync('ret/live-r', 'lr', { qos: 1, retain: true })
    const all = { 'ret/before-l': 'bl', 'ret/before-r': 'br', 'ret/live-l': 'll', 'ret/live-r': 'lr' }
    await pollUntil(() => Object.keys(retainedOf(local.broker)).length === 4 && Object.keys(retainedOf(remote.broker)).length === 4, 3000, 'retained on both sides')
    assert.deepEqual(retainedOf(local.broker), all)
    assert.deepEqual(retainedOf(remote.broker), all)
    // a retained message that reaches a new subscriber carries RETAIN 1 on the other side
    const late = await f.peer(remote.url, {}, [{ topic: 'ret/live-l', qos: 1 }])
    await pollUntil(() => late.got.length === 1, 2000, 'the retained message')
    assert.deepEqual(late.got, [{ topic: 'ret/live-l', payload: 'll', qos: 1, retain: true, dup: false }])

    // watchers, then a reconnection: the remote's values come in again, the local ones go out again, none bounces back
    const wl = await f.peer(local.url, {}, [{ topic: 'ret/#', qos: 1 }])
    const wr = await f.peer(remote.url, {}, [{ topic: 'ret/#', qos: 1 }])
    await pollUntil(() => wl.got.length === 4 && wr.got.length === 4, 2000, 'the retained replay to the watchers')
    wl.got.length = 0
    wr.got.length = 0
    assert.equal(remote.broker.disconnectClient(b.status().clientId), true)
    await inState(b, 'disconnected')
    await inState(b, 'connected')
    await sleep(300)
    const topics = (p: Peer): string[] => p.got.map(r => r.topic).sort()
    assert.deepEqual(topics(wl), ['ret/before-r', 'ret/live-r'], 'local side: the remote values again, never its own back')
    assert.deepEqual(topics(wr), ['ret/before-l', 'ret/live-l'], 'remote side: the local values again, never its own back')
    assert.deepEqual(retainedOf(local.broker), all)
    assert.deepEqual(retainedOf(remote.broker), all)
  })

  it('the state: status() and the state topic, 1 while connected, 0 through the will when the link fails, 0 on close', async function () {
    const remote = await f.hearth()
    const local = await f.hearth()
    const states: BridgeStatus[] = []
    const b = f.bridge(local.broker, { name: 'st', url: remote.url, clientId: 'st.house', restartTimeout: 0.3, topics: [{ pattern: 's/#' }] })
    b.on('state', s => states.push(s))
    const topic = '$SYS/broker/connection/st.house/state'
    await inState(b, 'connected')
    const at = (n: HearthNode): string | undefined => retainedOf(n.broker, topic)[topic]
    await pollUntil(() => at(remote) === '1' && at(local) === '1', 2000, 'state 1 on both sides')
    const s = b.status()
    assert.deepEqual({ ...s, since: 0, url: '' }, {
      name: 'st', state: 'connected', url: '', clientId: 'st.house', localClientId: 'local.st.house', protocolVersion: 5, since: 0,
      sessionPresent: false, messagesIn: 0, messagesOut: 0, dropped: 0, pending: 0, queued: 0,
    })
    // the remote drops the link (not a DISCONNECT from the bridge): its will says 0 there
    const watch = await f.peer(remote.url, {}, [{ topic, qos: 1 }])
    await pollUntil(() => watch.got.length === 1, 2000, 'the retained state')
    remote.broker.disconnectClient('st.house')
    await pollUntil(() => watch.got.some(r => r.payload === '0'), 2000, 'state 0 at the remote (will)')
    await pollUntil(() => at(local) === '0' || b.state === 'connected', 2000, 'state 0 locally')
    await inState(b, 'connected')
    await pollUntil(() => at(remote) === '1' && at(local) === '1', 2000, 'state 1 again')
    assert.deepEqual(states.map(x => x.state).slice(0, 4), ['connecting', 'connected', 'disconnected', 'connecting'])
    const down = states.find(x => x.state === 'disconnected') as BridgeStatus
    assert.equal(down.lastError?.code, 'DISCONNECTED')
    assert.equal(down.lastError?.reasonCode, 0x98)
    assert.ok(down.retryAt !== undefined && down.retryAt >= down.since)
    await b.close()
    assert.equal(b.state, 'closed')
    await pollUntil(() => at(remote) === '0' && at(local) === '0', 2000, 'state 0 on both sides after close')
  })

  it('the bridge stops with its broker, and says 0 at the remote', async function () {
    const remote = await f.hearth()
    const local = await f.hearth()
    const b = f.bridge(local.broker, { name: 'end', url: remote.url, clientId: 'end.house', restartTimeout: 0.2, topics: [{ pattern: 'e/#' }] })
    await inState(b, 'connected')
    const topic = '$SYS/broker/connection/end.house/state'
    await pollUntil(() => retainedOf(remote.broker, topic)[topic] === '1', 2000, 'state 1 at the remote')
    await local.broker.close()
    await inState(b, 'closed')
    await pollUntil(() => retainedOf(remote.broker, topic)[topic] === '0', 2000, 'state 0 at the remote')
    assert.equal(remote.broker.clients().some(c => c.clientId === 'end.house'), false)
  })

  it('protocolVersion left out: MQTT 5, then 3.1.1 when the remote refuses 5; an explicit 5 does not fall back', async function () {
    const remote = await f.hearth({ protocols: [3, 4] })
    const local = await f.hearth()
    const warnings: string[] = []
    const b = f.bridge(local.broker, { name: 'fb', url: remote.url, restartTimeout: 0.2, topics: [{ pattern: 'fb/#', direction: 'both', qos: 1 }] })
    b.on('warning', w => warnings.push(w.message))
    await inState(b, 'connected')
    assert.equal(b.status().protocolVersion, 4)
    assert.equal(remote.broker.clients().find(c => c.clientId === b.status().clientId)?.protocolVersion, 4)
    assert.ok(warnings.some(w => w.includes('refused MQTT 5')), warnings.join('; '))
    // and it works, without loops (the bridge bit)
    const atRemote = await f.peer(remote.url, { protocolVersion: 4 }, [{ topic: 'fb/#', qos: 1 }])
    const pubL = await f.peer(local.url)
    await pubL.client.publishAsync('fb/x', 'x', { qos: 1 })
    await pollUntil(() => atRemote.got.length === 1, 2000, 'the message at the remote')
    await sleep(200)
    assert.deepEqual(atRemote.got, [{ topic: 'fb/x', payload: 'x', qos: 1, retain: false, dup: false }])

    const strict = f.bridge(local.broker, { name: 'fb5', url: remote.url, protocolVersion: 5, restartTimeout: 5, topics: [{ pattern: 'fb/#' }] })
    await inState(strict, 'disconnected')
    assert.deepEqual({ ...strict.status().lastError, message: '' }, { code: 'REFUSED', message: '', reasonCode: 0x84 })
    assert.equal(strict.status().protocolVersion, 5)
  })

  it('the queue is bounded and counted like any session\'s: beyond what the bridge holds, maxQueuedMessages, then dropped (queue-full)', async function () {
    const remote = await f.hearth()
    const local = await f.hearth({ maxQueuedMessages: 5 })
    const port = remote.port
    await remote.broker.close()
    const b = f.bridge(local.broker, { name: 'q', url: `mqtt://127.0.0.1:${port}`, restartTimeout: 30, topics: [{ pattern: 'q/#', qos: 1 }] })
    await inState(b, 'disconnected')
    const drops: string[] = []
    local.broker.on('messageDropped', d => { if (d.clientId === b.status().localClientId) drops.push(d.reason) })
    const pub = await f.peer(local.url)
    for (let i = 0; i < 110; i++) await pub.client.publishAsync('q/m', String(i), { qos: 1 })
    await pollUntil(() => drops.length === 5, 2000, 'five drops')
    const info = local.broker.clients().find(c => c.clientId === b.status().localClientId)
    assert.deepEqual({ inflight: info?.inflight, queued: info?.queued, pending: b.status().pending, inQueue: b.status().queued, drops }, {
      inflight: 100, queued: 5, pending: 100, inQueue: 5, drops: ['queue-full', 'queue-full', 'queue-full', 'queue-full', 'queue-full'],
    })
  })

  it('an incoming message is acknowledged to the remote only once the local broker has it durable', async function () {
    // a persistence whose durability barrier the test opens
    let open: () => void = () => {}
    let gate: Promise<void> | undefined
    const gated: Persistence = Object.assign(Object.create(new MemoryPersistence()) as Persistence, { sync: (): Promise<void> | undefined => gate })
    const remote = await f.hearth()
    const local = await f.hearth({ persistence: gated })
    const b = f.bridge(local.broker, { name: 'ack', url: remote.url, clientId: 'ack.in', restartTimeout: 0.2, topics: [{ pattern: 'a/#', direction: 'in', qos: 1 }] })
    await inState(b, 'connected')
    const atLocal = await f.peer(local.url, {}, [{ topic: 'a/#', qos: 1 }])
    gate = new Promise<void>(resolve => { open = resolve })
    const pub = await f.peer(remote.url)
    await pub.client.publishAsync('a/x', 'x', { qos: 1 })
    const inflightAtRemote = (): number | undefined => remote.broker.clients().find(c => c.clientId === 'ack.in')?.inflight
    await pollUntil(() => atLocal.got.length === 1, 2000, 'the message routed locally')
    await sleep(200)
    assert.equal(inflightAtRemote(), 1, 'no PUBACK while the local broker has not made it durable')
    open()
    gate = undefined
    await pollUntil(() => inflightAtRemote() === 0, 2000, 'the PUBACK once durable')
  })

  it('an outgoing message stays in flight in the local session until the remote has acknowledged it', async function () {
    const remote = await f.hearth()
    const proxy = await f.proxy(remote.port)
    const local = await f.hearth()
    const b = f.bridge(local.broker, { name: 'ackout', url: `mqtt://127.0.0.1:${proxy.port}`, restartTimeout: 0.2, topics: [{ pattern: 'o/#', qos: 1 }] })
    await inState(b, 'connected')
    const atRemote = await f.peer(remote.url, {}, [{ topic: 'o/#', qos: 1 }])
    const localSide = (): { inflight: number, queued: number } | undefined => {
      const c = local.broker.clients().find(x => x.clientId === b.status().localClientId)
      return c === undefined ? undefined : { inflight: c.inflight, queued: c.queued }
    }
    proxy.holdReplies(true)
    const pub = await f.peer(local.url)
    await pub.client.publishAsync('o/x', 'x', { qos: 1 })
    await pollUntil(() => atRemote.got.length === 1, 2000, 'the message at the remote')
    await sleep(200)
    assert.deepEqual({ local: localSide(), pending: b.status().pending }, { local: { inflight: 1, queued: 0 }, pending: 1 })
    proxy.holdReplies(false)
    await pollUntil(() => localSide()?.inflight === 0, 2000, 'released once the PUBACK is in')
    assert.equal(b.status().pending, 0)
  })

  it('QoS 2 stays exactly once across a restart of the local broker with messages in flight: resent under the same packet identifiers [MQTT-4.3.3-9]', async function () {
    const dir = f.tempDir()
    const remote = await f.hearth()
    const proxy = await f.proxy(remote.port)
    const config: BridgeConfig = { name: 'q2', url: `mqtt://127.0.0.1:${proxy.port}`, restartTimeout: 0.2, topics: [{ pattern: 'x/#', qos: 2 }] }
    let local = await f.hearth({ persistence: new FilePersistence({ dir }) })
    let b = f.bridge(local.broker, config)
    await inState(b, 'connected')
    const watcher = await f.peer(remote.url, {}, [{ topic: 'x/#', qos: 2 }])
    proxy.holdReplies(true) // the remote gets the messages; its PUBRECs do not come back
    const pub = await f.peer(local.url)
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(`x/${i}`, `m${i}`, { qos: 2 })
    await pollUntil(() => watcher.got.length === 5, 3000, 'the messages at the remote')
    assert.equal(b.status().pending, 5)
    await b.close()
    await pub.client.endAsync()
    await local.broker.close()
    proxy.cut() // what was held is lost with the connection
    proxy.holdReplies(false)
    local = await f.hearth({ persistence: new FilePersistence({ dir }) }, local.port)
    b = f.bridge(local.broker, config)
    await inState(b, 'connected')
    const localSide = (): number | undefined => local.broker.clients().find(c => c.clientId === b.status().localClientId)?.inflight
    await pollUntil(() => localSide() === 0 && b.status().pending === 0, 3000, 'the exchanges completed')
    await sleep(200)
    assert.deepEqual(watcher.got.map(r => `${r.topic}=${r.payload}@${r.qos}`), Array.from({ length: 5 }, (_, i) => `x/${i}=m${i}@2`))
  })

  it('incoming QoS 2 stays exactly once across a restart of the local broker: the resent PUBLISH is recognised by its packet identifier [MQTT-4.3.3-9]', async function () {
    const dir = f.tempDir()
    const remote = await f.hearth()
    const proxy = await f.proxy(remote.port)
    const config: BridgeConfig = { name: 'q2in', url: `mqtt://127.0.0.1:${proxy.port}`, restartTimeout: 0.2, topics: [{ pattern: 'y/#', direction: 'in', qos: 2 }] }
    let local = await f.hearth({ persistence: new FilePersistence({ dir }) })
    let b = f.bridge(local.broker, config)
    await inState(b, 'connected')
    let atLocal = await f.peer(local.url, { clientId: 'w', clean: false, protocolVersion: 4 }, [{ topic: 'y/#', qos: 2 }])
    const got: string[] = []
    atLocal.client.on('message', (t, p) => got.push(`${t}=${p.toString()}`))
    proxy.holdRequests(true) // the bridge gets the messages; its PUBRECs do not reach the remote
    const pub = await f.peer(remote.url)
    for (let i = 0; i < 5; i++) void pub.client.publishAsync(`y/${i}`, `m${i}`, { qos: 2 }).catch(() => undefined)
    await pollUntil(() => got.length === 5, 3000, 'the messages here')
    await atLocal.client.endAsync()
    await b.close()
    await local.broker.close()
    proxy.cut() // what was held is lost with the connection
    proxy.holdRequests(false)
    local = await f.hearth({ persistence: new FilePersistence({ dir }) }, local.port)
    atLocal = await f.peer(local.url, { clientId: 'w', clean: false, protocolVersion: 4 })
    atLocal.client.on('message', (t, p) => got.push(`${t}=${p.toString()}`))
    b = f.bridge(local.broker, config)
    await inState(b, 'connected')
    await pollUntil(() => remote.broker.clients().find(c => c.clientId === b.status().clientId)?.inflight === 0, 3000, 'the exchanges completed at the remote')
    await sleep(300)
    assert.deepEqual(got, Array.from({ length: 5 }, (_, i) => `y/${i}=m${i}`))
  })

  it('QoS 0 waiting for a slow remote is bounded (1000 messages), the rest dropped and counted', async function () {
    const remote = await f.hearth()
    const proxy = await f.proxy(remote.port)
    const local = await f.hearth()
    const b = f.bridge(local.broker, { name: 'slow', url: `mqtt://127.0.0.1:${proxy.port}`, restartTimeout: 0.2, topics: [{ pattern: 'z/#' }] })
    await inState(b, 'connected')
    proxy.holdRequests(true) // the remote reads nothing more: the link's buffers fill, then the bridge holds what waits
    const payload = Buffer.alloc(8192, 0x61)
    const N = 4000
    for (let i = 0; i < N; i++) await local.broker.publish({ topic: 'z/x', payload, qos: 0, retain: false })
    const s = b.status()
    assert.equal(s.pending, 1000)
    assert.ok(s.dropped > 0 && s.messagesOut + s.pending + s.dropped === N, JSON.stringify(s))
  })

  it('nothing acknowledged is lost while the remote is away and across a restart of the local broker (FilePersistence)', async function () {
    const dir = f.tempDir()
    const remote = await f.hearth()
    const proxy = await f.proxy(remote.port)
    const topics: BridgeTopic[] = [{ pattern: 'p/#', direction: 'both', qos: 1 }, { pattern: 'p2/#', direction: 'out', qos: 2 }]
    const config: BridgeConfig = { name: 'pf', url: `mqtt://127.0.0.1:${proxy.port}`, restartTimeout: 0.2, topics }
    let local = await f.hearth({ persistence: new FilePersistence({ dir }) })
    let b = f.bridge(local.broker, config)
    await inState(b, 'connected')
    const watcher = await f.peer(remote.url, { clientId: 'watcher', clean: false, protocolVersion: 4 }, [{ topic: 'p/#', qos: 1 }, { topic: 'p2/#', qos: 2 }])
    // the remote becomes unreachable
    proxy.setDown(true)
    await inState(b, 'disconnected')
    // meanwhile messages are published and acknowledged on both sides
    const pub = await f.peer(local.url)
    for (let i = 0; i < 30; i++) await pub.client.publishAsync('p/out', `o${i}`, { qos: 1 })
    for (let i = 0; i < 10; i++) await pub.client.publishAsync('p2/out', `x${i}`, { qos: 2 })
    const rp = await f.peer(remote.url)
    for (let i = 0; i < 20; i++) await rp.client.publishAsync('p/in', `i${i}`, { qos: 1 })
    assert.equal(b.status().pending, 40, 'the outgoing QoS 1/2 messages wait for the remote')
    // the local broker restarts from its files, with a new bridge, while the remote is still away
    await b.close()
    await pub.client.endAsync()
    await local.broker.close()
    local = await f.hearth({ persistence: new FilePersistence({ dir }) }, local.port)
    const atLocal = await f.peer(local.url, {}, [{ topic: 'p/in', qos: 1 }])
    b = f.bridge(local.broker, config)
    await inState(b, 'disconnected')
    proxy.setDown(false)
    await inState(b, 'connected')
    await pollUntil(() => watcher.got.length >= 60 && atLocal.got.length >= 20, 5000, 'everything across')
    await sleep(200)
    // each exactly once, in order
    assert.deepEqual(watcher.got.filter(r => r.topic === 'p/out').map(r => r.payload), Array.from({ length: 30 }, (_, i) => `o${i}`))
    assert.deepEqual(watcher.got.filter(r => r.topic === 'p2/out').map(r => `${r.payload}@${r.qos}`), Array.from({ length: 10 }, (_, i) => `x${i}@2`))
    // and the remote's own p/in messages once each (the watcher's subscription covers them), none back from the bridge
    assert.deepEqual(watcher.got.filter(r => r.topic === 'p/in').map(r => r.payload), Array.from({ length: 20 }, (_, i) => `i${i}`))
    assert.equal(watcher.got.length, 60)
    assert.deepEqual(atLocal.got.map(r => r.payload), Array.from({ length: 20 }, (_, i) => `i${i}`))
    assert.equal(b.status().pending, 0)
  })
})
