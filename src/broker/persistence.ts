import type { Message, ProtocolVersion, SubscriptionOptions, QoS } from './types'

/** A message as persistence stores it. `expiresAt` is an absolute time in ms (Message Expiry). */
export interface StoredMessage extends Message {
  expiresAt?: number
}

/** A persistent session's metadata and subscriptions. */
export interface StoredSession {
  clientId: string
  protocolVersion: ProtocolVersion
  /** Session Expiry Interval in seconds; 0xFFFFFFFF never expires. */
  expiryInterval: number
  /** When the client last disconnected (ms since epoch); absent while connected. */
  disconnectedAt?: number
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
  /** The message, with `qos` already the delivery QoS. */
  message: StoredMessage
  subscriptionIdentifiers?: number[]
}

/** Everything a persistence backend returns when it opens. */
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
 */
export interface Persistence {
  /** Open the store (creating it if needed) and return its whole content. Called once, before any mutation. */
  open (): Promise<PersistedState>
  /** Store or replace the retained message for `message.topic`. */
  setRetained (message: StoredMessage): void
  /** Delete the retained message for `topic`, if any. */
  deleteRetained (topic: string): void
  /** Create or replace a session's metadata and full subscription list. */
  saveSession (session: StoredSession): void
  /** Delete a session with its outgoing and incoming state. */
  deleteSession (clientId: string): void
  /** Append an outgoing message owed to a session. */
  addOutgoing (clientId: string, outgoing: StoredOutgoing): void
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

function copyMessage (m: StoredMessage): StoredMessage {
  const c: StoredMessage = { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain }
  if (m.properties) {
    c.properties = { ...m.properties }
    if (m.properties.userProperties) c.properties.userProperties = { ...m.properties.userProperties }
  }
  if (m.expiresAt !== undefined) c.expiresAt = m.expiresAt
  return c
}

interface MemSession { meta: StoredSession, outgoing: Map<number, StoredOutgoing>, incoming: Set<number> }

/**
 * The default backend: keeps state in this process only. One instance kept across broker
 * restarts (as the Node-RED broker node does across redeploys) keeps retained messages and
 * sessions for the life of the process.
 */
export class MemoryPersistence implements Persistence {
  private retained = new Map<string, StoredMessage>()
  private sessions = new Map<string, MemSession>()

  async open (): Promise<PersistedState> {
    const sessions: PersistedState['sessions'] = []
    for (const s of this.sessions.values()) {
      sessions.push({
        ...s.meta,
        subscriptions: s.meta.subscriptions.map(x => ({ ...x })),
        outgoing: [...s.outgoing.values()].sort((a, b) => a.seq - b.seq).map(o => ({
          ...o,
          message: copyMessage(o.message),
          subscriptionIdentifiers: o.subscriptionIdentifiers ? [...o.subscriptionIdentifiers] : undefined,
        })),
        incoming: [...s.incoming],
      })
    }
    return { retained: [...this.retained.values()].map(copyMessage), sessions }
  }

  setRetained (message: StoredMessage): void { this.retained.set(message.topic, copyMessage(message)) }
  deleteRetained (topic: string): void { this.retained.delete(topic) }

  saveSession (session: StoredSession): void {
    const meta = { ...session, subscriptions: session.subscriptions.map(x => ({ ...x })) }
    const s = this.sessions.get(session.clientId)
    if (s) s.meta = meta
    else this.sessions.set(session.clientId, { meta, outgoing: new Map(), incoming: new Set() })
  }

  deleteSession (clientId: string): void { this.sessions.delete(clientId) }

  addOutgoing (clientId: string, outgoing: StoredOutgoing): void {
    this.sessions.get(clientId)?.outgoing.set(outgoing.seq, {
      ...outgoing,
      message: copyMessage(outgoing.message),
      subscriptionIdentifiers: outgoing.subscriptionIdentifiers ? [...outgoing.subscriptionIdentifiers] : undefined,
    })
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

export type { QoS }
