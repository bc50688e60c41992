/**
 * PasswordAuthenticator beyond the conformance suite: merging sources, reload, the verification
 * cache, the limiter, the decoy work for unknown users, a connection storm, and a live broker.
 */
import assert from 'node:assert/strict'
import { pbkdf2Sync } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { type AccessFileError, PasswordAuthenticator, hashPassword, type PasswordEntry } from '../../src/broker/access'
import type { AuthenticateResult } from '../../src/broker/auth'
import { request } from '../conformance/auth.suite'
import { connackCode, useHarness } from '../helpers'

const decide = async (a: PasswordAuthenticator, username: string | undefined, password?: string): Promise<AuthenticateResult> =>
  await a.authenticate(request({ username, password }))

async function entries (n: number, iterations: number, prefix = 'user'): Promise<PasswordEntry[]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => ({ username: `${prefix}${i}`, hash: await hashPassword(`pw${i}`, { iterations }) })))
}

describe('access: PasswordAuthenticator', function () {
  it('merges a password file with plain users; a user in both, a duplicate or an empty name is a coded error', async function () {
    const file = await entries(2, 100)
    const a = new PasswordAuthenticator({ passwordFile: file, users: { plain: 'p' } })
    assert.deepEqual(await decide(a, 'user1', 'pw1'), { ok: true })
    assert.deepEqual(await decide(a, 'plain', 'p'), { ok: true })
    assert.throws(() => new PasswordAuthenticator({ passwordFile: file, users: { user0: 'x' } }), (e: AccessFileError) => e.code === 'USER_IN_BOTH' && e.user === 'user0')
    assert.throws(() => new PasswordAuthenticator({ passwordFile: [...file, { ...file[0], line: 7 }] }), (e: AccessFileError) => e.code === 'PWFILE_DUPLICATE_USER' && e.line === 7)
    assert.throws(() => new PasswordAuthenticator({ users: { '': 'x' } }), { code: 'USER_EMPTY_NAME' })
    assert.throws(() => new PasswordAuthenticator({ passwordFile: [{ username: 'x', hash: '$7$1$AAAA$BBBB' }] }), { code: 'HASH_BAD_SALT' })
  })

  it('reload() swaps the accounts at once; a bad table throws and the old one stays; a verification under way finishes on its table', async function () {
    const [v1, v2] = await Promise.all([hashPassword('one', { iterations: 20000 }), hashPassword('two', { iterations: 100 })])
    const a = new PasswordAuthenticator({ passwordFile: [{ username: 'u', hash: v1 }] })
    const during = a.authenticate(request({ username: 'u', password: 'one' }))
    a.reload({ passwordFile: [{ username: 'u', hash: v2 }], users: { added: 'x' } })
    assert.deepEqual(await during, { ok: true }, 'started against the old table')
    assert.deepEqual(await decide(a, 'u', 'one'), { ok: false, reasonCode: 0x86 })
    assert.deepEqual(await decide(a, 'u', 'two'), { ok: true })
    assert.deepEqual(await decide(a, 'added', 'x'), { ok: true })
    assert.throws(() => a.reload({ passwordFile: [{ username: 'u', hash: v1 }], users: { u: 'x' } }), { code: 'USER_IN_BOTH' })
    assert.deepEqual(await decide(a, 'u', 'two'), { ok: true }, 'the old table stays after a failed reload')
    a.reload({})
    assert.equal(a.hasAccounts, false)
    assert.deepEqual(await decide(a, 'u', 'two'), { ok: false, reasonCode: 0x87 }, 'no account left: anonymous rule')
  })

  it('caches successful verifications only, per hash: a changed hash is not served from the cache', async function () {
    const [h1, h2] = await Promise.all([hashPassword('pw', { iterations: 1000 }), hashPassword('pw', { iterations: 1000 })])
    const a = new PasswordAuthenticator({ passwordFile: [{ username: 'u', hash: h1 }] })
    await decide(a, 'u', 'pw')
    assert.deepEqual(a.stats, { hashesComputed: 1, cacheHits: 0, busyRefusals: 0 })
    assert.deepEqual(await decide(a, 'u', 'pw'), { ok: true })
    assert.deepEqual(a.stats, { hashesComputed: 1, cacheHits: 1, busyRefusals: 0 })
    await decide(a, 'u', 'wrong')
    await decide(a, 'u', 'wrong')
    assert.deepEqual(a.stats, { hashesComputed: 3, cacheHits: 1, busyRefusals: 0 }, 'a refusal is never cached')
    a.reload({ passwordFile: [{ username: 'u', hash: h1 }] })
    assert.equal(a.cacheSize, 1, 'same hash: the entry stays')
    a.reload({ passwordFile: [{ username: 'u', hash: h2 }] })
    assert.equal(a.cacheSize, 0, 'changed hash: the entry goes')
    assert.deepEqual(await decide(a, 'u', 'pw'), { ok: true })
    assert.equal(a.stats.hashesComputed, 4)
    a.reload({ passwordFile: [{ username: 'u', hash: await hashPassword('new', { iterations: 1000 }) }] })
    assert.deepEqual(await decide(a, 'u', 'pw'), { ok: false, reasonCode: 0x86 }, 'the old password is not accepted from the cache')
  })

  it('the cache is bounded (least recently used go first) and can be turned off', async function () {
    const file = await entries(6, 100)
    const a = new PasswordAuthenticator({ passwordFile: file }, { cacheSize: 3 })
    for (let i = 0; i < 6; i++) await decide(a, `user${i}`, `pw${i}`)
    assert.equal(a.cacheSize, 3)
    await decide(a, 'user5', 'pw5')
    await decide(a, 'user0', 'pw0')
    assert.deepEqual(a.stats, { hashesComputed: 7, cacheHits: 1, busyRefusals: 0 })
    const off = new PasswordAuthenticator({ passwordFile: file }, { cacheSize: 0 })
    await decide(off, 'user1', 'pw1')
    await decide(off, 'user1', 'pw1')
    assert.equal(off.stats.hashesComputed, 2)
    assert.equal(off.cacheSize, 0)
  })

  it('concurrent CONNECTs with the same credentials share one verification', async function () {
    const a = new PasswordAuthenticator({ passwordFile: await entries(1, 5000) })
    const all = await Promise.all(Array.from({ length: 50 }, () => decide(a, 'user0', 'pw0')))
    assert.ok(all.every(r => r.ok))
    assert.equal(a.stats.hashesComputed, 1)
  })

  it('beyond the queue bound a CONNECT is refused at once with 0x89 (Server busy)', async function () {
    const a = new PasswordAuthenticator({ passwordFile: await entries(4, 50000) }, { concurrency: 1, maxQueued: 1 })
    const r = await Promise.all([0, 1, 2, 3].map(i => decide(a, `user${i}`, `pw${i}`)))
    assert.deepEqual(r, [{ ok: true }, { ok: true }, { ok: false, reasonCode: 0x89 }, { ok: false, reasonCode: 0x89 }])
    assert.equal(a.stats.busyRefusals, 2)
    assert.deepEqual(await decide(a, 'user3', 'pw3'), { ok: true }, 'served again once the queue has drained')
  })

  it('an unknown user costs a PBKDF2 run like a known one (no timing tell), and is refused with 0x86', async function () {
    const a = new PasswordAuthenticator({ passwordFile: await entries(3, 60000) }, { cacheSize: 0 })
    // CPU time of the process (the hash runs on the thread pool, which counts too), not wall time:
    // what a check costs, whatever else the machine is doing.
    const time = async (u: string, p: string): Promise<number> => {
      const t0 = process.cpuUsage()
      const r = await decide(a, u, p)
      assert.deepEqual(r, { ok: false, reasonCode: 0x86 })
      const d = process.cpuUsage(t0)
      return (d.user + d.system) / 1000
    }
    const median = (xs: number[]): number => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]
    const known: number[] = []
    const unknown: number[] = []
    for (let i = 0; i < 5; i++) {
      known.push(await time('user1', 'wrong'))
      unknown.push(await time('nobody', 'wrong'))
    }
    assert.equal(a.stats.hashesComputed, 10)
    const ratio = median(unknown) / median(known)
    assert.ok(ratio > 0.5 && ratio < 2, `unknown ${median(unknown).toFixed(1)} ms vs known ${median(known).toFixed(1)} ms of CPU`)
    assert.deepEqual(await decide(a, 'user1', undefined), { ok: false, reasonCode: 0x86 })
    assert.equal(a.stats.hashesComputed, 11, 'a missing password does the same work too')
  })

  it('storm: 500 concurrent $7$ authentications (50 users x 10) keep the event loop free; repeats come from the cache', async function () {
    this.timeout(120000)
    // Iterations for about 60 ms per hash on this machine: a hash computed on the event loop would show at once.
    const t = process.hrtime.bigint()
    pbkdf2Sync('x', 'salt', 20000, 64, 'sha512')
    const ITER = Math.max(20000, Math.round(20000 * 60 / (Number(process.hrtime.bigint() - t) / 1e6)))
    const file = await entries(50, ITER, 'dev')
    const a = new PasswordAuthenticator({ passwordFile: file })
    const h = monitorEventLoopDelay({ resolution: 5 })
    h.enable()
    const t0 = Date.now()
    const first = await Promise.all(Array.from({ length: 500 }, (_, i) => decide(a, `dev${i % 50}`, i >= 490 ? 'wrong' : `pw${i % 50}`)))
    const stormMs = Date.now() - t0
    await new Promise(resolve => setTimeout(resolve, 30)) // let the monitor record a block that lasted until now
    h.disable()
    const maxMs = h.max / 1e6
    const p99Ms = h.percentile(99) / 1e6
    assert.equal(first.filter(r => r.ok).length, 490)
    assert.deepEqual(first.filter(r => !r.ok), Array.from({ length: 10 }, () => ({ ok: false, reasonCode: 0x86 })))
    assert.equal(a.stats.hashesComputed, 60, 'one hash per distinct user and password')
    assert.ok(h.count >= stormMs / 50, `the monitor sampled (${h.count} samples in ${stormMs} ms)`)
    assert.ok(p99Ms < 40, `event loop delay p99 ${p99Ms.toFixed(1)} ms, max ${maxMs.toFixed(1)} ms over ${stormMs} ms`)
    const computed = a.stats.hashesComputed
    const t1 = process.hrtime.bigint()
    const again = await Promise.all(Array.from({ length: 500 }, (_, i) => decide(a, `dev${i % 50}`, `pw${i % 50}`)))
    const repeatMs = Number(process.hrtime.bigint() - t1) / 1e6
    assert.ok(again.every(r => r.ok))
    assert.equal(a.stats.hashesComputed, computed, 'no hash computed for repeats')
    assert.equal(a.stats.cacheHits, 500)
    assert.ok(repeatMs < stormMs / 10, `repeats took ${repeatMs.toFixed(1)} ms, the storm ${stormMs} ms`)
    console.log(`      storm: ${stormMs} ms for 500 (${computed} hashes of ${ITER} iterations), loop delay p99 ${p99Ms.toFixed(1)} ms max ${maxMs.toFixed(1)} ms; 500 repeats ${repeatMs.toFixed(1)} ms`)
  })

  describe('through a live broker', function () {
    const h = useHarness()

    it('accepts and refuses CONNECTs by the password file; reload() keeps connected clients and applies to new CONNECTs', async function () {
      const auth = new PasswordAuthenticator({ passwordFile: [{ username: 'alice', hash: await hashPassword('pw', { iterations: 1000 }) }] })
      const b = await h.broker({ authenticate: auth })
      const alice = await b.connect({ protocolVersion: 5, username: 'alice', password: 'pw', clientId: 'alice1' })
      assert.equal(connackCode(alice.connack!), 0)
      const bad = await b.connect({ protocolVersion: 4, username: 'alice', password: 'nope', allowRefusal: true })
      assert.equal(connackCode(bad.connack!), 4)
      await bad.expectClosed()
      auth.reload({ users: { bob: 'b' } })
      await alice.subscribe('t', 0)
      const bob = await b.connect({ protocolVersion: 5, username: 'bob', password: 'b' })
      await bob.publish('t', 'still here')
      const m = await alice.waitFor('publish')
      assert.equal(m.payload.toString(), 'still here', 'alice, connected before the reload, is still served')
      const again = await b.connect({ protocolVersion: 5, username: 'alice', password: 'pw', allowRefusal: true })
      assert.equal(connackCode(again.connack!), 0x86)
    })
  })
})
