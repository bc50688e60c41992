import type { Message, ProtocolVersion, SubscriptionOptions, QoS } from './types'

/**
 * A message as persistence stores it. `expiresAt` is an absolute time in ms (Message Expiry).
 *
 * Messages are shared, immutable values: the broker makes one StoredMessage per publish and
 * hands that same object for every session that owes it and for the retained slot; a backend
 * keeps a reference (no copy) and stores it once, and neither side ever changes it.
 */
export interface StoredMessage extends Message {
  expiresAt?: number
}

/** A persistent session's metadata. */
export interface StoredSessionMeta {
  clientId: string
  protocolVersion: ProtocolVersion
  /** Session Expiry Interval in seconds; 0xFFFFFFFF never expires. */
  expiryInterval: number
  /** When the client last disconnected (ms since epoch); absent while connected. */
  disconnectedAt?: number
  /** Who owns the session: the user name and kind of client that made it (absent in stores written before owners were kept). */
  owner?: { username?: string, kind: 'network' | 'local' }
}

/** A persistent session's metadata and subscriptions. */
export interface StoredSession extends StoredSessionMeta {
  subscriptions: SubscriptionOptions[]
}

/** State of an outgoing QoS 1/2 message owed to a session. */
export type OutgoingState = 'queued' | 'sent' | 'released'

/** One outgoing QoS 1/2 message owed to a session, queued or in flight. */
export interface StoredOutgoing {
  /** Per-session sequence number, increasing in delivery order; the record's key. */
  seq: number
  /** Packet identifier once the message was sent. */
  packetId?: number
  state: OutgoingState
  /** QoS of this delivery (the message's own `qos` is the publisher's). */
  qos: QoS
  /** RETAIN flag of this delivery. */
  retain: boolean
  /** The message, shared with every other delivery of the same publish (see StoredMessage). */
  message: StoredMessage
  subscriptionIdentifiers?: number[]
}

/**
 * Everything a persistence backend returns when it opens. A message owed to several sessions
 * (or also retained) comes back as one object that all of them reference.
 */
export interface PersistedState {
  retained: StoredMessage[]
  sessions: Array<StoredSession & { outgoing: StoredOutgoing[], incoming: number[] }>
}

/**
 * Where the broker keeps what must outlive a connection or a restart.
 *
 * The broker holds the live state in memory and tells the backend of every change through the
 * synchronous mutation methods below; a backend may buffer them. `sync()` is the durability
 * barrier: the broker calls it before it acknowledges a QoS 1/2 PUBLISH (PUBACK/PUBREC) and waits
 * for it to settle. Every implementation must pass `test/conformance/persistence.suite.ts`.
 *
 * The methods that add state (`setRetained`, `addOutgoing`, `addSubscription`) return false when
 * the backend refuses the addition because it is full (a bound on its size or on its unwritten
 * buffer); nothing changed then, and the broker drops the message (counted, reason
 * 'persistence-full') or refuses the subscription. Removals are never refused.
 */
export interface Persistence {
  /** Open the store (creating it if needed) and return its whole content. Called once, before any mutation. */
  open (): Promise<PersistedState>
  /** Store or replace the retained message for `message.topic`. False: refused, the store is full. */
  setRetained (message: StoredMessage): boolean
  /** Delete the retained message for `topic`, if any. */
  deleteRetained (topic: string): void
  /**
   * Create or update a session. With `subscriptions`, they replace the session's list; without,
   * its subscriptions are kept (a new session starts with none). Queued and incoming state is kept.
   */
  saveSession (session: StoredSessionMeta | StoredSession): void
  /** Add a subscription to a session, or replace the one with the same `topic` (filter). False: refused, the store is full. */
  addSubscription (clientId: string, subscription: SubscriptionOptions): boolean
  /** Remove a session's subscription to `topic` (the filter as subscribed), if any. */
  removeSubscription (clientId: string, topic: string): void
  /** Delete a session with its subscriptions, outgoing and incoming state. */
  deleteSession (clientId: string): void
  /** Append an outgoing message owed to a session. False: refused, the store is full. */
  addOutgoing (clientId: string, outgoing: StoredOutgoing): boolean
  /** Record that outgoing message `seq` was sent with `packetId`, or moved to `state`. */
  updateOutgoing (clientId: string, seq: number, packetId: number | undefined, state: OutgoingState): void
  /** Forget outgoing message `seq` (acknowledged, expired or dropped). */
  removeOutgoing (clientId: string, seq: number): void
  /** Remember an incoming QoS 2 packet identifier for which PUBREC was sent. */
  addIncoming (clientId: string, packetId: number): void
  /** Forget an incoming QoS 2 packet identifier (PUBREL received). */
  removeIncoming (clientId: string, packetId: number): void
  /**
   * Resolve once every mutation made so far is durable. Returns `undefined` when nothing is
   * pending, so the broker can acknowledge without waiting a tick.
   */
  sync (): Promise<void> | undefined
  /** Flush and release resources. The instance may be opened again afterwards. */
  close (): Promise<void>
}

