/**
 * Record format of the FilePersistence log (all integers little-endian):
 *
 *   u32 length   bytes of `type + body`
 *   u32 crc      CRC-32 over the 4 length bytes, then over `type + body`
 *   u8  type     one of REC below
 *   ... body
 *
 * Strings are `u32 byteLength + UTF-8`, buffers `u32 length + bytes`, times and sequence
 * numbers f64. A file is one header record (REC.HEADER) followed by any number of records;
 * a compacted file simply starts with the records that rebuild the live state.
 */
import { crc32 } from './crc32'
import type { StoredMessage, StoredOutgoing, StoredSession, OutgoingState } from '../persistence'
import type { MessageProperties, ProtocolVersion, QoS, SubscriptionOptions, UserProperties } from '../types'

export const REC = {
  HEADER: 1,
  SET_RETAINED: 2,
  DELETE_RETAINED: 3,
  SAVE_SESSION: 4,
  DELETE_SESSION: 5,
  ADD_OUTGOING: 6,
  UPDATE_OUTGOING: 7,
  REMOVE_OUTGOING: 8,
  ADD_INCOMING: 9,
  REMOVE_INCOMING: 10,
} as const

export const RECORD_HEADER_BYTES = 8
/** Larger than any MQTT packet (256 MiB) plus our overhead; a longer length field is corruption. */
export const MAX_RECORD_BYTES = 512 * 1024 * 1024
export const MAGIC = 'HEARTHP1'
export const FORMAT_VERSION = 1

const STATES: OutgoingState[] = ['queued', 'sent', 'released']
const INITIAL_CAPACITY = 64 * 1024

/** A growable byte buffer that records are encoded into. */
export class RecordBuffer {
  buf: Buffer = Buffer.allocUnsafe(INITIAL_CAPACITY)
  len = 0
  private start = -1

  /** Bytes written so far, detached from this buffer (which starts over empty). Null when empty. */
  take (): Buffer | null {
    if (this.len === 0) return null
    const out = this.buf.subarray(0, this.len)
    this.buf = Buffer.allocUnsafe(INITIAL_CAPACITY)
    this.len = 0
    return out
  }

  /** Put bytes back in front of what is buffered (a write that has to be retried). */
  prepend (bytes: Buffer): void {
    const rest = this.buf.subarray(0, this.len)
    const next = Buffer.allocUnsafe(Math.max(INITIAL_CAPACITY, bytes.length + rest.length))
    bytes.copy(next, 0)
    rest.copy(next, bytes.length)
    this.buf = next
    this.len = bytes.length + rest.length
  }

  append (bytes: Buffer): void {
    this.ensure(bytes.length)
    bytes.copy(this.buf, this.len)
    this.len += bytes.length
  }

  ensure (n: number): void {
    if (this.len + n <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < this.len + n) cap *= 2
    const next = Buffer.allocUnsafe(cap)
    this.buf.copy(next, 0, 0, this.len)
    this.buf = next
  }

  begin (type: number): void {
    this.ensure(RECORD_HEADER_BYTES + 1)
    this.start = this.len
    this.len += RECORD_HEADER_BYTES
    this.buf[this.len++] = type
  }

  /** Close the record opened by begin(): fill in its length and checksum. Returns its size. */
  end (): number {
    const s = this.start
    const b = this.buf
    const n = this.len - s - RECORD_HEADER_BYTES
    b[s] = n; b[s + 1] = n >>> 8; b[s + 2] = n >>> 16; b[s + 3] = n >>> 24
    const c = crc32(b, s + RECORD_HEADER_BYTES, this.len, crc32(b, s, s + 4))
    b[s + 4] = c; b[s + 5] = c >>> 8; b[s + 6] = c >>> 16; b[s + 7] = c >>> 24
    this.start = -1
    return this.len - s
  }

  u8 (v: number): void { this.ensure(1); this.buf[this.len++] = v }
  u16 (v: number): void { this.ensure(2); const b = this.buf; b[this.len++] = v; b[this.len++] = v >>> 8 }
  u32 (v: number): void {
    this.ensure(4)
    const b = this.buf
    b[this.len++] = v; b[this.len++] = v >>> 8; b[this.len++] = v >>> 16; b[this.len++] = v >>> 24
  }

  f64 (v: number): void { this.ensure(8); this.buf.writeDoubleLE(v, this.len); this.len += 8 }

  str (s: string): void {
    this.ensure(4 + s.length * 3)
    const n = this.buf.write(s, this.len + 4, 'utf8')
    this.u32NoEnsure(n)
    this.len += n
  }

