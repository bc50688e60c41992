/**
 * Translation between Hearth's message shapes (the core's, which the in-process client uses) and
 * MQTT.js's: connect options, publish options, received packets, refusal reasons.
 */
import type { IClientOptions, IClientPublishOptions, IClientSubscribeOptions, IPublishPacket } from 'mqtt'
import { reasonName } from '../../../broker'
import type { DeliveredMessage, LocalConnectOptions, Message, MessageProperties, SubscriptionOptions } from '../../../broker/types'

/**
 * MQTT.js's own reconnect timer is parked at the longest timer Node.js allows: the external client
 * reconnects itself, with backoff and jitter. (A period of 0 would make MQTT.js fail in-flight
 * QoS 1/2 messages on a lost connection instead of resending them.)
 */
const PARKED_RECONNECT_MS = 2147483647

/** TLS options as core's tls-config node adds them (`addTLSOptions`). */
export type TlsOptions = Record<string, unknown>

/** MQTT.js connect options for the config node's settings. */
export function clientOptions (o: LocalConnectOptions, tls: TlsOptions | undefined): IClientOptions {
  const v5 = o.protocolVersion === 5
  const opts: IClientOptions = {
    ...(tls ?? {}),
    clientId: o.clientId,
    protocolVersion: v5 ? 5 : 4,
    clean: o.clean !== false,
    keepalive: o.keepalive ?? 60,
    reconnectPeriod: PARKED_RECONNECT_MS,
    connectTimeout: 30000,
    // The external client keeps its own bounded queue and subscription table.
    queueQoSZero: false,
    resubscribe: false,
  }
  // MQTT.js calls its debug logger several times per message: silent unless DEBUG asks for it.
  if (!/mqttjs/.test(process.env.DEBUG ?? '')) opts.log = () => {}
  if (o.username !== undefined) opts.username = o.username
  if (o.password !== undefined) opts.password = o.password
  if (v5) opts.properties = { sessionExpiryInterval: o.sessionExpiryInterval ?? 0 }
  const w = o.will
  if (w) {
    opts.will = { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain }
    if (v5) {
      const p: NonNullable<NonNullable<IClientOptions['will']>['properties']> = { ...properties(w.properties) }
      if (w.delayInterval !== undefined) p.willDelayInterval = w.delayInterval
      if (Object.keys(p).length > 0) opts.will.properties = p
    }
  }
  return opts
}

function properties (p: MessageProperties | undefined): NonNullable<IClientPublishOptions['properties']> {
  const out: NonNullable<IClientPublishOptions['properties']> = {}
  if (!p) return out
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval
  if (p.contentType !== undefined) out.contentType = p.contentType
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic
  if (p.correlationData !== undefined) out.correlationData = p.correlationData
  if (p.userProperties !== undefined) out.userProperties = p.userProperties
  return out
}

export function publishOptions (m: Message, v5: boolean): IClientPublishOptions {
  const opts: IClientPublishOptions = { qos: m.qos, retain: m.retain }
  if (v5 && m.properties) opts.properties = properties(m.properties)
  return opts
}

/** MQTT.js subscribe options for one filter; the identifier goes with its own SUBSCRIBE packet. */
export function subscribeOptions (s: SubscriptionOptions, v5: boolean, ids: boolean): IClientSubscribeOptions {
  const opts: IClientSubscribeOptions = { qos: s.qos }
  if (v5) {
    opts.nl = s.nl ?? false
    opts.rap = s.rap ?? false
    opts.rh = s.rh ?? 0
    if (ids && s.subscriptionIdentifier !== undefined) opts.properties = { subscriptionIdentifier: s.subscriptionIdentifier }
  }
  return opts
}

/** A received PUBLISH as the subscription table and the subscribe node take it. */
export function toDelivered (packet: IPublishPacket): DeliveredMessage {
  const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
  const m: DeliveredMessage = { topic: packet.topic, payload, qos: packet.qos, retain: packet.retain, dup: packet.dup }
  const p = packet.properties
  if (p) {
    const props: MessageProperties = {}
    if (p.payloadFormatIndicator !== undefined) props.payloadFormatIndicator = p.payloadFormatIndicator
    if (p.messageExpiryInterval !== undefined) props.messageExpiryInterval = p.messageExpiryInterval
    if (p.contentType !== undefined) props.contentType = p.contentType
    if (p.responseTopic !== undefined) props.responseTopic = p.responseTopic
    if (p.correlationData !== undefined) props.correlationData = p.correlationData
    // mqtt-packet gives an object without a prototype: hand flows a plain one.
    if (p.userProperties !== undefined) props.userProperties = { ...p.userProperties }
    if (Object.keys(props).length > 0) m.properties = props
    const ids = p.subscriptionIdentifier
    if (ids !== undefined) m.subscriptionIdentifiers = Array.isArray(ids) ? ids : [ids]
  }
  return m
}

/** MQTT 3.1.1 CONNACK return codes, named as their MQTT 5 counterparts. */
const V3_AS_V5: Record<number, number> = { 1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87 }

/** The name of a CONNACK refusal code (3.1.1 return code or 5.0 reason code). */
export function refusalName (code: number, protocolVersion: 4 | 5): string {
  return reasonName(protocolVersion === 5 ? code : (V3_AS_V5[code] ?? code))
}
