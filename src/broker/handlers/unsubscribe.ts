import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { RC, ProtocolError } from '../errors'
import { unsubscribe } from '../operations'

export function handleUnsubscribe (conn: Connection, packet: mqtt.IUnsubscribePacket): void {
  if (!packet.messageId) throw new ProtocolError(RC.MALFORMED_PACKET, 'packet identifier 0') // [v3.1.1 MQTT-2.3.1-1 / v5 MQTT-2.2.1-3]
  // At least one topic filter [v3.1.1 MQTT-3.10.3-2 / v5 MQTT-3.10.3-2]
  if (packet.unsubscriptions.length === 0) throw new ProtocolError(RC.PROTOCOL_ERROR, 'UNSUBSCRIBE without topic filters')
  const codes = unsubscribe(conn.core, conn, packet.unsubscriptions)
  // UNSUBACK even when nothing matched [v3.1.1 MQTT-3.10.4-4..5 / v5 MQTT-3.10.4-4..5]
  const reply = { cmd: 'unsuback', messageId: packet.messageId } as mqtt.IUnsubackPacket & { granted?: number[] }
  if (conn.protocolVersion === 5) reply.granted = codes
  conn.sendPacket(reply)
}
