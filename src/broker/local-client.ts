/*
 * In-process clients: code in the same process (the Node-RED nodes) connects with no socket and
 * no encoding. Sessions, QoS, retained messages, wills, authorisation and statistics are those of
 * a network client; a delivery is a call to the 'message' listeners, and acknowledgement is
 * immediate once they return, unless the client acknowledges explicitly (manualAck, as a bridge
 * does once the other side has the message).
 */
import { EventEmitter } from 'node:events'
import { ClientBase } from './client-base'
import type { BrokerCore } from './core'
import { RC, reasonError, reasonName } from './errors'
import type { RoutedMessage } from './message'
import type { Outgoing, Session } from './session'
import { acceptPublish, subscribe, unsubscribe } from './operations'
import type { DeliveredMessage, Message, QoS, SubscriptionOptions } from './types'

/** In flight toward a manualAck client when it does not say. */
export const DEFAULT_LOCAL_RECEIVE_MAXIMUM = 100

export class LocalEndpoint extends ClientBase {
  readonly kind = 'local' as const
  closed = false
  /** QoS 1/2 deliveries stay in flight until the client acknowledges them. */
  manualAck = false
  /**
   * False from connect until what the session held has been resent: new QoS 1/2 messages queue
   * behind it meanwhile, so that nothing is sent twice, nor out of order [v3.1.1 MQTT-4.6.0-1 / v5 MQTT-4.6.0-1].
   */
  resumed = true
  constructor (readonly core: BrokerCore, readonly facade: LocalClient) {
    super()
    // An in-process listener takes every message as it is delivered: no Receive Maximum applies.
    this.sendQuota = Infinity
  }

  sendQoS (o: Outgoing, fresh: boolean): void {
    if (this.session === null) return
    if (this.manualAck) this.core.delivery.sendInflight(this.session, this, o, fresh)
    else this.core.delivery.sendImmediate(this.session, this, o, fresh)
  }

  /** Taken at once unless acknowledged explicitly: no outgoing record for a message nothing waits ahead of. */
  override sendFreshQoS (s: Session, msg: RoutedMessage, qos: QoS, retain: boolean, subIds: number[] | undefined, filters: string[] | undefined): void {
    if (this.manualAck) super.sendFreshQoS(s, msg, qos, retain, subIds, filters)
    else this.core.delivery.sendNow(this, msg, qos, retain, subIds, filters)
  }

  shutdown (): void {
    this.end('broker closed', RC.SERVER_SHUTTING_DOWN, false)
  }

  override readonly wantsFilters = true

  sendPublish (msg: RoutedMessage, qos: QoS, retain: boolean, subIds: number[] | undefined, packetId: number, dup: boolean, filters?: string[]): boolean {
    let properties = msg.properties
    if (msg.expiresAt !== undefined && properties !== undefined) {
      properties = { ...properties, messageExpiryInterval: Math.max(0, Math.ceil((msg.expiresAt - Date.now()) / 1000)) }
    }
    this.core.metrics.publishOut(msg.payload.length)
    // Made whole in one literal: a property added afterwards costs a second allocation per message.
    const delivered: DeliveredMessage = filters !== undefined
      ? { topic: msg.topic, payload: msg.payload, qos, retain, dup: false, properties, subscriptionIdentifiers: subIds, filters }
      : { topic: msg.topic, payload: msg.payload, qos, retain, dup: false, properties, subscriptionIdentifiers: subIds }
    if (this.manualAck && qos > 0) {
      delivered.packetId = packetId
      delivered.dup = dup
    }
    try {
      this.facade.emit('message', delivered)
    } catch (err) {
      this.core.warn('an in-process message listener threw', this.clientId, err as Error)
    }
    return true
  }

  /** A QoS 2 message the client has received (pubrec) is released again on resume: it completes it with pubcomp. */
  sendPubrel (packetId: number): void {
    if (this.manualAck) this.facade.emit('pubrel', packetId)
  }
  writable (): boolean { return true }
  override canSend (s: Session): boolean { return this.resumed && super.canSend(s) }

