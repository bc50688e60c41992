/*
 * Outgoing PUBLISH encoding. A message fanned out to many subscribers is encoded once per
 * variant (MQTT 3.x or 5, QoS, RETAIN flag) and the bytes are shared; for QoS 1/2 each copy only
 * patches its packet identifier. Only MQTT 5 deliveries that need per-subscriber properties
 * (subscription identifiers, a topic alias, a decremented Message Expiry Interval) encode alone.
 */
import mqtt from 'mqtt-packet'
import type { RoutedMessage } from './message'
import { userPropertyOrder } from './parser'
import type { MessageProperties, QoS } from './types'

type PublishProps = MessageProperties & { topicAlias?: number, subscriptionIdentifier?: number | number[] }

const DUP = 0x08

/** Generate any packet; mqtt-packet reports bad input by throwing from generate(). */
export function generate (packet: mqtt.Packet, protocolVersion: number): Buffer {
  return mqtt.generate(packet, { protocolVersion } as Parameters<typeof mqtt.generate>[1])
}

/**
 * The common case by hand: a PUBLISH without MQTT 5 properties. Byte for byte what mqtt-packet
 * generates, without its per-call setup; everything else goes through mqtt-packet.
 */
function encodePlain (topic: string, payload: Buffer, qos: QoS, retain: boolean, v5: boolean, packetId: number): Buffer {
  const topicLen = Buffer.byteLength(topic, 'utf8')
  const rem = 2 + topicLen + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + payload.length
  const remBytes = rem < 128 ? 1 : rem < 16384 ? 2 : rem < 2097152 ? 3 : 4
  const buf = Buffer.allocUnsafe(1 + remBytes + rem)
  buf[0] = 0x30 | (qos << 1) | (retain ? 1 : 0)
  let i = 1
  let n = rem
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n > 0) b |= 0x80
    buf[i++] = b
  } while (n > 0)
  buf[i++] = topicLen >> 8
  buf[i++] = topicLen & 0xff
  i += buf.write(topic, i, 'utf8')
  if (qos > 0) { buf[i++] = packetId >> 8; buf[i++] = packetId & 0xff }
  if (v5) buf[i++] = 0
  payload.copy(buf, i)
  return buf
}

function encodeRaw (topic: string, msg: RoutedMessage, qos: QoS, retain: boolean, v5: boolean, properties: PublishProps | undefined, packetId: number): Buffer {
  if (!v5 || properties === undefined) return encodePlain(topic, msg.payload, qos, retain, v5, qos > 0 ? (packetId || 1) : 0)
  const packet: mqtt.IPublishPacket = {
    cmd: 'publish',
    topic,
    payload: msg.payload,
    qos,
    retain,
    dup: false,
    messageId: qos > 0 ? (packetId || 1) : undefined,
  }
  if (v5 && properties !== undefined) {
    const order = properties.userProperties !== undefined ? userPropertyOrder.get(properties.userProperties) : undefined
    if (order !== undefined) {
      const { userProperties: _omit, ...rest } = properties
      packet.properties = rest as mqtt.IPublishPacket['properties']
      return insertUserProperties(generate(packet, 5), qos, order)
    }
    packet.properties = properties as mqtt.IPublishPacket['properties']
  }
  return generate(packet, v5 ? 5 : 4)
}

function varint (n: number): Buffer {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Buffer.from(out)
}

function readVarint (buf: Buffer, at: number): { value: number, next: number } {
  let value = 0
  let mul = 1
  let i = at
  for (;;) {
    const b = buf[i++]
    value += (b & 0x7f) * mul
    mul *= 128
    if ((b & 0x80) === 0) return { value, next: i }
  }
}

/** Append user properties in their original wire order to an encoded MQTT 5 PUBLISH [v5 MQTT-3.3.2-18]. */
function insertUserProperties (buf: Buffer, qos: QoS, pairs: Array<[string, string]>): Buffer {
  const rem = readVarint(buf, 1)
  let i = rem.next
  i += 2 + buf.readUInt16BE(i)
  if (qos > 0) i += 2
  const plen = readVarint(buf, i)
  const propsEnd = plen.next + plen.value
  const extra = Buffer.concat(pairs.map(([k, v]) => {
    const kb = Buffer.from(k, 'utf8')
    const vb = Buffer.from(v, 'utf8')
    const e = Buffer.allocUnsafe(5 + kb.length + vb.length)
    e[0] = 0x26
    e.writeUInt16BE(kb.length, 1)
    kb.copy(e, 3)
    e.writeUInt16BE(vb.length, 3 + kb.length)
    vb.copy(e, 5 + kb.length)
    return e
  }))
  const newPlen = varint(plen.value + extra.length)
  const newRem = varint(rem.value - (plen.next - i) + newPlen.length + extra.length)
  return Buffer.concat([buf.subarray(0, 1), newRem, buf.subarray(rem.next, i), newPlen, buf.subarray(plen.next, propsEnd), extra, buf.subarray(propsEnd)])
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
    // Send what is left of the Message Expiry Interval [v5 MQTT-3.3.2-6]
    props.messageExpiryInterval = Math.max(0, Math.ceil((msg.expiresAt - now) / 1000))
  }
  if (subIds !== undefined) props.subscriptionIdentifier = subIds.length === 1 ? subIds[0] : subIds // [v5 MQTT-3.3.4-3]
  let topic = msg.topic
  if (alias > 0) props.topicAlias = alias
  else if (alias < 0) { props.topicAlias = -alias; topic = '' }
  const buf = encodeRaw(topic, msg, qos, retain, true, props, packetId)
  if (dup) buf[0] |= DUP
  return buf
}

const ACK_HEADER: Record<string, number> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 }

/**
 * PUBACK / PUBREC / PUBREL / PUBCOMP with reason 0x00 and no properties: the short two-byte form,
 * valid on every protocol level [v5 §3.4.2.1] and the one some MQTT 5 clients insist on.
 */
export function encodeAck (cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', packetId: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b[0] = ACK_HEADER[cmd]
  b[1] = 2
  b[2] = packetId >> 8
  b[3] = packetId & 0xff
  return b
}
