/**
 * Records of the FilePersistence log (framing in record-buffer.ts; integers little-endian).
 *
 * Strings are `u32 byteLength + UTF-8`, buffers `u32 length + bytes`, times, sequence numbers
 * and message ids f64. A file is one header record (REC.HEADER) followed by any number of
 * records; a compacted file simply starts with the records that rebuild the live state.
 *
 * Format 2 stores each message once: a MESSAGE (or RETAINED) record gives it an id, and the
 * outgoing records of every session that owes it carry that id with their own QoS and RETAIN
 * flag. Subscriptions change through ADD_SUBSCRIPTION / REMOVE_SUBSCRIPTION records. Format 1
 * files (messages inline in SET_RETAINED_V1 / ADD_OUTGOING_V1 records) are still read.
 */
import type { StoredMessage, StoredSession, StoredSessionMeta, OutgoingState } from '../persistence'
import type { MessageProperties, ProtocolVersion, QoS, SubscriptionOptions, UserProperties } from '../types'
import type { RecordBuffer } from './record-buffer'

export const REC = {
  HEADER: 1,
  /** Format 1 only: a retained message, inline. */
  SET_RETAINED_V1: 2,
  DELETE_RETAINED: 3,
  /** Session metadata and its whole subscription list. */
  SAVE_SESSION: 4,
  DELETE_SESSION: 5,
  /** Format 1 only: an outgoing message with its message inline (message.qos is the delivery QoS). */
  ADD_OUTGOING_V1: 6,
  UPDATE_OUTGOING: 7,
  REMOVE_OUTGOING: 8,
  ADD_INCOMING: 9,
  REMOVE_INCOMING: 10,
  /** A message and its id. */
  MESSAGE: 11,
  /** A message and its id, which is also the retained message of its topic. */
  RETAINED: 12,
  /** An already stored message becomes the retained message of its topic. */
  RETAIN_REF: 13,
  /** An outgoing message: delivery fields and the id of its message. */
  ADD_OUTGOING: 14,
  /** Session metadata only; its subscriptions are kept. */
  SAVE_SESSION_META: 15,
  ADD_SUBSCRIPTION: 16,
  REMOVE_SUBSCRIPTION: 17,
} as const

export const MAGIC = 'HEARTHP1'
export const FORMAT_VERSION = 2
/** Formats this version reads. */
export const READABLE_VERSIONS = [1, 2]

const STATES: OutgoingState[] = ['queued', 'sent', 'released']

/** The delivery fields of an outgoing record. */
export interface OutgoingFields {
  seq: number
  state: OutgoingState
  packetId: number | undefined
  qos: QoS
  retain: boolean
  subIds: number[] | undefined
}

// ---------------------------------------------------------------------------------- encoding

function writeProperties (w: RecordBuffer, p: MessageProperties): void {
  const bits =
    (p.payloadFormatIndicator !== undefined ? 1 : 0) |
    (p.payloadFormatIndicator === true ? 2 : 0) |
    (p.messageExpiryInterval !== undefined ? 4 : 0) |
    (p.contentType !== undefined ? 8 : 0) |
    (p.responseTopic !== undefined ? 16 : 0) |
    (p.correlationData !== undefined ? 32 : 0) |
    (p.userProperties !== undefined ? 64 : 0)
  w.u8(bits)
  if (p.messageExpiryInterval !== undefined) w.f64(p.messageExpiryInterval)
  if (p.contentType !== undefined) w.str(p.contentType)
  if (p.responseTopic !== undefined) w.str(p.responseTopic)
  if (p.correlationData !== undefined) w.bytes(p.correlationData)
  if (p.userProperties !== undefined) {
    const keys = Object.keys(p.userProperties)
    w.u32(keys.length)
    for (const k of keys) {
      const v = p.userProperties[k]
      w.str(k)
      if (Array.isArray(v)) {
        w.u8(1)
        w.u32(v.length)
        for (const s of v) w.str(s)
      } else {
        w.u8(0)
        w.str(v)
      }
    }
  }
}

