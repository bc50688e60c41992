/**
 * FilePersistence's in-memory mirror of the live state: what a compaction writes out, and what
 * the bounds (maxStoreBytes) are measured on.
 *
 * Each message is one MessageEntry (id, the StoredMessage object it was handed, a reference
 * count); the retained slot of its topic and the outgoing records of every session that owes it
 * point to the entry. The mirror holds the broker's own StoredMessage objects (no copies), and
 * open() hands the mirror's objects to the broker, so a restarted broker shares them too.
 *
 * Entries and records are never modified in place (an update stores a new object; only the
 * reference count of an entry changes), so a compaction can take a cheap snapshot of references
 * and encode it over several event-loop turns while the broker keeps mutating the mirror.
 */
import type { OutgoingState, PersistedState, StoredMessage, StoredOutgoing, StoredSessionMeta } from '../persistence'
import { copySubscription, copyMeta } from '../persistence'
import type { SubscriptionOptions } from '../types'
import type { OutgoingFields } from './codec'

export interface MessageEntry {
  readonly id: number
  readonly msg: StoredMessage
  /** The retained slot and outgoing records that point here; the entry goes at 0. */
  refs: number
  readonly size: number
}

interface LiveOutgoing extends OutgoingFields {
  readonly entry: MessageEntry
}

export interface LiveSession {
  meta: StoredSessionMeta
  subs: Map<string, SubscriptionOptions>
  outgoing: Map<number, LiveOutgoing>
  incoming: Set<number>
}

/** The live state at one instant, as a compaction writes it. */
export interface Snapshot {
  messages: MessageEntry[]
  retained: Set<MessageEntry>
  sessions: Array<{ meta: StoredSessionMeta, subs: SubscriptionOptions[], outgoing: LiveOutgoing[], incoming: number[] }>
}

const NEVER_EXPIRES = 0xFFFFFFFF

// Approximate encoded sizes. They steer compaction and the maxStoreBytes bound, so they need to
// be consistent (what is added is what is later subtracted), not exact.
export function messageSize (m: StoredMessage): number {
  let n = 34 + m.topic.length + m.payload.length
  const p = m.properties
  if (p !== undefined) {
    n += 12 + (p.contentType?.length ?? 0) + (p.responseTopic?.length ?? 0) + (p.correlationData?.length ?? 0)
    if (p.userProperties !== undefined) for (const k in p.userProperties) n += 16 + k.length + String(p.userProperties[k]).length
  }
  return n
}
export const RETAINED_REF_SIZE = 21
function metaSize (clientId: string): number { return 48 + clientId.length }
export function subscriptionSize (clientId: string, topic: string): number { return 36 + clientId.length + topic.length }
export function outgoingSize (clientId: string, subIds: number[] | undefined): number { return 44 + clientId.length + (subIds?.length ?? 0) * 4 }
function incomingSize (clientId: string): number { return 19 + clientId.length }

function sessionExpired (s: StoredSessionMeta, now: number): boolean {
  return s.disconnectedAt !== undefined && s.expiryInterval !== NEVER_EXPIRES &&
    s.disconnectedAt + s.expiryInterval * 1000 <= now
}

export class LiveState {
  /**
   * Every stored message, by the object the broker handed (or open() returned): one publish, one
   * entry. A plain Map: an entry leaves it when its last reference goes.
   */
  readonly messages = new Map<StoredMessage, MessageEntry>()
  /** Messages by id, while a file is replayed (records refer to messages by id). */
  private byId = new Map<number, MessageEntry>()
  readonly retained = new Map<string, MessageEntry>()
  readonly sessions = new Map<string, LiveSession>()
  /** Approximate bytes a compacted file would take. */
  liveBytes = 0
  private nextId = 1

  // ---- messages

  /** The entry of a message object handed before and still referenced, if any. */
  entryOf (m: StoredMessage): MessageEntry | undefined { return this.messages.get(m) }

  /** The entry a replayed record refers to. */
  entryById (id: number): MessageEntry | undefined { return this.byId.get(id) }