export function copySubscription (s: SubscriptionOptions): SubscriptionOptions {
  const c: SubscriptionOptions = { topic: s.topic, qos: s.qos }
  if (s.nl !== undefined) c.nl = s.nl
  if (s.rap !== undefined) c.rap = s.rap
  if (s.rh !== undefined) c.rh = s.rh
  if (s.subscriptionIdentifier !== undefined) c.subscriptionIdentifier = s.subscriptionIdentifier
  return c
}

export function copyMeta (s: StoredSessionMeta): StoredSessionMeta {
  const c: StoredSessionMeta = { clientId: s.clientId, protocolVersion: s.protocolVersion, expiryInterval: s.expiryInterval }
  if (s.disconnectedAt !== undefined) c.disconnectedAt = s.disconnectedAt
  if (s.owner !== undefined) c.owner = { ...s.owner }
  return c
}

/** A copy of an outgoing record; the message is shared, not copied. */
function copyOutgoing (o: StoredOutgoing): StoredOutgoing {
  const c: StoredOutgoing = { seq: o.seq, state: o.state, qos: o.qos, retain: o.retain, message: o.message }
  if (o.packetId !== undefined) c.packetId = o.packetId
  if (o.subscriptionIdentifiers !== undefined) c.subscriptionIdentifiers = [...o.subscriptionIdentifiers]
  return c
}

interface MemSession {
  meta: StoredSessionMeta
  subscriptions: Map<string, SubscriptionOptions>
  outgoing: Map<number, StoredOutgoing>
  incoming: Set<number>
}

/**
 * The default backend: keeps state in this process only. One instance kept across broker
 * restarts (as the Node-RED broker node does across redeploys) keeps retained messages and
 * sessions for the life of the process. Messages are kept by reference (see StoredMessage).
 */
export class MemoryPersistence implements Persistence {
  private retained = new Map<string, StoredMessage>()
  private sessions = new Map<string, MemSession>()

  async open (): Promise<PersistedState> {
    const sessions: PersistedState['sessions'] = []
    for (const s of this.sessions.values()) {
      sessions.push({
        ...copyMeta(s.meta),
        subscriptions: [...s.subscriptions.values()].map(copySubscription),
        outgoing: [...s.outgoing.values()].sort((a, b) => a.seq - b.seq).map(copyOutgoing),
        incoming: [...s.incoming],
      })
    }
    return { retained: [...this.retained.values()], sessions }
  }

  setRetained (message: StoredMessage): boolean { this.retained.set(message.topic, message); return true }
  deleteRetained (topic: string): void { this.retained.delete(topic) }

  saveSession (session: StoredSessionMeta | StoredSession): void {
    const meta = copyMeta(session)
    const list = 'subscriptions' in session ? session.subscriptions : undefined
    let s = this.sessions.get(session.clientId)
    if (s) s.meta = meta
    else this.sessions.set(session.clientId, s = { meta, subscriptions: new Map(), outgoing: new Map(), incoming: new Set() })
    if (list !== undefined) s.subscriptions = new Map(list.map(x => [x.topic, copySubscription(x)]))
  }

  addSubscription (clientId: string, subscription: SubscriptionOptions): boolean {
    this.sessions.get(clientId)?.subscriptions.set(subscription.topic, copySubscription(subscription))
    return true
  }

  removeSubscription (clientId: string, topic: string): void { this.sessions.get(clientId)?.subscriptions.delete(topic) }
  deleteSession (clientId: string): void { this.sessions.delete(clientId) }

  addOutgoing (clientId: string, outgoing: StoredOutgoing): boolean {
    this.sessions.get(clientId)?.outgoing.set(outgoing.seq, copyOutgoing(outgoing))
    return true
  }

  updateOutgoing (clientId: string, seq: number, packetId: number | undefined, state: StoredOutgoing['state']): void {
    const o = this.sessions.get(clientId)?.outgoing.get(seq)
    if (!o) return
    o.packetId = packetId
    o.state = state
  }

  removeOutgoing (clientId: string, seq: number): void { this.sessions.get(clientId)?.outgoing.delete(seq) }
  addIncoming (clientId: string, packetId: number): void { this.sessions.get(clientId)?.incoming.add(packetId) }
  removeIncoming (clientId: string, packetId: number): void { this.sessions.get(clientId)?.incoming.delete(packetId) }
  sync (): undefined { return undefined }
  async close (): Promise<void> { /* nothing to release */ }
}
