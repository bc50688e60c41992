import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { RC } from '../errors'

/** PUBREC for an outgoing QoS 2 message: answer PUBREL [v3.1.1 MQTT-4.3.3-1 / v5 MQTT-4.3.3-4]; 0x92 when the identifier is unknown. */
export function handlePubrec (conn: Connection, packet: mqtt.IPubrecPacket): void {
  const s = conn.session
  if (s === null) return
  const pid = packet.messageId ?? 0
  const rc = packet.reasonCode ?? 0
  const known = conn.core.delivery.pubrec(s, pid, rc)
  if (known && rc >= 0x80) return // the client refused it: the exchange ends here
  const reply: mqtt.IPubrelPacket = { cmd: 'pubrel', messageId: pid }
  if (!known && conn.protocolVersion === 5) reply.reasonCode = RC.PACKET_IDENTIFIER_NOT_FOUND
  conn.sendPacket(reply)
}
