import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { RC, ProtocolError } from '../errors'
import { subscribe } from '../operations'
import type { QoS, SubscriptionOptions } from '../types'

export function handleSubscribe (conn: Connection, packet: mqtt.ISubscribePacket): Promise<void> | void {
  const v5 = conn.protocolVersion === 5
  if (!packet.messageId) throw new ProtocolError(RC.MALFORMED_PACKET, 'packet identifier 0') // [MQTT-2.2.1-3]
  // At least one topic filter [MQTT-3.8.3-3]
  if (packet.subscriptions.length === 0) throw new ProtocolError(RC.PROTOCOL_ERROR, 'SUBSCRIBE without topic filters')
  const subId = v5 ? packet.properties?.subscriptionIdentifier : undefined
  if (subId === 0) throw new ProtocolError(RC.PROTOCOL_ERROR, 'Subscription Identifier 0') // 1..268435455; 0 is a Protocol Error (MQTT 5 section 3.8.2.1.2)
  const requests: SubscriptionOptions[] = packet.subscriptions.map(s => ({
    topic: s.topic,
    qos: s.qos as QoS,
    // A 3.x bridge (bridge bit) has No Local and Retain As Published on every subscription, as in Mosquitto
    nl: v5 ? s.nl === true : conn.bridge,
    rap: v5 ? s.rap === true : conn.bridge,
    rh: v5 ? ((s.rh ?? 0) as 0 | 1 | 2) : 0,
    subscriptionIdentifier: subId,
  }))
  return subscribe(conn.core, conn, requests).then(result => {
    if (result === undefined) return // the session ended while the subscription was authorised
    const { codes, after } = result
    // SUBACK with the same packet identifier and one code per filter [MQTT-3.8.4-1, MQTT-3.8.4-2, MQTT-3.8.4-6]
    conn.sendPacket({ cmd: 'suback', messageId: packet.messageId, granted: codes } as mqtt.ISubackPacket)
    after()
  })
}
