// The sidebar's runtime parts without Node-RED: the topic recorder's bounds (topics, topic characters,
// preview bytes; the topic seen longest ago goes first), previews, and the per-second figures.
import assert from 'node:assert/strict'
import type { BrokerMetrics } from '../../src/broker'
import { TopicRecorder, preview } from '../../src/nodes/hearth-broker/sidebar/topic-recorder'
import { frame } from '../../src/nodes/hearth-broker/sidebar/watch'

const msg = (topic: string, payload: string | Buffer, qos: 0 | 1 | 2 = 0, retain = false): { topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean } =>
  ({ topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos, retain })

describe('sidebar: topic recorder and figures', function () {
  it('keeps at most maxTopics topics: one seen again moves to the end, the one seen longest ago goes first', function () {
    const r = new TopicRecorder({ maxTopics: 3, maxTopicChars: 1000, previewBytes: 8 })
    r.record(msg('a', '1'), 1)
    r.record(msg('b', '1'), 2)
    r.record(msg('c', '1'), 3)
    r.record(msg('a', '2'), 4) // a again: now the newest
    r.record(msg('d', '1'), 5) // evicts b
    assert.deepEqual(r.rows([]).rows.map(x => [x.topic, x.count, x.lastAt, x.last?.text]), [['c', 1, 3, '1'], ['a', 2, 4, '2'], ['d', 1, 5, '1']])
  })

  it('keeps at most maxTopicChars of topic names in all', function () {
    const r = new TopicRecorder({ maxTopics: 100, maxTopicChars: 10, previewBytes: 8 })
    r.record(msg('aaaa', 'x'))
    r.record(msg('bbbb', 'x'))
    r.record(msg('cccc', 'x')) // 12 characters: aaaa goes
    assert.deepEqual(r.rows([]).rows.map(x => x.topic), ['bbbb', 'cccc'])
    r.record(msg('x'.repeat(11), 'x')) // longer than the budget alone: nothing stays
    assert.equal(r.size, 0)
    r.record(msg('dd', 'x'))
    assert.deepEqual(r.rows([]).rows.map(x => x.topic), ['dd'])
  })

  it('a burst on one topic (the lookup skipped) counts in the same entry, and an evicted last topic starts afresh', function () {
    const r = new TopicRecorder({ maxTopics: 2, maxTopicChars: 1000, previewBytes: 8 })
    const burst = Buffer.from('xa/bxa/b') // fresh strings, equal to but not the same as the key kept
    r.record(msg(burst.toString('utf8', 1, 4), '1'), 1)
    r.record(msg(burst.toString('utf8', 5, 8), '2'), 1)
    r.record(msg('a/b', '3'), 2)
    assert.deepEqual(r.rows([]).rows.map(x => [x.topic, x.count, x.lastAt]), [['a/b', 3, 2]])
    r.record(msg('c', '1'), 3)
    r.record(msg('d', '1'), 4) // evicts a/b
    r.record(msg('e', '1'), 5) // evicts c
    r.record(msg('e', '2'), 5)
    r.record(msg('f', '1'), 6) // evicts d
    r.record(msg('g', '1'), 7) // evicts e, the last topic but one
    r.record(msg('e', '3'), 8) // evicts f: e is new again
    r.record(msg('e', '4'), 8)
    assert.deepEqual(r.rows([]).rows.map(x => [x.topic, x.count, x.lastAt]), [['g', 1, 7], ['e', 2, 8]])
    const solo = new TopicRecorder({ maxTopics: 1, maxTopicChars: 4, previewBytes: 8 })
    solo.record(msg('a', '1'), 1)
    solo.record(msg('b', '1'), 2) // evicts a, the last topic
    solo.record(msg('a', '2'), 3) // not the evicted entry
    assert.deepEqual(solo.rows([]).rows.map(x => [x.topic, x.count]), [['a', 1]])
    solo.record(msg('toolong', '1'), 4) // evicts a, the last topic, and itself at once
    solo.record(msg('a', '3'), 5)
    assert.deepEqual(solo.rows([]).rows.map(x => [x.topic, x.count]), [['a', 1]])
    solo.stop()
    solo.record(msg('a', '4'), 6) // stop() forgot the last topic too
    assert.deepEqual(solo.rows([]).rows.map(x => [x.topic, x.count]), [['a', 1]])
    r.stop()
    solo.stop()
  })

  it('a run of messages to one topic is counted whole, with its last message, however it ends (another topic, the next turn, a look at the rows, eviction)', async function () {
    const r = new TopicRecorder({ maxTopics: 2, maxTopicChars: 1000, previewBytes: 8 })
    const rows = (): Array<[string, number, number, string | undefined]> => r.rows([]).rows.map(x => [x.topic, x.count, x.lastAt, x.last?.text])
    r.record(msg('a', '1'), 1)
    r.record(msg('a', '2'), 1)
    r.record(msg('a', '3'), 1)
    assert.deepEqual(rows(), [['a', 3, 1, '3']]) // a look mid-run
    r.record(msg('a', '4'), 1) // the run goes on after the look
    r.record(msg('b', '1'), 1) // another topic ends it
    r.record(msg('a', '5'), 1)
    assert.deepEqual(rows(), [['a', 5, 1, '5'], ['b', 1, 1, '1']])
    r.record(msg('b', '2'), 2)
    r.record(msg('b', '3'), 2)
    await new Promise((resolve) => setImmediate(resolve)) // the turn ends with the run open
    r.record(msg('b', '4'), 3)
    assert.deepEqual(rows(), [['a', 5, 1, '5'], ['b', 4, 3, '4']])
    r.record(msg('c', '1'), 4) // evicts a
    r.record(msg('c', '2'), 4) // a run on c...
    r.record(msg('d', '1'), 5) // ...ends; d evicts b
    r.record(msg('e', '1'), 6) // e evicts c
    assert.deepEqual(rows(), [['d', 1, 5, '1'], ['e', 1, 6, '1']]) // c went with its run: never counted anywhere else
    r.stop()
  })

  it('keeps a copy of at most previewBytes of the payload, never a view of it, made at the end of the turn', async function () {
    const r = new TopicRecorder({ maxTopics: 10, maxTopicChars: 100, previewBytes: 4 })
    const payload = Buffer.from('abcdefgh')
    r.record(msg('t', payload, 1, true))
    await new Promise((resolve) => setImmediate(resolve)) // the turn ends: the preview is copied
    payload.fill(0x7a) // the message's buffer is reused later: the preview must not change
    assert.deepEqual(r.rows([]).rows[0].last, { text: 'abcd', encoding: 'utf8', bytes: 8, truncated: true, qos: 1, retain: true })
    r.stop()
  })

  it('several messages to a topic in one turn: counted each, the last one previewed (one copy)', async function () {
    const r = new TopicRecorder({ maxTopics: 10, maxTopicChars: 100, previewBytes: 8 })
    r.record(msg('t', 'first', 0, false), 1)
    r.record(msg('u', 'other', 2, true), 2)
    r.record(msg('t', 'second', 1, true), 3)
    await new Promise((resolve) => setImmediate(resolve))
    r.record(msg('t', 'third', 2, false), 4)
    assert.deepEqual(r.rows([]).rows.map(x => [x.topic, x.count, x.lastAt, x.last]), [
      ['u', 1, 2, { text: 'other', encoding: 'utf8', bytes: 5, truncated: false, qos: 2, retain: true }],
      ['t', 3, 4, { text: 'third', encoding: 'utf8', bytes: 5, truncated: false, qos: 2, retain: false }],
    ])
    r.stop()
  })

  it('merges retained messages (previews bounded) and caps the rows at maxTopics', function () {
    const r = new TopicRecorder({ maxTopics: 2, maxTopicChars: 100, previewBytes: 3 })
    r.record(msg('seen', 'x'), 7)
    const { rows, truncated } = r.rows([msg('kept', 'hello', 1, true), msg('seen', 'old', 2, true), msg('more', 'x', 0, true)])
    assert.deepEqual(rows, [
      { topic: 'seen', count: 1, lastAt: 7, last: { text: 'x', encoding: 'utf8', bytes: 1, truncated: false, qos: 0, retain: false }, retained: { text: 'old', encoding: 'utf8', bytes: 3, truncated: false, qos: 2 } },
      { topic: 'kept', count: 0, lastAt: 0, retained: { text: 'hel', encoding: 'utf8', bytes: 5, truncated: true, qos: 1 } },
    ])
    assert.equal(truncated, true)
  })

  it('previews: UTF-8 text (a character cut at the end dropped), else hex', function () {
    assert.deepEqual(preview(Buffer.from('é€'), 5), { text: 'é€', encoding: 'utf8', bytes: 5, truncated: false })
    assert.deepEqual(preview(Buffer.from('é€').subarray(0, 4), 5), { text: 'é', encoding: 'utf8', bytes: 5, truncated: true })
    assert.deepEqual(preview(Buffer.from([0xff, 0x00]), 2), { text: 'ff00', encoding: 'hex', bytes: 2, truncated: false })
    assert.deepEqual(preview(Buffer.from([0xc3]), 1), { text: 'c3', encoding: 'hex', bytes: 1, truncated: false })
  })

  it('starts recording on the broker, and stop() forgets everything', function () {
    let observer: ((m: ReturnType<typeof msg>) => void) | undefined
    let stopped = 0
    const broker = { observe: (o: typeof observer) => { observer = o; return () => { stopped++ } } }
    const r = new TopicRecorder()
    r.start(broker as never)
    assert.equal(r.recording, true)
    observer!(msg('a/b', 'x'))
    assert.equal(r.size, 1)
    r.stop()
    assert.deepEqual([r.recording, r.size, r.since, stopped], [false, 0, 0, 1])
  })

  it('figures: per-second rates between two snapshots, gauges as they are', function () {
    const snap = (time: number, received: number, sent: number, bIn: number, bOut: number, dropped: number): BrokerMetrics => ({
      time, publish: { received, sent, dropped, bytesReceived: bIn, bytesSent: bOut }, clients: { connected: 3 }, subscriptions: 4, sharedSubscriptions: 1, retained: { messages: 6 },
    }) as unknown as BrokerMetrics
    const mark = { time: 10000, received: 100, sent: 200, bytesIn: 1000, bytesOut: 2000, dropped: 5 }
    assert.deepEqual(frame('n1', mark, snap(12000, 150, 300, 1500, 4000, 6)), {
      id: 'n1', time: 12000, msgsIn: 25, msgsOut: 50, bytesIn: 250, bytesOut: 1000, clients: 3, subscriptions: 5, retained: 6, dropped: 0.5,
    })
  })
})
