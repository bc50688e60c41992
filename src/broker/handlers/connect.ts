import type mqtt from 'mqtt-packet'
import type { Connection } from '../connection'
import { ConnState } from '../conn-state'
import { RC, connackCodeV3 } from '../errors'
import { MAX_PACKET } from '../options'
import { generate } from '../encode'
import { runConnect, activate, type ConnectContext, NEVER_EXPIRES } from '../connect-actions'
import { appProperties } from './properties'
import type { ProtocolVersion, QoS, WillMessage } from '../types'

/** Refuse with a CONNACK carrying `rc` (session present 0 [MQTT-3.2.2-6]) and close [MQTT-3.2.2-7]. */
function refuse (conn: Connection, rc: number, reason: string): void {
  const v5 = conn.protocolVersion === 5
  const ack: mqtt.IConnackPacket = { cmd: 'connack', sessionPresent: false }
  if (v5) ack.reasonCode = rc
  else ack.returnCode = connackCodeV3(rc)
  conn.write(generate(ack, v5 ? 5 : 4))
  conn.close(reason, rc)
}

export function handleConnect (conn: Connection, packet: mqtt.IConnectPacket): void | Promise<void> {
  const core = conn.core
  const version = (packet.protocolVersion ?? 4) as ProtocolVersion
  conn.protocolVersion = version === 5 ? 5 : version
  // Level | 0x80 marks a bridge on 3.1 and 3.1.1 (Mosquitto's try_private); with 5 it is ignored: an MQTT 5 bridge sets No Local and Retain As Published itself
  conn.bridge = (packet as { bridgeMode?: boolean }).bridgeMode === true && version !== 5
  // Protocol name must match the level: MQIsdp for 3.1, MQTT for 3.1.1 and 5 [MQTT-3.1.2-1]
  if ((version === 3) !== (packet.protocolId === 'MQIsdp')) {
    conn.close('protocol name does not match the level', RC.UNSUPPORTED_PROTOCOL_VERSION)
    return
  }
  // A level this broker does not allow: CONNACK 0x01 (3.x) or 0x84 (5), then close [MQTT-3.1.2-2]
  if (!core.opts.protocols.includes(version)) {
    refuse(conn, RC.UNSUPPORTED_PROTOCOL_VERSION, `protocol level ${version} is not allowed`)
    return
  }
  const props = packet.properties
  const v5 = version === 5
  // 3.x: a password needs a user name [MQTT-3.1.2-22]
  if (!v5 && packet.password !== undefined && packet.username === undefined) {
    conn.close('password without user name', RC.MALFORMED_PACKET)
    return
  }
  if (packet.will && ((packet.will.qos ?? 0) as number) > 2) { // Will QoS 3 is malformed [MQTT-3.1.2-14]
    conn.close('will QoS 3', RC.MALFORMED_PACKET)
    return
  }
  if (v5 && props?.authenticationData !== undefined && props.authenticationMethod === undefined) {
    refuse(conn, RC.PROTOCOL_ERROR, 'Authentication Data without Authentication Method') // MQTT 5 section 3.1.2.11.10
    return
  }
  if (v5 && props) {
    // Receive Maximum 0 and Maximum Packet Size 0 are Protocol Errors (MQTT 5 sections 3.1.2.11.3, 3.1.2.11.4)
    if (props.receiveMaximum === 0 || props.maximumPacketSize === 0) {
      refuse(conn, RC.PROTOCOL_ERROR, 'Receive Maximum and Maximum Packet Size must not be 0')
      return
    }
  }
  let will: WillMessage | undefined
  if (packet.will) {
    // The will is checked with the other connect steps (connect-actions.ts checkWill), for every kind of client.
    const w = packet.will
    const wp = v5 ? w.properties : undefined
    will = {
      topic: typeof w.topic === 'string' ? w.topic : String(w.topic),
      payload: Buffer.isBuffer(w.payload) ? w.payload : Buffer.from(w.payload ?? ''),
      qos: (w.qos ?? 0) as QoS,
      retain: !!w.retain,
      properties: appProperties(wp),
      delayInterval: wp?.willDelayInterval,
    }
  }
  if (v5) {
    conn.sendQuota = props?.receiveMaximum ?? 65535 // absent: 65535 (MQTT 5 section 3.1.2.11.3)
    conn.maxPacketSize = props?.maximumPacketSize ?? MAX_PACKET
    conn.topicAliasMax = props?.topicAliasMaximum ?? 0
    conn.requestProblemInformation = props?.requestProblemInformation !== false
  } else {
    conn.sendQuota = core.opts.maxInflight
  }
  const clean = packet.clean !== false
  const ctx: ConnectContext = {
    core,
    client: conn,
    params: {
      clientId: packet.clientId ?? '',
      clean,
      keepalive: packet.keepalive ?? 0,
      username: packet.username,
      password: packet.password,
      will,
      // 3.1.1: a non-clean session lasts until the client cleans it; 5: Session Expiry Interval, default 0 [MQTT-3.1.2-23]
      sessionExpiryInterval: v5 ? (props?.sessionExpiryInterval ?? 0) : (clean ? 0 : NEVER_EXPIRES),
      authenticationMethod: v5 ? props?.authenticationMethod : undefined,
      remoteAddress: conn.remoteAddress(),
      certificate: conn.certificate(),
    },
    sessionPresent: false,
  }
  conn.state = ConnState.Connecting
  const rc = runConnect(ctx)
  if (typeof rc === 'number') { finishConnect(conn, ctx, rc); return }
  return rc.then(code => finishConnect(conn, ctx, code))
}

