// Test whether every resource a client can make the broker hold has a limit the client cannot
// beat (issue 8): bytes and sockets before CONNECT, retained messages, sessions, subscriptions,
// queued bytes, topic aliases, Receive Maximum, and replies a client does not read.
import assert from 'node:assert/strict'
import net from 'node:net'
import type { IPublishPacket } from 'mqtt-packet'
import { INTEGER_OPTIONS } from '../../src/broker/options'
import { MemoryPersistence, type Persistence } from '../../src/broker/persistence'
import { UserTableAuthenticator } from '../../src/broker/auth'
import { connackCode, sleep, spec, uniqueId, useHarness, type TestBroker } from '../helpers'

function seen (p: IPublishPacket): { topic: string, payload: string, qos: number, retain: boolean } {
  return { topic: p.topic, payload: p.payload.toString(), qos: p.qos, retain: p.retain }
}

/** The reason code of a PUBACK or PUBREC (0 when it has none). */
function rc (p: unknown): number {
  return (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0
}

/** A raw socket to the broker; resolves once connected. */
async function raw (b: TestBroker): Promise<net.Socket> {
  const s = net.connect({ port: b.port, host: '127.0.0.1' })
  s.on('error', () => {})
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
  return s
}

/** Resolves with the ms it took the broker to close `s`, or rejects after `ms`. */
function closedWithin (s: net.Socket, ms: number): Promise<number> {
  const t0 = Date.now()
  return new Promise((resolve, reject) => {
    if (s.destroyed || s.readableEnded) { resolve(0); return }
    const timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms)
    s.once('close', () => { clearTimeout(timer); resolve(Date.now() - t0) })
    s.resume()
  })
}