  disconnect (reasonCode: number, reasonString?: string): void {
    this.end(reasonString ?? reasonName(reasonCode), reasonCode, true)
  }

  end (reason: string, reasonCode: number, publishWill: boolean): void {
    if (this.closed) return
    const wasActive = this.active
    this.active = false
    this.closed = true
    if (this.session !== null) this.core.detach(this, publishWill)
    if (wasActive) this.core.emit('clientDisconnected', { clientId: this.clientId, reason, reasonCode, username: this.username })
    this.facade.emit('close', reason)
  }
}

export class LocalClient extends EventEmitter {
  readonly endpoint: LocalEndpoint
  sessionPresent = false

  constructor (private readonly core: BrokerCore) {
    super()
    this.endpoint = new LocalEndpoint(core, this)
  }

  get clientId (): string { return this.endpoint.clientId }
  get connected (): boolean { return !this.endpoint.closed && this.endpoint.session !== null }

  /**
   * Publish. Resolves once the broker accepted it (QoS 1/2: routed and durable). A QoS 2 message
   * may carry a packet identifier, as a network PUBLISH does: the session then remembers it until
   * `pubrel(packetId)`, and a publish under an identifier it remembers is accepted without being
   * routed again [v3.1.1 MQTT-4.3.3-2 / v5 MQTT-4.3.3-10] (a bridge forwarding a QoS 2 message that its sender resent).
   */
  publish (msg: Message, options: { packetId?: number } = {}): Promise<void> {
    return new Promise((resolve, reject) => this.publishWith(msg, err => err === undefined ? resolve() : reject(err), options))
  }

  /**
   * Publish and call `done()` once the broker accepted the message (QoS 1/2: routed and durable),
   * or `done(err)`. No promise per message: a QoS 0 message (or any, when nothing waits for the
   * disk) is settled before this returns, which keeps the in-process path synchronous. The broker
   * may read `msg` until `done` is called (an asynchronous authorisation): change it only after.
   */
  publishWith (msg: Message, done: (err?: Error) => void, options?: { packetId?: number }): void {
    const core = this.core
    if (!this.connected) { done(reasonError(RC.UNSPECIFIED_ERROR, 'not connected')); return }
    const pid = msg.qos === 2 ? options?.packetId : undefined
    if (pid !== undefined) {
      if (!Number.isInteger(pid) || pid < 1 || pid > 65535) { done(new RangeError(`invalid packet identifier ${pid}`)); return }
      if (this.endpoint.session?.incoming.has(pid) === true) { done(); return }
    }
    if (!core.validTopic(msg.topic)) { done(reasonError(RC.TOPIC_NAME_INVALID, `invalid topic name '${msg.topic}'`)); return }
    if (msg.qos > core.opts.maximumQoS) { done(reasonError(RC.QOS_NOT_SUPPORTED, `QoS ${msg.qos} is not supported`)); return }
    if (msg.retain && !core.opts.retainAvailable) { done(reasonError(RC.RETAIN_NOT_SUPPORTED, 'retain is not supported')); return }
    // The broker makes its own routed message from this one; a copy is needed only to normalise it.
    const m: Message = Buffer.isBuffer(msg.payload) && typeof msg.retain === 'boolean'
      ? msg
      : { topic: msg.topic, payload: Buffer.isBuffer(msg.payload) ? msg.payload : Buffer.from(msg.payload), qos: msg.qos, retain: !!msg.retain, properties: msg.properties }
    core.metrics.publishIn(m.payload.length)
    const rc = acceptPublish(core, this.endpoint, m)
    if (typeof rc === 'number') this.settle(rc, m.qos, pid, done)
    else rc.then(code => this.settle(code, m.qos, pid, done), (err: Error) => done(err))
  }

  private settle (rc: number, qos: QoS, packetId: number | undefined, done: (err?: Error) => void): void {
    if (rc >= 0x80) { done(reasonError(rc, rc === RC.NOT_AUTHORIZED ? 'not authorised' : `refused: ${reasonName(rc)}`)); return }
    if (qos === 0) { done(); return }
    const s = this.endpoint.session
    if (packetId !== undefined && s !== null) { // [v3.1.1 MQTT-4.3.3-2 / v5 MQTT-4.3.3-10]
      s.addIncoming(packetId)
      if (s.persistent) this.core.persistence.addIncoming(s.clientId, packetId)
    }
    const durable = this.core.persistence.sync()
    if (durable === undefined) done()
    else durable.then(() => done(), (err: Error) => done(err))
  }

