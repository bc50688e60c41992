/*
 * mqtt-packet's parser with two broker-side checks added where the bytes are still at hand:
 * admission, checked as soon as the fixed header is read so that a packet that may not be read
 * (larger than the server's Maximum Packet Size [v5 MQTT-3.2.2-15], or anything but a bounded
 * CONNECT first) is never buffered, and well-formed UTF-8 without U+0000 in every string
 * [v3.1.1 MQTT-1.5.3-1..2 / v5 MQTT-1.5.4-1..2].
 */
import type mqtt from 'mqtt-packet'
import { isUtf8 } from 'node:buffer'
import { createRequire } from 'node:module'

export class PacketTooLargeError extends Error {}
export class BadUtf8Error extends Error {}
/** A well-formed packet that breaks a rule: MQTT 5 reason 0x82. */
export class ParsedProtocolError extends Error {}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const constants = require('mqtt-packet/constants') as { propertiesCodes: Record<number, string>, propertiesTypes: Record<string, string> }
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Packet = require('mqtt-packet/packet') as new () => PacketObject
// mqtt-packet buffers input in a `bl` BufferListStream, a whole Duplex per connection; the plain
// BufferList has the same methods at a fraction of the memory. Resolved from mqtt-packet's own bl.
const BufferList = (createRequire(require.resolve('mqtt-packet')) ('bl') as { BufferList: new () => BufferListLike }).BufferList

/**
 * User properties in wire order, for the messages whose order the object form cannot hold (a
 * name repeated after another name). The encoder writes them back in this order [v5 MQTT-3.3.2-18].
 */
export const userPropertyOrder = new WeakMap<object, Array<[string, string]>>()

interface BufferListLike {
  length: number
  slice (start: number, end: number): Buffer
}

/** mqtt-packet's Packet: the object every parsed packet is, whichever path parsed it. */
interface PacketObject { cmd: string | null, retain: boolean, qos: number, dup: boolean, length: number, topic: string | null, payload: Buffer | null, messageId?: number }

/** The internals of mqtt-packet's Parser that we extend (mqtt-packet 9.x). */
interface ParserInternals {
  _list: BufferListLike
  _pos: number
  settings: { protocolVersion?: number, bridgeMode?: boolean }
  _parseConnect (): unknown
  _parseLength (): boolean
  _parseString (): string | null
  _parseVarByteNum (fullInfoFlag?: boolean): number | false | { bytes: number, value: number }
  _parseNum (): number
  _parse4ByteNum (): number
  _parseMessageId (): boolean
  _parseDisconnect (): boolean
  _parseAuth (): boolean
  _parseByte (): number | undefined
  _parseByType (type: string): unknown
  _parseProperties (): Record<string, unknown> | false
  _emitError (err: Error): void
  _resetState (): void
  _stateCounter: number
  error: Error | null
  _propCalls: number
  packet: { length: number, cmd?: string, reasonCode?: number }
  parse (buf: Buffer): number
  emit (event: 'packet', packet: PacketObject): boolean
}

export type PacketParser = mqtt.Parser

/**
 * Decides, as soon as a packet's fixed header is read and before its body is buffered, whether
 * the packet may be read at all: returns the error that closes the connection, or undefined.
 */
export type Admission = (this: PacketParser, cmd: string | undefined, size: number) => Error | undefined

// eslint-disable-next-line @typescript-eslint/no-require-imports
const StockParser = require('mqtt-packet/parser') as new () => ParserInternals
/** mqtt-packet's parse loop calls its states by name; one array for every parser. */
const STATES = ['_parseHeader', '_parseLength', '_parsePayload', '_newPacket']

/**
 * mqtt-packet's Parser with the broker's checks as methods of a subclass: a connection's parser
 * holds no closures of its own (an idle connection costs what its fields cost).
 */
class BrokerParser extends StockParser {
  constructor (private readonly admit: Admission) {
    super()
    this.settings = { protocolVersion: 4 }
    ;(this as unknown as { _states: string[] })._states = STATES
    this._resetState()
  }

  override _resetState (): void {
    this.packet = new Packet() as ParserInternals['packet']
    this.error = null
    this._list = new BufferList()
    this._stateCounter = 0
  }