describe('15 limits', function () {
  const h = useHarness()

  describe('before CONNECT', function () {
    it('[MQTT-3.1.0-1] a first packet announced as anything but CONNECT is refused at its fixed header, before its body is buffered', async function () {
      const b = await h.broker()
      const s = await raw(b)
      s.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])) // a PUBLISH of 268 MB announced
      assert.ok(await closedWithin(s, 1000) < 1000)
    })

    it('a CONNECT larger than maxConnectSize is refused at its fixed header (a socket that has not logged in cannot make the broker buffer more)', async function () {
      const b = await h.broker({ maxConnectSize: 1024 })
      const s = await raw(b)
      s.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x01])) // CONNECT of 2 MB announced
      assert.ok(await closedWithin(s, 1000) < 1000)
      const ok = await b.connect({ protocolVersion: 5, will: { topic: 'w', payload: Buffer.alloc(900), qos: 0, retain: false } })
      assert.equal(connackCode(ok.connack!), 0, 'a CONNECT within the limit is fine')
    })

    it('sockets waiting for CONNECT count against maxPendingPerAddress and maxConnections; once they connect or close the places are free again', async function () {
      const b = await h.broker({ maxPendingPerAddress: 3, maxConnections: 5 })
      const idle = [await raw(b), await raw(b), await raw(b)]
      const fourth = await raw(b)
      await closedWithin(fourth, 1000)
      idle[0].destroy()
      await sleep(50)
      const c = await b.connect({ protocolVersion: 4 })
      assert.equal(connackCode(c.connack!), 0, 'a freed place takes a new client')
      // 2 waiting + 1 connected = 3 of 5; two more connected clients fill it
      await b.connect({ protocolVersion: 4 })
      await b.connect({ protocolVersion: 4 })
      const over = await raw(b)
      await closedWithin(over, 1000)
    })
  })

  for (const v of [4, 5] as const) {
    describe(`MQTT ${v === 5 ? '5' : '3.1.1'}`, function () {
      it(`maxRetainedMessages: a new retained topic beyond the limit is refused${v === 5 ? ' (PUBACK 0x97)' : ' (dropped, counted)'} and not delivered; replacing and deleting still work`, async function () {
        const b = await h.broker({ maxRetainedMessages: 2 })
        const drops: string[] = []
        b.broker.on('messageDropped', d => drops.push(d.reason))
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('r/#', 1)
        sub.autoAck = true
        const pub = await b.connect({ protocolVersion: v })
        for (const t of ['r/1', 'r/2']) assert.equal(rc(await pub.publish(t, t, { qos: 1, retain: true })), 0)
        const refused = await pub.publish('r/3', 'r/3', { qos: 1, retain: true })
        assert.equal(rc(refused), v === 5 ? 0x97 : 0)
        await pub.publish('r/2', 'replaced', { qos: 1, retain: true })
        const got = (await sub.publishes(3)).map(seen)
        assert.deepEqual(got, [
          { topic: 'r/1', payload: 'r/1', qos: 1, retain: false },
          { topic: 'r/2', payload: 'r/2', qos: 1, retain: false },
          { topic: 'r/2', payload: 'replaced', qos: 1, retain: false },
        ])
        assert.deepEqual(drops, ['retained-limit'])
        assert.deepEqual(b.broker.retained('r/#').map(m => `${m.topic}=${m.payload.toString()}`), ['r/1=r/1', 'r/2=replaced'])
        await pub.publish('r/1', '', { qos: 1, retain: true })
        assert.equal(rc(await pub.publish('r/3', 'now fits', { qos: 1, retain: true })), 0)
      })

      it('maxRetainedBytes bounds the topic and payload bytes kept', async function () {
        const b = await h.broker({ maxRetainedBytes: 100 })
        const pub = await b.connect({ protocolVersion: v })
        assert.equal(rc(await pub.publish('b/1', Buffer.alloc(60), { qos: 1, retain: true })), 0)
        assert.equal(rc(await pub.publish('b/2', Buffer.alloc(60), { qos: 1, retain: true })), v === 5 ? 0x97 : 0)
        assert.equal(rc(await pub.publish('b/1', Buffer.alloc(98), { qos: 1, retain: true })), v === 5 ? 0x97 : 0, 'a replacement over the limit')
        assert.deepEqual(b.broker.retained('b/#').map(m => m.payload.length), [60])
      })

      it(`maxSessions: a client that would need a new session beyond the limit gets CONNACK ${v === 5 ? '0x97' : '3'}; a resumed one does not need a new one`, async function () {
        const b = await h.broker({ maxSessions: 2 })
        const id = uniqueId('s')
        const keep = v === 5 ? { clean: false, properties: { sessionExpiryInterval: 600 } } : { clean: false }
        const first = await b.connect({ protocolVersion: v, clientId: id, ...keep })
        first.disconnect()
        await first.expectClosed()
        await b.connect({ protocolVersion: v })
        const third = await b.connect({ protocolVersion: v, allowRefusal: true })
        assert.equal(connackCode(third.connack!), v === 5 ? 0x97 : 3)
        const back = await b.connect({ protocolVersion: v, clientId: id, ...keep })
        assert.equal(back.connack?.sessionPresent, true)
      })

      it(`maxSubscriptionsPerClient: a new filter beyond the limit gets ${v === 5 ? '0x97' : '0x80'}; replacing one does not count`, async function () {
        const b = await h.broker({ maxSubscriptionsPerClient: 2 })
        const c = await b.connect({ protocolVersion: v })
        assert.deepEqual(await c.subscribe([{ topic: 'a', qos: 0 }, { topic: 'b', qos: 0 }, { topic: 'c', qos: 0 }, { topic: 'a', qos: 1 }]),
          [0, 0, v === 5 ? 0x97 : 0x80, 1])
      })

      it('maxQueuedBytes: messages queued for an offline session stop at the byte limit, counted as queue-bytes', async function () {
        const b = await h.broker({ maxQueuedBytes: 1000 })
        const drops: string[] = []
        b.broker.on('messageDropped', d => drops.push(d.reason))
        const id = uniqueId('q')
        const keep = v === 5 ? { clean: false, properties: { sessionExpiryInterval: 600 } } : { clean: false }
        const c = await b.connect({ protocolVersion: v, clientId: id, ...keep })
        await c.subscribe('q/#', 1)
        c.disconnect()
        await c.expectClosed()
        const pub = await b.connect({ protocolVersion: v })
        for (const n of ['1', '2', '3']) await pub.publish(`q/${n}`, Buffer.alloc(400, n), { qos: 1 })
        assert.deepEqual(drops, ['queue-bytes'])
        const back = await b.connect({ protocolVersion: v, clientId: id, ...keep })
        back.autoAck = true
        assert.deepEqual((await back.publishes(2)).map(p => p.topic), ['q/1', 'q/2'])
        await back.expectNothing(150, 'publish')
      })

      it('a client that does not read its replies is not read either: what the broker buffers toward it stays bounded, and all is processed once it reads', async function () {
        const b = await h.broker({ maxOutgoingBytes: 4096, receiveMaximum: 65535 })
        // in memory: the pipe's 64 KB buffers stand for the kernel's socket buffers, which on loopback hold megabytes
        const c = await b.connect({ protocolVersion: v, transport: 'duplex' })
        c.stream.pause()
        const N = 200_000
        const chunk = Buffer.concat(Array.from({ length: 500 }, () => c.encode({ cmd: 'pingreq' })))
        for (let i = 0; i < N / 500; i++) { // one chunk per turn of the event loop, as a socket delivers them
          c.stream.write(chunk)
          await new Promise(resolve => setImmediate(resolve))
        }
        await sleep(300)
        const stalled = b.broker.stats().bytesReceived
        assert.ok(stalled < N, `the broker stopped reading (${stalled} of ${N * 2} bytes read)`)
        c.stream.resume()
        const end = Date.now() + 10000
        while (b.broker.stats().bytesReceived < N * 2 && Date.now() < end) await sleep(20)
        assert.ok(b.broker.stats().bytesReceived >= N * 2, 'every PINGREQ was read once the client read its PINGRESPs')
      })
    })
  }

  it('(issue 9) refused logins are answered after authFailureDelay, spaced per address; a good login meanwhile is not held up', async function () {
    const b = await h.broker({ authenticate: new UserTableAuthenticator({ u: 'right' }), authFailureDelay: 300 })
    const t0 = Date.now()
    const tries = [0, 1, 2].map(() => b.connect({ protocolVersion: 5, username: 'u', password: 'wrong', allowRefusal: true }).then(c => ({ code: connackCode(c.connack!), ms: Date.now() - t0 })))
    const good = await b.connect({ protocolVersion: 5, username: 'u', password: 'right' })
    const goodMs = Date.now() - t0
    assert.equal(connackCode(good.connack!), 0)
    const refused = (await Promise.all(tries)).sort((a, b) => a.ms - b.ms)
    assert.deepEqual(refused.map(r => r.code), [0x86, 0x86, 0x86])
    assert.ok(goodMs < 250, `the good login took ${goodMs} ms`)
    assert.ok(refused[0].ms >= 280 && refused[1].ms >= 580 && refused[2].ms >= 880, `refusals at ${refused.map(r => r.ms).join(', ')} ms`)
  })

  it('[MQTT-3.3.4-7] a client with exactly Receive Maximum QoS 2 messages unreleased is within it, also while the PUBRECs wait for the disk', async function () {
    const slow: Persistence = new MemoryPersistence()
    slow.sync = () => new Promise<void>(resolve => setTimeout(resolve, 50)) // every sync() takes 50 ms, as a disk does
    const b = await h.broker({ receiveMaximum: 8, persistence: slow })
    const c = await b.connect({ protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 60 } })
    for (let i = 0; i < 8; i++) c.send({ cmd: 'publish', topic: 'rm/q2', payload: Buffer.from(String(i)), qos: 2, messageId: i + 1, retain: false, dup: false })
    const recs = []
    for (let i = 0; i < 8; i++) recs.push(await c.waitFor('pubrec'))
    assert.deepEqual(recs.map(p => [p.messageId, (p as { reasonCode?: number }).reasonCode ?? 0]), Array.from({ length: 8 }, (_, i) => [i + 1, 0]))
    c.send({ cmd: 'publish', topic: 'rm/q2', payload: Buffer.from('9th'), qos: 2, messageId: 9, retain: false, dup: false })
    assert.equal((await c.expectClosed())?.reasonCode, 0x93, 'one more is beyond it')
  })

  it(`${spec(5, null, ['3.2.2-16'])} MQTT 5 clients are told the defaults: Receive Maximum, Topic Alias Maximum and Maximum Packet Size; an alias above the maximum is DISCONNECT 0x94`, async function () {
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 5 })
    const p = c.connack?.properties ?? {}
    assert.deepEqual({ receiveMaximum: p.receiveMaximum, topicAliasMaximum: p.topicAliasMaximum, maximumPacketSize: p.maximumPacketSize },
      { receiveMaximum: INTEGER_OPTIONS.receiveMaximum.default, topicAliasMaximum: INTEGER_OPTIONS.topicAliasMaximum.default, maximumPacketSize: INTEGER_OPTIONS.maxPacketSize.default })
    assert.deepEqual([p.receiveMaximum, p.topicAliasMaximum, p.maximumPacketSize], [32, 10, 2 * 1024 * 1024])
    c.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 11 } })
    assert.equal((await c.expectClosed())?.reasonCode, 0x94)
  })
})
