import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { RC, ProtocolError } from '../errors'

/**
 * AUTH: Hearth offers no enhanced authentication, so CONNECT never named a method and any AUTH is
 * a Protocol Error (MQTT 5 section 4.12), with or without a method: 0x8C Bad Authentication
 * Method is a CONNACK code, not a DISCONNECT one [v5 MQTT-3.14.2-1].
 */
export function handleAuth (_conn: Connection, _packet: mqtt.IAuthPacket): never {
  throw new ProtocolError(RC.PROTOCOL_ERROR, 'enhanced authentication is not supported') // [v5 MQTT-3.14.2-1]
}
