/**
 * Watches what the broker sends one fuzz client: every byte must frame into well-formed MQTT for
 * the protocol level the client's CONNECT chose, CONNACK comes first [MQTT-3.2.0-1], nothing
 * follows a refusing CONNACK [MQTT-3.2.2-7] or a DISCONNECT [MQTT-3.14.4-1], 3.x clients never get
 * DISCONNECT or AUTH, and no packet exceeds the client's Maximum Packet Size [MQTT-3.1.2-24] or uses
 * a topic alias above the client's Topic Alias Maximum [MQTT-3.3.2-9]. It also answers QoS 1/2
 * deliveries when the script asks for a well-behaved client.
 */
import * as mqtt from 'mqtt-packet'
import { readVarint } from './layout'

/** What the broker parsed from the client: the first packet of the client's byte stream. */
export interface ConnectInfo {
  version: number | undefined
  maximumPacketSize: number | undefined
  topicAliasMaximum: number
}

/** The CONNECT the broker sees first, parsed by plain mqtt-packet (the broker's own parser is stricter). */
export function connectInfo (bytes: Buffer): ConnectInfo {
  const p = mqtt.parser({ protocolVersion: 4 })
  let first: mqtt.Packet | null = null
  p.on('packet', (x: mqtt.Packet) => { if (first === null) first = x })
  p.on('error', () => { /* first stays null, or the packet before the error */ })
  try { p.parse(bytes) } catch { /* same */ }
  const c = first as mqtt.Packet | null
  if (c === null || c.cmd !== 'connect') return { version: undefined, maximumPacketSize: undefined, topicAliasMaximum: 0 }
  const props = c.protocolVersion === 5 ? c.properties : undefined
  const tam = props?.topicAliasMaximum
  const mps = props?.maximumPacketSize
  return {
    version: c.protocolVersion,
    maximumPacketSize: typeof mps === 'number' ? mps : undefined,
    topicAliasMaximum: typeof tam === 'number' ? tam : 0,
  }
}

/** CONNACK reason codes (MQTT 5 section 3.2.2.2) and 3.1.1 return codes (section 3.2.2.3). */
const CONNACK5 = new Set([0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f])
/** Packet types a server sends: CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP, DISCONNECT, AUTH. */
const SERVER_TYPES = new Set([2, 3, 4, 5, 6, 7, 9, 11, 13, 14, 15])

export type Report = (kind: string, detail: string) => void

export class Observer {
  private buf: Buffer = Buffer.alloc(0)
  private parser: mqtt.Parser
  private seen = 0
  private ended: string | null = null
  private dead = false
  private readonly v5: boolean
  private lastFrame = ''
  received = 0
  /** The broker accepted the CONNECT. */
  accepted = false
  /** Packets received, by type name. */
  readonly counts: Record<string, number> = {}
  /**
   * Packet identifiers of the broker's QoS 1/2 PUBLISH that the client has not released yet (no
   * PUBACK / PUBCOMP / failing PUBREC sent): a new PUBLISH must not reuse one [MQTT-2.2.1-3].
   * Tracked from the client's own bytes as it sends them; given up when they stop parsing.
   */
  private readonly outstanding = new Set<number>()
  private readonly sentParser = mqtt.parser({ protocolVersion: 4 })
  private trackIds = true

  constructor (private readonly info: ConnectInfo, private readonly report: Report, private readonly onPacket: (p: mqtt.Packet) => void) {
    this.v5 = info.version === 5
    this.parser = mqtt.parser({ protocolVersion: info.version ?? 4 })
    this.parser.on('packet', (p: mqtt.Packet) => this.packet(p))
    this.parser.on('error', (e: Error) => this.bad(`mqtt-packet cannot parse it: ${e.message}: ${this.lastFrame}`))
    this.sentParser.on('packet', (p: mqtt.Packet) => this.clientPacket(p))
    this.sentParser.on('error', () => { this.trackIds = false })
  }

  /** Bytes the client sends (fed in order, as written). */
  sent (chunk: Buffer): void {
    if (!this.trackIds) return
    try { this.sentParser.parse(chunk) } catch { this.trackIds = false }
  }

  private clientPacket (p: mqtt.Packet): void {
    switch (p.cmd) {
      case 'puback': case 'pubcomp': this.outstanding.delete(p.messageId ?? 0); break
      case 'pubrec': if ((p.reasonCode ?? 0) >= 0x80) this.outstanding.delete(p.messageId ?? 0); break
    }
  }

  private bad (detail: string): void {
    if (this.dead) return
    this.dead = true
    this.report('bad-output', detail)
  }

