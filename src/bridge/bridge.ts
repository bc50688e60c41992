/*
 * A bridge: an in-process client of this broker (its local side, a persistent session that
 * acknowledges only what the remote has) and a link to the remote broker, reconnected after each
 * failure with Mosquitto's restart_timeout. Its state is visible as status(), a 'state' event, and
 * Mosquitto's notification topic, retained: '1'/'0' locally, '1' at the remote on connect and '0'
 * there through the link's will.
 */
import { EventEmitter } from 'node:events'
import type { Broker, DeliveredMessage, LocalClient } from '../broker'
import { resolveBridgeConfig, type ResolvedBridge } from './config'
import { EchoFilter } from './echo'
import { BridgeError } from './errors'
import { Inbound } from './inbound'
import { Outbound } from './outbound'
import { RemoteLink, type LinkInfo } from './remote-link'
import { localFilters, remoteFilters, staleRemoteFilters } from './topic-map'
import { loadTls, type TlsMaterial } from './tls'
import { openStream } from './transport'
import type { BridgeConfig, BridgeEvents, BridgeProblem, BridgeState, BridgeStatus } from './types'

/** QoS 1/2 messages in flight toward the bridge from its local session, and from the remote. */
export const BRIDGE_INFLIGHT = 100
/** Milliseconds to wait for the remote's CONNACK. */
const CONNECT_TIMEOUT = 30000
const MAX_PACKET = 268435455
/** CONNACK codes that mean "not this protocol level": 0x84 (MQTT 5), 0x01 (3.1.1). */
const VERSION_REFUSED = [0x84, 0x01]

export class Bridge extends EventEmitter<BridgeEvents> {
  readonly name: string
  private readonly cfg: ResolvedBridge
  private readonly tls: TlsMaterial | undefined
  private current: BridgeState = 'connecting'
  private since = Date.now()
  private version: 3 | 4 | 5
  private local: LocalClient | undefined
  private link: RemoteLink | undefined
  private sessionPresent: boolean | undefined
  private lastError: BridgeProblem | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private retryAt: number | undefined
  /** Decorrelated jitter: the last wait, in ms. */
  private sleep = 0
  private closing = false
  private closed: Promise<void> | undefined
  private readonly counts = { in: 0, out: 0, dropped: 0 }
  private readonly echo = new EchoFilter()
  private readonly outbound: Outbound
  private readonly inbound: Inbound

  /** Throws a BridgeConfigError (code, key) when the config or a TLS file is at fault. */
  constructor (private readonly broker: Broker, config: BridgeConfig) {
    super()
    this.cfg = resolveBridgeConfig(config)
    this.tls = loadTls(this.cfg)
    this.name = this.cfg.name
    this.version = this.cfg.protocolVersion
    const counted = (what: 'in' | 'out' | 'dropped'): void => { this.counts[what]++ }
    const warn = (message: string): void => { this.emit('warning', { message }) }
    const ctx = { local: () => this.local, rules: this.cfg.topics, echo: this.echo, counted, warn }
    this.outbound = new Outbound(ctx)
    this.inbound = new Inbound(ctx)
    // Started on the next tick: the caller's 'state' listener sees 'connecting' first.
    process.nextTick(() => {
      this.start().catch(err => this.emit('warning', { message: 'the bridge stopped on an internal error', error: err as Error }))
    })
  }

  get state (): BridgeState { return this.current }

  status (): BridgeStatus {
    const s: BridgeStatus = {
      name: this.name,
      state: this.current,
      url: this.cfg.url,
      clientId: this.cfg.clientId,
      localClientId: this.cfg.localClientId,
      protocolVersion: this.version,
      since: this.since,
      messagesIn: this.counts.in,
      messagesOut: this.counts.out,
      dropped: this.counts.dropped,
      pending: this.outbound.pending,
      queued: this.broker.clients().find(c => c.clientId === this.cfg.localClientId)?.queued ?? 0,
    }
    if (this.current === 'connected') s.sessionPresent = this.sessionPresent
    if (this.lastError !== undefined) s.lastError = { ...this.lastError }
    if (this.current === 'disconnected' && this.retryAt !== undefined) s.retryAt = this.retryAt
    return s
  }

  private setState (state: BridgeState): void {
    this.current = state
    this.since = Date.now()
    if (state !== 'disconnected') this.retryAt = undefined
    this.emit('state', this.status())
  }

  private problem (err: BridgeError): void {
    this.lastError = { code: err.code, message: err.message }
    if (err.reasonCode !== undefined) this.lastError.reasonCode = err.reasonCode
  }

