/*
 * Broker state shared by the handlers, the router and the public API: options, the subscription
 * trie, retained messages, sessions, connected clients, hooks, statistics and the shared timer
 * that drives keepalive, connect timeouts, will delays and session expiry.
 */
import { EventEmitter } from 'node:events'
import { TopicTree } from './topic-tree'
import { RetainedStore } from './retained'
import { Router } from './router'
import { Session, NEVER_EXPIRES } from './session'
import { MemoryPersistence, type Persistence, type PersistedState, type StoredMessage } from './persistence'
import { allowAllAuthenticator, allowAllAuthorizer, type Authenticator, type Authorizer } from './auth'
import { storedMessage, toRouted, type RoutedMessage } from './message'
import { RC } from './errors'
import type { ClientBase } from './client-base'
import { parseShared } from './topics'
import type { SubscriptionOptions } from './types'
import type { BrokerEvents, BrokerOptions, BrokerStats, DropReason, Message, ProtocolVersion, QoS, WillMessage } from './types'

export interface ResolvedOptions {
  maxConnections: number
  maxPacketSize: number
  maxInflight: number
  receiveMaximum: number
  maxQueuedMessages: number
  maxOutgoingBytes: number
  maxKeepalive: number
  connectTimeout: number
  maximumQoS: QoS
  retainAvailable: boolean
  topicAliasMaximum: number
  outboundTopicAliases: boolean
  protocols: ProtocolVersion[]
  maxSessionExpiryInterval: number
  tickInterval: number
  assignedClientIdPrefix: string
}

export const MAX_PACKET = 268435455 + 5

export function resolveOptions (o: BrokerOptions): ResolvedOptions {
  const int = (v: unknown, d: number, min: number, max: number, name: string): number => {
    if (v === undefined || v === null) return d
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`option ${name} must be an integer from ${min} to ${max}, got ${String(v)}`)
    }
    return v
  }
  const protocols = o.protocols ?? [3, 4, 5]
  if (!Array.isArray(protocols) || protocols.length === 0 || protocols.some(p => p !== 3 && p !== 4 && p !== 5)) {
    throw new RangeError('option protocols must be a non-empty list of 3, 4 and 5')
  }
  return {
    maxConnections: int(o.maxConnections, 10000, 1, 10_000_000, 'maxConnections'),
    maxPacketSize: int(o.maxPacketSize, MAX_PACKET, 64, MAX_PACKET, 'maxPacketSize'),
    maxInflight: int(o.maxInflight, 100, 1, 65535, 'maxInflight'),
    receiveMaximum: int(o.receiveMaximum, 65535, 1, 65535, 'receiveMaximum'),
    maxQueuedMessages: int(o.maxQueuedMessages, 1000, 0, 100_000_000, 'maxQueuedMessages'),
    maxOutgoingBytes: int(o.maxOutgoingBytes, 1024 * 1024, 1024, 2 ** 31, 'maxOutgoingBytes'),
    maxKeepalive: int(o.maxKeepalive, 0, 0, 65535, 'maxKeepalive'),
    connectTimeout: int(o.connectTimeout, 10000, 10, 3_600_000, 'connectTimeout'),
    maximumQoS: int(o.maximumQoS, 2, 0, 2, 'maximumQoS') as QoS,
    retainAvailable: o.retainAvailable ?? true,
    topicAliasMaximum: int(o.topicAliasMaximum, 65535, 0, 65535, 'topicAliasMaximum'),
    outboundTopicAliases: o.outboundTopicAliases ?? true,
    protocols,
    maxSessionExpiryInterval: int(o.maxSessionExpiryInterval, NEVER_EXPIRES, 0, NEVER_EXPIRES, 'maxSessionExpiryInterval'),
    tickInterval: int(o.tickInterval, 1000, 10, 60_000, 'tickInterval'),
    assignedClientIdPrefix: o.assignedClientIdPrefix ?? 'hearth-',
  }
}

