// Session state (src/broker/session.ts) on its own: the outgoing queue and its counters, the
// compaction of its consumed head, what a disconnect drops, and packet identifier allocation.
// Written against surviving mutants (docs/mutation.md).
import assert from 'node:assert/strict'
import { Session, type Outgoing } from '../../src/broker/session'
import type { RoutedMessage } from '../../src/broker/message'
import type { Subscription } from '../../src/broker/topic-tree'

function out (seq: number, qos: 0 | 1 | 2, payload = 'x'): Outgoing {
  const msg: RoutedMessage = { topic: 't', payload: Buffer.from(payload), qos, retain: false, properties: undefined, expiresAt: undefined, origin: undefined, enc: undefined }
  return { seq, packetId: 0, state: 'queued', msg, qos, retain: false, subIds: undefined }
}

/** What the queue holds, as the counters and the order of what is left show it. */
function view (s: Session): { queued: number, bytes: number, held0: number, seqs: number[] } {
  return { queued: s.queued, bytes: s.queuedBytes, held0: s.held0, seqs: s.queue.slice(s.queueHead).map(o => o.seq) }
}

describe('unit: session state', function () {
  it('enqueue / peek / shift keep the queued count, payload bytes and held QoS 0 count', function () {
    const s = new Session('c')
    assert.deepEqual([s.peek(), s.shift(), view(s)], [undefined, undefined, { queued: 0, bytes: 0, held0: 0, seqs: [] }])
    s.enqueue(out(1, 0, 'aa'))
    s.enqueue(out(2, 1, 'bbb'))
    s.enqueue(out(3, 0, 'c'))
    assert.deepEqual(view(s), { queued: 3, bytes: 6, held0: 2, seqs: [1, 2, 3] })
    assert.equal(s.peek()?.seq, 1)
    assert.equal(s.shift()?.seq, 1)
    assert.deepEqual(view(s), { queued: 2, bytes: 4, held0: 1, seqs: [2, 3] })
    assert.equal(s.shift()?.seq, 2)
    assert.deepEqual(view(s), { queued: 1, bytes: 1, held0: 1, seqs: [3] })
    assert.equal(s.shift()?.seq, 3)
    assert.deepEqual([s.peek(), s.shift(), view(s)], [undefined, undefined, { queued: 0, bytes: 0, held0: 0, seqs: [] }])
  })

  it('the consumed head of the queue is dropped once it is over 1024 entries and over half the array', function () {
    const s = new Session('c')
    for (let i = 0; i < 3000; i++) s.enqueue(out(i, 1))
    for (let i = 0; i < 1025; i++) s.shift()
    assert.deepEqual([s.queueHead, s.queue.length], [1025, 3000], '1025 * 2 is not over 3000')
    for (let i = 0; i < 475; i++) s.shift()
    assert.deepEqual([s.queueHead, s.queue.length], [1500, 3000], 'exactly half: kept')
    assert.equal(s.shift()?.seq, 1500)
    assert.deepEqual([s.queueHead, s.queue.length, s.peek()?.seq, s.queued], [0, 1499, 1501, 1499])

    const small = new Session('d')
    for (let i = 0; i < 1025; i++) small.enqueue(out(i, 1))
    for (let i = 0; i < 1024; i++) small.shift()
    assert.deepEqual([small.queueHead, small.queue.length], [1024, 1025], 'not over 1024 yet')
    small.shift()
    assert.deepEqual([small.queueHead, small.queue.length, small.queued], [0, 0, 0])
  })

  it('clearQueue returns what was queued and resets every counter and the replay', function () {
    const s = new Session('c')
    s.enqueue(out(1, 0))
    s.enqueue(out(2, 1, 'yy'))
    s.enqueue(out(3, 2))
    s.shift()
    s.replay = []
    assert.deepEqual(s.clearQueue().map(o => o.seq), [2, 3])
    assert.deepEqual([view(s), s.queueHead, s.replay], [{ queued: 0, bytes: 0, held0: 0, seqs: [] }, 0, null])
  })

  it('dropTransient drops the replay and the held QoS 0 messages, and keeps QoS 1/2 with their bytes', function () {
    const s = new Session('c')
    s.enqueue(out(1, 1, 'a'))
    s.enqueue(out(2, 0, 'bb'))
    s.enqueue(out(3, 2, 'ccc'))
    s.enqueue(out(4, 0, 'dddd'))
    s.enqueue(out(5, 1, 'eeeee'))
    s.shift()
    s.replay = []
    s.dropTransient()
    assert.deepEqual([view(s), s.queueHead, s.replay], [{ queued: 2, bytes: 8, held0: 0, seqs: [3, 5] }, 0, null])

    // nothing held: the queue (and its consumed head) is left as it is
    const t = new Session('d')
    t.enqueue(out(1, 1, 'a'))
    t.enqueue(out(2, 2, 'bb'))
    t.shift()
    t.replay = []
    t.dropTransient()
    assert.deepEqual([view(t), t.queueHead, t.queue.length, t.replay], [{ queued: 1, bytes: 2, held0: 0, seqs: [2] }, 1, 2, null])
  })

  it('[MQTT-2.2.1-3] packet identifiers: in order, never one in flight, 65535 wraps to 1, 0 when all are taken', function () {
    const s = new Session('c')
    assert.deepEqual([s.allocatePacketId(), s.allocatePacketId()], [1, 2])
    s.addInflight(3, out(0, 1))
    s.addInflight(4, out(0, 1))
    assert.equal(s.allocatePacketId(), 5)
    s.notePacketId(65534)
    assert.deepEqual([s.allocatePacketId(), s.allocatePacketId(), s.allocatePacketId()], [65535, 1, 2])
    s.notePacketId(100)
    assert.equal(s.allocatePacketId(), 101)
    s.notePacketId(7) // behind the counter: no change
    assert.equal(s.allocatePacketId(), 102)
    s.notePacketId(102) // the one just handed out
    assert.equal(s.allocatePacketId(), 103)
    s.notePacketId(65535)
    assert.equal(s.allocatePacketId(), 1)

    const full = new Session('f')
    for (let id = 1; id <= 65535; id++) full.addInflight(id, out(id, 1))
    assert.equal(full.allocatePacketId(), 0)
    full.inflight.delete(40000)
    assert.equal(full.allocatePacketId(), 40000)
  })

  it('an idle session shares read-only empty tables; the first write gives it its own', function () {
    const a = new Session('a')
    const b = new Session('b')
    assert.throws(() => a.subscriptions.set('x', {} as Subscription))
    assert.throws(() => a.inflight.set(1, out(1, 1)))
    assert.throws(() => a.incoming.add(1))
    a.addSubscription('x', {} as Subscription)
    a.addInflight(9, out(1, 1))
    a.addIncoming(5)
    a.addIncoming(6)
    assert.deepEqual([[...a.subscriptions.keys()], [...a.inflight.keys()], [...a.incoming]], [['x'], [9], [5, 6]])
    assert.deepEqual([b.subscriptions.size, b.inflight.size, b.incoming.size], [0, 0, 0])
  })

  it('persistent is a non-zero Session Expiry Interval; sentUnacked leaves out what waits to be resent', function () {
    const s = new Session('c')
    assert.equal(s.persistent, false)
    s.expiryInterval = 1
    assert.equal(s.persistent, true)
    s.addInflight(1, out(1, 1))
    s.addInflight(2, out(2, 1))
    s.addInflight(3, out(3, 1))
    assert.equal(s.sentUnacked, 3)
    s.resend = [s.inflight.get(3) as Outgoing]
    assert.equal(s.sentUnacked, 2)
  })
})
