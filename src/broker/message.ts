import type { Message, QoS } from './types'

/**
 * A message as the broker routes it. `enc` caches encoded PUBLISH packets per variant
 * (protocol family x QoS x retain flag), so a fan-out encodes each variant once.
 */
export interface RoutedMessage extends Message {
  /** Absolute expiry time in ms (from Message Expiry Interval), or undefined. */
  expiresAt: number | undefined
  /** Client id of the publisher, for No Local; undefined for the broker itself. */
  origin: string | undefined
  enc: Array<Buffer | undefined> | undefined
}

export function toRouted (m: Message, origin: string | undefined, now: number): RoutedMessage {
  const exp = m.properties?.messageExpiryInterval
  return {
    topic: m.topic,
    payload: m.payload,
    qos: m.qos,
    retain: m.retain,
    properties: m.properties,
    expiresAt: exp !== undefined ? now + exp * 1000 : undefined,
    origin,
    enc: undefined,
  }
}

export function minQos (a: QoS, b: QoS): QoS {
  return a < b ? a : b
}
