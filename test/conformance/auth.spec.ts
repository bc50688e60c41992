/**
 * Runs the shared Authenticator/Authorizer suites against the built-in implementations (and a
 * small ACL fixture), then checks through a live broker that the decisions reach the wire with the
 * right codes: refused CONNECT -> CONNACK 0x86/0x87 (5) or 4/5 (3.1.1), refused PUBLISH -> PUBACK
 * 0x87 (5), refused SUBSCRIBE -> SUBACK 0x87 (5) / 0x80 (3.1.1).
 */
import assert from 'node:assert/strict'
import {
  UserTableAuthenticator, allowAllAuthenticator, allowAllAuthorizer,
  type AuthClient, type AuthenticateRequest, type Authenticator, type Authorizer,
} from '../../src/broker/auth'
import type { QoS } from '../../src/broker/types'
import { VERSIONS, assertPublish, connackCode, hex, sleep, spec, useHarness } from '../helpers'
import { authenticatorSuite, authorizerSuite, request } from './auth.suite'

const net = (clientId: string, username?: string): AuthClient => ({ clientId, username, kind: 'network' })

/** A small ACL used as a fixture: only "admin" may use secret/#; capped/# is granted at most QoS 0. */
class TopicAcl implements Authorizer {
  constructor (private readonly async = false) {}
  private answer<T> (v: T): T | Promise<T> { return this.async ? new Promise(resolve => setImmediate(() => resolve(v))) : v }
  authorizePublish (client: AuthClient, topic: string): boolean | Promise<boolean> {
    return this.answer(!(topic === 'secret' || topic.startsWith('secret/')) || client.username === 'admin')
  }

  authorizeSubscribe (client: AuthClient, filter: string, qos: QoS): boolean | QoS | Promise<boolean | QoS> {
    if (filter.startsWith('secret/') || filter === '#' || filter === 'secret') return this.answer(client.username === 'admin')
    if (filter.startsWith('capped/')) return this.answer(0 as QoS)
    return this.answer(qos <= 2)
  }
}

authenticatorSuite('allowAllAuthenticator', () => ({
  authenticator: allowAllAuthenticator,
  accept: [request(), request({ username: 'anyone', password: 'anything' }), request({ kind: 'local' }), request({ protocolVersion: 4 })],
  refuse: [],
}))

authenticatorSuite('UserTableAuthenticator (no anonymous)', () => ({
  authenticator: new UserTableAuthenticator({ alice: 's3cret', bob: 'ünïcødé ✓', empty: '' }),
  accept: [
    request({ username: 'alice', password: 's3cret' }),
    request({ username: 'bob', password: 'ünïcødé ✓' }),
    request({ username: 'empty', password: '' }),
    request({ username: 'empty' }),
    request({ username: 'alice', password: 's3cret', kind: 'local', protocolVersion: 4 }),
  ],
  refuse: [
    { request: request({ username: 'alice', password: 'wrong' }), reasonCode: 0x86 },
    { request: request({ username: 'alice', password: 's3cre' }), reasonCode: 0x86 },
    { request: request({ username: 'alice', password: 's3cret ' }), reasonCode: 0x86 },
    { request: request({ username: 'alice' }), reasonCode: 0x86 },
    { request: request({ username: 'Alice', password: 's3cret' }), reasonCode: 0x86 },
    { request: request({ username: 'mallory', password: 's3cret' }), reasonCode: 0x86 },
    { request: request({ username: '__proto__', password: '' }), reasonCode: 0x86 },
    { request: request(), reasonCode: 0x87 },
  ],
}))

authenticatorSuite('UserTableAuthenticator (anonymous allowed)', () => ({
  authenticator: new UserTableAuthenticator({ alice: 's3cret' }, true),
  accept: [request(), request({ username: 'alice', password: 's3cret' })],
  refuse: [{ request: request({ username: 'alice', password: 'x' }), reasonCode: 0x86 }],
}))