  /** Publish the bridge state on this broker, as the broker itself (it may publish under $SYS). */
  private notifyLocally (up: boolean): void {
    if (!this.cfg.notifications) return
    this.broker.publish({ topic: this.cfg.notificationTopic, payload: Buffer.from(up ? '1' : '0'), qos: 1, retain: true })
      .catch(err => this.emit('warning', { message: `could not publish ${this.cfg.notificationTopic} locally`, error: err as Error }))
  }

  /** Connect the local side, then the remote. */
  private async start (): Promise<void> {
    if (this.closing) return
    this.setState('connecting')
    try {
      await this.broker.ready
      if (this.broker.clients().some(c => c.clientId === this.cfg.localClientId)) {
        throw new BridgeError('LOCAL', `the local client id ${this.cfg.localClientId} is in use (another bridge with the same clientId?)`)
      }
      const local = await this.broker.connectLocal({
        clientId: this.cfg.localClientId,
        protocolVersion: 5,
        clean: this.cfg.cleanSession,
        manualAck: true,
        receiveMaximum: BRIDGE_INFLIGHT,
      })
      if (this.closing) { await local.end(); return }
      this.outbound.reset()
      this.local = local
      local.on('message', (m: DeliveredMessage) => this.outbound.fromLocal(m))
      local.on('pubrel', (id: number) => this.outbound.fromLocalPubrel(id))
      local.once('close', () => this.onLocalClosed(local))
      await this.subscribeLocally(2)
    } catch (err) {
      const e = err as Error & { reasonCode?: number }
      // 0x88 Server unavailable: this broker is closing, the bridge with it
      if (e.reasonCode === 0x88 || this.closing) { this.finishClosed(); return }
      this.problem(err instanceof BridgeError ? err : new BridgeError('LOCAL', `the bridge could not connect to this broker: ${e.message}`, e.reasonCode))
      this.retryLater(() => { void this.start() })
      return
    }
    this.notifyLocally(false)
    this.connectRemote()
  }

  /**
   * Subscribe to the out/both filters with No Local (what the bridge published here does not go
   * back) and Retain As Published, and drop subscriptions of an older configuration. Retain
   * Handling 2 at start (only what is published from now on waits for the remote); 0 at each
   * connection, so the retained messages cross then, as Mosquitto's bridge does.
   */
  private async subscribeLocally (rh: 0 | 2): Promise<void> {
    const local = this.local
    if (local === undefined) return
    const wanted = localFilters(this.cfg.topics)
    const stale = local.subscriptions().filter(s => !wanted.has(s.topic)).map(s => s.topic)
    if (stale.length > 0) await local.unsubscribe(stale)
    if (wanted.size === 0) return
    const requests = [...wanted].map(([topic, qos]) => ({ topic, qos, nl: true, rap: true, rh }))
    const codes = await local.subscribe(requests)
    codes.forEach((rc, i) => {
      if (rc >= 0x80) this.emit('warning', { message: `this broker refused the bridge's subscription to ${requests[i].topic} (reason 0x${rc.toString(16)}): does it trust in-process clients?` })
    })
  }

  private connectRemote (): void {
    if (this.closing || this.local === undefined) return
    if (this.current !== 'connecting') this.setState('connecting')
    const cfg = this.cfg
    const remoteNotes = cfg.notifications && !cfg.notificationsLocalOnly
    const link = new RemoteLink(openStream(cfg, this.tls, MAX_PACKET), {
      protocolVersion: this.version,
      bridgeBit: cfg.tryPrivate,
      clientId: cfg.clientId,
      keepalive: cfg.keepalive,
      clean: cfg.cleanSession,
      username: cfg.username,
      password: cfg.password,
      // '0' at the remote when the link fails, through the will (Mosquitto's notifications)
      will: remoteNotes ? { topic: cfg.notificationTopic, payload: Buffer.from('0'), qos: 1, retain: true } : undefined,
      receiveMaximum: BRIDGE_INFLIGHT,
      maximumPacketSize: MAX_PACKET,
      connectTimeout: CONNECT_TIMEOUT,
      inUse: id => this.outbound.inUse(id),
    })
    this.link = link
    link.once('up', info => { this.onUp(link, info).catch(err => this.emit('warning', { message: 'error after connecting', error: err as Error })) })
    link.once('down', err => this.onDown(link, err))
    link.on('publish', p => this.inbound.onPublish(p))
    link.on('pubrel', id => this.inbound.onPubrel(id))
    link.on('ack', (cmd, id, rc) => this.outbound.onAck(cmd, id, rc))
  }

