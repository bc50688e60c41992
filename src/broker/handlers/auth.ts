import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { RC, ProtocolError } from '../errors'

/**
 * AUTH: Hearth offers no enhanced authentication. An AUTH naming a method gets 0x8C Bad
 * Authentication Method; any other AUTH is a Protocol Error, since CONNECT named no method (MQTT 5 section 4.12).
 */
export function handleAuth (conn: Connection, packet: mqtt.IAuthPacket): void {
  if (packet.properties?.authenticationMethod !== undefined) {
    throw new ProtocolError(RC.BAD_AUTHENTICATION_METHOD, 'enhanced authentication is not supported')
  }
  throw new ProtocolError(RC.PROTOCOL_ERROR, 'AUTH without an authentication method')
}