authenticatorSuite('UserTableAuthenticator with no account, anonymous allowed: credentials are not checked', () => ({
  authenticator: new UserTableAuthenticator({}, { allowAnonymous: true }),
  accept: [request(), request({ username: 'DVES_USER', password: 'DVES_PASS' }), request({ username: 'x' }), request({ username: 'x', kind: 'local' })],
  refuse: [],
}))

authenticatorSuite('UserTableAuthenticator with no account, anonymous refused: every network client is refused as anonymous', () => ({
  authenticator: new UserTableAuthenticator({}, { allowAnonymous: false, trustLocal: true }),
  accept: [request({ kind: 'local' })],
  refuse: [
    { request: request(), reasonCode: 0x87 },
    { request: request({ username: 'DVES_USER', password: 'DVES_PASS' }), reasonCode: 0x87 },
  ],
}))

authenticatorSuite('UserTableAuthenticator trusting local clients', () => ({
  authenticator: new UserTableAuthenticator({ alice: 'pw' }, { allowAnonymous: false, trustLocal: true }),
  accept: [request({ kind: 'local' }), request({ username: 'alice', password: 'pw' }), request({ username: 'alice', password: 'pw', kind: 'local' })],
  refuse: [
    { request: request(), reasonCode: 0x87 },
    { request: request({ username: 'bob', password: 'pw', kind: 'local' }), reasonCode: 0x86 },
    { request: request({ username: 'alice', password: 'x', kind: 'local' }), reasonCode: 0x86 },
  ],
}))

authenticatorSuite('an async authenticator (Promise answers)', () => ({
  authenticator: {
    authenticate: (r: AuthenticateRequest) => new Promise(resolve => setImmediate(() => resolve(r.username === 'ok' ? true : { ok: false, reasonCode: 0x87 }))),
  },
  accept: [request({ username: 'ok' })],
  refuse: [{ request: request({ username: 'no' }), reasonCode: 0x87 }],
}))

authorizerSuite('allowAllAuthorizer', () => ({
  authorizer: allowAllAuthorizer,
  allowPublish: [[net('a'), 'x/y', 0], [net('a', 'u'), '$SYS/x', 2]],
  denyPublish: [],
  allowSubscribe: [[net('a'), '#', 2], [net('a'), 'x/+', 0], [net('a'), 'x', 1]],
  denySubscribe: [],
  allowRead: [[net('a'), 'x/y'], [net('a', 'u'), '$SYS/x'], [{ clientId: 'l', kind: 'local' }, 'a']],
}))

for (const async of [false, true]) {
  authorizerSuite(`TopicAcl fixture (${async ? 'async' : 'sync'})`, () => ({
    authorizer: new TopicAcl(async),
    allowPublish: [[net('a'), 'public/x', 1], [net('b', 'admin'), 'secret/x', 2]],
    denyPublish: [[net('a'), 'secret/x', 0], [net('a', 'guest'), 'secret', 1]],
    allowSubscribe: [[net('a'), 'public/#', 2], [net('a'), 'capped/x', 2, 0], [net('b', 'admin'), 'secret/#', 1]],
    denySubscribe: [[net('a'), 'secret/#', 1], [net('a', 'guest'), '#', 0]],
  }))
}

