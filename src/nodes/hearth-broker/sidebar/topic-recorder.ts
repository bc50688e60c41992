/**
 * The sidebar's topic tree, runtime side: the topics seen while the sidebar watches, each with its
 * message count and a bounded copy of its last message. Bounded three ways (MAX_TOPICS topics,
 * PREVIEW_BYTES per payload, MAX_TOPIC_CHARS of topic names in all): the topic seen longest ago goes
 * first. It holds nothing until started, and drops everything when stopped.
 */
import { isUtf8 } from 'node:buffer'
import type { Broker } from '../../../broker'
import type { Message } from '../../../broker/types'
import { MAX_TOPIC_CHARS, MAX_TOPICS, PREVIEW_BYTES, type Preview, type TopicRow } from '../monitoring'

interface Entry {
  count: number
  lastAt: number
  /** A copy of at most PREVIEW_BYTES of the payload (never a view: it would keep the whole buffer alive). */
  head: Buffer
  bytes: number
  qos: number
  retain: boolean
  /** The topic's last message of this turn of the event loop, until its preview is copied at the turn's end. */
  pending: Readonly<Message> | undefined
}

const EMPTY = Buffer.alloc(0)

export interface RecorderLimits { maxTopics: number, maxTopicChars: number, previewBytes: number }
const LIMITS: RecorderLimits = { maxTopics: MAX_TOPICS, maxTopicChars: MAX_TOPIC_CHARS, previewBytes: PREVIEW_BYTES }

/** A payload's preview: UTF-8 text when the bytes kept decode as such (a cut character allowed), else hex. */
export function preview (head: Buffer, bytes: number): Preview {
  const truncated = bytes > head.length
  let text: string | undefined
  if (isUtf8(head)) text = head.toString('utf8')
  else if (truncated) {
    // The cut may have split a character: drop at most 3 trailing bytes and try again.
    for (let cut = 1; cut <= 3 && text === undefined; cut++) {
      const h = head.subarray(0, head.length - cut)
      if (isUtf8(h)) text = h.toString('utf8')
    }
  }
  return text !== undefined ? { text, encoding: 'utf8', bytes, truncated } : { text: head.toString('hex'), encoding: 'hex', bytes, truncated }
}

function copyHead (payload: Buffer, max: number): Buffer {
  const n = Math.min(payload.length, max)
  const head = Buffer.alloc(n) // not from the shared pool: a preview must not pin a pool slab
  payload.copy(head, 0, 0, n)
  return head
}

export class TopicRecorder {
  /** Insertion order is recency: a topic seen again moves to the end; the first is evicted first. */
  private readonly topics = new Map<string, Entry>()
  private chars = 0
  /** Entries whose last message is not copied yet: one copy per topic per turn, whatever the rate. */
  private dirty: Entry[] = []
  private flushing: NodeJS.Immediate | undefined
  /** Date.now() once per turn, not once per message. */
  private clock = 0
  /**
   * The current run: messages in a row to one topic within one turn (a socket read of one device's
   * publishes). They cost a comparison and a count each; the run is added to its entry when it ends.
   */
  private lastTopic = ''
  private lastEntry: Entry | undefined
  private lastAt = 0
  private run = 0
  private runMsg: Readonly<Message> | undefined
  private stopObserving: (() => void) | undefined
  /** When recording started (ms since the epoch); 0 while stopped. */
  since = 0

  constructor (private readonly limits: RecorderLimits = LIMITS) {}

  get recording (): boolean { return this.stopObserving !== undefined }
  get size (): number { return this.topics.size }

  start (broker: Broker): void {
    if (this.stopObserving !== undefined) return
    this.since = Date.now()
    this.stopObserving = broker.observe((msg) => this.record(msg))
  }

  /** Stop observing and forget every topic. */
  stop (): void {
    this.stopObserving?.()
    this.stopObserving = undefined
    if (this.flushing !== undefined) clearImmediate(this.flushing)
    this.flushing = undefined
    this.dirty = []
    this.topics.clear()
    this.forgetLast()
    this.chars = 0
    this.since = 0
  }