function writeMessage (w: RecordBuffer, m: StoredMessage): void {
  w.str(m.topic)
  w.bytes(m.payload)
  w.u8((m.qos & 3) | (m.retain ? 4 : 0) | (m.expiresAt !== undefined ? 8 : 0) | (m.properties !== undefined ? 16 : 0))
  if (m.expiresAt !== undefined) w.f64(m.expiresAt)
  if (m.properties !== undefined) writeProperties(w, m.properties)
}

export function encodeHeader (w: RecordBuffer, generation: number): number {
  w.begin(REC.HEADER, true)
  w.ensure(MAGIC.length)
  w.len += w.buf.write(MAGIC, w.len, 'latin1')
  w.u32(FORMAT_VERSION)
  w.f64(generation)
  w.f64(Date.now())
  return w.end()
}

export function encodeMessage (w: RecordBuffer, type: typeof REC.MESSAGE | typeof REC.RETAINED, id: number, m: StoredMessage): number {
  w.begin(type)
  w.f64(id)
  writeMessage(w, m)
  return w.end()
}

export function encodeRetainRef (w: RecordBuffer, id: number): number {
  w.begin(REC.RETAIN_REF)
  w.f64(id)
  return w.end()
}

export function encodeKey (w: RecordBuffer, type: number, key: string): number {
  w.begin(type)
  w.str(key)
  return w.end()
}

function writeMeta (w: RecordBuffer, s: StoredSessionMeta): void {
  w.str(s.clientId)
  w.u8(s.protocolVersion)
  w.f64(s.expiryInterval)
  const o = s.owner
  // bit 0: disconnectedAt; bit 1: an owner; bit 2: the owner has a user name; bit 3: the owner is an in-process client
  w.u8((s.disconnectedAt !== undefined ? 1 : 0) | (o !== undefined ? 2 : 0) | (o?.username !== undefined ? 4 : 0) | (o?.kind === 'local' ? 8 : 0))
  if (s.disconnectedAt !== undefined) w.f64(s.disconnectedAt)
  if (o?.username !== undefined) w.str(o.username)
}

function writeSubscription (w: RecordBuffer, sub: SubscriptionOptions): void {
  w.str(sub.topic)
  w.u8(sub.qos)
  w.u8(
    (sub.nl !== undefined ? 1 : 0) | (sub.nl === true ? 2 : 0) |
    (sub.rap !== undefined ? 4 : 0) | (sub.rap === true ? 8 : 0) |
    (sub.rh !== undefined ? 16 : 0) | (sub.subscriptionIdentifier !== undefined ? 32 : 0))
  if (sub.rh !== undefined) w.u8(sub.rh)
  if (sub.subscriptionIdentifier !== undefined) w.u32(sub.subscriptionIdentifier)
}

/** Metadata and the whole subscription list. */
export function encodeSaveSession (w: RecordBuffer, s: StoredSessionMeta, subs: Iterable<SubscriptionOptions>, count: number): number {
  w.begin(REC.SAVE_SESSION)
  writeMeta(w, s)
  w.u32(count)
  for (const sub of subs) writeSubscription(w, sub)
  return w.end()
}

export function encodeSaveMeta (w: RecordBuffer, s: StoredSessionMeta): number {
  w.begin(REC.SAVE_SESSION_META)
  writeMeta(w, s)
  return w.end()
}

export function encodeAddSubscription (w: RecordBuffer, clientId: string, sub: SubscriptionOptions): number {
  w.begin(REC.ADD_SUBSCRIPTION)
  w.str(clientId)
  writeSubscription(w, sub)
  return w.end()
}

export function encodeRemoveSubscription (w: RecordBuffer, clientId: string, topic: string): number {
  w.begin(REC.REMOVE_SUBSCRIPTION)
  w.str(clientId)
  w.str(topic)
  return w.end()
}

function stateCode (state: OutgoingState): number {
  const i = STATES.indexOf(state)
  return i < 0 ? 0 : i
}