  /** A new entry (no references yet) for `m`; `id` when replaying a record that gave it one. */
  newEntry (m: StoredMessage, id?: number): MessageEntry {
    const e: MessageEntry = { id: id ?? this.nextId, msg: m, refs: 0, size: messageSize(m) }
    if (e.id >= this.nextId) this.nextId = e.id + 1
    if (id !== undefined) this.byId.set(id, e)
    this.messages.set(m, e)
    this.liveBytes += e.size
    return e
  }

  private release (e: MessageEntry): void {
    if (--e.refs > 0 || this.messages.get(e.msg) !== e) return
    this.messages.delete(e.msg)
    this.liveBytes -= e.size
  }

  /**
   * After replaying a file: forget messages nothing points to (their reference was in lost bytes)
   * and the replay's index by id. Returns how many were forgotten.
   */
  endReplay (): number {
    let n = 0
    for (const e of this.messages.values()) if (e.refs <= 0) { this.messages.delete(e.msg); this.liveBytes -= e.size; n++ }
    this.byId = new Map()
    return n
  }

  // ---- retained

  /** Make `e` the retained message of its topic. False when it already is. */
  setRetained (e: MessageEntry): boolean {
    const topic = e.msg.topic
    const old = this.retained.get(topic)
    if (old === e) return false
    e.refs++
    this.retained.set(topic, e)
    if (old !== undefined) this.release(old)
    else this.liveBytes += RETAINED_REF_SIZE
    return true
  }

  deleteRetained (topic: string): boolean {
    const old = this.retained.get(topic)
    if (old === undefined) return false
    this.retained.delete(topic)
    this.liveBytes -= RETAINED_REF_SIZE
    this.release(old)
    return true
  }

  // ---- sessions and subscriptions

  /** Create or update a session; `subs` replaces its subscriptions when given. */
  saveSession (meta: StoredSessionMeta, subs?: SubscriptionOptions[]): void {
    let s = this.sessions.get(meta.clientId)
    if (s === undefined) {
      s = { meta, subs: new Map(), outgoing: new Map(), incoming: new Set() }
      this.sessions.set(meta.clientId, s)
      this.liveBytes += metaSize(meta.clientId)
    } else {
      s.meta = meta
    }
    if (subs !== undefined) {
      for (const t of s.subs.keys()) this.liveBytes -= subscriptionSize(meta.clientId, t)
      s.subs = new Map()
      for (const sub of subs) this.addSubscription(s, sub)
    }
  }

  addSubscription (s: LiveSession, sub: SubscriptionOptions): void {
    if (!s.subs.has(sub.topic)) this.liveBytes += subscriptionSize(s.meta.clientId, sub.topic)
    s.subs.set(sub.topic, sub)
  }

  removeSubscription (clientId: string, topic: string): boolean {
    const s = this.sessions.get(clientId)
    if (s === undefined || !s.subs.delete(topic)) return false
    this.liveBytes -= subscriptionSize(clientId, topic)
    return true
  }

  deleteSession (clientId: string): boolean {
    const s = this.sessions.get(clientId)
    if (s === undefined) return false
    this.sessions.delete(clientId)
    this.liveBytes -= metaSize(clientId) + s.incoming.size * incomingSize(clientId)
    for (const t of s.subs.keys()) this.liveBytes -= subscriptionSize(clientId, t)
    for (const o of s.outgoing.values()) {
      this.liveBytes -= outgoingSize(clientId, o.subIds)
      this.release(o.entry)
    }
    return true
  }

  // ---- outgoing and incoming

  /** Add (or replace) an outgoing record pointing at `entry`. False for an unknown session. */
  addOutgoing (clientId: string, f: OutgoingFields, entry: MessageEntry): boolean {
    const s = this.sessions.get(clientId)
    if (s === undefined) return false
    const o: LiveOutgoing = { seq: f.seq, state: f.state, packetId: f.packetId, qos: f.qos, retain: f.retain, subIds: f.subIds, entry }
    entry.refs++
    const old = s.outgoing.get(o.seq)
    s.outgoing.set(o.seq, o)
    if (old !== undefined) {
      this.liveBytes -= outgoingSize(clientId, old.subIds)
      this.release(old.entry)
    }
    this.liveBytes += outgoingSize(clientId, o.subIds)
    return true
  }