/** Something the timer checks: network connections implement it for keepalive and connect timeout. */
export interface Ticking { tick (now: number): void }

export class BrokerCore {
  readonly opts: ResolvedOptions
  readonly tree = new TopicTree()
  readonly retained = new RetainedStore()
  readonly sessions = new Map<string, Session>()
  /** Active clients by client identifier. */
  readonly clients = new Map<string, ClientBase>()
  /** Network connections, connected or not, for the shared timer. */
  readonly ticking = new Set<Ticking>()
  /** Sessions without a client that wait for expiry or a delayed will. */
  readonly waiting = new Set<Session>()
  /** Topics of retained messages that carry a Message Expiry Interval, purged by the timer. */
  private readonly expiringRetained = new Set<string>()
  readonly persistence: Persistence
  readonly authn: Authenticator
  readonly authz: Authorizer
  readonly events = new EventEmitter()
  readonly router: Router
  readonly stats = { messagesReceived: 0, messagesSent: 0, bytesReceived: 0, bytesSent: 0, dropped: 0 }
  closing = false
  private timer: NodeJS.Timeout | undefined
  private idCounter = 0

  constructor (options: BrokerOptions) {
    this.opts = resolveOptions(options)
    this.persistence = options.persistence ?? new MemoryPersistence()
    this.authn = options.authenticate ?? allowAllAuthenticator
    this.authz = options.authorize ?? allowAllAuthorizer
    this.router = new Router(this)
    this.events.on('error', () => { /* never let an emitter error escape */ })
  }

  emit<K extends keyof BrokerEvents> (event: K, ...args: BrokerEvents[K]): void {
    if (this.events.listenerCount(event) === 0) return
    try {
      this.events.emit(event, ...args)
    } catch (err) {
      // A listener's bug must not break the broker.
      if (event !== 'warning') this.warn(`a '${event}' listener threw`, undefined, err as Error)
    }
  }

  warn (message: string, clientId?: string, error?: Error): void {
    this.emit('warning', { message, clientId, error })
  }

  dropped (clientId: string, topic: string, qos: QoS, reason: DropReason): void {
    this.stats.dropped++
    this.emit('messageDropped', { clientId, topic, qos, reason })
  }

  startTimer (): void {
    if (this.timer) return
    this.timer = setInterval(() => this.tick(), this.opts.tickInterval)
    this.timer.unref()
  }

  stopTimer (): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  private tick (): void {
    const now = Date.now()
    for (const t of this.ticking) t.tick(now)
    for (const topic of this.expiringRetained) {
      const m = this.retained.get(topic)
      if (m === undefined || m.expiresAt === undefined) { this.expiringRetained.delete(topic); continue }
      if (m.expiresAt <= now) this.deleteRetained(topic)
    }
    for (const s of this.waiting) {
      if (s.willAt !== undefined && s.willAt <= now) this.fireWill(s)
      if (s.expireAt !== undefined && s.expireAt <= now) this.expireSession(s)
    }
  }

  nextClientId (): string {
    return `${this.opts.assignedClientIdPrefix}${Date.now().toString(36)}-${(++this.idCounter).toString(36)}`
  }

  // ---- sessions -------------------------------------------------------------------------

  /** Throw away a session and everything it holds [MQTT-3.1.2-6]. */
  discardSession (s: Session): void {
    for (const sub of s.subscriptions.values()) this.tree.remove(sub)
    s.subscriptions.clear()
    s.inflight.clear()
    s.resend = []
    s.clearQueue()
    this.waiting.delete(s)
    if (this.sessions.get(s.clientId) === s) this.sessions.delete(s.clientId)
    this.persistence.deleteSession(s.clientId)
  }

  /** Save a persistent session's metadata (subscriptions are saved one by one as they change). */
  saveSession (s: Session): void {
    if (!s.persistent) return
    this.persistence.saveSession({
      clientId: s.clientId,
      protocolVersion: s.protocolVersion,
      expiryInterval: s.expiryInterval,
      disconnectedAt: s.disconnectedAt,
    })
  }