export function encodeAddOutgoing (w: RecordBuffer, clientId: string, o: OutgoingFields, messageId: number): number {
  w.begin(REC.ADD_OUTGOING)
  w.str(clientId)
  w.f64(o.seq)
  w.u8(stateCode(o.state))
  w.u8((o.packetId !== undefined ? 1 : 0) | (o.subIds !== undefined ? 2 : 0) | (o.retain ? 4 : 0) | ((o.qos & 3) << 3))
  if (o.packetId !== undefined) w.u16(o.packetId)
  if (o.subIds !== undefined) {
    w.u32(o.subIds.length)
    for (const id of o.subIds) w.u32(id)
  }
  w.f64(messageId)
  return w.end()
}

export function encodeUpdateOutgoing (w: RecordBuffer, clientId: string, seq: number, packetId: number | undefined, state: OutgoingState): number {
  w.begin(REC.UPDATE_OUTGOING)
  w.str(clientId)
  w.f64(seq)
  w.u8(stateCode(state))
  w.u8(packetId !== undefined ? 1 : 0)
  if (packetId !== undefined) w.u16(packetId)
  return w.end()
}

export function encodeRemoveOutgoing (w: RecordBuffer, clientId: string, seq: number): number {
  w.begin(REC.REMOVE_OUTGOING)
  w.str(clientId)
  w.f64(seq)
  return w.end()
}

export function encodeIncoming (w: RecordBuffer, type: number, clientId: string, packetId: number): number {
  w.begin(type)
  w.str(clientId)
  w.u16(packetId)
  return w.end()
}

// ---------------------------------------------------------------------------------- decoding

/** Thrown when a record that passed its checksum still does not decode (a format bug or a newer format). */
export class DecodeError extends Error {}

/** Reads the fields of one record body, with bounds checks. */
export class Reader {
  constructor (private b: Buffer, public pos: number, private end: number) {}

  /** Point this reader at another record (one Reader serves a whole recovery). */
  reset (b: Buffer, pos: number, end: number): this { this.b = b; this.pos = pos; this.end = end; return this }

  private need (n: number): void {
    if (this.pos + n > this.end) throw new DecodeError('record body too short')
  }

  u8 (): number { this.need(1); return this.b[this.pos++] }
  u16 (): number { this.need(2); const b = this.b; const v = b[this.pos] | (b[this.pos + 1] << 8); this.pos += 2; return v }
  u32 (): number {
    this.need(4)
    const b = this.b; const p = this.pos
    this.pos += 4
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x1000000
  }

  f64 (): number { this.need(8); const v = this.b.readDoubleLE(this.pos); this.pos += 8; return v }
  str (): string { const n = this.u32(); this.need(n); const s = this.b.toString('utf8', this.pos, this.pos + n); this.pos += n; return s }
  latin1 (n: number): string { this.need(n); const s = this.b.toString('latin1', this.pos, this.pos + n); this.pos += n; return s }

  /** A copy, so that the (large, reused) read buffer is not kept alive. */
  bytes (): Buffer {
    const n = this.u32()
    this.need(n)
    const out = Buffer.allocUnsafe(n)
    this.b.copy(out, 0, this.pos, this.pos + n)
    this.pos += n
    return out
  }

  done (): void { if (this.pos !== this.end) throw new DecodeError('trailing bytes in record') }
}

function readProperties (r: Reader): MessageProperties {
  const bits = r.u8()
  const p: MessageProperties = {}
  if ((bits & 1) !== 0) p.payloadFormatIndicator = (bits & 2) !== 0
  if ((bits & 4) !== 0) p.messageExpiryInterval = r.f64()
  if ((bits & 8) !== 0) p.contentType = r.str()
  if ((bits & 16) !== 0) p.responseTopic = r.str()
  if ((bits & 32) !== 0) p.correlationData = r.bytes()
  if ((bits & 64) !== 0) {
    const up: UserProperties = {}
    for (let n = r.u32(); n > 0; n--) {
      const k = r.str()
      if (r.u8() === 1) {
        const arr: string[] = []
        for (let m = r.u32(); m > 0; m--) arr.push(r.str())
        up[k] = arr
      } else {
        up[k] = r.str()
      }
    }
    p.userProperties = up
  }
  return p
}