  /** Forget the identifier of a QoS 2 message published with one [v3.1.1 MQTT-4.3.3-2 / v5 MQTT-4.3.3-12]; resolves once that is durable. */
  async pubrel (packetId: number): Promise<void> {
    const s = this.endpoint.session
    if (s === null || !s.incoming.delete(packetId)) return
    if (s.persistent) this.core.persistence.removeIncoming(s.clientId, packetId)
    await this.core.persistence.sync()
  }

  /** manualAck: the client has taken the QoS 1 delivery `packetId` [v3.1.1 §4.3.2 / v5 §4.3.2]. False when it is not in flight. */
  puback (packetId: number): boolean {
    const s = this.endpoint.session
    return s !== null && this.core.delivery.puback(s, packetId)
  }

  /** manualAck: the client has received the QoS 2 delivery `packetId`; it stays in flight until pubcomp [v3.1.1 §4.3.3 / v5 §4.3.3]. */
  pubrec (packetId: number): boolean {
    const s = this.endpoint.session
    return s !== null && this.core.delivery.pubrec(s, packetId, 0)
  }

  /** manualAck: the QoS 2 delivery `packetId` is complete [v3.1.1 §4.3.3 / v5 §4.3.3]. False when it was not received (pubrec) first. */
  pubcomp (packetId: number): boolean {
    const s = this.endpoint.session
    return s !== null && this.core.delivery.pubcomp(s, packetId)
  }

  /** The session's subscriptions, as they were granted. */
  subscriptions (): SubscriptionOptions[] {
    const s = this.endpoint.session
    if (s === null) return []
    return [...s.subscriptions.values()].map(sub => {
      const o: SubscriptionOptions = { topic: sub.key, qos: sub.qos, nl: sub.nl, rap: sub.rap, rh: sub.rh }
      if (sub.subId !== undefined) o.subscriptionIdentifier = sub.subId
      return o
    })
  }

  /** Subscribe; resolves with one granted QoS or reason code (>= 0x80 refused) per request. */
  async subscribe (requests: SubscriptionOptions[]): Promise<number[]> {
    if (!this.connected) throw reasonError(RC.UNSPECIFIED_ERROR, 'not connected')
    const result = await subscribe(this.core, this.endpoint, requests)
    if (result === undefined) throw reasonError(RC.UNSPECIFIED_ERROR, 'not connected')
    const { codes, after } = result
    after()
    return codes
  }

  /** Unsubscribe; resolves with one reason code per filter. */
  async unsubscribe (filters: string[]): Promise<number[]> {
    if (!this.connected) throw reasonError(RC.UNSPECIFIED_ERROR, 'not connected')
    return unsubscribe(this.core, this.endpoint, filters)
  }

  /**
   * Disconnect. Reason 0x04 publishes the will [v5 MQTT-3.14.4-3]; a new Session Expiry Interval
   * may be given, as in an MQTT 5 DISCONNECT [v5 §3.14.2.2.2].
   */
  async end (options: { reasonCode?: number, sessionExpiryInterval?: number } = {}): Promise<void> {
    const ep = this.endpoint
    if (ep.closed) return
    const s = ep.session
    if (s !== null && options.sessionExpiryInterval !== undefined) {
      if (s.expiryInterval === 0 && options.sessionExpiryInterval !== 0) throw reasonError(RC.PROTOCOL_ERROR, 'Session Expiry Interval was 0 at connect')
      s.expiryInterval = Math.min(options.sessionExpiryInterval, this.core.opts.maxSessionExpiryInterval)
    }
    const rc = options.reasonCode ?? 0
    ep.end(rc === 0 ? 'client disconnected' : `client disconnected: ${reasonName(rc)}`, rc, rc === RC.DISCONNECT_WITH_WILL)
    await this.core.persistence.sync()
  }
}
