/*
 * The control packets a broker sends most, encoded by hand, byte for byte what mqtt-packet
 * generates: PINGRESP, SUBACK and UNSUBACK without properties, PUBACK/PUBREC/PUBREL/PUBCOMP with a
 * reason code and no properties, and the MQTT 5 CONNACK with the properties Hearth sets on it.
 * Besides its per-call setup, mqtt-packet's generate() builds a cache of 65,536 two-byte Buffers
 * the first time it runs (6.6 MB of heap, about 13 MB of RSS): with these, a broker whose clients
 * publish without MQTT 5 properties never calls it. Anything else returns undefined, and the
 * caller goes through mqtt-packet.
 */
import type mqtt from 'mqtt-packet'

const ACK_HEADER = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const

/** CONNACK properties encoded here: name, identifier, width in bytes (0: a UTF-8 string). */
const CONNACK_PROPS: ReadonlyArray<readonly [string, number, 0 | 1 | 2 | 4]> = [
  ['sessionExpiryInterval', 0x11, 4],
  ['assignedClientIdentifier', 0x12, 0],
  ['serverKeepAlive', 0x13, 2],
  ['receiveMaximum', 0x21, 2],
  ['topicAliasMaximum', 0x22, 2],
  ['maximumQoS', 0x24, 1],
  ['retainAvailable', 0x25, 1],
  ['maximumPacketSize', 0x27, 4],
]
const CONNACK_PROP = new Map(CONNACK_PROPS.map(([name, id, width]) => [name, { id, width }]))

function isEmpty (properties: object | undefined): boolean {
  if (properties === undefined) return true
  for (const _ in properties) return false
  return true
}

/** Fixed header, then the given body bytes. Remaining lengths here stay below 128 except SUBACK's and UNSUBACK's. */
function packet (first: number, body: number[]): Buffer {
  const len = body.length
  const head = [first]
  let n = len
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n > 0) b |= 0x80
    head.push(b)
  } while (n > 0)
  return Buffer.from([...head, ...body])
}

function connack5 (p: mqtt.IConnackPacket): Buffer | undefined {
  const props: number[] = []
  const properties = p.properties ?? {}
  // In the properties object's own order, as mqtt-packet writes them.
  for (const name of Object.keys(properties)) {
    const value: unknown = (properties as Record<string, unknown>)[name]
    if (value === undefined) continue
    const spec = CONNACK_PROP.get(name)
    if (spec === undefined) return undefined
    props.push(spec.id)
    if (spec.width === 0) {
      const text = Buffer.from(String(value), 'utf8')
      props.push(text.length >> 8, text.length & 0xff, ...text)
    } else {
      const n = typeof value === 'boolean' ? (value ? 1 : 0) : Number(value)
      for (let shift = (spec.width - 1) * 8; shift >= 0; shift -= 8) props.push(Math.floor(n / 2 ** shift) & 0xff)
    }
  }
  if (props.length > 127) return undefined
  return packet(0x20, [p.sessionPresent ? 1 : 0, p.reasonCode ?? 0, props.length, ...props])
}

/** The packet's bytes, or undefined when it is not one of the forms encoded here. */
export function encodeControl (p: mqtt.Packet, protocolVersion: number): Buffer | undefined {
  const v5 = protocolVersion === 5
  switch (p.cmd) {
    case 'pingresp': return Buffer.from([0xd0, 0])
    case 'suback': {
      const id = p.messageId
      if (!isEmpty(p.properties) || typeof id !== 'number' || !Array.isArray(p.granted) || p.granted.length === 0) return undefined
      return packet(0x90, [id >> 8, id & 0xff, ...(v5 ? [0] : []), ...(p.granted as number[])])
    }
    case 'unsuback': {
      const id = p.messageId
      if (!isEmpty(p.properties) || typeof id !== 'number') return undefined
      if (!v5) return packet(0xb0, [id >> 8, id & 0xff])
      const codes = (p as { granted?: unknown }).granted // mqtt-packet takes MQTT 5 UNSUBACK reason codes as `granted`
      if (!Array.isArray(codes) || codes.length === 0) return undefined
      return packet(0xb0, [id >> 8, id & 0xff, 0, ...(codes as number[])])
    }
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': {
      const id = p.messageId
      const rc = p.reasonCode
      // The plain forms are encodeAck's; here an MQTT 5 reason code with an empty property length [v5 MQTT-3.4.2-1]
      if (!v5 || p.properties !== undefined || typeof id !== 'number' || typeof rc !== 'number' || rc === 0) return undefined
      return Buffer.from([ACK_HEADER[p.cmd], 4, id >> 8, id & 0xff, rc, 0])
    }
    case 'connack': return v5 ? connack5(p) : undefined
    default: return undefined
  }
}
