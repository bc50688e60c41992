import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { RC } from '../errors'

/** PUBREL for an incoming QoS 2 message: forget its packet identifier and answer PUBCOMP [v3.1.1 MQTT-4.3.3-2 / v5 MQTT-4.3.3-11]. */
export function handlePubrel (conn: Connection, packet: mqtt.IPubrelPacket): void {
  const s = conn.session
  if (s === null) return
  const pid = packet.messageId ?? 0
  const known = s.incoming.delete(pid)
  const durable = known && s.persistent
  if (durable) conn.core.persistence.removeIncoming(s.clientId, pid)
  const reply: mqtt.IPubcompPacket = { cmd: 'pubcomp', messageId: pid }
  if (!known && conn.protocolVersion === 5) reply.reasonCode = RC.PACKET_IDENTIFIER_NOT_FOUND
  // PUBCOMP once the packet identifier is forgotten on disk too: after a crash the client may
  // reuse it at once, and a restored stale identifier would swallow that new message as a
  // duplicate [v3.1.1 MQTT-4.3.3-2 / v5 MQTT-4.3.3-12].
  conn.sendAck(reply, durable ? conn.core.persistence.sync() : undefined)
}