  override parse (buf: Buffer): number {
    // Whole PUBLISH packets take the fast path; the first packet it leaves (any other type, a packet
    // cut by the end of the read, anything unusual) and everything after it in this read go through
    // mqtt-packet's parser, which also reports errors. A packet cut by the previous read is completed
    // first, and the rest of this read is on the fast path again.
    if (this.error !== null) return super.parse(buf)
    let off = 0
    if (this._stateCounter !== 0 || this._list.length !== 0) {
      // A packet cut by the previous read: once its header is read, hand the stock parser only the bytes
      // that complete it, so that the rest of this read goes back to the fast path.
      const need = this._stateCounter === PAYLOAD_STATE ? this.packet.length - this._list.length : -1
      if (need <= 0 || need >= buf.length) return super.parse(buf)
      super.parse(buf.subarray(0, need))
      if (this.error !== null) return this._list.length // the connection closes: read no further, as the stock parser
      if (this._stateCounter !== 0 || this._list.length !== 0) return super.parse(buf.subarray(need))
      off = need
    }
    while (off < buf.length) {
      const used = buf[off] >> 4 === 3 ? fastPublish(this, this.admit, buf, off) : fastAck(this, this.admit, buf, off)
      if (used === 0) break
      off += used
    }
    return off === buf.length ? 0 : super.parse(off === 0 ? buf : buf.subarray(off))
  }

  override _parseLength (): boolean {
    const before = this._list.length
    const ok = super._parseLength()
    if (ok) {
      const lenBytes = before - this._list.length
      const headerBytes = 1 + lenBytes
      const v = this.packet.length
      // The Remaining Length uses the fewest bytes that can hold it [v5 MQTT-1.5.5-1]
      if (lenBytes !== (v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4)) {
        this._emitError(new Error('Remaining Length is not minimally encoded'))
        return false
      }
      this._propCalls = 0
      const refused = this.admit.call(this as unknown as PacketParser, this.packet.cmd, this.packet.length + headerBytes)
      if (refused !== undefined) {
        this._emitError(refused)
        return false
      }
    }
    return ok
  }

  override _parseString (): string | null {
    const start = this._pos + 2
    const s = super._parseString()
    if (s === null) return s
    if (s.indexOf('\ufffd') !== -1 && !isUtf8(this._list.slice(start, this._pos))) {
      this._emitError(new BadUtf8Error('malformed UTF-8 string'))
      return null
    }
    if (s.indexOf('\u0000') !== -1) {
      this._emitError(new BadUtf8Error('string contains U+0000'))
      return null
    }
    return s
  }

  override _parseProperties (): Record<string, unknown> | false { return parseProperties.call(this) }

  // mqtt-packet bounds string and binary fields by the packet, but its integer, byte and Variable
  // Byte Integer reads only by the bytes buffered: a field the Remaining Length leaves no room for
  // was read from the next packet (a QoS 1/2 PUBLISH cut before its packet identifier took it from
  // the following bytes, or got -1 at the end of the input). Here no read of a body goes past its
  // Remaining Length, and a packet identifier that is not there makes the packet malformed
  // [v3.1.1 MQTT-2.3.1-1, v3.1.1 MQTT-4.8.0-1 / v5 MQTT-2.2.1-3, v5 MQTT-4.13.1-1]. A v5 DISCONNECT or AUTH with Remaining Length 0 means reason
  // code 0x00 and no properties (MQTT 5 sections 3.14.2.1 and 3.15.2.1).
  private inBody (n: number): boolean { return this._stateCounter !== PAYLOAD_STATE || this._pos + n <= this.packet.length }
  override _parseNum (): number { return this.inBody(2) ? super._parseNum() : -1 }
  override _parse4ByteNum (): number { return this.inBody(4) ? super._parse4ByteNum() : -1 }
  override _parseByte (): number | undefined { return this.inBody(1) ? super._parseByte() : undefined }
  override _parseVarByteNum (full?: boolean): number | false | { bytes: number, value: number } {
    if (!this.inBody(1)) return false
    const start = this._pos
    const r = super._parseVarByteNum(full)
    if (this._stateCounter === PAYLOAD_STATE && this._pos > this.packet.length) {
      this._pos = start
      return false
    }
    return r
  }

  /** mqtt-packet keeps the whole CONNECT as its settings (password and will included): keep only what it reads. */
  override _parseConnect (): unknown {
    const r = super._parseConnect()
    const c = this.settings as { protocolVersion?: number, bridgeMode?: boolean }
    this.settings = c.bridgeMode === true ? { protocolVersion: c.protocolVersion, bridgeMode: true } : { protocolVersion: c.protocolVersion }
    return r
  }

  override _parseMessageId (): boolean {
    const id = this._parseNum()
    ;(this.packet as { messageId?: number }).messageId = id
    if (id === -1) { this._emitError(new Error('Cannot parse messageId')); return false }
    return true
  }

  override _parseDisconnect (): boolean {
    if (this.settings.protocolVersion === 5 && this.packet.length === 0) { this.packet.reasonCode = 0; return true }
    return super._parseDisconnect()
  }

  override _parseAuth (): boolean {
    if (this.settings.protocolVersion === 5 && this.packet.length === 0) { this.packet.reasonCode = 0; return true }
    return super._parseAuth()
  }
}

export function createParser (admit: Admission): PacketParser {
  return new BrokerParser(admit) as unknown as PacketParser
}

