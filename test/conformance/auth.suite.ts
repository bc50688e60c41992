/**
 * The shared conformance suites every Authenticator and Authorizer implementation must pass.
 *
 *   authenticatorSuite('UserTableAuthenticator', () => ({
 *     authenticator: new UserTableAuthenticator({ alice: 'pw' }),
 *     accept: [request({ username: 'alice', password: 'pw' })],
 *     refuse: [{ request: request({ username: 'alice', password: 'no' }), reasonCode: 0x86 }],
 *   }))
 *
 * An implementation states which requests it accepts and refuses (and, optionally, with which
 * reason code); the suite checks those decisions plus the properties every implementation must
 * have: answers are well-formed (a boolean, an AuthenticateResult, or a Promise of one), refusal
 * codes are valid MQTT 5 CONNACK refusal codes, the same question always gets the same answer,
 * requests are not modified, concurrent calls do not interfere, and odd input gets a decision,
 * not an exception. The authorizer suite does the same for publish and subscribe decisions, and,
 * for an authorizer with the optional read check (authorizeRead), for delivery decisions: a
 * synchronous boolean, as stated, the same under interleaving, never an exception.
 */
import assert from 'node:assert/strict'
import type { AuthClient, AuthenticateRequest, AuthenticateResult, Authenticator, Authorizer } from '../../src/broker/auth'
import type { QoS } from '../../src/broker/types'

/** MQTT 5 CONNACK reason codes that refuse a connection (OASIS MQTT 5.0 §3.2.2.2). */
const CONNACK_REFUSALS = [0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f]

/** An authentication request with defaults for what a test does not care about. */
export function request (o: Partial<Omit<AuthenticateRequest, 'password'>> & { password?: Buffer | string } = {}): AuthenticateRequest {
  const { password, ...rest } = o
  return {
    clientId: 'client1',
    protocolVersion: 5,
    kind: 'network',
    remoteAddress: '127.0.0.1',
    ...rest,
    ...(password !== undefined ? { password: Buffer.isBuffer(password) ? password : Buffer.from(password) } : {}),
  }
}

/** Normalise any allowed answer of Authenticator.authenticate to an AuthenticateResult. */
async function decideAuthn (a: Authenticator, req: AuthenticateRequest): Promise<AuthenticateResult> {
  const r = await a.authenticate(req)
  if (typeof r === 'boolean') return { ok: r }
  assert.equal(typeof r, 'object', `authenticate() returned ${String(r)}`)
  assert.equal(typeof r.ok, 'boolean', 'an AuthenticateResult has a boolean ok')
  return r
}

function snapshot (req: AuthenticateRequest): unknown {
  return { ...req, password: req.password ? Buffer.from(req.password).toString('hex') : undefined }
}

export interface AuthenticatorCase {
  authenticator: Authenticator
  accept: AuthenticateRequest[]
  refuse: Array<{ request: AuthenticateRequest, reasonCode?: number }>
}

