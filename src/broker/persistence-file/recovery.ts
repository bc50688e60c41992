/**
 * Reading a log file back at open: replay every valid record into a LiveState.
 *
 * A record that fails its checksum or does not decode is damage: its bytes are set aside (the
 * caller keeps them in a side file) and reading goes on with the next record. In format 2 every
 * record header carries a check of its length field, so after damage that hit a length field the
 * next record is found by scanning for a valid header. A record cut short by the end of the file
 * (or zeros where a write never landed) is a torn tail, the normal trace of a crash during a
 * write: it is dropped.
 */
import { crc32 } from './crc32'
import {
  REC, MAGIC, FORMAT_VERSION, READABLE_VERSIONS, DecodeError, Reader,
  readHeader, readMessage, readMeta, readSession, readSubscription, readOutgoing, readOutgoingV1, readState,
} from './codec'
import { RECORD_HEADER_BYTES, LEGACY_HEADER_BYTES, MAX_RECORD_BYTES, headerCheck } from './record-buffer'
import { readAt, fileSize } from './fs-util'
import type { LiveState } from './live-state'

const CHUNK = 1024 * 1024
/** type, magic, version, generation, creation time */
const HEADER_BODY_BYTES = 1 + MAGIC.length + 4 + 8 + 8

/** Bytes of the file that held no valid record, with the reason found at their start. */
interface Damage { start: number, end: number, reason: string }

export interface RecoveryResult {
  /** File size when read. */
  size: number
  /** Format version of the file (the current one when its header was lost). */
  version: number
  /** The header record is valid. */
  headerValid: boolean
  /** Valid records replayed, the header included. */
  records: number
  /** End of the last valid record. */
  goodEnd: number
  /** Damaged ranges, in file order; their bytes are to be kept aside. */
  damaged: Damage[]
  /** Valid records found after the first damaged range. */
  afterDamage: number
  /** Records after damage that referred to a message lost in it (skipped). */
  unresolved: number
  /** Messages left without any reference once replayed (their referring records were lost). */
  orphans: number
  /** A torn tail [start, size): an incomplete last write, dropped. */
  tail?: { start: number, reason: string }
}

/** The file is intact but written in a format this version does not read: never touch it. */
export class FormatVersionError extends Error {}

/** Decode one record body and apply it. Decoding completes (and is checked) before the state changes. False: it referred to a lost message. */
function apply (state: LiveState, type: number, r: Reader): boolean {
  switch (type) {
    case REC.MESSAGE: case REC.RETAINED: {
      const id = r.f64(); const m = readMessage(r); r.done()
      const e = state.newEntry(m, id)
      if (type === REC.RETAINED) state.setRetained(e)
      return true
    }
    case REC.RETAIN_REF: {
      const id = r.f64(); r.done()
      const e = state.entryById(id)
      if (e === undefined) return false
      state.setRetained(e)
      return true
    }
    case REC.SET_RETAINED_V1: { const m = readMessage(r); r.done(); state.setRetained(state.newEntry(m)); return true }
    case REC.DELETE_RETAINED: { const t = r.str(); r.done(); state.deleteRetained(t); return true }
    case REC.SAVE_SESSION: { const s = readSession(r); r.done(); state.saveSession(readMetaOf(s), s.subscriptions); return true }
    case REC.SAVE_SESSION_META: { const m = readMeta(r); r.done(); state.saveSession(m); return true }
    case REC.ADD_SUBSCRIPTION: {
      const id = r.str(); const sub = readSubscription(r); r.done()
      const s = state.sessions.get(id)
      if (s !== undefined) state.addSubscription(s, sub)
      return true
    }
    case REC.REMOVE_SUBSCRIPTION: { const id = r.str(); const t = r.str(); r.done(); state.removeSubscription(id, t); return true }
    case REC.DELETE_SESSION: { const id = r.str(); r.done(); state.deleteSession(id); return true }
    case REC.ADD_OUTGOING: {
      const id = r.str(); const o = readOutgoing(r); r.done()
      const e = state.entryById(o.messageId)
      if (e === undefined) return false
      state.addOutgoing(id, o.fields, e)
      return true
    }
    case REC.ADD_OUTGOING_V1: {
      const id = r.str(); const o = readOutgoingV1(r); r.done()
      if (!state.sessions.has(id)) return true
      state.addOutgoing(id, o.fields, state.newEntry(o.message))
      return true
    }
    case REC.UPDATE_OUTGOING: {
      const id = r.str(); const seq = r.f64(); const st = readState(r)
      const packetId = r.u8() === 1 ? r.u16() : undefined
      r.done()
      state.updateOutgoing(id, seq, packetId, st)
      return true
    }
    case REC.REMOVE_OUTGOING: { const id = r.str(); const seq = r.f64(); r.done(); state.removeOutgoing(id, seq); return true }
    case REC.ADD_INCOMING: { const id = r.str(); const p = r.u16(); r.done(); state.addIncoming(id, p); return true }
    case REC.REMOVE_INCOMING: { const id = r.str(); const p = r.u16(); r.done(); state.removeIncoming(id, p); return true }
    default: throw new DecodeError(`unknown record type ${type}`)
  }
}