/**
 * A complete, ordinary PUBLISH at buf[off]: QoS 0-2, a minimally encoded Remaining Length [v5 MQTT-1.5.5-1]
 * the connection admits, a topic of ASCII or well-formed UTF-8 without U+0000 [v3.1.1 MQTT-1.5.3-1..2 /
 * v5 MQTT-1.5.4-1..2], the packet identifier within the packet, and on MQTT 5 no properties. It is emitted
 * as the same Packet mqtt-packet would emit, without copying the payload or buffering the read (the
 * stock parser copies every multi-byte field it reads through its buffer list). Returns the bytes
 * it took, or 0 when the packet is left to mqtt-packet's parser.
 */
function fastPublish (p: ParserInternals, admit: Admission, buf: Buffer, off: number): number {
  const b0 = buf[off]
  const qos = (b0 >> 1) & 3
  if (b0 >> 4 !== 3 || qos === 3) return 0
  let len = 0
  let mul = 1
  let i = off + 1
  for (;;) {
    if (i >= buf.length || i - off > 4) return 0
    const c = buf[i++]
    len += (c & 0x7f) * mul
    if ((c & 0x80) === 0) break
    mul *= 128
  }
  const lenBytes = i - off - 1
  if (lenBytes !== (len < 128 ? 1 : len < 16384 ? 2 : len < 2097152 ? 3 : 4)) return 0
  const end = i + len
  if (end > buf.length || admit.call(p as unknown as PacketParser, 'publish', end - off) !== undefined) return 0
  if (i + 2 > end) return 0
  const topicEnd = i + 2 + ((buf[i] << 8) | buf[i + 1])
  if (topicEnd > end) return 0
  const topic = buf.toString('utf8', i + 2, topicEnd)
  // A replacement character may stand for bytes that are not UTF-8, and U+0000 is refused: the stock path decides
  if (topic.indexOf('\ufffd') !== -1 || topic.indexOf('\u0000') !== -1) return 0
  i = topicEnd
  let messageId = 0
  if (qos > 0) {
    if (i + 2 > end) return 0
    messageId = (buf[i] << 8) | buf[i + 1]
    i += 2
  }
  if (p.settings.protocolVersion === 5) {
    if (i >= end || buf[i] !== 0) return 0 // properties: the stock path and parseProperties
    i++
  }
  const packet = new Packet()
  packet.cmd = 'publish'
  packet.retain = (b0 & 1) !== 0
  packet.qos = qos
  packet.dup = (b0 & 8) !== 0
  packet.length = len
  packet.topic = topic
  if (qos > 0) packet.messageId = messageId
  packet.payload = buf.subarray(i, end)
  p.emit('packet', packet)
  return end - off
}

/** The first byte of each acknowledgement the fast path takes: the type and its fixed flags [v3.1.1 MQTT-2.2.2-1 / v5 MQTT-2.1.3-1]. */
const ACKS: ReadonlyMap<number, string> = new Map([[0x40, 'puback'], [0x50, 'pubrec'], [0x62, 'pubrel'], [0x70, 'pubcomp']])

/**
 * A complete PUBACK, PUBREC, PUBREL or PUBCOMP with a packet identifier and, on MQTT 5, reason code 0x00
 * Success (given or omitted) and no properties (MQTT 5 section 3.4.2.1): Remaining Length 2, or on MQTT 5
 * 3 or 4 with zero bytes. Emitted as mqtt-packet would emit it. Returns the bytes it took, or 0 when the
 * packet is left to mqtt-packet's parser.
 */
function fastAck (p: ParserInternals, admit: Admission, buf: Buffer, off: number): number {
  const b0 = buf[off]
  const cmd = ACKS.get(b0)
  if (cmd === undefined || off + 2 > buf.length) return 0
  const len = buf[off + 1]
  const v5 = p.settings.protocolVersion === 5
  if (off + 2 + len > buf.length) return 0
  if (len !== 2 && !(v5 && (len === 3 || len === 4) && buf[off + 4] === 0 && (len === 3 || buf[off + 5] === 0))) return 0
  if (admit.call(p as unknown as PacketParser, cmd, 2 + len) !== undefined) return 0
  const packet = new Packet()
  packet.cmd = cmd
  packet.qos = (b0 >> 1) & 3
  packet.length = len
  packet.messageId = (buf[off + 2] << 8) | buf[off + 3]
  if (v5) (packet as PacketObject & { reasonCode?: number }).reasonCode = 0
  p.emit('packet', packet)
  return 2 + len
}

/** The index of mqtt-packet's '_parsePayload' state: reads then lie within one packet's body. */
const PAYLOAD_STATE = 2

