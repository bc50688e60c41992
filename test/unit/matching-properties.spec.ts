// Property tests: the three matchers of the core must agree on every filter and topic.
//   matchTopic (topics.ts)      — string walk, used for retained admin and node dispatch
//   TopicTree  (topic-tree.ts)  — the subscription trie that routes every message
//   RetainedStore (retained.ts) — the retained trie walked by a new subscription's filter
// Random filters and topics come from a small alphabet of levels so that matches are frequent,
// with '$' topics, empty levels, '+', '#' and $share/{group}/ prefixes.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { matchTopic, parseShared, validTopicFilter, validTopicName } from '../../src/broker/topics'
import { TopicTree, type Subscription } from '../../src/broker/topic-tree'
import { RetainedStore } from '../../src/broker/retained'
import type { RoutedMessage } from '../../src/broker/message'
import type { Session } from '../../src/broker/session'

const LEVELS = ['a', 'b', 'ab', '', '$SYS', '$x', 'c d', 'ü']
const level = fc.constantFrom(...LEVELS)
const topicArb = fc.array(level, { minLength: 1, maxLength: 5 }).map(ls => ls.join('/')).filter(validTopicName)
const filterLevel = fc.oneof({ weight: 3, arbitrary: level }, { weight: 2, arbitrary: fc.constant('+') })
const plainFilterArb = fc.tuple(fc.array(filterLevel, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.boolean())
  .map(([ls, hash, onlyHash]) => onlyHash && ls.length === 1 ? '#' : hash ? [...ls, '#'].join('/') : ls.join('/'))
  .filter(validTopicFilter)
const filterArb = fc.tuple(plainFilterArb, fc.option(fc.constantFrom('g', 'grp'), { nil: undefined }))
  .map(([f, g]) => g === undefined ? f : `$share/${g}/${f}`)

const RUNS = { numRuns: 3000 }

function fakeSession (): Session {
  return { client: null } as unknown as Session
}

/** Does the subscription trie route `topic` to a subscription on `filter`? */
function trieMatches (filter: string, topic: string): boolean {
  const tree = new TopicTree()
  const shared = parseShared(filter)
  assert.notEqual(shared, false, filter)
  const session = fakeSession()
  const sub: Subscription = {
    session, filter: shared ? shared.filter : filter, key: filter, qos: 0, nl: false, rap: false, rh: 0, subId: undefined,
    group: shared ? shared.group : undefined,
  }
  tree.add(sub)
  let hit = false
  tree.match(topic, s => { if (s.session === session) hit = true })
  return hit
}

function routed (topic: string): RoutedMessage {
  return { topic, payload: Buffer.alloc(0), qos: 0, retain: true, properties: undefined, expiresAt: undefined, origin: undefined, enc: undefined }
}

describe('unit: matchers agree (property tests)', function () {
  it('matchTopic and the subscription trie agree on random filters (incl. $share) and topics', function () {
    fc.assert(fc.property(filterArb, topicArb, (filter, topic) => {
      assert.equal(trieMatches(filter, topic), matchTopic(filter, topic), `filter '${filter}', topic '${topic}'`)
    }), RUNS)
  })

  it('one trie holding many filters routes a topic to exactly the filters matchTopic accepts', function () {
    fc.assert(fc.property(fc.uniqueArray(filterArb, { minLength: 1, maxLength: 20 }), topicArb, (filters, topic) => {
      const tree = new TopicTree()
      const byId = new Map<Session, string>()
      for (const f of filters) {
        const s = fakeSession()
        byId.set(s, f)
        const shared = parseShared(f)
        tree.add({ session: s, filter: shared ? shared.filter : f, key: f, qos: 0, nl: false, rap: false, rh: 0, subId: undefined, group: shared ? shared.group : undefined })
      }
      const got: string[] = []
      tree.match(topic, s => { got.push(byId.get(s.session) as string) })
      assert.deepEqual(got.sort(), filters.filter(f => matchTopic(f, topic)).sort(), `topic '${topic}'`)
    }), { numRuns: 1000 })
  })

  // Found by this property: the recursive walk returned on a node without children before it handled
  // '#' ('a/#' missed a retained 'a'); the iterative walk handles '#' first.
  it('the retained store returns exactly the stored topics matchTopic accepts for a filter', function () {
    fc.assert(fc.property(fc.uniqueArray(topicArb, { minLength: 1, maxLength: 15 }), plainFilterArb, (topics, filter) => {
      const store = new RetainedStore()
      for (const t of topics) store.set(routed(t))
      const got = store.match(filter).map(m => m.topic).sort()
      assert.deepEqual(got, topics.filter(t => matchTopic(filter, t)).sort(), `filter '${filter}' over ${JSON.stringify(topics)}`)
    }), RUNS)
  })

  // The counterexamples fast-check found, as a plain test.
  it('[MQTT-4.7.1-2] a retained topic is returned for filter topic/# even when nothing is stored below it', function () {
    const store = new RetainedStore()
    store.set(routed('a'))
    store.set(routed('x/y'))
    assert.deepEqual(store.match('a/#').map(m => m.topic), ['a'])
    assert.deepEqual(store.match('x/y/#').map(m => m.topic), ['x/y'])
    assert.deepEqual(store.match('+/y/#').map(m => m.topic), ['x/y'])
  })

  it('the retained store agrees with matchTopic on filters without a trailing \'/#\' (the rest of the previous property)', function () {
    const noSlashHash = plainFilterArb.filter(f => !f.endsWith('/#'))
    fc.assert(fc.property(fc.uniqueArray(topicArb, { minLength: 1, maxLength: 15 }), noSlashHash, (topics, filter) => {
      const store = new RetainedStore()
      for (const t of topics) store.set(routed(t))
      const got = store.match(filter).map(m => m.topic).sort()
      assert.deepEqual(got, topics.filter(t => matchTopic(filter, t)).sort(), `filter '${filter}' over ${JSON.stringify(topics)}`)
    }), RUNS)
  })

  it('adding then removing subscriptions leaves the trie empty and routing nothing', function () {
    fc.assert(fc.property(fc.uniqueArray(filterArb, { minLength: 1, maxLength: 10 }), topicArb, (filters, topic) => {
      const tree = new TopicTree()
      const subs = filters.map(f => {
        const shared = parseShared(f)
        return { session: fakeSession(), filter: shared ? shared.filter : f, key: f, qos: 0 as const, nl: false, rap: false, rh: 0 as const, subId: undefined, group: shared ? shared.group : undefined }
      })
      for (const s of subs) tree.add(s)
      assert.equal(tree.size, subs.length)
      for (const s of subs) assert.equal(tree.remove(s), true)
      assert.equal(tree.size, 0)
      let any = false
      tree.match(topic, () => { any = true })
      assert.equal(any, false)
    }), { numRuns: 500 })
  })

  it('set/delete keeps the retained store consistent: what was deleted is gone, the rest is found; volatile ($SYS) messages are counted apart', function () {
    fc.assert(fc.property(fc.uniqueArray(topicArb, { minLength: 1, maxLength: 15 }), fc.array(fc.nat(), { maxLength: 10 }), fc.array(fc.boolean(), { minLength: 15, maxLength: 15 }), fc.array(fc.nat(), { maxLength: 10 }), (topics, dels, vol, flips) => {
      const store = new RetainedStore()
      const volatile = new Map(topics.map((t, i) => [t, vol[i]]))
      const put = (t: string): void => store.set(volatile.get(t) === true ? { ...routed(t), volatile: true } : routed(t))
      for (const t of topics) put(t)
      for (const i of flips) { // a value replaced by one of the other kind
        const t = topics[i % topics.length]
        volatile.set(t, volatile.get(t) !== true)
        put(t)
      }
      const gone = new Set(dels.map(i => topics[i % topics.length]))
      for (const t of gone) assert.equal(store.delete(t)?.topic, t)
      const kept = topics.filter(t => !gone.has(t))
      const counted = kept.filter(t => volatile.get(t) !== true)
      const apart = kept.filter(t => volatile.get(t) === true)
      assert.deepEqual([store.size, store.bytes], [counted.length, counted.reduce((n, t) => n + t.length, 0)])
      assert.deepEqual([store.volatileSize, store.volatileBytes], [apart.length, apart.reduce((n, t) => n + t.length, 0)])
      for (const t of topics) assert.equal(store.get(t)?.topic, gone.has(t) ? undefined : t)
      assert.deepEqual(store.all().map(m => m.topic).sort(), kept.sort())
    }), { numRuns: 500 })
  })
})