function readMetaOf (s: ReturnType<typeof readSession>): ReturnType<typeof readMeta> {
  const m: ReturnType<typeof readMeta> = { clientId: s.clientId, protocolVersion: s.protocolVersion, expiryInterval: s.expiryInterval }
  if (s.disconnectedAt !== undefined) m.disconnectedAt = s.disconnectedAt
  return m
}

/** A window on the file, refilled as reading moves forward. */
class Window {
  buf: Buffer
  start = 0
  len = 0
  constructor (private readonly fd: number, readonly size: number) {
    this.buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 64)))
  }

  /** Make buf hold the file bytes [at, at + need); returns their index in buf, or -1 past the end of the file. */
  async at (at: number, need: number): Promise<number> {
    if (at + need > this.size) return -1
    if (at >= this.start && at + need <= this.start + this.len) return at - this.start
    const keepFrom = at - this.start
    const keep = keepFrom >= 0 && keepFrom < this.len ? this.len - keepFrom : 0
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, Math.min(this.buf.length * 2, this.size - at)))
      if (keep > 0) this.buf.copy(next, 0, keepFrom, this.len)
      this.buf = next
    } else if (keep > 0) {
      this.buf.copy(this.buf, 0, keepFrom, this.len)
    }
    this.start = at
    this.len = keep
    while (this.len < need) {
      const n = await readAt(this.fd, this.buf, this.len, this.buf.length - this.len, this.start + this.len)
      if (n === 0) return -1
      this.len += n
    }
    return 0
  }
}

