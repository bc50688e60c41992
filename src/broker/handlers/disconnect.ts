import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { RC, ProtocolError, reasonName } from '../errors'

/**
 * DISCONNECT from the client: the will is discarded [v3.1.1 MQTT-3.14.4-3 / v5 MQTT-3.14.4-3] unless MQTT 5 reason 0x04
 * asks for it; MQTT 5 may change the Session Expiry Interval here [v5 §3.14.2.2.2].
 */
export function handleDisconnect (conn: Connection, packet: mqtt.IDisconnectPacket): void {
  const s = conn.session
  const rc = conn.protocolVersion === 5 ? (packet.reasonCode ?? 0) : 0
  const expiry = conn.protocolVersion === 5 ? packet.properties?.sessionExpiryInterval : undefined
  if (expiry !== undefined && s !== null) {
    // Setting a non-zero expiry at DISCONNECT when CONNECT had 0 is a Protocol Error [v5 §3.14.2.2.2]
    if (s.expiryInterval === 0 && expiry !== 0) throw new ProtocolError(RC.PROTOCOL_ERROR, 'Session Expiry Interval was 0 at CONNECT')
    s.expiryInterval = Math.min(expiry, conn.core.opts.maxSessionExpiryInterval)
  }
  conn.willOnClose = rc === RC.DISCONNECT_WITH_WILL
  conn.close(rc === 0 ? 'client disconnected' : `client disconnected: ${reasonName(rc)}`, rc)
}
