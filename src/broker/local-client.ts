/*
 * In-process clients: code in the same process (the Node-RED nodes) connects with no socket and
 * no encoding. Sessions, QoS, retained messages, wills, authorisation and statistics are those of
 * a network client; a delivery is a call to the 'message' listeners, and acknowledgement is
 * immediate once they return.
 */
import { EventEmitter } from 'node:events'
import { ClientBase } from './client-base'
import type { BrokerCore } from './core'
import { RC, reasonError, reasonName } from './errors'
import type { RoutedMessage } from './message'
import type { Outgoing } from './session'
import { acceptPublish, subscribe, unsubscribe } from './operations'
import type { DeliveredMessage, Message, QoS, SubscriptionOptions } from './types'

export class LocalEndpoint extends ClientBase {
  readonly kind = 'local' as const
  closed = false
  constructor (readonly core: BrokerCore, readonly facade: LocalClient) {
    super()
    // An in-process listener takes every message as it is delivered: no Receive Maximum applies.
    this.sendQuota = Infinity
  }

  sendQoS (o: Outgoing, fresh: boolean): void {
    if (this.session !== null) this.core.delivery.sendImmediate(this.session, this, o, fresh)
  }

  shutdown (): void {
    this.end('broker closed', RC.SERVER_SHUTTING_DOWN, false)
  }

  sendPublish (msg: RoutedMessage, qos: QoS, retain: boolean, subIds: number[] | undefined): boolean {
    let properties = msg.properties
    if (msg.expiresAt !== undefined && properties !== undefined) {
      properties = { ...properties, messageExpiryInterval: Math.max(0, Math.ceil((msg.expiresAt - Date.now()) / 1000)) }
    }
    this.core.metrics.publishOut(msg.payload.length)
    const delivered: DeliveredMessage = { topic: msg.topic, payload: msg.payload, qos, retain, dup: false, properties, subscriptionIdentifiers: subIds }
    try {
      this.facade.emit('message', delivered)
    } catch (err) {
      this.core.warn('an in-process message listener threw', this.clientId, err as Error)
    }
    return true
  }

  sendPubrel (): void { /* in-process QoS 2 completes at delivery */ }
  writable (): boolean { return true }

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

  /** Publish. Resolves once the broker accepted it (QoS 1/2: routed and durable). */
  publish (msg: Message): Promise<void> {
    const core = this.core
    if (!this.connected) return Promise.reject(reasonError(RC.UNSPECIFIED_ERROR, 'not connected'))
    if (!core.validTopic(msg.topic)) return Promise.reject(reasonError(RC.TOPIC_NAME_INVALID, `invalid topic name '${msg.topic}'`))
    if (msg.qos > core.opts.maximumQoS) return Promise.reject(reasonError(RC.QOS_NOT_SUPPORTED, `QoS ${msg.qos} is not supported`))
    if (msg.retain && !core.opts.retainAvailable) return Promise.reject(reasonError(RC.RETAIN_NOT_SUPPORTED, 'retain is not supported'))
    const m: Message = { topic: msg.topic, payload: Buffer.isBuffer(msg.payload) ? msg.payload : Buffer.from(msg.payload), qos: msg.qos, retain: !!msg.retain, properties: msg.properties }
    core.metrics.publishIn(m.payload.length)
    const rc = acceptPublish(core, this.endpoint, m)
    if (typeof rc === 'number') return this.settle(rc, m.qos)
    return rc.then(code => this.settle(code, m.qos))
  }

  private settle (rc: number, qos: QoS): Promise<void> {
    if (rc >= 0x80) return Promise.reject(reasonError(rc, rc === RC.NOT_AUTHORIZED ? 'not authorised' : `refused: ${reasonName(rc)}`))
    if (qos === 0) return Promise.resolve()
    return this.core.persistence.sync() ?? Promise.resolve()
  }

  /** Subscribe; resolves with one granted QoS or reason code (>= 0x80 refused) per request. */
  async subscribe (requests: SubscriptionOptions[]): Promise<number[]> {
    if (!this.connected) throw reasonError(RC.UNSPECIFIED_ERROR, 'not connected')
    const { codes, after } = await subscribe(this.core, this.endpoint, requests)
    after()
    return codes
  }

  /** Unsubscribe; resolves with one reason code per filter. */
  async unsubscribe (filters: string[]): Promise<number[]> {
    if (!this.connected) throw reasonError(RC.UNSPECIFIED_ERROR, 'not connected')
    return unsubscribe(this.core, this.endpoint, filters)
  }

  /**
   * Disconnect. Reason 0x04 publishes the will [MQTT-3.14.4-3]; a new Session Expiry Interval
   * may be given, as in an MQTT 5 DISCONNECT [MQTT-3.14.2-2].
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
