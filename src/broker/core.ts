/*
 * Broker state shared by the handlers, the router and the public API: options, the subscription
 * trie, retained messages, sessions, connected clients, hooks, statistics and the shared timer
 * that drives keepalive, connect timeouts, will delays and session expiry.
 */
import { EventEmitter } from 'node:events'
import { TopicTree } from './topic-tree'
import { RetainedStore, retainedBytes } from './retained'
import { Router } from './router'
import { Delivery } from './delivery'
import { type Session, NEVER_EXPIRES } from './session'
import { resolveOptions, type ResolvedOptions } from './options'
import { MemoryPersistence, type Persistence } from './persistence'
import { allowAllAuthenticator, allowAllAuthorizer, type AuthClient, type Authenticator, type Authorizer } from './auth'
import { storedMessage, toRouted, type RoutedMessage } from './message'
import { Counters, clientMayPublish } from './metrics'
import { RC } from './errors'
import type { ClientBase } from './client-base'
import { levelsWithin, validTopicFilter, validTopicName } from './topics'
import type { Subscription } from './topic-tree'
import type { BrokerEvents, BrokerOptions, BrokerStats, DropReason, Message, PublishObserver, QoS, WillMessage } from './types'

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
  readonly delivery: Delivery
  /** The authoriser's read check, when it has one. */
  private readonly readCheck: ((client: AuthClient, topic: string) => boolean) | undefined
  readonly stats = { messagesReceived: 0, messagesSent: 0, bytesReceived: 0, bytesSent: 0, dropped: 0 }
  /** The finer counters behind Broker.metrics(), $SYS and Prometheus. */
  readonly metrics = new Counters()
  /** Broker.observe(): none costs one length check per publish. Replaced, never changed in place, so a notification in progress is undisturbed. */
  observers: readonly PublishObserver[] = []
  closing = false
  private timer: NodeJS.Timeout | undefined

  constructor (options: BrokerOptions) {
    this.opts = resolveOptions(options)
    this.persistence = options.persistence ?? new MemoryPersistence()
    this.authn = options.authenticate ?? allowAllAuthenticator
    this.authz = options.authorize ?? allowAllAuthorizer
    this.router = new Router(this)
    this.delivery = new Delivery(this)
    const read = this.authz === allowAllAuthorizer ? undefined : this.authz.authorizeRead
    this.readCheck = read === undefined ? undefined : read.bind(this.authz)
    this.events.on('error', () => { /* never let an emitter error escape */ })
  }

  /** Does anything listen for `event`? Lets a caller skip building an event nobody reads. */
  listens (event: keyof BrokerEvents): boolean {
    return this.events.listenerCount(event) > 0
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
    this.metrics.drops[reason]++
    const c = this.clients.get(clientId)
    if (c !== undefined) c.dropped++
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

  /** May the session's owner receive a message on `topic`? The authoriser's read check, if any. */
  mayRead (s: Session, topic: string): boolean {
    if (this.readCheck === undefined) return true
    try {
      return this.readCheck(s, topic)
    } catch (err) {
      this.warn('read authorisation failed', s.clientId, err as Error)
      return false
    }
  }

  /** Sockets that have not completed CONNECT, in all and per remote address. */
  private pending = 0
  private readonly pendingByAddress = new Map<string, number>()

  /**
   * Admit a new socket while it waits for CONNECT: it counts against maxConnections with the
   * connected clients, and against maxPendingPerAddress with the other waiting sockets of its address.
   */
  admitPending (address: string): boolean {
    const o = this.opts
    const fromHere = this.pendingByAddress.get(address) ?? 0
    if (this.closing || this.clients.size + this.pending >= o.maxConnections || fromHere >= o.maxPendingPerAddress) return false
    this.pending++
    this.pendingByAddress.set(address, fromHere + 1)
    return true
  }

  /** When the next refused login may be answered, per remote address (entries go once past). */
  private readonly refusalAt = new Map<string, number>()

  /** Milliseconds to wait before answering a refused login from `address`. */
  refusalDelay (address: string): number {
    const now = Date.now()
    const delay = this.opts.authFailureDelay
    if (this.refusalAt.size > 10_000) for (const [a, t] of this.refusalAt) if (t <= now) this.refusalAt.delete(a)
    const at = Math.max(now, this.refusalAt.get(address) ?? 0) + delay
    this.refusalAt.set(address, at)
    return at - now
  }

  /** Connected clients and sockets still waiting for CONNECT. */
  connectionCount (): number { return this.clients.size + this.pending }

  releasePending (address: string): void {
    this.pending--
    const n = (this.pendingByAddress.get(address) ?? 1) - 1
    if (n === 0) this.pendingByAddress.delete(address)
    else this.pendingByAddress.set(address, n)
  }

  /** Whether subscriptions are checked at all (anything but the allow-all authoriser). */
  get checksSubscriptions (): boolean { return this.authz !== allowAllAuthorizer }

  /**
   * The authoriser's verdict on a subscription: false, true, or the highest QoS granted. An
   * authoriser that throws or rejects refuses.
   */
  authorizeSubscription (client: AuthClient, filter: string, qos: QoS): boolean | QoS | Promise<boolean | QoS> {
    const failed = (err: unknown): false => {
      this.warn('subscribe authorisation failed', client.clientId, err as Error)
      return false
    }
    try {
      const v = this.authz.authorizeSubscribe(client, filter, qos)
      return v instanceof Promise ? v.catch(failed) : v
    } catch (err) {
      return failed(err)
    }
  }

  /** Add or replace a session's subscription; true when it replaced one [v3.1.1 MQTT-3.8.4-3 / v5 MQTT-3.8.4-3]. */
  addSubscription (s: Session, sub: Subscription): boolean {
    const existed = s.subscriptions.has(sub.key)
    s.addSubscription(sub.key, sub)
    this.tree.add(sub)
    return existed
  }

  /** Remove a session's subscription, from the store too when the session is persistent. */
  removeSubscription (s: Session, sub: Subscription): void {
    s.subscriptions.delete(sub.key)
    this.tree.remove(sub)
    if (s.persistent) this.persistence.removeSubscription(s.clientId, sub.key)
  }

  /** A topic name this broker takes: valid [v3.1.1 MQTT-4.7.3-1 / v5 MQTT-4.7.3-1] and within the topic level limit. */
  validTopic (topic: string): boolean {
    return validTopicName(topic) && levelsWithin(topic, this.opts.maxTopicLevels)
  }

  /** A topic filter this broker takes: valid [v3.1.1 §4.7.1 / v5 §4.7.1] and within the topic level limit. */
  validFilter (filter: string): boolean {
    return validTopicFilter(filter) && levelsWithin(filter, this.opts.maxTopicLevels)
  }

  // ---- sessions -------------------------------------------------------------------------

  /** Throw away a session and everything it holds [v3.1.1 MQTT-3.1.2-6 / v5 MQTT-3.1.2-4]. */
  discardSession (s: Session): void {
    for (const sub of s.subscriptions.values()) this.tree.remove(sub)
    s.subscriptions.clear()
    s.inflight.clear()
    s.clearResend()
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
      owner: s.ownerKnown ? { username: s.username, kind: s.kind } : undefined,
    })
  }

  /**
   * The client left. Publish or schedule its will, and end or park its session
   * [v3.1.1 MQTT-3.1.2-8, v3.1.1 MQTT-3.1.2-4 / v5 MQTT-3.1.2-8, v5 MQTT-3.1.3-9, v5 MQTT-3.1.2-23].
   */
  detach (c: ClientBase, publishWill: boolean): void {
    const s = c.session
    if (s === null) return
    c.session = null
    if (s.client === c) s.client = null
    if (this.clients.get(c.clientId) === c) this.clients.delete(c.clientId)
    const will = publishWill ? c.will : undefined
    c.will = undefined
    s.dropTransient()
    const now = Date.now()
    if (s.client !== null) return // taken over: the new connection owns the session
    if (s.expiryInterval === 0) {
      if (will) this.publishWill(will, s)
      this.discardSession(s)
      return
    }
    s.disconnectedAt = now
    s.expireAt = s.expiryInterval >= NEVER_EXPIRES ? undefined : now + s.expiryInterval * 1000
    if (will) {
      const delay = will.delayInterval ?? 0
      if (delay > 0) { // [v5 MQTT-3.1.2-8] published at the earlier of will delay and session end
        s.pendingWill = will
        s.willAt = now + delay * 1000
      } else {
        this.publishWill(will, s)
      }
    }
    if (s.expireAt !== undefined || s.willAt !== undefined) this.waiting.add(s)
    this.saveSession(s)
  }

  private fireWill (s: Session): void {
    const will = s.pendingWill
    s.pendingWill = undefined
    s.willAt = undefined
    if (will) this.publishWill(will, s)
    if (s.expireAt === undefined) this.waiting.delete(s)
  }

  private expireSession (s: Session): void {
    if (s.pendingWill) this.fireWill(s) // the session ends before the will delay: publish now [v5 MQTT-3.1.2-8]
    this.discardSession(s)
    this.metrics.clientsExpired++
  }

  /** Publish a will, if the session's owner (who set it) may publish there. */
  publishWill (will: WillMessage, owner: Session): void {
    const identity: AuthClient = { clientId: owner.clientId, username: owner.username, kind: owner.kind }
    if (!clientMayPublish(will.topic)) { this.dropped(owner.clientId, will.topic, will.qos, 'not-authorized'); return }
    Promise.resolve(this.authz.authorizePublish(identity, will.topic, will.qos)).then(ok => {
      if (!ok) { this.dropped(owner.clientId, will.topic, will.qos, 'not-authorized'); return }
      this.accept(will, owner.clientId, this.sessions.get(owner.clientId))
    }, err => this.warn('will authorisation failed', owner.clientId, err as Error))
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
    if (this.observers.length !== 0) this.notify(routed, origin)
    return RC.SUCCESS
  }

  private notify (msg: RoutedMessage, origin: string | undefined): void {
    const list = this.observers
    for (let i = 0; i < list.length; i++) {
      try {
        list[i](msg, origin)
      } catch (err) {
        this.warn('a publish observer threw', origin, err as Error)
      }
    }
  }

  /**
   * Would storing this RETAIN=1 message stay within maxRetainedMessages and maxRetainedBytes?
   * Deleting (an empty payload) and replacing within the byte limit always fit.
   */
  retainedFits (msg: Message): boolean {
    if (!msg.retain || !this.opts.retainAvailable || msg.payload.length === 0) return true
    const found = this.retained.get(msg.topic)
    const old = found?.volatile === true ? undefined : found // a volatile $SYS value counts for nothing
    const count = this.retained.size + (old === undefined ? 1 : 0)
    const bytes = this.retained.bytes - (old === undefined ? 0 : retainedBytes(old)) + retainedBytes(msg)
    return count <= this.opts.maxRetainedMessages && bytes <= this.opts.maxRetainedBytes
  }

  /**
   * Apply a RETAIN=1 publish to the retained store [v3.1.1 MQTT-3.3.1-5, v3.1.1 MQTT-3.3.1-10..11 / v5 MQTT-3.3.1-5..7].
   * False when persistence refused it (full); the retained store is then unchanged.
   */
  storeRetained (msg: RoutedMessage): boolean {
    if (!msg.retain || !this.opts.retainAvailable) return true
    if (msg.payload.length === 0) {
      this.deleteRetained(msg.topic)
      return true
    }
    if (!this.retainedFits(msg)) { // a will: routed, not kept (client publishes were refused before)
      this.dropped(msg.origin ?? '', msg.topic, msg.qos, 'retained-limit')
      return true
    }
    if (!this.persistence.setRetained(storedMessage(msg))) return false
    this.keepRetained(msg)
    return true
  }

  /** Put a message in the retained store (already stored by persistence), and watch its expiry. */
  keepRetained (msg: RoutedMessage): void {
    // the retained copy carries RETAIN=1 on every delivery; enc caches are per variant, so share msg
    this.retained.set(msg)
    if (msg.expiresAt !== undefined) this.expiringRetained.add(msg.topic)
  }

  deleteRetained (topic: string): boolean {
    this.expiringRetained.delete(topic)
    const old = this.retained.delete(topic)
    if (old === undefined) return false
    if (old.volatile !== true) this.persistence.deleteRetained(topic)
    return true
  }

  /**
   * The broker's own $SYS value: retained, but volatile (never persisted, outside the retained
   * limits), and routed like any publish; subscribers' read checks apply.
   */
  publishVolatile (msg: RoutedMessage): void {
    const old = this.retained.get(msg.topic)
    if (old !== undefined && old.volatile !== true) this.deleteRetained(msg.topic) // a stored message there is replaced
    this.retained.set(msg)
    this.router.route(msg, undefined)
  }

  /** Retained messages matching `filter`, without those whose Message Expiry passed [v5 MQTT-3.3.2-5]. */
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