export function authenticatorSuite (name: string, make: () => AuthenticatorCase | Promise<AuthenticatorCase>): void {
  describe(`Authenticator conformance: ${name}`, function () {
    it('accepts every request it is meant to accept', async function () {
      const c = await make()
      assert.ok(c.accept.length > 0, 'a case names at least one accepted request')
      for (const req of c.accept) {
        const r = await decideAuthn(c.authenticator, req)
        assert.equal(r.ok, true, `should accept ${JSON.stringify(snapshot(req))}`)
      }
    })

    it('refuses every request it is meant to refuse, with a valid MQTT 5 CONNACK refusal code (the expected one where stated)', async function () {
      const c = await make()
      if (c.refuse.length === 0) this.skip() // an allow-all implementation refuses nothing
      for (const { request: req, reasonCode } of c.refuse) {
        const r = await decideAuthn(c.authenticator, req)
        assert.equal(r.ok, false, `should refuse ${JSON.stringify(snapshot(req))}`)
        if (r.reasonCode !== undefined) assert.ok(CONNACK_REFUSALS.includes(r.reasonCode), `0x${r.reasonCode.toString(16)} is not a CONNACK refusal code`)
        if (reasonCode !== undefined) assert.equal(r.reasonCode ?? 0x86, reasonCode, `reason code for ${JSON.stringify(snapshot(req))}`)
      }
    })

    it('gives the same answer to the same question, and does not modify the request', async function () {
      const c = await make()
      for (const req of [...c.accept, ...c.refuse.map(x => x.request)]) {
        const before = JSON.stringify(snapshot(req))
        const a = await decideAuthn(c.authenticator, req)
        const b = await decideAuthn(c.authenticator, req)
        assert.deepEqual({ ok: a.ok, rc: a.reasonCode }, { ok: b.ok, rc: b.reasonCode })
        assert.equal(JSON.stringify(snapshot(req)), before, 'the request was modified')
      }
    })

    it('answers 100 interleaved concurrent requests correctly', async function () {
      const c = await make()
      const all = [...c.accept.map(r => ({ r, ok: true })), ...c.refuse.map(x => ({ r: x.request, ok: false }))]
      const calls = Array.from({ length: 100 }, (_, i) => all[i % all.length])
      const results = await Promise.all(calls.map(x => decideAuthn(c.authenticator, x.r)))
      results.forEach((r, i) => assert.equal(r.ok, calls[i].ok, `call ${i}`))
    })

    it('returns a decision (never throws) for odd input: empty or missing fields, a huge user name, non-ASCII, binary passwords', async function () {
      const c = await make()
      const odd: AuthenticateRequest[] = [
        request({ clientId: '' }),
        request({ username: '' }),
        request({ username: '', password: '' }),
        request({ username: 'x', password: Buffer.alloc(0) }),
        request({ username: 'x'.repeat(65535), password: 'y'.repeat(65535) }),
        request({ username: 'ünï ✓ 日本', password: Buffer.from([0, 255, 128, 0]) }),
        request({ username: '__proto__', password: 'constructor' }),
        request({ username: 'toString' }),
        request({ protocolVersion: 3 }),
        request({ kind: 'local', remoteAddress: undefined }),
      ]
      for (const req of odd) {
        const r = await decideAuthn(c.authenticator, req)
        assert.equal(typeof r.ok, 'boolean')
      }
    })
  })
}

export interface AuthorizerCase {
  authorizer: Authorizer
  allowPublish: Array<[AuthClient, string, QoS]>
  denyPublish: Array<[AuthClient, string, QoS]>
  /** [client, filter, requested QoS, the QoS expected to be granted (default: the requested one)]. */
  allowSubscribe: Array<[AuthClient, string, QoS, QoS?]>
  denySubscribe: Array<[AuthClient, string, QoS]>
  /** [client, topic] deliveries authorizeRead must allow; required when the authorizer has authorizeRead. */
  allowRead?: Array<[AuthClient, string]>
  /** [client, topic] deliveries authorizeRead must refuse. */
  denyRead?: Array<[AuthClient, string]>
}

/** The read check's answer, which must be a boolean returned synchronously (it runs on the delivery path). */
function decideRead (a: Authorizer, client: AuthClient, topic: string): boolean {
  assert.ok(a.authorizeRead !== undefined)
  const r: unknown = a.authorizeRead(client, topic)
  assert.equal(typeof r, 'boolean', `authorizeRead returned ${String(r)} (it must answer a boolean synchronously)`)
  return r as boolean
}

/** Normalise an authorizeSubscribe answer to the granted QoS, or false. */
async function decideSubscribe (a: Authorizer, client: AuthClient, filter: string, qos: QoS): Promise<QoS | false> {
  const r = await a.authorizeSubscribe(client, filter, qos)
  if (r === false) return false
  if (r === true) return qos
  assert.ok(r === 0 || r === 1 || r === 2, `authorizeSubscribe returned ${String(r)}`)
  assert.ok(r <= qos, `granted QoS ${r} above the requested ${qos}`)
  return r
}

async function decidePublish (a: Authorizer, client: AuthClient, topic: string, qos: QoS): Promise<boolean> {
  const r = await a.authorizePublish(client, topic, qos)
  assert.equal(typeof r, 'boolean', `authorizePublish returned ${String(r)}`)
  return r
}

