// Test whether sessions belong to the identity that made them, subscriptions are authorised again
// on resume, the read check filters every delivery (live and retained), wills are authorised as
// the client that set them, topic levels are bounded, and assigned client ids are unguessable.
import assert from 'node:assert/strict'
import type { IPublishPacket } from 'mqtt-packet'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FilePersistence } from '../../src/broker'
import { UserTableAuthenticator, type AuthClient, type Authorizer } from '../../src/broker/auth'
import type { QoS } from '../../src/broker/types'
import { VERSIONS, connackCode, spec, uniqueId, useHarness } from '../helpers'

/** The parts of a received PUBLISH a delivery is judged by (all of them but the packet id). */
function seen (p: IPublishPacket): { topic: string, payload: string, qos: number, retain: boolean, dup: boolean } {
  return { topic: p.topic, payload: p.payload.toString(), qos: p.qos, retain: p.retain, dup: p.dup }
}

const users = new UserTableAuthenticator({ alice: 'a-pw', bob: 'b-pw' })

describe('13 session ownership, read check, topic levels', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    const persistent = v === 5 ? { clean: false, properties: { sessionExpiryInterval: 3600 } } : { clean: false }
    describe(`MQTT ${v === 5 ? '5' : '3.1.1'}`, function () {
      it('(issue 8) another user reusing a client id with clean session off does not inherit the session: Session Present 0, no subscriptions, no queued messages', async function () {
        const b = await h.broker({ authenticate: users })
        const id = uniqueId('own')
        const alice = await b.connect({ protocolVersion: v, clientId: id, username: 'alice', password: 'a-pw', ...persistent })
        await alice.subscribe('secret/#', 1)
        alice.disconnect()
        await alice.expectClosed()
        const pub = await b.connect({ protocolVersion: v, username: 'alice', password: 'a-pw' })
        await pub.publish('secret/plans', 'for alice', { qos: 1 })
        const bob = await b.connect({ protocolVersion: v, clientId: id, username: 'bob', password: 'b-pw', ...persistent })
        assert.equal(bob.connack?.sessionPresent, false)
        await bob.expectNothing(200, 'publish')
        await pub.publish('secret/plans', 'again', { qos: 1 })
        await bob.expectNothing(200, 'publish')
        assert.equal(b.broker.clients().find(c => c.clientId === id)?.subscriptions, 0)
      })

      it('(issue 8) the owner is kept with the session across a restart: another user still starts clean, the owner resumes', async function () {
        const store = new FilePersistence({ dir: mkdtempSync(join(tmpdir(), 'hearth-owner-')) })
        const id = uniqueId('own')
        let b = await h.broker({ authenticate: users, persistence: store })
        const alice = await b.connect({ protocolVersion: v, clientId: id, username: 'alice', password: 'a-pw', ...persistent })
        await alice.subscribe('secret/#', 1)
        alice.disconnect()
        await alice.expectClosed()
        await b.broker.close()
        b = await h.broker({ authenticate: users, persistence: store })
        const bob = await b.connect({ protocolVersion: v, clientId: id, username: 'bob', password: 'b-pw', ...persistent })
        assert.equal(bob.connack?.sessionPresent, false, 'bob does not inherit alice\'s restored session')
        bob.disconnect()
        await bob.expectClosed()
        await b.broker.close()
        b = await h.broker({ authenticate: users, persistence: store })
        const bob2 = await b.connect({ protocolVersion: v, clientId: id, username: 'bob', password: 'b-pw', ...persistent })
        assert.equal(bob2.connack?.sessionPresent, true, 'bob owns the session he started')
        rmSync(store.dir, { recursive: true, force: true })
      })

      it(`${spec(v, ['3.2.2-2'], ['3.2.2-2'])} the same user resuming gets its session and queued message back`, async function () {
        const b = await h.broker({ authenticate: users })
        const id = uniqueId('own')
        const alice = await b.connect({ protocolVersion: v, clientId: id, username: 'alice', password: 'a-pw', ...persistent })
        await alice.subscribe('mine/#', 1)
        alice.disconnect()
        await alice.expectClosed()
        const pub = await b.connect({ protocolVersion: v, username: 'bob', password: 'b-pw' })
        await pub.publish('mine/x', 'queued', { qos: 1 })
        const back = await b.connect({ protocolVersion: v, clientId: id, username: 'alice', password: 'a-pw', ...persistent })
        assert.equal(back.connack?.sessionPresent, true)
        const m = await back.waitFor('publish')
        assert.deepEqual(seen(m), { topic: 'mine/x', payload: 'queued', qos: 1, retain: false, dup: false })
      })

      it('(issue 8) subscriptions are authorised again when a session resumes: one the authoriser now refuses is gone, a lower QoS applies', async function () {
        const policy = { door: true, maxQos: 2 as QoS }
        const authz: Authorizer = {
          authorizePublish: () => true,
          authorizeSubscribe: (_c, filter, qos) => filter.startsWith('door/') ? policy.door : Math.min(qos, policy.maxQos) as QoS,
        }
        const b = await h.broker({ authorize: authz })
        const id = uniqueId('reauth')
        const c = await b.connect({ protocolVersion: v, clientId: id, ...persistent })
        assert.deepEqual(await c.subscribe([{ topic: 'door/lock', qos: 1 }, { topic: 'temp/+', qos: 2 }]), [1, 2])
        c.disconnect()
        await c.expectClosed()
        policy.door = false
        policy.maxQos = 1
        const back = await b.connect({ protocolVersion: v, clientId: id, ...persistent })
        assert.equal(back.connack?.sessionPresent, true)
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('door/lock', 'open', { qos: 1 })
        await pub.publish('temp/kitchen', '21', { qos: 2 })
        const m = await back.waitFor('publish')
        assert.deepEqual(seen(m), { topic: 'temp/kitchen', payload: '21', qos: 1, retain: false, dup: false })
        await back.ack(m)
        await back.expectNothing(200, 'publish')
      })

      it('(issue 9, Mosquitto read ACL) the read check filters every delivery of a granted broad subscription, live and retained', async function () {
        const authz: Authorizer = {
          authorizePublish: () => true,
          authorizeSubscribe: () => true,
          authorizeRead: (_c, topic) => /^home\/[^/]+\/temp$/.test(topic),
        }
        const b = await h.broker({ authorize: authz })
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish('home/kitchen/temp', '20', { qos: 1, retain: true })
        await pub.publish('home/kitchen/door', 'open', { qos: 1, retain: true })
        const sub = await b.connect({ protocolVersion: v })
        await sub.subscribe('home/#', 1)
        const r = await sub.waitFor('publish')
        assert.deepEqual(seen(r), { topic: 'home/kitchen/temp', payload: '20', qos: 1, retain: true, dup: false })
        await sub.ack(r)
        await pub.publish('home/hall/door', 'closed', { qos: 1 })
        await pub.publish('home/hall/temp', '18', { qos: 0 })
        const live = await sub.waitFor('publish')
        assert.deepEqual(seen(live), { topic: 'home/hall/temp', payload: '18', qos: 0, retain: false, dup: false })
        await sub.expectNothing(200, 'publish')
      })

      it(`${spec(v, ['4.7.3-1'], ['4.7.3-1'])}(issue 8) topic levels are bounded: a name deeper than maxTopicLevels closes the connection${v === 5 ? ' with 0x90' : ''}, a filter gets a failure code, the limit itself is fine`, async function () {
        const b = await h.broker({ maxTopicLevels: 8 })
        const sub = await b.connect({ protocolVersion: v })
        const ok = 'a/b/c/d/e/f/g/h'
        const deep = ok + '/i'
        assert.deepEqual(await sub.subscribe([{ topic: deep, qos: 0 }, { topic: ok, qos: 0 }, { topic: '+/+/+/+/+/+/+/+/#', qos: 0 }]),
          [v === 5 ? 0x8f : 0x80, 0, v === 5 ? 0x8f : 0x80])
        const pub = await b.connect({ protocolVersion: v })
        await pub.publish(ok, 'fine', { qos: 1 })
        assert.deepEqual(seen(await sub.waitFor('publish')), { topic: ok, payload: 'fine', qos: 0, retain: false, dup: false })
        pub.send({ cmd: 'publish', topic: deep, payload: Buffer.from('too deep'), qos: 0, retain: false, dup: false })
        const d = await pub.expectClosed()
        if (v === 5) assert.equal(d?.reasonCode, 0x90)
        await sub.expectNothing(150, 'publish')
        const local = await b.local({ protocolVersion: v })
        await assert.rejects(local.publish({ topic: deep, payload: Buffer.from('x'), qos: 0, retain: false }), (e: Error & { reasonCode?: number }) => e.reasonCode === 0x90)
        assert.deepEqual(await local.subscribe([{ topic: deep, qos: 0 }]), [v === 5 ? 0x8f : 0x80])
        const withWill = await b.connect({ protocolVersion: v, will: { topic: deep, payload: Buffer.from('w'), qos: 0, retain: false }, allowRefusal: true })
        assert.equal(connackCode(withWill.connack!), v === 5 ? 0x90 : 3)
      })
    })
  }

  it('(issue 8) an in-process client\'s will is authorised as the in-process client that set it', async function () {
    const seenKinds: Array<AuthClient['kind']> = []
    const authz: Authorizer = {
      authorizePublish: (c, topic) => { if (topic === 'status/app') seenKinds.push(c.kind); return true },
      authorizeSubscribe: () => true,
    }
    const b = await h.broker({ authorize: authz })
    const watcher = await b.connect({ protocolVersion: 5 })
    await watcher.subscribe('status/app', 0)
    const local = await b.local({ protocolVersion: 5, clientId: uniqueId('lw'), will: { topic: 'status/app', payload: Buffer.from('gone'), qos: 0, retain: false } })
    await local.end({ reasonCode: 0x04 })
    assert.deepEqual(seen(await watcher.waitFor('publish')), { topic: 'status/app', payload: 'gone', qos: 0, retain: false, dup: false })
    assert.deepEqual(seenKinds, ['local'])
  })

  it('(issue 8) assigned client identifiers are random: the prefix and 24 hex digits, never repeated', async function () {
    const b = await h.broker()
    const ids = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const c = await b.connect({ protocolVersion: 5, clientId: '' })
      const id = c.connack?.properties?.assignedClientIdentifier ?? ''
      assert.match(id, /^hearth-[0-9a-f]{24}$/)
      ids.add(id)
      c.disconnect()
    }
    assert.equal(ids.size, 20)
  })
})
