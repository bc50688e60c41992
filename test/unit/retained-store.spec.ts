// The retained store (src/broker/retained.ts) on its own: message and byte counts on set, replace
// and delete, pruning, and the order in which a filter's matches come out. Written against
// surviving mutants (docs/mutation.md).
import assert from 'node:assert/strict'
import { RetainedStore, retainedBytes } from '../../src/broker/retained'
import type { RoutedMessage } from '../../src/broker/message'

function msg (topic: string, payload = ''): RoutedMessage {
  return { topic, payload: Buffer.from(payload), qos: 0, retain: true, properties: undefined, expiresAt: undefined, origin: undefined, enc: undefined }
}

function rootChildren (store: RetainedStore): number {
  return (store as unknown as { root: { children: () => unknown[] } }).root.children().length
}

const topics = (ms: RoutedMessage[]): string[] => ms.map(m => m.topic)

describe('unit: retained store', function () {
  it('counts messages and their topic + payload bytes through set, replace and delete', function () {
    const s = new RetainedStore()
    assert.equal(retainedBytes(msg('ab/c', 'xyz')), 7)
    assert.deepEqual([s.size, s.bytes], [0, 0])
    s.set(msg('a/b', '12345'))
    assert.deepEqual([s.size, s.bytes], [1, 8])
    const ab = msg('a/b', '1')
    s.set(ab)
    assert.deepEqual([s.size, s.bytes, s.get('a/b')?.payload.toString()], [1, 4, '1'])
    const a = msg('a', 'zz')
    s.set(a)
    assert.deepEqual([s.size, s.bytes], [2, 7])
    assert.equal(s.delete('a/b/c'), undefined)
    assert.equal(s.delete('q'), undefined)
    assert.deepEqual([s.size, s.bytes], [2, 7])
    assert.equal(s.delete('a/b'), ab)
    assert.deepEqual([s.size, s.bytes, s.get('a/b'), s.get('a')?.topic], [1, 3, undefined, 'a'])
    assert.equal(s.delete('a/b'), undefined)
    assert.equal(s.delete('a'), a)
    assert.deepEqual([s.size, s.bytes, rootChildren(s)], [0, 0, 0])
  })

  it('a level without a message of its own is not a retained message', function () {
    const s = new RetainedStore()
    s.set(msg('a/b/c'))
    assert.equal(s.get('a/b'), undefined)
    assert.equal(s.delete('a/b'), undefined)
    assert.deepEqual([s.size, topics(s.all())], [1, ['a/b/c']])
  })

  it('delete prunes the levels it emptied and keeps those with a message or other children', function () {
    const s = new RetainedStore()
    const [a, abc, xy, xz] = ['a', 'a/b/c', 'x/y', 'x/z'].map(t => msg(t))
    for (const m of [a, abc, xy, xz]) s.set(m)
    assert.equal(s.delete('a/b/c'), abc)
    assert.deepEqual(topics(s.match('a/#')), ['a'])
    assert.equal(s.delete('x/y'), xy)
    assert.deepEqual(topics(s.match('x/+')), ['x/z'])
    assert.equal(s.delete('x/z'), xz)
    assert.equal(rootChildren(s), 1)
    assert.equal(s.delete('a'), a)
    assert.equal(rootChildren(s), 0)
  })

  it('a level with one child holds it directly, a second makes a Map: found, listed in order and pruned alike', function () {
    const s = new RetainedStore()
    const [ab, ac, ad] = ['a/b', 'a/c', 'a/d'].map(t => msg(t))
    s.set(ab) // a has one child
    assert.equal(s.get('a/b'), ab)
    assert.equal(s.get('a/c'), undefined)
    s.set(ac) // now two
    assert.deepEqual(topics(s.match('a/+')), ['a/b', 'a/c'])
    assert.equal(s.delete('a/b'), ab) // one left, in the Map
    s.set(ad)
    assert.deepEqual(topics(s.match('a/#')), ['a/c', 'a/d'])
    assert.equal(s.delete('a/x'), undefined)
    assert.equal(s.delete('a/c'), ac)
    assert.equal(s.delete('a/d'), ad)
    assert.equal(rootChildren(s), 0) // every level pruned
    s.set(ab)
    assert.equal(s.delete('a/c'), undefined) // a one-child level asked for another child
    assert.deepEqual(topics(s.all()), ['a/b'])
  })

  it('matches come out in insertion order, level by level; wildcards skip $ topics at the first level [MQTT-4.7.2-1]', function () {
    const s = new RetainedStore()
    for (const t of ['b/2', 'a', 'b/1', '$SYS/x', 'a/x/y', 'b', 'a/w', '$SYS']) s.set(msg(t))
    assert.deepEqual(topics(s.match('#')), ['b', 'b/2', 'b/1', 'a', 'a/x/y', 'a/w'])
    assert.deepEqual(topics(s.match('+')), ['b', 'a'])
    assert.deepEqual(topics(s.match('+/+')), ['b/2', 'b/1', 'a/w'])
    assert.deepEqual(topics(s.match('a/#')), ['a', 'a/x/y', 'a/w'])
    assert.deepEqual(topics(s.match('$SYS/#')), ['$SYS', '$SYS/x'])
    assert.deepEqual(topics(s.match('$SYS/+')), ['$SYS/x'])
    assert.deepEqual(topics(s.match('$SYS')), ['$SYS'])
    assert.deepEqual(topics(s.match('b/2/#')), ['b/2'])
    assert.deepEqual(topics(s.match('b/+/#')), ['b/2', 'b/1'])
    assert.deepEqual(topics(s.match('c/#')), [])
    assert.deepEqual(topics(s.all()), ['b', 'b/2', 'b/1', 'a', 'a/x/y', 'a/w', '$SYS', '$SYS/x'])
  })

  it('an empty store, never written to, lists and matches nothing', function () {
    const s = new RetainedStore()
    assert.deepEqual([s.all(), s.match('#'), s.match('+'), s.match('a'), s.get('a'), s.delete('a'), s.size, s.bytes], [[], [], [], [], undefined, undefined, 0, 0])
  })

  it('match appends to the array it is given', function () {
    const s = new RetainedStore()
    s.set(msg('t'))
    const out = [msg('before')]
    assert.equal(s.match('t', out), out)
    assert.deepEqual(topics(out), ['before', 't'])
  })
})