  bytes (v: Uint8Array): void {
    this.ensure(4 + v.length)
    this.u32NoEnsure(v.length)
    this.buf.set(v, this.len)
    this.len += v.length
  }

  private u32NoEnsure (v: number): void {
    const b = this.buf
    b[this.len++] = v; b[this.len++] = v >>> 8; b[this.len++] = v >>> 16; b[this.len++] = v >>> 24
  }
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
  w.begin(REC.HEADER)
  w.ensure(MAGIC.length)
  w.len += w.buf.write(MAGIC, w.len, 'latin1')
  w.u32(FORMAT_VERSION)
  w.f64(generation)
  w.f64(Date.now())
  return w.end()
}

export function encodeSetRetained (w: RecordBuffer, m: StoredMessage): number {
  w.begin(REC.SET_RETAINED)
  writeMessage(w, m)
  return w.end()
}

export function encodeKey (w: RecordBuffer, type: number, key: string): number {
  w.begin(type)
  w.str(key)
  return w.end()
}

export function encodeSaveSession (w: RecordBuffer, s: StoredSession): number {
  w.begin(REC.SAVE_SESSION)
  w.str(s.clientId)
  w.u8(s.protocolVersion)
  w.f64(s.expiryInterval)
  w.u8(s.disconnectedAt !== undefined ? 1 : 0)
  if (s.disconnectedAt !== undefined) w.f64(s.disconnectedAt)
  w.u32(s.subscriptions.length)
  for (const sub of s.subscriptions) {
    w.str(sub.topic)
    w.u8(sub.qos)
    w.u8(
      (sub.nl !== undefined ? 1 : 0) | (sub.nl === true ? 2 : 0) |
      (sub.rap !== undefined ? 4 : 0) | (sub.rap === true ? 8 : 0) |
      (sub.rh !== undefined ? 16 : 0) | (sub.subscriptionIdentifier !== undefined ? 32 : 0))
    if (sub.rh !== undefined) w.u8(sub.rh)
    if (sub.subscriptionIdentifier !== undefined) w.u32(sub.subscriptionIdentifier)
  }
  return w.end()
}

function stateCode (state: OutgoingState): number {
  const i = STATES.indexOf(state)
  return i < 0 ? 0 : i
}

export function encodeAddOutgoing (w: RecordBuffer, clientId: string, o: StoredOutgoing): number {
  w.begin(REC.ADD_OUTGOING)
  w.str(clientId)
  w.f64(o.seq)
  w.u8(stateCode(o.state))
  w.u8((o.packetId !== undefined ? 1 : 0) | (o.subscriptionIdentifiers !== undefined ? 2 : 0))
  if (o.packetId !== undefined) w.u16(o.packetId)
  if (o.subscriptionIdentifiers !== undefined) {
    w.u32(o.subscriptionIdentifiers.length)
    for (const id of o.subscriptionIdentifiers) w.u32(id)
  }
  writeMessage(w, o.message)
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

export function readSession (r: Reader): StoredSession {
  const clientId = r.str()
  const protocolVersion = r.u8() as ProtocolVersion
  const expiryInterval = r.f64()
  const s: StoredSession = { clientId, protocolVersion, expiryInterval, subscriptions: [] }
  if (r.u8() === 1) s.disconnectedAt = r.f64()
  for (let n = r.u32(); n > 0; n--) {
    const sub: SubscriptionOptions = { topic: r.str(), qos: r.u8() as QoS }
    const bits = r.u8()
    if ((bits & 1) !== 0) sub.nl = (bits & 2) !== 0
    if ((bits & 4) !== 0) sub.rap = (bits & 8) !== 0
    if ((bits & 16) !== 0) sub.rh = r.u8() as 0 | 1 | 2
    if ((bits & 32) !== 0) sub.subscriptionIdentifier = r.u32()
    s.subscriptions.push(sub)
  }
  return s
}

export function readState (r: Reader): OutgoingState {
  const s = STATES[r.u8()]
  if (s === undefined) throw new DecodeError('bad outgoing state')
  return s
}

export function readOutgoing (r: Reader): StoredOutgoing {
  const seq = r.f64()
  const state = readState(r)
  const bits = r.u8()
  const packetId = (bits & 1) !== 0 ? r.u16() : undefined
  let ids: number[] | undefined
  if ((bits & 2) !== 0) {
    ids = []
    for (let n = r.u32(); n > 0; n--) ids.push(r.u32())
  }
  const o: StoredOutgoing = { seq, state, message: readMessage(r) }
  if (packetId !== undefined) o.packetId = packetId
  if (ids !== undefined) o.subscriptionIdentifiers = ids
  return o
}
