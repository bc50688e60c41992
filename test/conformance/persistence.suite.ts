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
 * sessions and incoming packet identifiers; outgoing messages must come back in seq order.
 */
import assert from 'node:assert/strict'
import type {
  Persistence, PersistedState, StoredMessage, StoredOutgoing, StoredSession, OutgoingState,
} from '../../src/broker/persistence'

export interface PersistenceHarness {
  open (): Persistence
  cleanup (): Promise<void>
}

type Loaded = PersistedState['sessions'][number]

/** Drop undefined-valued keys recursively (Buffers untouched) so implementations may omit them. */
function clean<T> (v: T): T {
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
    .map(x => ({ ...x, incoming: [...x.incoming].sort((a, b) => a - b) }))
    .sort((a, b) => a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0)
  return { retained, sessions }
}

/** An independent model of what a store must return, for the randomized test. */
class Model {
  retained = new Map<string, StoredMessage>()
  sessions = new Map<string, { meta: StoredSession, outgoing: Map<number, StoredOutgoing>, incoming: Set<number> }>()
  state (): PersistedState {
    return {
      retained: [...this.retained.values()],
      sessions: [...this.sessions.values()].map(s => ({
        ...s.meta,
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
  return { seq, state: 'queued', message: msg(`t/${seq}`, `m${seq}`, { retain: false }), ...extra }
}

function find (state: PersistedState, clientId: string): Loaded {
  const s = state.sessions.find(x => x.clientId === clientId)
  assert.ok(s, `session ${clientId} is missing`)
  return s
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

    it("the store keeps its own copies: changing the caller's objects or the opened state changes nothing", async () => {
      await start()
      const m = msg('t', 'v', { properties: { contentType: 'a', userProperties: { k: 'v' } } })
      const s = session('c')
      const o = out(1, { subscriptionIdentifiers: [5] })
      cur().setRetained(m)
      cur().saveSession(s)
      cur().addOutgoing('c', o)
      m.qos = 0
      m.topic = 'changed'
      if (m.properties) m.properties.contentType = 'b'
      s.subscriptions.push({ topic: 'added/later', qos: 0 })
      s.subscriptions[0].qos = 2
      o.state = 'sent'
      o.message.qos = 2
      let st = await reopen()
      assert.deepEqual(clean(st.retained), [clean(msg('t', 'v', { properties: { contentType: 'a', userProperties: { k: 'v' } } }))])
      const c = find(st, 'c')
      assert.deepEqual(clean(c.subscriptions), session('c').subscriptions)
      assert.deepEqual(clean(c.outgoing), [clean(out(1, { subscriptionIdentifiers: [5] }))])
      // Mutate what open() returned, then reopen without changing anything.
      st.retained[0].qos = 2
      c.subscriptions.length = 0
      c.outgoing[0].state = 'released'
      c.incoming.push(9)
      st = await reopen()
      assert.equal(st.retained[0].qos, 1)
      assert.equal(find(st, 'c').subscriptions.length, 1)
      assert.equal(find(st, 'c').outgoing[0].state, 'queued')
      assert.deepEqual(find(st, 'c').incoming, [])
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

    it('randomized: 4000 operations with periodic reopens match a model', async function () {
      this.timeout(60000)
      await start()
      const rand = rng(0x5EED)
      const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)]
      const model = new Model()
      const clients = ['a', 'b', 'c', 'd', 'e']
      const topics = Array.from({ length: 40 }, (_, i) => `topic/${i % 7}/${i}`)
      const states: OutgoingState[] = ['queued', 'sent', 'released']
      let seq = 0
      for (let i = 0; i < 4000; i++) {
        const r = rand()
        const id = pick(clients)
        const sess = model.sessions.get(id)
        if (r < 0.25) {
          const payload = Buffer.alloc(Math.floor(rand() * 300))
          for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(rand() * 256)
          const m = msg(pick(topics), payload, { qos: pick([0, 1, 2] as const) })
          if (rand() < 0.3) m.properties = { userProperties: { i: String(i) }, correlationData: payload.subarray(0, 4) }
          if (rand() < 0.2) m.expiresAt = FAR_FUTURE + i
          cur().setRetained(m)
          model.retained.set(m.topic, { ...m, payload: Buffer.from(m.payload) })
        } else if (r < 0.32) {
          const t = pick(topics)
          cur().deleteRetained(t)
          model.retained.delete(t)
        } else if (r < 0.40) {
          const s = session(id, { expiryInterval: pick([60, 3600, 0xFFFFFFFF]), disconnectedAt: rand() < 0.5 ? Date.now() : undefined })
          cur().saveSession(s)
          if (sess) sess.meta = s
          else model.sessions.set(id, { meta: s, outgoing: new Map(), incoming: new Set() })
        } else if (r < 0.43) {
          cur().deleteSession(id)
          model.sessions.delete(id)
        } else if (r < 0.65) {
          const o = out(++seq, { message: msg(pick(topics), `o${seq}`, { qos: pick([1, 2] as const), retain: false }) })
          cur().addOutgoing(id, o)
          sess?.outgoing.set(o.seq, { ...o })
        } else if (r < 0.78) {
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
        }
      }
      const st = await reopen()
      assert.deepEqual(canonical(st), canonical(model.state()))
    })
  })
}