export async function recover (fd: number, state: LiveState): Promise<RecoveryResult> {
  const size = await fileSize(fd)
  const w = new Window(fd, size)
  const r = new Reader(w.buf, 0, 0)
  const res: RecoveryResult = {
    size, version: FORMAT_VERSION, headerValid: false, records: 0, goodEnd: 0, damaged: [], afterDamage: 0, unresolved: 0, orphans: 0,
  }
  /** Start of the damaged range being crossed, or -1. */
  let damageFrom = -1
  let damageReason = ''
  const damage = (at: number, reason: string): void => {
    if (damageFrom < 0) { damageFrom = at; damageReason = reason }
  }
  const endDamage = (at: number): void => {
    if (damageFrom < 0) return
    res.damaged.push({ start: damageFrom, end: at, reason: damageReason })
    damageFrom = -1
  }

  // The header record, in format 1 framing whatever the version.
  let off = 0
  if (size === 0) {
    res.tail = { start: 0, reason: 'empty file, no header record' }
    return res
  }
  let p = await w.at(0, LEGACY_HEADER_BYTES)
  if (p < 0) {
    res.tail = { start: 0, reason: 'truncated record header at offset 0' }
    return res
  }
  const hlen = w.buf.readUInt32LE(p)
  if (hlen === HEADER_BODY_BYTES && LEGACY_HEADER_BYTES + hlen > size) {
    // The file was cut while it was being created.
    res.tail = { start: 0, reason: `truncated record at offset 0 (${LEGACY_HEADER_BYTES + hlen} bytes long, ${size} left in the file)` }
    return res
  }
  if (hlen === HEADER_BODY_BYTES && (p = await w.at(0, LEGACY_HEADER_BYTES + hlen)) >= 0 &&
    crc32(w.buf, p + LEGACY_HEADER_BYTES, p + LEGACY_HEADER_BYTES + hlen, crc32(w.buf, p, p + 4)) === w.buf.readUInt32LE(p + 4) &&
    w.buf[p + LEGACY_HEADER_BYTES] === REC.HEADER) {
    r.reset(w.buf, p + LEGACY_HEADER_BYTES + 1, p + LEGACY_HEADER_BYTES + hlen)
    let h: { version: number } | undefined
    try { h = readHeader(r) } catch (err) { if (!(err instanceof DecodeError)) throw err }
    if (h !== undefined && !READABLE_VERSIONS.includes(h.version)) {
      throw new FormatVersionError(`it was written in format version ${h.version}; this version of Hearth reads versions ${READABLE_VERSIONS.join(' and ')}`)
    }
    if (h !== undefined) {
      res.version = h.version
      res.headerValid = true
      res.records = 1
      off = res.goodEnd = LEGACY_HEADER_BYTES + hlen
    }
  }
  if (!res.headerValid) {
    // Not a header of ours (damaged, or not our file): set it aside and look for records.
    damage(0, `no valid header record (expected ${MAGIC})`)
    off = 1
  }
  const hb = res.version === 1 ? LEGACY_HEADER_BYTES : RECORD_HEADER_BYTES

  while (off < size) {
    p = await w.at(off, hb)
    if (p < 0) {
      if (damageFrom < 0) res.tail = { start: off, reason: `truncated record header at offset ${off}` }
      break
    }
    const b = w.buf
    const len = b.readUInt32LE(p)
    const headerOk = len >= 1 && len <= MAX_RECORD_BYTES && (hb === LEGACY_HEADER_BYTES || headerCheck(b, p) === b.readUInt32LE(p + 4))
    if (!headerOk) {
      if (hb === RECORD_HEADER_BYTES) {
        // Scan for the next valid header, within the bytes at hand before reading more.
        damage(off, `invalid record header at offset ${off}`)
        off++
        for (let q = off - w.start; q + RECORD_HEADER_BYTES <= w.len; q++, off++) {
          const l = b.readUInt32LE(q)
          if (l >= 1 && l <= MAX_RECORD_BYTES && headerCheck(b, q) === b.readUInt32LE(q + 4)) break
        }
        continue
      }
      // Format 1 cannot resynchronise after a bad length: the rest of the file is damage.
      damage(off, `invalid record length ${len} at offset ${off}`)
      off = size
      break
    }
    const total = hb + len
    if (off + total > size) {
      if (damageFrom < 0) {
        res.tail = { start: off, reason: `truncated record at offset ${off} (${total} bytes long, ${size - off} left in the file)` }
        break
      }
      off++ // inside damage: this header is not a record after all
      continue
    }
    p = await w.at(off, total)
    const crcAt = hb === LEGACY_HEADER_BYTES ? 4 : 8
    if (crc32(w.buf, p + hb, p + total, crc32(w.buf, p, p + 4)) !== w.buf.readUInt32LE(p + crcAt)) {
      // The length is sound (format 2 checks it): the next record follows this one.
      damage(off, `checksum mismatch in the record at offset ${off}`)
      off += total
      continue
    }
    const type = w.buf[p + hb]
    r.reset(w.buf, p + hb + 1, p + total)
    try {
      if (type === REC.HEADER) throw new DecodeError('a second header record')
      if (!apply(state, type, r)) res.unresolved++
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      damage(off, `undecodable record at offset ${off}: ${err.message}`)
      off += total
      continue
    }
    endDamage(off)
    if (res.damaged.length > 0) res.afterDamage++
    res.records++
    off += total
    res.goodEnd = off
  }
  endDamage(size)
  res.orphans = state.endReplay()
  return res
}
