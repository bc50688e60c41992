/**
 * FilePersistence's in-memory mirror of the live state: what a compaction writes out.
 *
 * Entries are never modified in place (an update stores a new object), so a compaction can take
 * a cheap snapshot of references and encode it over several event-loop turns while the broker
 * keeps mutating the mirror.
 */
import type { OutgoingState, PersistedState, StoredMessage, StoredOutgoing, StoredSession } from '../persistence'

export interface LiveSession {
  meta: StoredSession
  outgoing: Map<number, StoredOutgoing>
  incoming: Set<number>
}

/** The live state at one instant, as a compaction writes it. */
export interface Snapshot {
  retained: StoredMessage[]
  sessions: Array<{ meta: StoredSession, outgoing: StoredOutgoing[], incoming: number[] }>
}

export const NEVER_EXPIRES = 0xFFFFFFFF

/** Shallow copy: the payload and correlation data buffers are shared, never written to. */
export function copyMessage (m: StoredMessage): StoredMessage {
  const c: StoredMessage = { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain }
  if (m.properties !== undefined) {
    c.properties = { ...m.properties }
    const up = m.properties.userProperties
    if (up !== undefined) {
      const copy: Record<string, string | string[]> = {}
      for (const k of Object.keys(up)) { const v = up[k]; copy[k] = Array.isArray(v) ? [...v] : v }
      c.properties.userProperties = copy
    }
  }
  if (m.expiresAt !== undefined) c.expiresAt = m.expiresAt
  return c
}

export function copySession (s: StoredSession): StoredSession {
  const c: StoredSession = {
    clientId: s.clientId,
    protocolVersion: s.protocolVersion,
    expiryInterval: s.expiryInterval,
    subscriptions: s.subscriptions.map(x => ({ ...x })),
  }
  if (s.disconnectedAt !== undefined) c.disconnectedAt = s.disconnectedAt
  return c
}

export function copyOutgoing (o: StoredOutgoing): StoredOutgoing {
  const c: StoredOutgoing = { seq: o.seq, state: o.state, message: copyMessage(o.message) }
  if (o.packetId !== undefined) c.packetId = o.packetId
  if (o.subscriptionIdentifiers !== undefined) c.subscriptionIdentifiers = [...o.subscriptionIdentifiers]
  return c
}

// Approximate encoded sizes. They only steer compaction, so they need to be consistent, not exact.
function messageSize (m: StoredMessage): number {
  let n = 24 + m.topic.length + m.payload.length
  const p = m.properties
  if (p !== undefined) {
    n += 12 + (p.contentType?.length ?? 0) + (p.responseTopic?.length ?? 0) + (p.correlationData?.length ?? 0)
    if (p.userProperties !== undefined) for (const k in p.userProperties) n += 16 + k.length + String(p.userProperties[k]).length
  }
  return n
}

function sessionSize (s: StoredSession): number {
  let n = 40 + s.clientId.length
  for (const sub of s.subscriptions) n += 16 + sub.topic.length
  return n
}

function outgoingSize (clientId: string, o: StoredOutgoing): number {
  return 32 + clientId.length + messageSize(o.message) + (o.subscriptionIdentifiers?.length ?? 0) * 4
}

function incomingSize (clientId: string): number { return 15 + clientId.length }

export function sessionExpired (s: StoredSession, now: number): boolean {
  return s.disconnectedAt !== undefined && s.expiryInterval !== NEVER_EXPIRES &&
    s.disconnectedAt + s.expiryInterval * 1000 <= now
}

export class LiveState {
  readonly retained = new Map<string, StoredMessage>()
  readonly sessions = new Map<string, LiveSession>()
  /** Approximate bytes a compacted file would take. */
  liveBytes = 0

  setRetained (m: StoredMessage): void {
    const old = this.retained.get(m.topic)
    if (old !== undefined) this.liveBytes -= messageSize(old)
    this.retained.set(m.topic, m)
    this.liveBytes += messageSize(m)
  }

  deleteRetained (topic: string): boolean {
    const old = this.retained.get(topic)
    if (old === undefined) return false
    this.retained.delete(topic)
    this.liveBytes -= messageSize(old)
    return true
  }