/** Properties a client may send, per packet (MQTT 5 section 2.2.2.2); CONNECT's second set is the will's. */
const ALLOWED: Record<string, Set<string>> = {
  connect: new Set(['sessionExpiryInterval', 'receiveMaximum', 'maximumPacketSize', 'topicAliasMaximum', 'requestResponseInformation',
    'requestProblemInformation', 'userProperties', 'authenticationMethod', 'authenticationData']),
  will: new Set(['willDelayInterval', 'payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'userProperties']),
  publish: new Set(['payloadFormatIndicator', 'messageExpiryInterval', 'topicAlias', 'responseTopic', 'correlationData', 'userProperties',
    'subscriptionIdentifier', 'contentType']),
  puback: new Set(['reasonString', 'userProperties']),
  pubrec: new Set(['reasonString', 'userProperties']),
  pubrel: new Set(['reasonString', 'userProperties']),
  pubcomp: new Set(['reasonString', 'userProperties']),
  subscribe: new Set(['subscriptionIdentifier', 'userProperties']),
  unsubscribe: new Set(['userProperties']),
  disconnect: new Set(['sessionExpiryInterval', 'reasonString', 'userProperties', 'serverReference']),
  auth: new Set(['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties']),
}

/**
 * MQTT 5 properties. Unlike the stock parser, a property that may appear once and appears twice is
 * a Protocol Error (MQTT 5 section 2.2.2.2), and user properties keep their order [v5 MQTT-3.3.2-18].
 */
function parseProperties (this: ParserInternals): Record<string, unknown> | false {
  const call = this._propCalls = (this._propCalls ?? 0) + 1
  const cmd = this.packet.cmd ?? ''
  const allowed = ALLOWED[cmd === 'connect' && call > 1 ? 'will' : cmd]
  const length = this._parseVarByteNum()
  if (length === false) {
    // Only DISCONNECT and AUTH may end before their Property Length (MQTT 5 sections 3.14.2.2.1, 3.15.2.2.1)
    if (!this.error && cmd !== 'disconnect' && cmd !== 'auth') this._emitError(new Error('Cannot parse property length'))
    return false
  }
  const end = this._pos + (length as number)
  if (end > this.packet.length) {
    this._emitError(new Error('property length exceeds the packet')) // [v5 MQTT-4.13.1-1]
    return false
  }
  const result: Record<string, unknown> = {}
  let user: Record<string, string | string[]> | undefined
  let pairs: Array<[string, string]> | undefined
  let interleaved = false
  let last: string | undefined
  while (this._pos < end) {
    const code = this._parseByte()
    const name = code === undefined ? undefined : constants.propertiesCodes[code]
    if (name === undefined) {
      this._emitError(new Error(code === undefined ? 'Cannot parse property code type' : `Unknown property 0x${code.toString(16)}`))
      return false
    }
    if (allowed !== undefined && !allowed.has(name)) {
      this._emitError(new Error(`property ${name} is not allowed in ${cmd}`)) // malformed (MQTT 5 section 2.2.2.2)
      return false
    }
    const type = constants.propertiesTypes[name]
    let value: unknown
    if (type === 'byte') {
      const raw = this._parseByte()
      if (raw === undefined) { this._emitError(new Error(`Cannot parse property ${name}`)); return false }
      // Boolean-like byte properties are 0 or 1; anything else is a Protocol Error
      if (raw > 1) { this._emitError(new ParsedProtocolError(`property ${name} must be 0 or 1`)); return false }
      value = raw === 1
    } else {
      value = this._parseByType(type)
    }
    if (value === null || value === undefined || value === -1) {
      if (!this.error) this._emitError(new Error(`Cannot parse property ${name}`))
      return false
    }
    if (name === 'userProperties') {
      const pair = value as { name: string | null, value: string | null }
      if (pair.name === null || pair.value === null) { if (!this.error) this._emitError(new Error('Cannot parse user property')); return false }
      user ??= Object.create(null) as Record<string, string | string[]>
      ;(pairs ??= []).push([pair.name, pair.value])
      const prev = user[pair.name]
      if (prev === undefined) user[pair.name] = pair.value
      else {
        if (last !== pair.name) interleaved = true
        if (Array.isArray(prev)) prev.push(pair.value)
        else user[pair.name] = [prev, pair.value]
      }
      last = pair.name
      continue
    }
    if (name in result) {
      if (name !== 'subscriptionIdentifier') {
        this._emitError(new ParsedProtocolError(`property ${name} appears more than once`))
        return false
      }
      const prev = result[name]
      result[name] = Array.isArray(prev) ? [...prev, value] : [prev, value]
      continue
    }
    result[name] = value
  }
  if (this._pos !== end) {
    this._emitError(new Error('a property overruns the property length')) // [v5 MQTT-4.13.1-1]
    return false
  }
  if (user !== undefined) {
    result.userProperties = user
    if (interleaved && pairs !== undefined) userPropertyOrder.set(user, pairs)
  }
  return result
}
