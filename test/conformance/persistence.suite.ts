/**
 * The shared conformance suite every Persistence implementation must pass.
 *
 *   persistenceSuite('MemoryPersistence', async () => { const p = new MemoryPersistence(); return { open: () => p, cleanup: async () => {} } })
 *
 * `open()` returns a Persistence on the store, not yet opened; the suite calls it again after
 * close() to check what survives a reopen (a memory store returns the same instance, a file
 * store a new instance on the same directory). `cleanup()` runs after each test, after close();
 * it may throw to fail the test (e.g. on unexpected warnings).
 *
 * State comparisons ignore keys whose value is undefined and the order of retained messages,
 * sessions, subscriptions and incoming packet identifiers; outgoing messages must come back in
 * seq order.
 *
 * Messages are shared, immutable values (see StoredMessage): the suite never changes a message
 * it handed over or got back, and checks that one message object handed for several deliveries
 * (and as a retained message) comes back as one object.
 */
import assert from 'node:assert/strict'
import type {
  Persistence, PersistedState, StoredMessage, StoredOutgoing, StoredSession, StoredSessionMeta, OutgoingState,
} from '../../src/broker/persistence'
import type { SubscriptionOptions } from '../../src/broker/types'

export interface PersistenceHarness {
  open (): Persistence
  cleanup (): Promise<void>
}

type Loaded = PersistedState['sessions'][number]

/** Drop undefined-valued keys recursively (Buffers untouched) so implementations may omit them. */
export function clean<T> (v: T): T {
  if (Buffer.isBuffer(v) || v === null || typeof v !== 'object') return v
  if (Array.isArray(v)) return v.map(clean) as unknown as T
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) out[k] = clean(x)
  return out as T
}

/** A canonical form of a persisted state for deepEqual. */
export function canonical (s: PersistedState): PersistedState {
  const retained = clean(s.retained).sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)
  const sessions = clean(s.sessions)
    .map(x => ({
      ...x,
      subscriptions: [...x.subscriptions].sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0),
      incoming: [...x.incoming].sort((a, b) => a - b),
    }))
    .sort((a, b) => a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0)
  return { retained, sessions }
}

/** An independent model of what a store must return, for the randomized test. */
class Model {
  retained = new Map<string, StoredMessage>()
  sessions = new Map<string, { meta: StoredSessionMeta, subs: Map<string, SubscriptionOptions>, outgoing: Map<number, StoredOutgoing>, incoming: Set<number> }>()
  state (): PersistedState {
    return {
      retained: [...this.retained.values()],
      sessions: [...this.sessions.values()].map(s => ({
        ...s.meta,
        subscriptions: [...s.subs.values()],
        outgoing: [...s.outgoing.values()].sort((a, b) => a.seq - b.seq),
        incoming: [...s.incoming],
      })),
    }
  }
}

/** Small deterministic PRNG (mulberry32) so a failure can be replayed. */
export function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FAR_FUTURE = Date.now() + 365 * 24 * 3600 * 1000

function msg (topic: string, payload: Buffer | string, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: true, ...extra }
}

function session (clientId: string, extra: Partial<StoredSession> = {}): StoredSession {
  return { clientId, protocolVersion: 5, expiryInterval: 3600, subscriptions: [{ topic: `${clientId}/#`, qos: 1 }], ...extra }
}

function out (seq: number, extra: Partial<StoredOutgoing> = {}): StoredOutgoing {
  return { seq, state: 'queued', qos: 1, retain: false, message: msg(`t/${seq}`, `m${seq}`, { retain: false }), ...extra }
}

function find (state: PersistedState, clientId: string): Loaded {
  const s = state.sessions.find(x => x.clientId === clientId)
  assert.ok(s, `session ${clientId} is missing`)
  return s
}

