/*
 * Outgoing PUBLISH encoding. A message fanned out to many subscribers is encoded once per
 * variant (MQTT 3.x or 5, QoS, RETAIN flag) and the bytes are shared; for QoS 1/2 each copy only
 * patches its packet identifier. Only MQTT 5 deliveries that need per-subscriber properties
 * (subscription identifiers, a topic alias, a decremented Message Expiry Interval) encode alone.
 */
import mqtt from 'mqtt-packet'
import type { RoutedMessage } from './message'
import type { MessageProperties, QoS } from './types'

type PublishProps = MessageProperties & { topicAlias?: number, subscriptionIdentifier?: number | number[] }

const DUP = 0x08

/** Generate any packet; mqtt-packet reports bad input by throwing from generate(). */
export function generate (packet: mqtt.Packet, protocolVersion: number): Buffer {
  return mqtt.generate(packet, { protocolVersion } as Parameters<typeof mqtt.generate>[1])
}

function encodeRaw (topic: string, msg: RoutedMessage, qos: QoS, retain: boolean, v5: boolean, properties: PublishProps | undefined, packetId: number): Buffer {
  const packet: mqtt.IPublishPacket = {
    cmd: 'publish',
    topic,
    payload: msg.payload,
    qos,
    retain,
    dup: false,
    messageId: qos > 0 ? (packetId || 1) : undefined,
  }
  if (v5 && properties !== undefined) packet.properties = properties as mqtt.IPublishPacket['properties']
  return generate(packet, v5 ? 5 : 4)
}

/** Offset of the packet identifier in an encoded QoS 1/2 PUBLISH. */
function packetIdOffset (buf: Buffer): number {
  let i = 1
  while (buf[i] & 0x80) i++
  i++ // past the last remaining-length byte
  const topicLen = buf.readUInt16BE(i)
  return i + 2 + topicLen
}

/** The shared encoding of this variant; computed at most once per message and variant. */
function variant (msg: RoutedMessage, qos: QoS, retain: boolean, v5: boolean): Buffer {
  const idx = (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0)
  let enc = msg.enc
  if (enc === undefined) { enc = msg.enc = new Array<Buffer | undefined>(12) }
  let buf = enc[idx]
  if (buf === undefined) {
    buf = encodeRaw(msg.topic, msg, qos, retain, v5, v5 ? msg.properties : undefined, 1)
    enc[idx] = buf
  }
  return buf
}

/**
 * Encode a PUBLISH for one subscriber. `alias`: 0 for none, positive to send the alias with the
 * topic, negative to send only the (already established) alias -value.
 */
export function encodePublish (msg: RoutedMessage, qos: QoS, retain: boolean, v5: boolean, subIds: number[] | undefined,
  packetId: number, dup: boolean, alias: number, now: number): Buffer {
  const needsOwn = v5 && (subIds !== undefined || alias !== 0 || msg.expiresAt !== undefined)
  if (!needsOwn) {
    const shared = variant(msg, qos, retain, v5)
    if (qos === 0) return shared
    const buf = Buffer.allocUnsafe(shared.length)
    shared.copy(buf)
    buf.writeUInt16BE(packetId, packetIdOffset(buf))
    if (dup) buf[0] |= DUP
    return buf
  }
  const props: PublishProps = msg.properties !== undefined ? { ...msg.properties } : {}
  if (msg.expiresAt !== undefined) {
    // Send what is left of the Message Expiry Interval [MQTT-3.3.2-6]
    props.messageExpiryInterval = Math.max(0, Math.ceil((msg.expiresAt - now) / 1000))
  }
  if (subIds !== undefined) props.subscriptionIdentifier = subIds.length === 1 ? subIds[0] : subIds // [MQTT-3.3.4-3]
  let topic = msg.topic
  if (alias > 0) props.topicAlias = alias
  else if (alias < 0) { props.topicAlias = -alias; topic = '' }
  const buf = encodeRaw(topic, msg, qos, retain, true, props, packetId)
  if (dup) buf[0] |= DUP
  return buf
}