  /** `now`: ms since the epoch; by default the time at which this turn's first message was recorded. */
  record (msg: Readonly<Message>, now?: number): void {
    if (this.flushing === undefined) {
      this.clock = Date.now()
      this.flushing = setImmediate(() => this.flush())
    }
    const at = now ?? this.clock
    if (at === this.lastAt && this.lastEntry !== undefined && msg.topic === this.lastTopic) {
      this.run++
      this.runMsg = msg
      return
    }
    this.endRun()
    const topic = msg.topic
    let e = this.lastEntry !== undefined && topic === this.lastTopic ? this.lastEntry : this.topics.get(topic)
    if (e === undefined) {
      e = { count: 0, lastAt: at, head: EMPTY, bytes: 0, qos: 0, retain: false, pending: undefined }
      this.topics.set(topic, e)
      this.chars += topic.length
      this.evict()
      if (this.topics.get(topic) !== e) return // longer than the whole budget: evicted at once
    } else if (e.lastAt !== at) {
      // Insertion order is recency: a topic seen again moves to the end (once per turn is enough).
      this.topics.delete(topic)
      this.topics.set(topic, e)
    }
    e.lastAt = at
    this.lastTopic = topic
    this.lastEntry = e
    this.lastAt = at
    this.run = 1
    this.runMsg = msg
  }

  /**
   * Add the current run to its entry. Its last message's preview is copied at the end of the turn: a busy
   * topic costs one copy per turn, and the message is referenced no longer than the broker itself holds it.
   */
  private endRun (): void {
    const e = this.lastEntry
    const m = this.runMsg
    if (e === undefined || m === undefined) return
    e.count += this.run
    if (e.pending === undefined) this.dirty.push(e)
    e.pending = m
    this.run = 0
    this.runMsg = undefined
  }

  private evict (): void {
    while (this.topics.size > this.limits.maxTopics || (this.chars > this.limits.maxTopicChars && this.topics.size > 0)) {
      const first = this.topics.keys().next().value as string
      this.topics.delete(first)
      this.chars -= first.length
      if (first === this.lastTopic) this.forgetLast() // its run is lost with it
    }
  }

  private forgetLast (): void {
    this.lastTopic = ''
    this.lastEntry = undefined
    this.lastAt = 0
    this.run = 0
    this.runMsg = undefined
  }

  /** Copy the previews of the messages recorded since the last flush. */
  private flush (): void {
    if (this.flushing !== undefined) clearImmediate(this.flushing)
    this.flushing = undefined
    this.endRun()
    for (const e of this.dirty) {
      const m = e.pending
      if (m === undefined) continue
      e.head = copyHead(m.payload, this.limits.previewBytes)
      e.bytes = m.payload.length
      e.qos = m.qos
      e.retain = m.retain
      e.pending = undefined
    }
    this.dirty = []
  }

  /** The topics, oldest seen first, with the retained message of each (and of retained topics not seen) merged in. */
  rows (retained: Message[]): { rows: TopicRow[], truncated: boolean } {
    this.flush()
    const out = new Map<string, TopicRow>()
    for (const [topic, e] of this.topics) {
      out.set(topic, { topic, count: e.count, lastAt: e.lastAt, last: { ...preview(e.head, e.bytes), qos: e.qos, retain: e.retain } })
    }
    let truncated = false
    for (const m of retained) {
      let row = out.get(m.topic)
      if (row === undefined) {
        if (out.size >= this.limits.maxTopics) { truncated = true; continue }
        row = { topic: m.topic, count: 0, lastAt: 0 }
        out.set(m.topic, row)
      }
      row.retained = { ...preview(m.payload.subarray(0, this.limits.previewBytes), m.payload.length), qos: m.qos }
    }
    return { rows: [...out.values()], truncated }
  }
}
