import type { Message } from './types'
import type { StoredMessage } from './persistence'

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
  /** The message as persistence keeps it, made once (storedMessage) and shared by every session that stores it. */
  stored?: StoredMessage
  /** The broker's own $SYS value: retained but never persisted, and outside the retained limits. */
  volatile?: true
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
    stored: undefined,
  }
}

/** The one StoredMessage of a routed message: the retained slot and every session's outgoing record reference it. */
export function storedMessage (m: RoutedMessage): StoredMessage {
  return m.stored ??= { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, properties: m.properties, expiresAt: m.expiresAt }
}