  saveSession (meta: StoredSession): void {
    const s = this.sessions.get(meta.clientId)
    if (s !== undefined) {
      this.liveBytes += sessionSize(meta) - sessionSize(s.meta)
      s.meta = meta
    } else {
      this.sessions.set(meta.clientId, { meta, outgoing: new Map(), incoming: new Set() })
      this.liveBytes += sessionSize(meta)
    }
  }

  deleteSession (clientId: string): boolean {
    const s = this.sessions.get(clientId)
    if (s === undefined) return false
    this.sessions.delete(clientId)
    this.liveBytes -= sessionSize(s.meta) + s.incoming.size * incomingSize(clientId)
    for (const o of s.outgoing.values()) this.liveBytes -= outgoingSize(clientId, o)
    return true
  }

  addOutgoing (clientId: string, o: StoredOutgoing): boolean {
    const s = this.sessions.get(clientId)
    if (s === undefined) return false
    const old = s.outgoing.get(o.seq)
    if (old !== undefined) this.liveBytes -= outgoingSize(clientId, old)
    s.outgoing.set(o.seq, o)
    this.liveBytes += outgoingSize(clientId, o)
    return true
  }

  updateOutgoing (clientId: string, seq: number, packetId: number | undefined, state: OutgoingState): boolean {
    const s = this.sessions.get(clientId)
    const o = s?.outgoing.get(seq)
    if (s === undefined || o === undefined) return false
    const n: StoredOutgoing = { seq, state, message: o.message }
    if (packetId !== undefined) n.packetId = packetId
    if (o.subscriptionIdentifiers !== undefined) n.subscriptionIdentifiers = o.subscriptionIdentifiers
    s.outgoing.set(seq, n)
    return true
  }

  removeOutgoing (clientId: string, seq: number): boolean {
    const s = this.sessions.get(clientId)
    const o = s?.outgoing.get(seq)
    if (s === undefined || o === undefined) return false
    s.outgoing.delete(seq)
    this.liveBytes -= outgoingSize(clientId, o)
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
   * queued (not yet sent) outgoing messages whose expiresAt has passed [MQTT-3.3.2-5]; a message
   * whose delivery has started is kept, it must be completed.
   */
  purgeExpired (now: number): { sessions: string[], retained: string[], outgoing: Array<[string, number]> } {
    const out = { sessions: [] as string[], retained: [] as string[], outgoing: [] as Array<[string, number]> }
    for (const [id, s] of this.sessions) {
      if (sessionExpired(s.meta, now)) { out.sessions.push(id); continue }
      for (const o of s.outgoing.values()) {
        if (o.state === 'queued' && o.message.expiresAt !== undefined && o.message.expiresAt <= now) out.outgoing.push([id, o.seq])
      }
    }
    for (const m of this.retained.values()) if (m.expiresAt !== undefined && m.expiresAt <= now) out.retained.push(m.topic)
    for (const id of out.sessions) this.deleteSession(id)
    for (const t of out.retained) this.deleteRetained(t)
    for (const [id, seq] of out.outgoing) this.removeOutgoing(id, seq)
    return out
  }

  capture (): Snapshot {
    const sessions: Snapshot['sessions'] = []
    for (const s of this.sessions.values()) sessions.push({ meta: s.meta, outgoing: [...s.outgoing.values()], incoming: [...s.incoming] })
    return { retained: [...this.retained.values()], sessions }
  }

  /** Copies of everything, for the broker (which may modify what it gets). */
  toPersisted (): PersistedState {
    const retained: StoredMessage[] = []
    for (const m of this.retained.values()) retained.push(copyMessage(m))
    const sessions: PersistedState['sessions'] = []
    for (const s of this.sessions.values()) {
      const outgoing = [...s.outgoing.values()].sort((a, b) => a.seq - b.seq).map(copyOutgoing)
      sessions.push({ ...copySession(s.meta), outgoing, incoming: [...s.incoming] })
    }
    return { retained, sessions }
  }
}