  /**
   * The remote accepted: resend what was in flight, subscribe there, then here (the retained
   * messages cross), and only then say 'connected' (state, notifications).
   */
  private async onUp (link: RemoteLink, info: LinkInfo): Promise<void> {
    const cfg = this.cfg
    this.sessionPresent = info.sessionPresent
    this.inbound.linkUp(link)
    this.outbound.linkUp(link, info)
    const subs = [...remoteFilters(cfg.topics)].map(([topic, qos]) => ({ topic, qos }))
    if (subs.length > 0) {
      const codes = await link.subscribe(subs)
      codes.forEach((rc, i) => {
        if (rc >= 0x80) this.emit('warning', { message: `the remote refused the subscription to ${subs[i].topic} (code 0x${rc.toString(16)})` })
      })
    }
    const stale = staleRemoteFilters(cfg.topics)
    if (stale.length > 0) await link.unsubscribe(stale)
    // '1' at the remote, retained, QoS 1 as Mosquitto's, before new messages take packet identifiers
    if (cfg.notifications && !cfg.notificationsLocalOnly) {
      await link.publishOwn(cfg.notificationTopic, Buffer.from('1'), info.retainAvailable, info.maximumQoS > 0 ? 1 : 0)
    }
    if (link !== this.link || !link.isUp) return
    this.outbound.start()
    await this.subscribeLocally(0)
    if (link !== this.link || !link.isUp) return
    this.lastError = undefined
    this.sleep = 0
    this.notifyLocally(true)
    this.setState('connected')
  }

  private onDown (link: RemoteLink, err: BridgeError): void {
    if (link !== this.link) return
    this.link = undefined
    this.inbound.linkDown()
    this.outbound.linkDown()
    if (this.closing) return
    const wasUp = this.current === 'connected'
    this.problem(err)
    if (wasUp) this.notifyLocally(false)
    if (err.code === 'REFUSED' && this.version === 5 && this.cfg.fallback && VERSION_REFUSED.includes(err.reasonCode ?? -1)) {
      // The remote does not speak MQTT 5: 3.1.1 at once, and from now on
      this.version = 4
      this.emit('warning', { message: `${this.cfg.url} refused MQTT 5 (code 0x${(err.reasonCode ?? 0).toString(16)}): using MQTT 3.1.1` })
      this.connectRemote()
      return
    }
    this.retryLater(() => this.connectRemote())
  }

  /** End the link: '0' at the remote first (a DISCONNECT keeps its will from saying it), then DISCONNECT. */
  private dropLink (): void {
    const link = this.link
    this.link = undefined
    if (link === undefined) return
    if (link.isUp && this.cfg.notifications && !this.cfg.notificationsLocalOnly) {
      // QoS 1 under a free identifier; DISCONNECT follows it on the same connection, so no need to wait
      void link.publishOwn(this.cfg.notificationTopic, Buffer.from('0'), link.info?.retainAvailable !== false, link.info?.maximumQoS === 0 ? 0 : 1)
    }
    link.close(true)
  }

  /** The local side was disconnected (taken over, or this broker closes): start again later. */
  private onLocalClosed (local: LocalClient): void {
    if (this.local !== local) return
    this.local = undefined
    if (this.closing) return
    this.dropLink()
    this.inbound.linkDown()
    this.outbound.linkDown()
    this.outbound.reset()
    this.problem(new BridgeError('LOCAL', 'the bridge\'s in-process client was disconnected from this broker'))
    this.retryLater(() => { void this.start() })
  }

  /** Mosquitto's restart_timeout: a constant wait, or "decorrelated jitter" between base and cap. */
  private retryLater (fn: () => void): void {
    const [base, cap] = this.cfg.restartTimeout
    this.sleep = base === cap ? base : Math.min(cap, base + Math.random() * (Math.max(this.sleep, base) * 3 - base))
    this.retryAt = Date.now() + this.sleep
    this.setState('disconnected')
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (!this.closing) fn()
    }, this.sleep)
  }

  private finishClosed (): void {
    this.closing = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    if (this.current !== 'closed') this.setState('closed')
  }

  /**
   * Stop the bridge: '0' at the remote and locally, DISCONNECT, and the local side leaves (its
   * session, with what waits for the remote, stays for the next start). Never rejects.
   */
  close (): Promise<void> {
    if (this.closed !== undefined) return this.closed
    this.closed = this.doClose()
    return this.closed
  }

  private async doClose (): Promise<void> {
    const wasUp = this.current === 'connected'
    this.closing = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.dropLink()
    this.inbound.linkDown()
    this.outbound.linkDown()
    if (wasUp) this.notifyLocally(false)
    const local = this.local
    this.local = undefined
    if (local !== undefined) await local.end().catch(() => undefined)
    this.finishClosed()
  }
}

/** Start a bridge of `broker` to a remote broker. Throws a BridgeConfigError when the config is at fault. */
export function createBridge (broker: Broker, config: BridgeConfig): Bridge {
  return new Bridge(broker, config)
}
