/*
 * The dispatcher: enforces the connection state (CONNECT first [v3.1.1 MQTT-3.1.0-1 / v5 MQTT-3.1.0-1], only once
 * [v3.1.1 MQTT-3.1.0-2 / v5 MQTT-3.1.0-2]) and hands each packet type to its handler. Handlers throw ProtocolError; the
 * connection turns that into DISCONNECT (MQTT 5) and a close.
 */
import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { ConnState } from '../conn-state'
import { RC, ProtocolError } from '../errors'
import { handleConnect } from './connect'
import { handlePublish } from './publish'
import { handlePuback } from './puback'
import { handlePubrec } from './pubrec'
import { handlePubrel } from './pubrel'
import { handlePubcomp } from './pubcomp'
import { handleSubscribe } from './subscribe'
import { handleUnsubscribe } from './unsubscribe'
import { handlePingreq } from './pingreq'
import { handleDisconnect } from './disconnect'
import { handleAuth } from './auth'

export function dispatch (conn: Connection, packet: mqtt.Packet): void | Promise<void> {
  if (conn.state === ConnState.AwaitConnect) {
    if (packet.cmd !== 'connect') throw new ProtocolError(RC.PROTOCOL_ERROR, 'the first packet must be CONNECT') // [v3.1.1 MQTT-3.1.0-1 / v5 MQTT-3.1.0-1]
    return handleConnect(conn, packet)
  }
  if (conn.state !== ConnState.Active) return
  switch (packet.cmd) {
    case 'publish': return handlePublish(conn, packet)
    case 'puback': return handlePuback(conn, packet)
    case 'pubrec': return handlePubrec(conn, packet)
    case 'pubrel': return handlePubrel(conn, packet)
    case 'pubcomp': return handlePubcomp(conn, packet)
    case 'subscribe': return handleSubscribe(conn, packet)
    case 'unsubscribe': return handleUnsubscribe(conn, packet)
    case 'pingreq': return handlePingreq(conn)
    case 'disconnect': return handleDisconnect(conn, packet)
    case 'auth':
      if (conn.protocolVersion !== 5) throw new ProtocolError(RC.PROTOCOL_ERROR, 'AUTH is MQTT 5 only')
      return handleAuth(conn, packet)
    case 'connect': throw new ProtocolError(RC.PROTOCOL_ERROR, 'a second CONNECT') // [v3.1.1 MQTT-3.1.0-2 / v5 MQTT-3.1.0-2]
    default: throw new ProtocolError(RC.PROTOCOL_ERROR, `a client must not send ${packet.cmd}`)
  }
}