  /**
   * The client left. Publish or schedule its will, and end or park its session
   * [MQTT-3.1.2-8, MQTT-3.1.3-9, MQTT-3.1.2-23].
   */
  detach (c: ClientBase, publishWill: boolean): void {
    const s = c.session
    if (s === null) return
    c.session = null
    if (s.client === c) s.client = null
    if (this.clients.get(c.clientId) === c) this.clients.delete(c.clientId)
    const will = publishWill ? c.will : undefined
    c.will = undefined
    const now = Date.now()
    if (s.client !== null) return // taken over: the new connection owns the session
    if (s.expiryInterval === 0) {
      if (will) this.publishWill(will, c.clientId, c.username)
      this.discardSession(s)
      return
    }
    s.disconnectedAt = now
    s.expireAt = s.expiryInterval >= NEVER_EXPIRES ? undefined : now + s.expiryInterval * 1000
    if (will) {
      const delay = will.delayInterval ?? 0
      if (delay > 0) { // [MQTT-3.1.3-9] published at the earlier of will delay and session end
        s.pendingWill = will
        s.willAt = now + delay * 1000
        s.willUsername = c.username
      } else {
        this.publishWill(will, c.clientId, c.username)
      }
    }
    if (s.expireAt !== undefined || s.willAt !== undefined) this.waiting.add(s)
    this.saveSession(s)
  }

  private fireWill (s: Session): void {
    const will = s.pendingWill
    s.pendingWill = undefined
    s.willAt = undefined
    if (will) this.publishWill(will, s.clientId, s.willUsername)
    if (s.expireAt === undefined) this.waiting.delete(s)
  }

  private expireSession (s: Session): void {
    if (s.pendingWill) this.fireWill(s) // the session ends before the will delay: publish now [MQTT-3.1.3-9]
    this.discardSession(s)
  }

  /** Publish a will, if its publisher may publish there. */
  publishWill (will: WillMessage, clientId: string, username: string | undefined): void {
    Promise.resolve(this.authz.authorizePublish({ clientId, username, kind: 'network' }, will.topic, will.qos)).then(ok => {
      if (!ok) { this.dropped(clientId, will.topic, will.qos, 'not-authorized'); return }
      this.accept(will, clientId, this.sessions.get(clientId))
    }, err => this.warn('will authorisation failed', clientId, err as Error))
  }

  /**
   * Take an authorised application message in: count it, apply RETAIN, route it. Every publish
   * (network, in-process, will, the broker's own) goes through here.
   */
  accept (msg: Message, origin: string | undefined, originSession: Session | undefined): number {
    const routed = toRouted(msg, origin, msg.properties?.messageExpiryInterval !== undefined ? Date.now() : 0)
    this.stats.messagesReceived++
    if (!this.storeRetained(routed)) {
      // The persistent store refused the retained message: the publish is not accepted (0x97 on MQTT 5).
      this.dropped(origin ?? '', msg.topic, msg.qos, 'persistence-full')
      return RC.QUOTA_EXCEEDED
    }
    this.router.route(routed, originSession)
    return RC.SUCCESS
  }

  /**
   * Apply a RETAIN=1 publish to the retained store [MQTT-3.3.1-5, MQTT-3.3.1-10, MQTT-3.3.1-11].
   * False when persistence refused it (full); the retained store is then unchanged.
   */
  storeRetained (msg: RoutedMessage): boolean {
    if (!msg.retain || !this.opts.retainAvailable) return true
    if (msg.payload.length === 0) {
      this.deleteRetained(msg.topic)
      return true
    }
    if (!this.persistence.setRetained(storedMessage(msg))) return false
    // the retained copy carries RETAIN=1 on every delivery; enc caches are per variant, so share msg
    this.retained.set(msg)
    if (msg.expiresAt !== undefined) this.expiringRetained.add(msg.topic)
    return true
  }

