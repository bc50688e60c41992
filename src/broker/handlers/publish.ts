import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { RC, ProtocolError } from '../errors'
import { acceptPublish } from '../operations'
import { isUtf8 } from 'node:buffer'
import { validTopicName } from '../topics'
import { appProperties } from './properties'
import type { Message, QoS } from '../types'

export function handlePublish (conn: Connection, packet: mqtt.IPublishPacket): void | Promise<void> {
  const core = conn.core
  const v5 = conn.protocolVersion === 5
  const qos = packet.qos as QoS
  // DUP must be 0 for QoS 0 [v3.1.1 MQTT-3.3.1-2 / v5 MQTT-3.3.1-2]; QoS 1/2 need a non-zero packet identifier [v3.1.1 MQTT-2.3.1-1 / v5 MQTT-2.2.1-3]
  if (qos === 0 && packet.dup) throw new ProtocolError(RC.MALFORMED_PACKET, 'DUP set on a QoS 0 PUBLISH')
  if (qos > 0 && !packet.messageId) throw new ProtocolError(RC.MALFORMED_PACKET, 'packet identifier 0')
  if (qos > core.opts.maximumQoS) throw new ProtocolError(RC.QOS_NOT_SUPPORTED, `QoS ${qos} is not supported`) // [v5 MQTT-3.2.2-11]
  if (packet.retain && !core.opts.retainAvailable) throw new ProtocolError(RC.RETAIN_NOT_SUPPORTED, 'retain is not supported') // [v5 MQTT-3.2.2-14]
  let topic: string = packet.topic
  const props = v5 ? packet.properties : undefined
  if (props !== undefined) {
    const alias = props.topicAlias
    if (alias !== undefined) {
      // 0 or above our Topic Alias Maximum is invalid [v5 MQTT-3.3.2-8, v5 MQTT-3.3.2-9]
      if (alias === 0 || alias > core.opts.topicAliasMaximum) throw new ProtocolError(RC.TOPIC_ALIAS_INVALID, `topic alias ${alias} is out of range`)
      if (topic.length > 0) {
        (conn.aliasIn ??= new Map()).set(alias, topic)
      } else {
        const known = conn.aliasIn?.get(alias)
        if (known === undefined) throw new ProtocolError(RC.PROTOCOL_ERROR, `unknown topic alias ${alias}`)
        topic = known
      }
    }
    // The Response Topic is a topic name: no wildcards [v5 MQTT-3.3.2-14]
    if (props.responseTopic !== undefined && !validTopicName(props.responseTopic)) throw new ProtocolError(RC.PROTOCOL_ERROR, 'invalid Response Topic')
    // A client must not send a Subscription Identifier in PUBLISH [v5 MQTT-3.3.4-6]
    if (props.subscriptionIdentifier !== undefined) throw new ProtocolError(RC.PROTOCOL_ERROR, 'PUBLISH must not carry a subscription identifier')
  }
  // No wildcards, not empty, no U+0000 [v3.1.1 MQTT-3.3.2-2, v3.1.1 MQTT-4.7.3-1 / v5 MQTT-3.3.2-2, v5 MQTT-4.7.3-1], within the topic level limit
  if (!core.validTopic(topic)) throw new ProtocolError(RC.TOPIC_NAME_INVALID, 'invalid topic name')
  const s = conn.session
  if (s === null) return
  const pid = packet.messageId ?? 0
  if (qos === 2 && s.incoming.has(pid)) {
    // A resent QoS 2 PUBLISH is acknowledged but never delivered again [v3.1.1 MQTT-4.3.3-2 / v5 MQTT-4.3.3-10]
    conn.sendAck({ cmd: 'pubrec', messageId: pid }, undefined)
    return
  }
  if (v5 && qos > 0 && conn.pendingInbound() >= core.opts.receiveMaximum) {
    throw new ProtocolError(RC.RECEIVE_MAXIMUM_EXCEEDED, 'Receive Maximum exceeded') // [v5 MQTT-3.3.4-7]
  }
  if (props?.payloadFormatIndicator && !isUtf8(packet.payload as Buffer)) {
    // Payload Format Indicator 1 with a payload that is not UTF-8 [v5 §3.3.2.3.2]
    if (qos === 0) throw new ProtocolError(RC.PAYLOAD_FORMAT_INVALID, 'payload is not valid UTF-8')
    acknowledge(conn, qos, pid, RC.PAYLOAD_FORMAT_INVALID)
    return
  }
  const msg: Message = {
    topic,
    payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
    qos,
    retain: packet.retain,
    properties: appProperties(props),
  }
  const rc = acceptPublish(core, conn, msg)
  if (typeof rc === 'number') { acknowledge(conn, qos, pid, rc); return }
  return rc.then(code => acknowledge(conn, qos, pid, code))
}

/** PUBACK / PUBREC once the message is routed and, when it matters, durable [v3.1.1 MQTT-4.3.2-2, v3.1.1 MQTT-4.3.3-2 / v5 MQTT-4.3.2-4, v5 MQTT-4.3.3-8]. */
function acknowledge (conn: Connection, qos: QoS, pid: number, rc: number): void {
  if (qos === 0) return
  const v5 = conn.protocolVersion === 5
  const s = conn.session
  if (s === null) return
  if (qos === 2 && rc < 0x80) {
    s.addIncoming(pid)
    if (s.persistent) conn.core.persistence.addIncoming(s.clientId, pid)
  }
  const packet: mqtt.IPubackPacket | mqtt.IPubrecPacket = { cmd: qos === 1 ? 'puback' : 'pubrec', messageId: pid }
  if (v5 && rc !== 0) packet.reasonCode = rc // 3.x has no reason code: the message is acknowledged and dropped
  conn.sendAck(packet, rc < 0x80 ? conn.core.persistence.sync() : undefined)
}
