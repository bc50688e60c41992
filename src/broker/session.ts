/*
 * Session state [v3.1.1 §4.1 / v5 §4.1]: subscriptions, outgoing QoS 1/2 messages (queued and in flight),
 * incoming QoS 2 packet identifiers, and the will / expiry schedule while the client is away.
 */
import type { ClientBase } from './client-base'
import type { RoutedMessage } from './message'
import type { Subscription } from './topic-tree'
import type { ProtocolVersion, QoS, WillMessage } from './types'

export const NEVER_EXPIRES = 0xffffffff

/** An outgoing QoS 1/2 message owed to the session. */
export interface Outgoing {
  seq: number
  packetId: number
  /** queued: not sent yet; sent: PUBLISH sent, awaiting PUBACK/PUBREC; released: PUBREL sent, awaiting PUBCOMP. */
  state: 'queued' | 'sent' | 'released'
  msg: RoutedMessage
  qos: QoS
  retain: boolean
  subIds: number[] | undefined
  /** The subscriptions (filters as subscribed) it matched, for clients that want them (in-process); never persisted. */
  filters?: string[]
}

/** The retained messages of one new subscription, being streamed to the client. */
export interface Replay {
  /** The retained messages that matched when the subscription was made; each is looked up again when sent. */
  list: RoutedMessage[]
  next: number
  qos: QoS
  subIds: number[] | undefined
}

/** A Map that refuses writes: what an idle session shows until it needs the real thing. */
class EmptyMap<K, V> extends Map<K, V> {
  override set (): this { throw new Error('internal: write to a shared empty map') }
}
class EmptySet<T> extends Set<T> {
  override add (): this { throw new Error('internal: write to a shared empty set') }
}
const NO_SUBSCRIPTIONS: Map<string, Subscription> = new EmptyMap()
const NO_INFLIGHT: Map<number, Outgoing> = new EmptyMap()
const NO_INCOMING: Set<number> = new EmptySet()
/** The empty list an idle session shares for its queue and resend list; frozen, so a write would throw. */
const NO_OUTGOING: Outgoing[] = Object.freeze([]) as unknown as Outgoing[]

export class Session {
  // The maps are created on first write: an idle session costs no hash tables.
  private subs: Map<string, Subscription> = NO_SUBSCRIPTIONS
  private pending: Map<number, Outgoing> = NO_INFLIGHT
  private qos2in: Set<number> = NO_INCOMING

  /** Subscriptions by the filter as the client sent it. Read-only view; write with addSubscription. */
  get subscriptions (): Map<string, Subscription> { return this.subs }
  /** In flight, keyed by packet identifier, in send order. Read-only view; write with addInflight. */
  get inflight (): Map<number, Outgoing> { return this.pending }
  /** Incoming QoS 2 packet identifiers for which PUBREC was sent [v3.1.1 MQTT-4.3.3-2 / v5 MQTT-4.3.3-10]. Write with addIncoming. */
  get incoming (): Set<number> { return this.qos2in }

  addSubscription (key: string, sub: Subscription): void {
    if (this.subs === NO_SUBSCRIPTIONS) this.subs = new Map()
    this.subs.set(key, sub)
  }

  addInflight (packetId: number, o: Outgoing): void {
    if (this.pending === NO_INFLIGHT) this.pending = new Map()
    this.pending.set(packetId, o)
  }

  addIncoming (packetId: number): void {
    if (this.qos2in === NO_INCOMING) this.qos2in = new Set()
    this.qos2in.add(packetId)
  }