/** Answer CONNECT: refuse, or CONNACK with the MQTT 5 properties that differ from the defaults, then activate. */
function finishConnect (conn: Connection, ctx: ConnectContext, rc: number): void {
  const core = conn.core
  const v5 = conn.protocolVersion === 5
  if (conn.state === ConnState.Closed) { if (rc === 0) core.detach(conn, false); return }
  conn.leavePending()
  if (rc !== RC.SUCCESS) { refuse(conn, rc, `connection refused: 0x${rc.toString(16)}`); return }
  if (!v5) {
    conn.write(Buffer.from([0x20, 2, ctx.sessionPresent ? 1 : 0, 0])) // CONNACK, accepted [MQTT-3.2.2-1..3]
  } else {
    const ack: mqtt.IConnackPacket = { cmd: 'connack', sessionPresent: ctx.sessionPresent, reasonCode: 0 }
    const p: NonNullable<mqtt.IConnackPacket['properties']> = {}
    const o = core.opts
    if (ctx.assignedClientId !== undefined) p.assignedClientIdentifier = ctx.assignedClientId
    if (o.receiveMaximum < 65535) p.receiveMaximum = o.receiveMaximum
    if (o.maximumQoS < 2) p.maximumQoS = o.maximumQoS
    if (!o.retainAvailable) p.retainAvailable = false
    if (o.maxPacketSize < MAX_PACKET) p.maximumPacketSize = o.maxPacketSize
    if (o.topicAliasMaximum > 0) p.topicAliasMaximum = o.topicAliasMaximum
    if (ctx.serverKeepAlive !== undefined) p.serverKeepAlive = ctx.serverKeepAlive
    if (ctx.sessionExpiryInterval !== undefined) p.sessionExpiryInterval = ctx.sessionExpiryInterval
    if (Object.keys(p).length > 0) ack.properties = p
    if (!conn.sendPacket(ack)) { // CONNACK first [MQTT-3.2.0-1], never above the client's maximum [MQTT-3.1.2-24]
      // No CONNACK can reach the client: the connection ends, without the will (it never began).
      core.detach(conn, false)
      conn.close('the CONNACK is larger than the client\'s Maximum Packet Size', RC.PACKET_TOO_LARGE)
      return
    }
  }
  conn.state = ConnState.Active
  activate(core, conn)
}