  updateOutgoing (clientId: string, seq: number, packetId: number | undefined, state: OutgoingState): boolean {
    const s = this.sessions.get(clientId)
    const o = s?.outgoing.get(seq)
    if (s === undefined || o === undefined) return false
    s.outgoing.set(seq, { seq, state, packetId, qos: o.qos, retain: o.retain, subIds: o.subIds, entry: o.entry })
    return true
  }

  removeOutgoing (clientId: string, seq: number): boolean {
    const s = this.sessions.get(clientId)
    const o = s?.outgoing.get(seq)
    if (s === undefined || o === undefined) return false
    s.outgoing.delete(seq)
    this.liveBytes -= outgoingSize(clientId, o.subIds)
    this.release(o.entry)
    return true
  }

  addIncoming (clientId: string, packetId: number): boolean {
    const s = this.sessions.get(clientId)
    if (s === undefined || s.incoming.has(packetId)) return false
    s.incoming.add(packetId)
    this.liveBytes += incomingSize(clientId)
    return true
  }

  removeIncoming (clientId: string, packetId: number): boolean {
    const s = this.sessions.get(clientId)
    if (s === undefined || !s.incoming.delete(packetId)) return false
    this.liveBytes -= incomingSize(clientId)
    return true
  }

  /**
   * Drop sessions whose expiry has passed, retained messages whose expiresAt has passed, and
   * queued (not yet sent) outgoing messages whose expiresAt has passed [v5 MQTT-3.3.2-5]; a message
   * whose delivery has started is kept, it must be completed.
   */
  purgeExpired (now: number): { sessions: string[], retained: string[], outgoing: Array<[string, number]> } {
    const out = { sessions: [] as string[], retained: [] as string[], outgoing: [] as Array<[string, number]> }
    for (const [id, s] of this.sessions) {
      if (sessionExpired(s.meta, now)) { out.sessions.push(id); continue }
      for (const o of s.outgoing.values()) {
        const exp = o.entry.msg.expiresAt
        if (o.state === 'queued' && exp !== undefined && exp <= now) out.outgoing.push([id, o.seq])
      }
    }
    for (const [topic, e] of this.retained) if (e.msg.expiresAt !== undefined && e.msg.expiresAt <= now) out.retained.push(topic)
    for (const id of out.sessions) this.deleteSession(id)
    for (const t of out.retained) this.deleteRetained(t)
    for (const [id, seq] of out.outgoing) this.removeOutgoing(id, seq)
    return out
  }

  capture (): Snapshot {
    const sessions: Snapshot['sessions'] = []
    for (const s of this.sessions.values()) {
      sessions.push({ meta: s.meta, subs: [...s.subs.values()], outgoing: [...s.outgoing.values()], incoming: [...s.incoming] })
    }
    return { messages: [...this.messages.values()], retained: new Set(this.retained.values()), sessions }
  }

  /**
   * The state for the broker: fresh records, and the mirror's own message objects (shared, never
   * modified), so that a message owed to many sessions is one object in the broker too.
   */
  toPersisted (): PersistedState {
    const retained: StoredMessage[] = []
    for (const e of this.retained.values()) retained.push(e.msg)
    const sessions: PersistedState['sessions'] = []
    for (const s of this.sessions.values()) {
      const outgoing = [...s.outgoing.values()].sort((a, b) => a.seq - b.seq).map(toStored)
      sessions.push({ ...copyMeta(s.meta), subscriptions: [...s.subs.values()].map(copySubscription), outgoing, incoming: [...s.incoming] })
    }
    return { retained, sessions }
  }
}

function toStored (o: LiveOutgoing): StoredOutgoing {
  const c: StoredOutgoing = { seq: o.seq, state: o.state, qos: o.qos, retain: o.retain, message: o.entry.msg }
  if (o.packetId !== undefined) c.packetId = o.packetId
  if (o.subIds !== undefined) c.subscriptionIdentifiers = [...o.subIds]
  return c
}