  /** Waiting to be sent, in order (the shared empty list until something waits). */
  queue: Outgoing[] = NO_OUTGOING
  queueHead = 0
  /**
   * In-flight messages still to be resent after a resume because the client's new Receive
   * Maximum did not allow all at once; they keep their packet identifiers [v3.1.1 MQTT-4.4.0-1 / v5 MQTT-4.4.0-1].
   */
  resend: Outgoing[] = NO_OUTGOING
  /** Retained messages still to stream for new subscriptions; live messages wait behind them. */
  replay: Replay[] | null = null
  replayScheduled = false
  /** QoS 0 messages held in the queue behind a replay; new QoS 0 messages wait behind them too. */
  held0 = 0
  client: ClientBase | null = null
  /** Session Expiry Interval in seconds. */
  expiryInterval = 0
  protocolVersion: ProtocolVersion = 4
  /** When the session expires while the client is away (ms), or undefined. */
  expireAt: number | undefined = undefined
  disconnectedAt: number | undefined = undefined
  /** A will waiting for its Will Delay Interval [v5 MQTT-3.1.3-9]. */
  pendingWill: WillMessage | undefined = undefined
  willAt: number | undefined = undefined
  /** Who owns the session: the identity that created it (for the will, the read check and takeover). */
  username: string | undefined = undefined
  kind: 'network' | 'local' = 'network'
  /** False for a session restored from a store that did not record its owner: the first client to resume it owns it. */
  ownerKnown = false
  outSeq = 0
  private nextPid = 1

  /** Routing scratch: the publish generation that last matched this session, and what it matched. */
  matchGen = 0
  matchQos: QoS = 0
  matchRap = false
  matchSubIds: number[] | undefined = undefined
  /** Also collect the matched filters (matchKeys) for this session's client (set from the client at bind). */
  collectFilters = false
  matchKeys: string[] | undefined = undefined
  /** matchSubIds and matchKeys are a subscription's own one-element lists (shared by every message): copy before adding. */
  matchLent = false

  constructor (readonly clientId: string) {}

  /** The session outlives the connection [v3.1.1 MQTT-3.1.2-4 / v5 MQTT-3.1.2-23]. */
  get persistent (): boolean { return this.expiryInterval > 0 }

  get queued (): number { return this.queue.length - this.queueHead }

  /** QoS 1/2 PUBLISH sent on this connection and not yet acknowledged, against Receive Maximum [v5 MQTT-3.3.4-9]. */
  get sentUnacked (): number { return this.pending.size - this.resend.length }

  /** Payload bytes of the queued messages. */
  queuedBytes = 0

  enqueue (o: Outgoing): void {
    if (o.qos === 0) this.held0++
    this.queuedBytes += o.msg.payload.length
    if (this.queue === NO_OUTGOING) this.queue = []
    this.queue.push(o)
  }

  /** Nothing is held back for resending (session resumed or discarded). */
  clearResend (): void { this.resend = NO_OUTGOING }

  /** An in-flight message to resend once the client's Receive Maximum allows. */
  holdForResend (o: Outgoing): void {
    if (this.resend === NO_OUTGOING) this.resend = []
    this.resend.push(o)
  }

  peek (): Outgoing | undefined { return this.queueHead < this.queue.length ? this.queue[this.queueHead] : undefined }

  shift (): Outgoing | undefined {
    if (this.queueHead >= this.queue.length) return undefined
    const o = this.queue[this.queueHead]
    if (o.qos === 0) this.held0--
    this.queuedBytes -= o.msg.payload.length
    this.queue[this.queueHead++] = undefined as unknown as Outgoing
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
    return o
  }

  /** Drop every queued message (used when the queue is trimmed or the session is discarded). */
  clearQueue (): Outgoing[] {
    const rest = this.queue.slice(this.queueHead)
    this.queue = NO_OUTGOING
    this.queueHead = 0
    this.held0 = 0
    this.queuedBytes = 0
    this.replay = null
    return rest
  }

  /**
   * The client left: what only made sense while it was connected goes (QoS 0 messages held behind
   * a retained replay, and the rest of the replay).
   */
  dropTransient (): void {
    this.replay = null
    if (this.held0 === 0) return
    const keep = this.queue.slice(this.queueHead).filter(o => o.qos > 0)
    this.queue = keep
    this.queueHead = 0
    this.held0 = 0
    this.queuedBytes = keep.reduce((n, o) => n + o.msg.payload.length, 0)
  }

  /** A packet identifier not in use by an in-flight message [v3.1.1 MQTT-2.3.1-4 / v5 MQTT-2.2.1-4]. */
  allocatePacketId (): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.nextPid
      this.nextPid = id === 65535 ? 1 : id + 1
      if (!this.inflight.has(id)) return id
    }
    return 0
  }

  /** Keep packet identifiers moving past those restored from persistence. */
  notePacketId (id: number): void {
    if (id >= this.nextPid) this.nextPid = id === 65535 ? 1 : id + 1
  }
}
