import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { RC } from '../errors'

/** PUBREL for an incoming QoS 2 message: forget its packet identifier and answer PUBCOMP [MQTT-4.3.3-11]. */
export function handlePubrel (conn: Connection, packet: mqtt.IPubrelPacket): void {
  const s = conn.session
  if (s === null) return
  const pid = packet.messageId ?? 0
  const known = s.incoming.delete(pid)
  if (known && s.persistent) conn.core.persistence.removeIncoming(s.clientId, pid)
  const reply: mqtt.IPubcompPacket = { cmd: 'pubcomp', messageId: pid }
  if (!known && conn.protocolVersion === 5) reply.reasonCode = RC.PACKET_IDENTIFIER_NOT_FOUND
  conn.sendAck(reply, undefined)
}