export function authorizerSuite (name: string, make: () => AuthorizerCase | Promise<AuthorizerCase>): void {
  describe(`Authorizer conformance: ${name}`, function () {
    it('allows and denies publishes as stated, always answering a boolean', async function () {
      const c = await make()
      for (const [cl, t, q] of c.allowPublish) assert.equal(await decidePublish(c.authorizer, cl, t, q), true, `publish ${t} by ${cl.clientId}`)
      for (const [cl, t, q] of c.denyPublish) assert.equal(await decidePublish(c.authorizer, cl, t, q), false, `publish ${t} by ${cl.clientId}`)
    })

    it('allows subscriptions with at most the requested QoS, and denies as stated', async function () {
      const c = await make()
      for (const [cl, f, q, g] of c.allowSubscribe) assert.equal(await decideSubscribe(c.authorizer, cl, f, q), g ?? q, `subscribe ${f} by ${cl.clientId}`)
      for (const [cl, f, q] of c.denySubscribe) assert.equal(await decideSubscribe(c.authorizer, cl, f, q), false, `subscribe ${f} by ${cl.clientId}`)
    })

    it('never grants more than requested, for any QoS', async function () {
      const c = await make()
      for (const [cl, f] of c.allowSubscribe) {
        for (const q of [0, 1, 2] as QoS[]) {
          const g = await decideSubscribe(c.authorizer, cl, f, q)
          if (g !== false) assert.ok(g <= q)
        }
      }
    })

    it('authorizeRead, when implemented, answers a synchronous boolean and allows and refuses deliveries as stated', async function () {
      const c = await make()
      if (c.authorizer.authorizeRead === undefined) this.skip() // the read check is optional
      assert.ok((c.allowRead ?? []).length > 0, 'a case for an authorizer with authorizeRead names at least one allowed read')
      for (const [cl, t] of c.allowRead ?? []) assert.equal(decideRead(c.authorizer, cl, t), true, `read ${t} by ${cl.clientId}`)
      for (const [cl, t] of c.denyRead ?? []) assert.equal(decideRead(c.authorizer, cl, t), false, `read ${t} by ${cl.clientId}`)
    })

    it('gives the same answers under 100 concurrent interleaved calls', async function () {
      const c = await make()
      const jobs: Array<() => Promise<void>> = []
      for (let i = 0; i < 25; i++) {
        for (const [cl, t, q] of c.allowPublish) jobs.push(async () => assert.equal(await decidePublish(c.authorizer, cl, t, q), true))
        for (const [cl, t, q] of c.denyPublish) jobs.push(async () => assert.equal(await decidePublish(c.authorizer, cl, t, q), false))
        for (const [cl, f, q, g] of c.allowSubscribe) jobs.push(async () => assert.equal(await decideSubscribe(c.authorizer, cl, f, q), g ?? q))
        for (const [cl, f, q] of c.denySubscribe) jobs.push(async () => assert.equal(await decideSubscribe(c.authorizer, cl, f, q), false))
        if (c.authorizer.authorizeRead !== undefined) {
          for (const [cl, t] of c.allowRead ?? []) jobs.push(async () => assert.equal(decideRead(c.authorizer, cl, t), true))
          for (const [cl, t] of c.denyRead ?? []) jobs.push(async () => assert.equal(decideRead(c.authorizer, cl, t), false))
        }
      }
      await Promise.all(jobs.slice(0, 100).map(j => j()))
    })

    it('returns a decision (never throws) for odd topics and clients', async function () {
      const c = await make()
      const clients: AuthClient[] = [{ clientId: '', kind: 'network' }, { clientId: 'x', username: '', kind: 'local' }, { clientId: '__proto__', username: 'constructor', kind: 'network' }]
      const topics = ['$SYS/broker/load', '#', '+/+', '/', 'a'.repeat(65535), 'ünï/✓', 'a//b']
      for (const cl of clients) {
        for (const t of topics) {
          await decidePublish(c.authorizer, cl, t, 1)
          await decideSubscribe(c.authorizer, cl, t, 2)
          if (c.authorizer.authorizeRead !== undefined) decideRead(c.authorizer, cl, t)
        }
      }
    })
  })
}