export function readMessage (r: Reader): StoredMessage {
  const topic = r.str()
  const payload = r.bytes()
  const bits = r.u8()
  const m: StoredMessage = { topic, payload, qos: (bits & 3) as QoS, retain: (bits & 4) !== 0 }
  if ((bits & 8) !== 0) m.expiresAt = r.f64()
  if ((bits & 16) !== 0) m.properties = readProperties(r)
  return m
}

export function readHeader (r: Reader): { version: number, generation: number } {
  if (r.latin1(MAGIC.length) !== MAGIC) throw new DecodeError('not a hearth persistence file (bad magic)')
  const version = r.u32()
  const generation = r.f64()
  r.f64() // created at
  return { version, generation }
}

export function readMeta (r: Reader): StoredSessionMeta {
  const clientId = r.str()
  const protocolVersion = r.u8() as ProtocolVersion
  const expiryInterval = r.f64()
  const s: StoredSessionMeta = { clientId, protocolVersion, expiryInterval }
  const bits = r.u8()
  if ((bits & 1) !== 0) s.disconnectedAt = r.f64()
  if ((bits & 2) !== 0) {
    s.owner = { kind: (bits & 8) !== 0 ? 'local' : 'network' }
    if ((bits & 4) !== 0) s.owner.username = r.str()
  }
  return s
}

export function readSubscription (r: Reader): SubscriptionOptions {
  const sub: SubscriptionOptions = { topic: r.str(), qos: r.u8() as QoS }
  const bits = r.u8()
  if ((bits & 1) !== 0) sub.nl = (bits & 2) !== 0
  if ((bits & 4) !== 0) sub.rap = (bits & 8) !== 0
  if ((bits & 16) !== 0) sub.rh = r.u8() as 0 | 1 | 2
  if ((bits & 32) !== 0) sub.subscriptionIdentifier = r.u32()
  return sub
}

export function readSession (r: Reader): StoredSession {
  const s: StoredSession = { ...readMeta(r), subscriptions: [] }
  for (let n = r.u32(); n > 0; n--) s.subscriptions.push(readSubscription(r))
  return s
}

export function readState (r: Reader): OutgoingState {
  const s = STATES[r.u8()]
  if (s === undefined) throw new DecodeError('bad outgoing state')
  return s
}

function readSubIds (r: Reader): number[] {
  const ids: number[] = []
  for (let n = r.u32(); n > 0; n--) ids.push(r.u32())
  return ids
}

/** Format 1: delivery fields, then the message inline (its qos and retain are the delivery's). */
export function readOutgoingV1 (r: Reader): { fields: OutgoingFields, message: StoredMessage } {
  const seq = r.f64()
  const state = readState(r)
  const bits = r.u8()
  const packetId = (bits & 1) !== 0 ? r.u16() : undefined
  const subIds = (bits & 2) !== 0 ? readSubIds(r) : undefined
  const message = readMessage(r)
  return { fields: { seq, state, packetId, qos: message.qos, retain: message.retain, subIds }, message }
}

/** Format 2: delivery fields, then the message id. */
export function readOutgoing (r: Reader): { fields: OutgoingFields, messageId: number } {
  const seq = r.f64()
  const state = readState(r)
  const bits = r.u8()
  const packetId = (bits & 1) !== 0 ? r.u16() : undefined
  const subIds = (bits & 2) !== 0 ? readSubIds(r) : undefined
  const qos = (bits >> 3) & 3
  if (qos === 3) throw new DecodeError('bad QoS')
  return { fields: { seq, state, packetId, qos: qos as QoS, retain: (bits & 4) !== 0, subIds }, messageId: r.f64() }
}
