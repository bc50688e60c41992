import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'

/** PUBCOMP ends an outgoing QoS 2 exchange [v3.1.1 §4.3.3 / v5 §4.3.3]. */
export function handlePubcomp (conn: Connection, packet: mqtt.IPubcompPacket): void {
  const s = conn.session
  if (s === null) return
  conn.core.delivery.pubcomp(s, packet.messageId ?? 0)
}
