import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'

/** PUBACK: the client has taken an outgoing QoS 1 message [v3.1.1 §4.3.2 / v5 §4.3.2]. Unknown identifiers are ignored. */
export function handlePuback (conn: Connection, packet: mqtt.IPubackPacket): void {
  const s = conn.session
  if (s === null) return
  conn.core.delivery.puback(s, packet.messageId ?? 0)
}
