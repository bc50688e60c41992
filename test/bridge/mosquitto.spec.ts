/*
 * Bridges with a real Mosquitto (2.0): Hearth bridging to Mosquitto (MQTT 5, and 3.1.1 with the
 * bridge bit), Mosquitto bridging into Hearth with its own `connection` config (the bridge bit on
 * Hearth's side), the state topic through Mosquitto's will, and the outage: Mosquitto killed (-9)
 * and restarted (persistence true) in the middle of QoS 1 streams in both directions.
 */
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import type { BridgeConfig } from '../../src/bridge'
import { counts, inState, pollUntil, retainedOf, sleep, useFixture, type Peer } from './helpers'

describe('bridge: with Mosquitto', function () {
  this.timeout(30000)
  const f = useFixture()

  for (const protocolVersion of [5, 4] as const) {
    it(`Hearth bridges to Mosquitto (MQTT ${protocolVersion === 5 ? '5' : '3.1.1, bridge bit'}): both directions with a remote prefix, once per subscriber, retained both ways`, async function () {
      const m = await f.mosquitto()
      const local = await f.hearth()
      const config: BridgeConfig = {
        name: 'cloud', url: m.url, protocolVersion, clientId: `hm${protocolVersion}`, restartTimeout: 0.2,
        topics: [{ pattern: 'home/#', direction: 'both', qos: 1, remotePrefix: 'house1/' }],
      }
      const b = f.bridge(local.broker, config)
      await inState(b, 'connected')
      const atLocal = await f.peer(local.url, {}, [{ topic: 'home/#', qos: 1 }])
      const atRemote = await f.peer(m.url, {}, [{ topic: 'house1/#', qos: 1 }])
      const pubL = await f.peer(local.url)
      const pubR = await f.peer(m.url)
      const N = 20
      for (let i = 0; i < N; i++) {
        await pubL.client.publishAsync('home/l', `L${i}`, { qos: 1 })
        await pubR.client.publishAsync('house1/home/r', `R${i}`, { qos: 1 })
      }
      await pubL.client.publishAsync('home/state', 'on', { qos: 1, retain: true })
      await pubR.client.publishAsync('house1/home/config', 'v2', { qos: 1, retain: true })
      await pollUntil(() => atLocal.got.length >= 2 * N + 2 && atRemote.got.length >= 2 * N + 2, 5000, 'every message on both sides')
      await sleep(300)
      const expected = [
        ...Array.from({ length: N }, (_, i): [string, number] => [`L${i}`, 1]),
        ...Array.from({ length: N }, (_, i): [string, number] => [`R${i}`, 1]),
        ['on', 1], ['v2', 1],
      ].sort()
      assert.deepEqual([...counts(atLocal.got)].sort(), expected)
      assert.deepEqual([...counts(atRemote.got)].sort(), expected)
      assert.deepEqual(atLocal.got.filter(r => r.payload === 'R0'), [{ topic: 'home/r', payload: 'R0', qos: 1, retain: false, dup: false }])
      assert.deepEqual(atRemote.got.filter(r => r.payload === 'L0'), [{ topic: 'house1/home/l', payload: 'L0', qos: 1, retain: false, dup: false }])
      // the retained values are stored on both sides
      const late = await f.peer(m.url, {}, [{ topic: 'house1/home/+', qos: 1 }])
      await pollUntil(() => late.got.length === 2, 2000, 'the retained messages at Mosquitto')
      assert.deepEqual(late.got.sort((a, b) => a.topic.localeCompare(b.topic)), [
        { topic: 'house1/home/config', payload: 'v2', qos: 1, retain: true, dup: false },
        { topic: 'house1/home/state', payload: 'on', qos: 1, retain: true, dup: false },
      ])
      assert.deepEqual(retainedOf(local.broker, 'home/#'), { 'home/config': 'v2', 'home/state': 'on' })
    })
  }

  for (const version of ['mqttv311', 'mqttv50'] as const) {
    it(`Mosquitto bridges into Hearth (its own connection config, ${version}${version === 'mqttv311' ? ', try_private: the bridge bit' : ''}): both directions, once per subscriber, its notification state retained at Hearth`, async function () {
      const hearth = await f.hearth()
      const m = await f.mosquitto([
        'connection hearth',
        `address 127.0.0.1:${hearth.port}`,
        `remote_clientid mosq-${version}`,
        `bridge_protocol_version ${version}`,
        'try_private true',
        'cleansession false',
        'restart_timeout 1',
        'topic m/# both 1',
      ])
      const stateTopic = `$SYS/broker/connection/mosq-${version}/state`
      await pollUntil(() => retainedOf(hearth.broker, stateTopic)[stateTopic] === '1', 8000, `Mosquitto's bridge to connect (${m.log()})`)
      const info = hearth.broker.clients().find(c => c.clientId === `mosq-${version}`)
      assert.deepEqual({ protocolVersion: info?.protocolVersion, cleanStart: info?.cleanStart }, { protocolVersion: version === 'mqttv50' ? 5 : 4, cleanStart: false })
      await pollUntil(() => hearth.broker.clients().find(c => c.clientId === `mosq-${version}`)?.subscriptions === 1, 3000, 'its subscription at Hearth')
      const atHearth = await f.peer(hearth.url, {}, [{ topic: 'm/#', qos: 1 }])
      const atMosq = await f.peer(m.url, {}, [{ topic: 'm/#', qos: 1 }])
      const pubH = await f.peer(hearth.url)
      const pubM = await f.peer(m.url)
      const N = 20
      for (let i = 0; i < N; i++) {
        await pubH.client.publishAsync('m/h', `H${i}`, { qos: 1 })
        await pubM.client.publishAsync('m/m', `M${i}`, { qos: 1 })
      }
      await pubH.client.publishAsync('m/state', 'up', { qos: 1, retain: true })
      await pollUntil(() => atHearth.got.length >= 2 * N + 1 && atMosq.got.length >= 2 * N + 1, 5000, 'every message on both sides')
      await sleep(400) // a loop would keep them coming
      for (const [side, p] of [['Hearth', atHearth], ['Mosquitto', atMosq]] as Array<[string, Peer]>) {
        const c = counts(p.got)
        assert.equal(p.got.length, 2 * N + 1, `${side}: ${p.got.length} messages`)
        for (let i = 0; i < N; i++) assert.deepEqual([c.get(`H${i}`), c.get(`M${i}`)], [1, 1], `${side}, message ${i}`)
      }
      // Retain As Published on the bridge's subscription at Hearth: the live retained message is stored at Mosquitto
      const late = await f.peer(m.url, {}, [{ topic: 'm/state', qos: 1 }])
      await pollUntil(() => late.got.length === 1, 2000, 'the retained message at Mosquitto')
      assert.deepEqual(late.got, [{ topic: 'm/state', payload: 'up', qos: 1, retain: true, dup: false }])
    })
  }

  it('the state topic: 1 at Mosquitto while connected, 0 there through the will when the link breaks, 1 again, 0 on close', async function () {
    const m = await f.mosquitto()
    const proxy = await f.proxy(m.port)
    const local = await f.hearth()
    const b = f.bridge(local.broker, { name: 'st', url: `mqtt://127.0.0.1:${proxy.port}`, clientId: 'st.house', restartTimeout: 0.3, topics: [{ pattern: 'x/#' }] })
    const topic = '$SYS/broker/connection/st.house/state'
    const watch = await f.peer(m.url, {}, [{ topic, qos: 1 }])
    const localState = (): string | undefined => retainedOf(local.broker, topic)[topic]
    await inState(b, 'connected')
    await pollUntil(() => watch.got.at(-1)?.payload === '1' && localState() === '1', 3000, 'state 1 at Mosquitto and locally')
    proxy.cut()
    await pollUntil(() => watch.got.at(-1)?.payload === '0', 3000, 'state 0 at Mosquitto (the will)')
    await inState(b, 'connected')
    await pollUntil(() => watch.got.at(-1)?.payload === '1' && localState() === '1', 3000, 'state 1 again')
    await b.close()
    await pollUntil(() => watch.got.at(-1)?.payload === '0' && localState() === '0', 3000, 'state 0 after close')
    const late = await f.peer(m.url, {}, [{ topic, qos: 1 }])
    await pollUntil(() => late.got.length === 1, 2000, 'the retained state')
    assert.deepEqual(late.got, [{ topic, payload: '0', qos: 1, retain: true, dup: false }])
  })

  it('outage: Mosquitto (persistence true) killed -9 and restarted in the middle of QoS 1 streams both ways: 0 acknowledged messages lost by the bridge, no loop, retained equal', async function () {
    const m = await f.mosquitto(['max_queued_messages 100000'], { persistence: true })
    const local = await f.hearth()
    // The link goes through a proxy that decodes it: what Mosquitto acknowledged to the bridge and
    // what it delivered to it, so that a loss can be told apart (the bridge's, or Mosquitto's own:
    // it acknowledges before it saves, and a kill -9 can drop what it had not written out)
    const sentIds = new Map<number, string>()
    const remoteAcked = new Set<string>()
    const remoteDelivered = new Set<string>()
    const proxy = await f.proxy(m.port, (dir, p) => {
      if (dir === 'toRemote' && p.cmd === 'publish' && p.qos === 1) sentIds.set(p.messageId ?? 0, p.payload.toString())
      if (dir === 'toBridge' && p.cmd === 'puback') { const id = sentIds.get(p.messageId ?? 0); if (id !== undefined) remoteAcked.add(id) }
      if (dir === 'toBridge' && p.cmd === 'publish') remoteDelivered.add(p.payload.toString())
    })
    const b = f.bridge(local.broker, { name: 'out', url: `mqtt://127.0.0.1:${proxy.port}`, clientId: 'outage', restartTimeout: 0.2, topics: [{ pattern: 's/#', direction: 'both', qos: 1 }] })
    await inState(b, 'connected')
    const reconnecting = { reconnectPeriod: 100, clean: false, protocolVersion: 4 as const }
    const atLocal = await f.peer(local.url, { clientId: 'sub-local' }, [{ topic: 's/#', qos: 1 }])
    const atRemote = await f.peer(m.url, { ...reconnecting, clientId: 'sub-remote' }, [{ topic: 's/#', qos: 1 }])
    const pubL = await f.peer(local.url, { clientId: 'pub-local' })
    const pubR = await f.peer(m.url, { ...reconnecting, clientId: 'pub-remote' })

    // two QoS 1 streams and retained updates; a message counts once its publisher has the PUBACK
    const acked = { L: new Set<string>(), R: new Set<string>() }
    let stop = false
    const stream = async (c: MqttClient, side: 'L' | 'R', topic: string, retainedTopic: string): Promise<number> => {
      let i = 0
      const waits: Array<Promise<void>> = []
      while (!stop) {
        const id = `${side}${i}`
        waits.push(c.publishAsync(topic, id, { qos: 1 }).then(() => { acked[side].add(id) }, () => undefined))
        if (i % 10 === 0) c.publish(retainedTopic, id, { qos: 1, retain: true })
        i++
        await sleep(8)
      }
      await Promise.race([Promise.all(waits), sleep(15000)])
      return i
    }
    const started = Date.now()
    const streams = Promise.all([stream(pubL.client, 'L', 's/l', 's/ret/l'), stream(pubR.client, 'R', 's/r', 's/ret/r')])
    await sleep(1000)
    const killedAt = Date.now()
    await m.kill9()
    await sleep(600)
    await m.start()
    await inState(b, 'connected', 10000)
    const backAt = Date.now()
    await sleep(1200)
    stop = true
    const [sentL, sentR] = await streams
    const publishingMs = Date.now() - started

    const missing = (got: Peer, side: 'L' | 'R'): string[] => {
      const have = new Set(got.got.map(r => r.payload))
      return [...acked[side]].filter(id => !have.has(id))
    }
    await pollUntil(() => missing(atRemote, 'L').length === 0 && missing(atLocal, 'R').length === 0, 15000,
      `every acknowledged message across (missing at Mosquitto: ${missing(atRemote, 'L').length}, at Hearth: ${missing(atLocal, 'R').length})`).catch(() => undefined)
    await sleep(500)
    const lostOut = missing(atRemote, 'L')
    const lostIn = missing(atLocal, 'R')
    // lost by the bridge: out, never acknowledged by Mosquitto; in, delivered to the bridge by Mosquitto
    const lostByBridge = { out: lostOut.filter(id => !remoteAcked.has(id)), in: lostIn.filter(id => remoteDelivered.has(id)) }
    const dupOut = [...counts(atRemote.on('s/l'))].filter(([, n]) => n > 1).length
    const dupIn = [...counts(atLocal.on('s/r'))].filter(([, n]) => n > 1).length
    const echoed = [...counts(atLocal.on('s/l'))].filter(([, n]) => n > 1).length
    const figures = {
      publishingMs, outageMs: backAt - killedAt,
      out: { published: sentL, acknowledged: acked.L.size, arrived: new Set(atRemote.on('s/l').map(r => r.payload)).size, lost: lostOut.length, lostByBridge: lostByBridge.out.length, duplicates: dupOut },
      in: { published: sentR, acknowledged: acked.R.size, arrived: new Set(atLocal.on('s/r').map(r => r.payload)).size, lost: lostIn.length, lostByBridge: lostByBridge.in.length, duplicates: dupIn },
    }
    console.log(`      outage figures: ${JSON.stringify(figures)}`)
    // Nothing acknowledged is lost by the bridge. Mosquitto acknowledges before it saves: a message
    // it acknowledged and then lost to the kill (rare, seen once in 8 runs on a loaded machine) is
    // reported in the figures, not held against the bridge.
    assert.deepEqual(lostByBridge, { out: [], in: [] }, 'lost by the bridge')
    // the decoding saw everything: each outgoing message acknowledged by Mosquitto in the end, each incoming one delivered by it
    assert.deepEqual([...acked.L].filter(id => !remoteAcked.has(id)), [])
    assert.deepEqual([...new Set(atLocal.on('s/r').map(r => r.payload))].filter(id => !remoteDelivered.has(id)), [])
    assert.equal(b.status().pending, 0)
    // no loop: the local stream reaches the local subscriber exactly once (it never comes back from Mosquitto)
    assert.equal(echoed, 0)
    assert.equal(atLocal.on('s/l').length, acked.L.size)
    assert.ok(acked.L.size > 100 && acked.R.size > 100, 'the streams ran')

    // retained state equal on both sides: the last value of each retained topic
    const lastOf = (side: 'L' | 'R'): string => `${side}${Math.floor((side === 'L' ? sentL - 1 : sentR - 1) / 10) * 10}`
    await pollUntil(() => retainedOf(local.broker, 's/ret/#')['s/ret/r'] === lastOf('R'), 5000, 'the last remote retained value at Hearth')
    const late = await f.peer(m.url, {}, [{ topic: 's/ret/#', qos: 1 }])
    await pollUntil(() => late.got.length === 2, 3000, 'the retained messages at Mosquitto')
    const atMosq = Object.fromEntries(late.got.map(r => [r.topic, r.payload]))
    assert.deepEqual(atMosq, retainedOf(local.broker, 's/ret/#'))
    assert.deepEqual(atMosq, { 's/ret/l': lastOf('L'), 's/ret/r': lastOf('R') })
  })
})