  feed (chunk: Buffer): void {
    if (this.dead) return
    this.received += chunk.length
    this.buf = this.buf.length > 0 ? Buffer.concat([this.buf, chunk]) : chunk
    for (;;) {
      if (this.dead || this.buf.length < 2) return
      const r = readVarint(this.buf, 1)
      if (r === null) {
        if (this.buf.length >= 5) this.bad('Remaining Length longer than 4 bytes')
        return
      }
      const [rl, bodyAt] = r
      const min = rl < 128 ? 1 : rl < 16384 ? 2 : rl < 2097152 ? 3 : 4
      if (bodyAt - 1 !== min) { this.bad('Remaining Length not minimally encoded [MQTT-1.5.5-1]'); return }
      const total = bodyAt + rl
      if (this.buf.length < total) return
      const frame = this.buf.subarray(0, total)
      this.buf = this.buf.subarray(total)
      this.frame(frame)
    }
  }

  private frame (f: Buffer): void {
    const type = f[0] >> 4
    const flags = f[0] & 0x0f
    const hex = f.subarray(0, 48).toString('hex')
    if (!SERVER_TYPES.has(type)) return this.bad(`packet type ${type} is not one a server sends: ${hex}`)
    if (this.ended !== null) return this.bad(`a packet after ${this.ended}: ${hex}`)
    if (this.seen === 0 && type !== 2) {
      return this.bad(`the first packet is not CONNACK [MQTT-3.2.0-1] (client Maximum Packet Size ${this.info.maximumPacketSize ?? 'none'}): ${hex}`)
    }
    if (this.seen > 0 && type === 2) return this.bad(`a second CONNACK: ${hex}`)
    if (!this.v5 && (type === 14 || type === 15)) return this.bad(`DISCONNECT/AUTH to an MQTT ${this.info.version ?? '?'} client: ${hex}`)
    if (type === 3 && (flags & 0x06) === 0x06) return this.bad(`PUBLISH with QoS 3: ${hex}`)
    if (type !== 3 && flags !== (type === 6 ? 2 : 0)) return this.bad(`reserved flags 0x${flags.toString(16)} [MQTT-2.2.2-1]: ${hex}`)
    const max = this.info.maximumPacketSize
    if (this.v5 && this.accepted && max !== undefined && max > 0 && f.length > max) {
      return this.bad(`a ${f.length}-byte packet exceeds the client's Maximum Packet Size ${this.info.maximumPacketSize} [MQTT-3.1.2-24]: ${hex}`)
    }
    this.seen++
    this.lastFrame = hex
    try {
      this.parser.parse(f)
    } catch (e) {
      this.bad(`mqtt-packet threw: ${(e as Error).message}`)
    }
  }

  private packet (p: mqtt.Packet): void {
    if (this.dead) return
    this.counts[p.cmd] = (this.counts[p.cmd] ?? 0) + 1
    switch (p.cmd) {
      case 'connack': {
        const rc = this.v5 ? (p.reasonCode ?? 0) : (p.returnCode ?? 0)
        if (this.v5 ? !CONNACK5.has(rc) : rc > 5) return this.bad(`CONNACK code 0x${rc.toString(16)} is not defined`)
        if (rc === 0) this.accepted = true
        else {
          if (p.sessionPresent) return this.bad('a refusing CONNACK with Session Present 1 [MQTT-3.2.2-6]')
          this.ended = `a refusing CONNACK 0x${rc.toString(16)}`
        }
        break
      }
      case 'disconnect':
        if ((p.reasonCode ?? 0) === 0x04) return this.bad('a server DISCONNECT with 0x04 (client only)')
        this.ended = `DISCONNECT 0x${(p.reasonCode ?? 0).toString(16)}`
        break
      case 'publish': {
        if (p.qos > 0 && !p.messageId) return this.bad('a QoS>0 PUBLISH with packet identifier 0 [MQTT-2.2.1-3]')
        if (p.qos > 0 && this.trackIds && this.accepted) {
          const id = p.messageId ?? 0
          if (!p.dup && this.outstanding.has(id)) return this.bad(`a new PUBLISH reuses packet identifier ${id}, still unacknowledged [MQTT-2.2.1-3]`)
          this.outstanding.add(id)
        }
        const alias = this.v5 ? p.properties?.topicAlias : undefined
        if (alias !== undefined && (alias === 0 || alias > this.info.topicAliasMaximum)) {
          return this.bad(`topic alias ${alias} above the client's Topic Alias Maximum ${this.info.topicAliasMaximum} [MQTT-3.3.2-9]`)
        }
        break
      }
    }
    this.onPacket(p)
  }
}

/** The acknowledgement a well-behaved client sends for `p`, if any. */
export function ackFor (p: mqtt.Packet, version: number): Buffer | null {
  let a: mqtt.Packet | null = null
  if (p.cmd === 'publish' && p.qos === 1) a = { cmd: 'puback', messageId: p.messageId }
  else if (p.cmd === 'publish' && p.qos === 2) a = { cmd: 'pubrec', messageId: p.messageId }
  else if (p.cmd === 'pubrel') a = { cmd: 'pubcomp', messageId: p.messageId }
  if (a === null) return null
  try {
    return mqtt.generate(a, { protocolVersion: version === 5 ? 5 : 4 })
  } catch {
    return null
  }
}