/** Messages with equal content in the opened state that were one object when handed must be one object: at least, no two objects for one (topic, payload) handed once. */
function assertShared (st: PersistedState): void {
  const seen = new Map<string, StoredMessage>()
  const all = [...st.retained, ...st.sessions.flatMap(s => s.outgoing.map(o => o.message))]
  for (const m of all) {
    const key = `${m.topic}\u0000${m.payload.toString('hex')}\u0000${m.expiresAt ?? ''}\u0000${JSON.stringify(m.properties ?? null)}\u0000${m.qos}`
    const prev = seen.get(key)
    if (prev === undefined) seen.set(key, m)
    else assert.equal(prev, m, `message on ${m.topic} handed once came back as two objects`)
  }
}

export function persistenceSuite (name: string, factory: () => Promise<PersistenceHarness>): void {
  describe(`Persistence conformance: ${name}`, function () {
    let h: PersistenceHarness
    let p: Persistence | undefined

    beforeEach(async () => { h = await factory() })
    afterEach(async () => {
      if (p) await p.close()
      p = undefined
      await h.cleanup()
    })

    async function start (): Promise<PersistedState> {
      p = h.open()
      return await p.open()
    }

    /** Close (optionally after waiting for sync) and open the store again. */
    async function reopen (opts: { sync?: boolean } = {}): Promise<PersistedState> {
      assert.ok(p)
      if (opts.sync !== false) await p.sync()
      await p.close()
      p = undefined
      return await start()
    }

    function cur (): Persistence { assert.ok(p); return p }

    it('a new store opens empty, and sync() returns undefined when nothing is pending', async () => {
      const s = await start()
      assert.deepEqual(s, { retained: [], sessions: [] })
      assert.equal(cur().sync(), undefined)
    })

    it('retained messages survive a reopen, with binary and empty payloads and every QoS', async () => {
      await start()
      const all = Buffer.alloc(256)
      for (let i = 0; i < 256; i++) all[i] = i
      const msgs = [
        msg('bin', all, { qos: 0 }),
        msg('empty', Buffer.alloc(0), { qos: 1 }),
        msg('a/b/c', 'hello', { qos: 2 }),
        msg('ünïcødé/トピック/😀', 'x', { qos: 1 }),
        msg('not-retained-flag', 'y', { retain: false }),
      ]
      for (const m of msgs) cur().setRetained(m)
      const s = await reopen()
      assert.deepEqual(canonical(s), canonical({ retained: msgs, sessions: [] }))
    })

    it('message properties and expiresAt survive: correlationData buffers, multi-valued user properties', async () => {
      await start()
      const m = msg('props', Buffer.from([0, 0xff, 0x10]), {
        qos: 2,
        expiresAt: FAR_FUTURE,
        properties: {
          payloadFormatIndicator: true,
          messageExpiryInterval: 86400 * 365,
          contentType: 'application/json; charset=ütf-8',
          responseTopic: 'reply/to/me',
          correlationData: Buffer.from([1, 2, 3, 0, 255]),
          userProperties: { a: '1', multi: ['x', 'y', 'x'], empty: '', 'ключ': 'значение' },
        },
      })
      const n = msg('pfi-false', 'z', { properties: { payloadFormatIndicator: false, userProperties: {} } })
      cur().setRetained(m)
      cur().setRetained(n)
      const s = await reopen()
      assert.deepEqual(canonical(s).retained, canonical({ retained: [m, n], sessions: [] }).retained)
    })

    it('setRetained replaces by topic, deleteRetained removes, deleting an unknown topic does nothing', async () => {
      await start()
      cur().setRetained(msg('a', '1'))
      cur().setRetained(msg('b', '2'))
      cur().setRetained(msg('a', '3', { qos: 0 }))
      cur().deleteRetained('b')
      cur().deleteRetained('never-set')
      let s = await reopen()
      assert.deepEqual(clean(s.retained), [msg('a', '3', { qos: 0 })])
      cur().deleteRetained('a')
      s = await reopen()
      assert.deepEqual(s.retained, [])
    })

    it('a 3 MiB payload survives', async () => {
      await start()
      const big = Buffer.alloc(3 * 1024 * 1024)
      for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff
      cur().setRetained(msg('big', big))
      cur().setRetained(msg('after-big', 'small'))
      const s = await reopen()
      const got = s.retained.find(m => m.topic === 'big')
      assert.ok(got && got.payload.equals(big))
      assert.ok(s.retained.find(m => m.topic === 'after-big'))
    })

    it('sessions keep metadata and every subscription option; saveSession replaces metadata but keeps queued and incoming state', async () => {
      await start()
      const s1 = session('c1', {
        protocolVersion: 5,
        expiryInterval: 0xFFFFFFFF,
        subscriptions: [
          { topic: 'a/+', qos: 0 },
          { topic: 'b/#', qos: 1, nl: true, rap: false, rh: 2, subscriptionIdentifier: 268435455 },
          { topic: '$share/g/c', qos: 2, nl: false, rap: true, rh: 0, subscriptionIdentifier: 1 },
        ],
      })
      const s2 = session('c2', { protocolVersion: 4, expiryInterval: 0xFFFFFFFF, disconnectedAt: Date.now() - 5000, subscriptions: [] })
      const s3 = session('c3', { protocolVersion: 3, expiryInterval: 600, disconnectedAt: Date.now() })
      cur().saveSession(s1)
      cur().saveSession(s2)
      cur().saveSession(s3)
      cur().addOutgoing('c1', out(1))
      cur().addIncoming('c1', 42)
      let st = await reopen()
      assert.deepEqual(canonical(st).sessions, canonical({
        retained: [],
        sessions: [{ ...s1, outgoing: [out(1)], incoming: [42] }, { ...s2, outgoing: [], incoming: [] }, { ...s3, outgoing: [], incoming: [] }],
      }).sessions)
      const s1b = session('c1', { expiryInterval: 60, disconnectedAt: Date.now(), subscriptions: [{ topic: 'only/this', qos: 1 }] })
      cur().saveSession(s1b)
      st = await reopen()
      assert.deepEqual(clean(find(st, 'c1')), clean({ ...s1b, outgoing: [out(1)], incoming: [42] }))
    })

    it('a session keeps its owner (user name and kind of client), and a session saved without one comes back without one', async () => {
      await start()
      cur().saveSession({ clientId: 'owned', protocolVersion: 5, expiryInterval: 60, owner: { username: 'alice', kind: 'network' } })
      cur().saveSession({ clientId: 'node', protocolVersion: 4, expiryInterval: 60, owner: { kind: 'local' } })
      cur().saveSession({ clientId: 'old', protocolVersion: 4, expiryInterval: 60 })
      const st = await reopen()
      const owners = Object.fromEntries(st.sessions.map(s => [s.clientId, s.owner]))
      assert.deepEqual(owners, { owned: { username: 'alice', kind: 'network' }, node: { kind: 'local' }, old: undefined })
    })

    it('deleteSession drops its outgoing and incoming state; a recreated session starts empty', async () => {
      await start()
      cur().saveSession(session('c'))
      cur().addOutgoing('c', out(1))
      cur().addOutgoing('c', out(2))
      cur().addIncoming('c', 7)
      cur().saveSession(session('keep'))
      cur().deleteSession('c')
      let st = await reopen()
      assert.deepEqual(st.sessions.map(x => x.clientId), ['keep'])
      cur().saveSession(session('c'))
      st = await reopen()
      assert.deepEqual(clean(find(st, 'c')), clean({ ...session('c'), outgoing: [], incoming: [] }))
      cur().deleteSession('never-existed')
      cur().deleteSession('keep')
      st = await reopen()
      assert.deepEqual(st.sessions.map(x => x.clientId), ['c'])
    })

    it('outgoing messages come back in seq order with their packet id, state and subscription identifiers', async () => {
      await start()
      cur().saveSession(session('c'))
      for (const seq of [5, 1, 9, 3, 7]) cur().addOutgoing('c', out(seq, { subscriptionIdentifiers: seq === 9 ? [1, 99] : undefined }))
      cur().updateOutgoing('c', 1, 100, 'sent')
      cur().updateOutgoing('c', 3, 101, 'sent')
      cur().updateOutgoing('c', 3, 101, 'released')
      cur().updateOutgoing('c', 5, 102, 'sent')
      cur().updateOutgoing('c', 5, undefined, 'queued') // back to the queue, packet id released
      cur().removeOutgoing('c', 7)
      const st = await reopen()
      const o = clean(find(st, 'c').outgoing)
      assert.deepEqual(o.map(x => x.seq), [1, 3, 5, 9])
      assert.deepEqual(o.map(x => [x.packetId, x.state]), [[100, 'sent'], [101, 'released'], [undefined, 'queued'], [undefined, 'queued']])
      assert.deepEqual(o[3].subscriptionIdentifiers, [1, 99])
      assert.deepEqual(o[0].message, clean(out(1).message))
    })

    it('outgoing and incoming changes for unknown sessions or sequence numbers are ignored', async () => {
      await start()
      cur().addOutgoing('ghost', out(1))
      cur().addIncoming('ghost', 1)
      cur().updateOutgoing('ghost', 1, 1, 'sent')
      cur().removeOutgoing('ghost', 1)
      cur().removeIncoming('ghost', 1)
      cur().saveSession(session('c'))
      cur().updateOutgoing('c', 12, 1, 'sent')
      cur().removeOutgoing('c', 12)
      cur().removeIncoming('c', 9)
      const st = await reopen()
      assert.deepEqual(clean(st.sessions), [clean({ ...session('c'), outgoing: [], incoming: [] })])
    })

    it('incoming QoS 2 packet identifiers are a set: add, re-add, remove', async () => {
      await start()
      cur().saveSession(session('c'))
      for (const id of [1, 2, 65535, 2]) cur().addIncoming('c', id)
      cur().removeIncoming('c', 1)
      let st = await reopen()
      assert.deepEqual([...find(st, 'c').incoming].sort((a, b) => a - b), [2, 65535])
      cur().removeIncoming('c', 2)
      cur().removeIncoming('c', 65535)
      st = await reopen()
      assert.deepEqual(find(st, 'c').incoming, [])
    })

    it("the store keeps its own records: changing the caller's session, subscription and outgoing objects, or the opened state, changes nothing", async () => {
      await start()
      const m = msg('t', 'v', { properties: { contentType: 'a', userProperties: { k: 'v' } } })
      const s = session('c')
      const sub: SubscriptionOptions = { topic: 'x/+', qos: 1, subscriptionIdentifier: 3 }
      const o = out(1, { subscriptionIdentifiers: [5] })
      cur().setRetained(m)
      cur().saveSession(s)
      cur().addSubscription('c', sub)
      cur().addOutgoing('c', o)
      s.subscriptions.push({ topic: 'added/later', qos: 0 })
      s.subscriptions[0].qos = 2
      s.expiryInterval = 1
      sub.qos = 0
      o.state = 'sent'
      o.qos = 2
      o.subscriptionIdentifiers?.push(6)
      let st = await reopen()
      assert.deepEqual(clean(st.retained), [clean(msg('t', 'v', { properties: { contentType: 'a', userProperties: { k: 'v' } } }))])
      const c = find(st, 'c')
      assert.deepEqual(canonical({ retained: [], sessions: [c] }).sessions, canonical({
        retained: [],
        sessions: [{ ...session('c'), subscriptions: [...session('c').subscriptions, { topic: 'x/+', qos: 1, subscriptionIdentifier: 3 }], outgoing: [out(1, { subscriptionIdentifiers: [5] })], incoming: [] }],
      }).sessions)
      // Change the records open() returned (never the messages), then reopen without changing anything.
      c.subscriptions.length = 0
      c.expiryInterval = 5
      c.outgoing[0].state = 'released'
      c.outgoing[0].subscriptionIdentifiers?.push(7)
      c.incoming.push(9)
      st = await reopen()
      assert.equal(find(st, 'c').subscriptions.length, 2)
      assert.equal(find(st, 'c').expiryInterval, 3600)
      assert.equal(find(st, 'c').outgoing[0].state, 'queued')
      assert.deepEqual(find(st, 'c').outgoing[0].subscriptionIdentifiers, [5])
      assert.deepEqual(find(st, 'c').incoming, [])
    })

    it('one message handed for many deliveries and as retained is stored once: it comes back as one object, each delivery with its own QoS, RETAIN and state', async () => {
      await start()
      const shared = msg('news', Buffer.alloc(1000, 7), { qos: 2, retain: true, expiresAt: FAR_FUTURE, properties: { contentType: 'text/plain' } })
      const other = msg('news', 'same content, another publish', { qos: 1 })
      cur().setRetained(shared)
      for (const id of ['a', 'b', 'c']) cur().saveSession(session(id))
      cur().addOutgoing('a', { seq: 1, state: 'queued', qos: 2, retain: true, message: shared, subscriptionIdentifiers: [4] })
      cur().addOutgoing('b', { seq: 7, state: 'sent', packetId: 9, qos: 1, retain: false, message: shared })
      cur().addOutgoing('b', { seq: 8, state: 'queued', qos: 1, retain: false, message: other })
      cur().addOutgoing('c', { seq: 1, state: 'queued', qos: 1, retain: false, message: shared })
      cur().updateOutgoing('c', 1, 3, 'sent')
      let st = await reopen()
      const a = find(st, 'a').outgoing
      const b = find(st, 'b').outgoing
      const c = find(st, 'c').outgoing
      assert.deepEqual(clean(a), [clean({ seq: 1, state: 'queued', qos: 2, retain: true, message: shared, subscriptionIdentifiers: [4] })])
      assert.deepEqual(clean(b), [clean({ seq: 7, state: 'sent', packetId: 9, qos: 1, retain: false, message: shared }), clean({ seq: 8, state: 'queued', qos: 1, retain: false, message: other })])
      assert.deepEqual(clean(c), [clean({ seq: 1, state: 'sent', packetId: 3, qos: 1, retain: false, message: shared })])
      assert.equal(st.retained.length, 1)
      assert.ok(a[0].message === st.retained[0] && b[0].message === st.retained[0] && c[0].message === st.retained[0], 'one object for the retained slot and every delivery')
      assert.notEqual(b[1].message, b[0].message, 'another publish with equal content is another message')
      // The message lives as long as anything points to it; handing back the object open() returned keeps it shared.
      cur().deleteRetained('news')
      cur().deleteSession('a')
      cur().removeOutgoing('b', 7)
      cur().saveSession(session('d'))
      cur().addOutgoing('d', { seq: 2, state: 'queued', qos: 0 as 1, retain: true, message: c[0].message })
      st = await reopen()
      assert.deepEqual(st.retained, [])
      assert.deepEqual(clean(find(st, 'c').outgoing[0].message), clean(shared))
      assert.equal(find(st, 'd').outgoing[0].message, find(st, 'c').outgoing[0].message)
      assert.equal(find(st, 'd').outgoing[0].retain, true)
      cur().removeOutgoing('c', 1)
      cur().removeOutgoing('d', 2)
      st = await reopen()
      assert.deepEqual(clean(find(st, 'b').outgoing), [clean({ seq: 8, state: 'queued', qos: 1, retain: false, message: other })])
      // Once nothing points to it, the same object handed again is stored again.
      cur().setRetained(shared)
      st = await reopen()
      assert.deepEqual(clean(st.retained), [clean(shared)])
    })

    it('subscriptions change one at a time: add, replace by filter, remove; saveSession without a list keeps them, with a list replaces them', async () => {
      await start()
      const meta: StoredSessionMeta = { clientId: 'c', protocolVersion: 5, expiryInterval: 60 }
      cur().saveSession(meta) // a new session: no subscriptions
      const subs: SubscriptionOptions[] = [
        { topic: 'a/+', qos: 0 },
        { topic: 'b/#', qos: 1, nl: true, rap: false, rh: 2, subscriptionIdentifier: 268435455 },
        { topic: '$share/g/c', qos: 2, nl: false, rap: true, rh: 0, subscriptionIdentifier: 1 },
      ]
      for (const x of subs) assert.equal(cur().addSubscription('c', x), true)
      cur().addSubscription('c', { topic: 'a/+', qos: 2, rh: 1 }) // replaces
      cur().removeSubscription('c', 'b/#')
      cur().removeSubscription('c', 'never/subscribed')
      cur().addSubscription('ghost', { topic: 'x', qos: 1 })
      cur().removeSubscription('ghost', 'x')
      let st = await reopen()
      assert.deepEqual(st.sessions.map(x => x.clientId), ['c'])
      const expect: SubscriptionOptions[] = [{ topic: 'a/+', qos: 2, rh: 1 }, subs[2]]
      assert.deepEqual(canonical(st).sessions[0], canonical({ retained: [], sessions: [{ ...meta, subscriptions: expect, outgoing: [], incoming: [] }] }).sessions[0])
      cur().saveSession({ ...meta, expiryInterval: 120, disconnectedAt: Date.now() - 1000 }) // metadata only
      st = await reopen()
      assert.equal(find(st, 'c').expiryInterval, 120)
      assert.equal(find(st, 'c').subscriptions.length, 2)
      cur().saveSession({ ...meta, subscriptions: [{ topic: 'only', qos: 1 }] })
      st = await reopen()
      assert.deepEqual(clean(find(st, 'c').subscriptions), [{ topic: 'only', qos: 1 }])
      cur().deleteSession('c')
      cur().saveSession(meta)
      st = await reopen()
      assert.deepEqual(find(st, 'c').subscriptions, [], 'a deleted session takes its subscriptions with it')
    })

    it('close() without sync() keeps every change made before it', async () => {
      await start()
      for (let i = 0; i < 200; i++) cur().setRetained(msg(`r/${i}`, `v${i}`))
      cur().saveSession(session('c'))
      cur().addOutgoing('c', out(1))
      const st = await reopen({ sync: false })
      assert.equal(st.retained.length, 200)
      assert.equal(find(st, 'c').outgoing.length, 1)
    })

    it('the same instance can be closed and opened again', async () => {
      await start()
      const q = cur()
      q.setRetained(msg('x', '1'))
      await q.close()
      const st = await q.open()
      assert.deepEqual(clean(st.retained), [msg('x', '1')])
      q.setRetained(msg('y', '2'))
      await q.close()
      const st2 = await q.open()
      assert.deepEqual(st2.retained.map(m => m.topic).sort(), ['x', 'y'])
    })

    it('sync() settles for many concurrent callers, then returns undefined until the next change', async () => {
      await start()
      const waits: Array<Promise<void>> = []
      for (let i = 0; i < 500; i++) {
        cur().setRetained(msg(`s/${i}`, 'p'))
        const w = cur().sync()
        if (w !== undefined) waits.push(w)
      }
      await Promise.all(waits)
      assert.equal(cur().sync(), undefined)
      cur().deleteRetained('s/0')
      await cur().sync()
      assert.equal(cur().sync(), undefined)
      const st = await reopen()
      assert.equal(st.retained.length, 499)
    })

    it('randomized: 5000 operations, shared messages and single subscriptions included, with periodic reopens match a model', async function () {
      this.timeout(60000)
      await start()
      const rand = rng(0x5EED)
      const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)]
      const model = new Model()
      const clients = ['a', 'b', 'c', 'd', 'e']
      const topics = Array.from({ length: 40 }, (_, i) => `topic/${i % 7}/${i}`)
      const states: OutgoingState[] = ['queued', 'sent', 'released']
      /** Recent messages, handed again to other sessions (one publish, many deliveries). */
      let recent: StoredMessage[] = []
      let seq = 0
      for (let i = 0; i < 5000; i++) {
        const r = rand()
        const id = pick(clients)
        const sess = model.sessions.get(id)
        if (r < 0.2) {
          const payload = Buffer.alloc(Math.floor(rand() * 300))
          for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(rand() * 256)
          const m = msg(pick(topics), payload, { qos: pick([0, 1, 2] as const) })
          if (rand() < 0.3) m.properties = { userProperties: { i: String(i) }, correlationData: payload.subarray(0, 4) }
          if (rand() < 0.2) m.expiresAt = FAR_FUTURE + i
          assert.equal(cur().setRetained(m), true)
          model.retained.set(m.topic, m)
          recent = [m, ...recent].slice(0, 5)
        } else if (r < 0.26) {
          const t = pick(topics)
          cur().deleteRetained(t)
          model.retained.delete(t)
        } else if (r < 0.32) {
          const meta = { clientId: id, protocolVersion: 5 as const, expiryInterval: pick([60, 3600, 0xFFFFFFFF]), disconnectedAt: rand() < 0.5 ? Date.now() : undefined }
          if (rand() < 0.3) {
            const s = session(id, meta)
            cur().saveSession(s)
            if (sess) { sess.meta = meta; sess.subs = new Map(s.subscriptions.map(x => [x.topic, x])) } else model.sessions.set(id, { meta, subs: new Map(s.subscriptions.map(x => [x.topic, x])), outgoing: new Map(), incoming: new Set() })
          } else {
            cur().saveSession(meta)
            if (sess) sess.meta = meta
            else model.sessions.set(id, { meta, subs: new Map(), outgoing: new Map(), incoming: new Set() })
          }
        } else if (r < 0.34) {
          cur().deleteSession(id)
          model.sessions.delete(id)
        } else if (r < 0.40) {
          const sub: SubscriptionOptions = { topic: `f/${Math.floor(rand() * 12)}/#`, qos: pick([0, 1, 2] as const) }
          if (rand() < 0.5) sub.subscriptionIdentifier = 1 + i
          assert.equal(cur().addSubscription(id, sub), true)
          sess?.subs.set(sub.topic, { ...sub })
        } else if (r < 0.44) {
          const t = `f/${Math.floor(rand() * 12)}/#`
          cur().removeSubscription(id, t)
          sess?.subs.delete(t)
        } else if (r < 0.64) {
          const shared = recent.length > 0 && rand() < 0.5
          const m = shared ? pick(recent) : msg(pick(topics), `o${seq}`, { qos: pick([1, 2] as const), retain: false })
          if (!shared) recent = [m, ...recent].slice(0, 5)
          const o: StoredOutgoing = { seq: ++seq, state: 'queued', qos: pick([1, 2] as const), retain: rand() < 0.3, message: m }
          assert.equal(cur().addOutgoing(id, o), true)
          sess?.outgoing.set(o.seq, { ...o })
        } else if (r < 0.76) {
          const keys = sess ? [...sess.outgoing.keys()] : [seq + 1]
          const k = keys.length > 0 ? pick(keys) : 0
          const pid = rand() < 0.9 ? 1 + Math.floor(rand() * 65535) : undefined
          const st = pick(states)
          cur().updateOutgoing(id, k, pid, st)
          const o = sess?.outgoing.get(k)
          if (o) { o.packetId = pid; o.state = st }
        } else if (r < 0.88) {
          const keys = sess ? [...sess.outgoing.keys()] : []
          const k = keys.length > 0 ? pick(keys) : 0
          cur().removeOutgoing(id, k)
          sess?.outgoing.delete(k)
        } else if (r < 0.95) {
          const pid = 1 + Math.floor(rand() * 20)
          cur().addIncoming(id, pid)
          sess?.incoming.add(pid)
        } else {
          const pid = 1 + Math.floor(rand() * 20)
          cur().removeIncoming(id, pid)
          sess?.incoming.delete(pid)
        }
        if (rand() < 0.05) await cur().sync()
        if (i % 700 === 699) {
          const st = await reopen({ sync: rand() < 0.5 })
          assert.deepEqual(canonical(st), canonical(model.state()), `after operation ${i}`)
          assertShared(st)
          recent = st.retained.slice(0, 5) // objects open() returned, handed back: they stay shared
        }
      }
      const st = await reopen()
      assert.deepEqual(canonical(st), canonical(model.state()))
      assertShared(st)
    })
  })
}