  deleteRetained (topic: string): boolean {
    this.expiringRetained.delete(topic)
    if (!this.retained.delete(topic)) return false
    this.persistence.deleteRetained(topic)
    return true
  }

  /** Retained messages matching `filter`, without those whose Message Expiry passed [MQTT-3.3.2-5]. */
  matchRetained (filter: string): RoutedMessage[] {
    const list = this.retained.match(filter)
    if (this.expiringRetained.size === 0) return list
    const now = Date.now()
    return list.filter(m => {
      if (m.expiresAt === undefined || m.expiresAt > now) return true
      this.deleteRetained(m.topic)
      return false
    })
  }

  /** Load what persistence holds: retained messages and sessions with their queues. */
  restore (state: PersistedState): void {
    const now = Date.now()
    // One RoutedMessage per stored message, however many sessions owe it (or also retain it); it keeps the stored object.
    const restored = (m: StoredMessage): RoutedMessage =>
      ({ topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, properties: m.properties, expiresAt: m.expiresAt, origin: undefined, enc: undefined, stored: m })
    const routed = new Map<StoredMessage, RoutedMessage>()
    const routedOf = (m: StoredMessage): RoutedMessage => {
      let r = routed.get(m)
      if (r === undefined) routed.set(m, r = restored(m))
      return r
    }
    for (const st of state.sessions) for (const o of st.outgoing) routedOf(o.message)
    for (const r of state.retained) {
      if (r.expiresAt !== undefined && r.expiresAt <= now) { this.persistence.deleteRetained(r.topic); continue }
      this.retained.set(routed.get(r) ?? restored(r))
      if (r.expiresAt !== undefined) this.expiringRetained.add(r.topic)
    }
    for (const st of state.sessions) {
      const s = new Session(st.clientId)
      s.expiryInterval = st.expiryInterval
      s.protocolVersion = st.protocolVersion
      s.disconnectedAt = st.disconnectedAt ?? now
      if (s.expiryInterval < NEVER_EXPIRES) {
        s.expireAt = s.disconnectedAt + s.expiryInterval * 1000
        if (s.expireAt <= now) { this.persistence.deleteSession(s.clientId); continue }
        this.waiting.add(s)
      }
      this.sessions.set(s.clientId, s)
      for (const so of st.subscriptions) restoreSubscription(this, s, so)
      for (const o of st.outgoing) {
        const out = { seq: o.seq, packetId: o.packetId ?? 0, state: o.state, msg: routedOf(o.message), qos: o.qos, retain: o.retain, subIds: o.subscriptionIdentifiers }
        if (o.seq > s.outSeq) s.outSeq = o.seq
        if (o.state !== 'queued' && o.packetId) { s.addInflight(o.packetId, out); s.notePacketId(o.packetId) } else s.enqueue({ ...out, state: 'queued', packetId: 0 })
      }
      for (const id of st.incoming) s.addIncoming(id)
    }
  }

  statsSnapshot (): BrokerStats {
    let connections = 0
    for (const c of this.clients.values()) if (c.active) connections++
    return {
      connections,
      sessions: this.sessions.size,
      subscriptions: this.tree.size,
      retained: this.retained.size,
      ...this.stats,
    }
  }
}


function restoreSubscription (core: BrokerCore, s: Session, so: SubscriptionOptions): void {
  const shared = parseShared(so.topic)
  if (shared === false) return
  const sub = {
    session: s,
    filter: shared ? shared.filter : so.topic,
    key: so.topic,
    qos: so.qos,
    nl: so.nl ?? false,
    rap: so.rap ?? false,
    rh: so.rh ?? 0,
    subId: so.subscriptionIdentifier,
    group: shared ? shared.group : undefined,
  }
  s.addSubscription(so.topic, sub)
  core.tree.add(sub)
}