describe('auth through a live broker', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      const table = (): Authenticator => new UserTableAuthenticator({ alice: 'pw' })

      it(`${spec(v, ['3.2.2-4', '3.2.2-5'], ['3.2.2-6', '3.2.2-7'])} a wrong password is refused with ${v === 5 ? '0x86' : '4'} and the connection closes`, async function () {
        const b = await h.broker({ authenticate: table() })
        for (const [username, password] of [['alice', 'nope'], ['nobody', 'pw']]) {
          const c = await b.connect({ protocolVersion: v, username, password, allowRefusal: true })
          assert.equal(connackCode(c.connack!), v === 5 ? 0x86 : 4, `CONNACK ${hex(connackCode(c.connack!))}`)
          assert.equal(c.connack!.sessionPresent, false)
          await c.expectClosed()
        }
      })

      it(`${spec(v, ['3.2.2-5'], ['3.2.2-7'])} an anonymous client is refused with ${v === 5 ? '0x87' : '5'} when anonymous access is off`, async function () {
        const b = await h.broker({ authenticate: table() })
        const c = await b.connect({ protocolVersion: v, allowRefusal: true })
        assert.equal(connackCode(c.connack!), v === 5 ? 0x87 : 5)
        await c.expectClosed()
      })

      it(`${spec(v, ['3.1.4-4'], ['3.1.4-5'])} the right credentials are accepted`, async function () {
        const b = await h.broker({ authenticate: table() })
        const c = await b.connect({ protocolVersion: v, username: 'alice', password: 'pw' })
        assert.equal(connackCode(c.connack!), 0)
      })

      it('the authenticator sees the client id, user name, password bytes, protocol version, kind and address', async function () {
        const seen: AuthenticateRequest[] = []
        const b = await h.broker({ authenticate: { authenticate: r => { seen.push(r); return true } } })
        await b.connect({ protocolVersion: v, clientId: 'who1', username: 'u', password: Buffer.from([1, 2, 3]), transport: 'tcp' })
        assert.equal(seen.length, 1)
        assert.equal(seen[0].clientId, 'who1')
        assert.equal(seen[0].username, 'u')
        assert.deepEqual(seen[0].password, Buffer.from([1, 2, 3]))
        assert.equal(seen[0].protocolVersion, v)
        assert.equal(seen[0].kind, 'network')
        assert.equal(seen[0].remoteAddress, '127.0.0.1')
      })

      it(`an authenticator that throws refuses the connection (${v === 5 ? '0x80' : 'a non-zero code'}) and the broker keeps serving`, async function () {
        const b = await h.broker({ authenticate: { authenticate: () => { throw new Error('backend down') } } })
        const c = await b.connect({ protocolVersion: v, allowRefusal: true })
        if (v === 5) assert.equal(connackCode(c.connack!), 0x80)
        else assert.notEqual(connackCode(c.connack!), 0)
        await c.expectClosed()
      })

      it('a slow (async) authenticator delays the CONNACK, not other clients', async function () {
        const b = await h.broker({ authenticate: { authenticate: r => new Promise(resolve => setTimeout(() => resolve(true), r.username === 'slow' ? 300 : 0)) } })
        const slow = b.connect({ protocolVersion: v, username: 'slow' })
        const t0 = Date.now()
        await b.connect({ protocolVersion: v, username: 'fast' })
        assert.ok(Date.now() - t0 < 250, 'the fast client was not held up')
        await slow
      })

      it(`${spec(v, ['3.3.5-2'], null, '§3.4.2.1 0x87')} a refused PUBLISH is not delivered; QoS 1 gets ${v === 5 ? 'PUBACK 0x87' : 'a positive PUBACK or a close'}`, async function () {
        const b = await h.broker({ authorize: new TopicAcl() })
        const w = await b.connect({ protocolVersion: v, username: 'admin' })
        await w.subscribe('secret/#', 1)
        const c = await b.connect({ protocolVersion: v, username: 'guest' })
        c.send({ cmd: 'publish', topic: 'secret/x', payload: Buffer.from('x'), qos: 1, messageId: 9, retain: false, dup: false })
        const r = await c.waitFor('puback').catch(() => null)
        if (v === 5) {
          assert.ok(r, 'PUBACK expected')
          assert.equal(r.reasonCode, 0x87)
        } else if (!r) {
          await c.expectClosed()
        }
        await w.expectNothing(200, 'publish')
      })

      if (v === 5) {
        it('(MQTT 5 §3.5.2.1) a refused QoS 2 PUBLISH gets PUBREC 0x87; the packet identifier is free again at once [MQTT-4.3.3-9]', async function () {
          const b = await h.broker({ authorize: new TopicAcl(true) })
          const c = await b.connect({ protocolVersion: 5 })
          c.send({ cmd: 'publish', topic: 'secret/y', payload: Buffer.from('x'), qos: 2, messageId: 4, retain: false, dup: false })
          const rec = await c.next('pubrec')
          assert.equal(rec.reasonCode, 0x87)
          const ok = await c.publish('public/y', 'fine', { qos: 2, messageId: 4 })
          assert.equal(ok?.cmd, 'pubcomp')
        })
      }

      it('a refused QoS 0 PUBLISH is not delivered and the connection stays usable', async function () {
        const b = await h.broker({ authorize: new TopicAcl() })
        const w = await b.connect({ protocolVersion: v, username: 'admin' })
        await w.subscribe('#', 0)
        const c = await b.connect({ protocolVersion: v })
        await c.publish('secret/z', 'x')
        await c.publish('public/z', 'ok')
        assertPublish(await w.waitFor('publish'), { topic: 'public/z', payload: 'ok' })
        await w.expectNothing(100, 'publish')
      })

      it(`${spec(v, ['3.9.3-2'], ['3.9.3-2'])} a refused subscription gets ${v === 5 ? '0x87' : '0x80'}; the other filters of the same SUBSCRIBE are granted; refused filters get nothing`, async function () {
        const b = await h.broker({ authorize: new TopicAcl() })
        const c = await b.connect({ protocolVersion: v, username: 'guest' })
        const g = await c.subscribe([{ topic: 'public/#', qos: 1 }, { topic: 'secret/#', qos: 1 }, { topic: 'capped/#', qos: 2 }])
        assert.deepEqual(g, [1, v === 5 ? 0x87 : 0x80, 0])
        const admin = await b.connect({ protocolVersion: v, username: 'admin' })
        await admin.publish('secret/a', 's', { qos: 1 })
        await admin.publish('capped/a', 'c', { qos: 2 })
        assertPublish(await c.waitFor('publish'), { topic: 'capped/a', payload: 'c', qos: 0 }, 'granted QoS 0 caps delivery')
        await c.expectNothing(150, 'publish')
      })

      it('the authorizer sees the filter of a shared subscription without the $share/{group}/ prefix', async function () {
        const b = await h.broker({ authorize: new TopicAcl() })
        const c = await b.connect({ protocolVersion: 5, username: 'guest' })
        const g = await c.subscribe([{ topic: '$share/g/secret/#', qos: 1 }, { topic: '$share/g/public/#', qos: 1 }])
        assert.deepEqual(g, [0x87, 1])
      })

      it('a will to a topic the client may not publish to is not published (dropped as not-authorized)', async function () {
        const b = await h.broker({ authorize: new TopicAcl() })
        const drops: string[] = []
        b.broker.on('messageDropped', d => drops.push(d.reason))
        const w = await b.connect({ protocolVersion: v, username: 'admin' })
        await w.subscribe('secret/#', 0)
        const c = await b.connect({ protocolVersion: v, username: 'guest', will: { topic: 'secret/will', payload: Buffer.from('w'), qos: 0, retain: false } })
        c.destroy()
        await w.expectNothing(300, 'publish')
        await sleep(20)
        assert.ok(drops.includes('not-authorized'))
      })

      it('in-process clients go through the same authenticator and authorizer', async function () {
        const b = await h.broker({ authenticate: table(), authorize: new TopicAcl() })
        await assert.rejects(b.broker.connectLocal({ protocolVersion: v }), (e: Error & { reasonCode?: number }) => e.reasonCode === 0x87)
        await assert.rejects(b.broker.connectLocal({ protocolVersion: v, username: 'alice', password: 'x' }), (e: Error & { reasonCode?: number }) => e.reasonCode === 0x86)
        const local = await b.local({ protocolVersion: v, username: 'alice', password: 'pw' })
        await assert.rejects(local.publish({ topic: 'secret/l', payload: Buffer.from('x'), qos: 1, retain: false }),
          (e: Error & { reasonCode?: number }) => e.reasonCode === 0x87)
        assert.deepEqual(await local.subscribe([{ topic: 'secret/#', qos: 1 }, { topic: 'public/#', qos: 1 }]), [v === 5 ? 0x87 : 0x80, 1])
      })
    })
  }
})
