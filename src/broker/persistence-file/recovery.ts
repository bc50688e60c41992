/**
 * Reading a log file back at open: replay every valid record into a LiveState and stop at the
 * first record that is truncated, fails its checksum or does not decode. Everything before it
 * (the good prefix) is kept; the caller truncates the rest.
 */
import { crc32 } from './crc32'
import {
  REC, RECORD_HEADER_BYTES, MAX_RECORD_BYTES, FORMAT_VERSION, DecodeError, Reader,
  readHeader, readMessage, readSession, readOutgoing, readState,
} from './codec'
import { readAt, fileSize } from './fs-util'
import type { LiveState } from './live-state'

const CHUNK = 1024 * 1024

export interface RecoveryResult {
  /** File size when read. */
  size: number
  /** End of the good prefix: every byte before it belongs to a valid record. */
  goodEnd: number
  /** End of the header record, 0 when the file has no valid header. */
  headerEnd: number
  /** Valid records, the header included. */
  records: number
  /** Why reading stopped before the end of the file; absent when the whole file is valid. */
  problem?: string
}

/** The file is intact but written in a format this version does not read: never truncate it. */
export class FormatVersionError extends Error {}

/** Decode one record body and apply it. Decoding completes (and is checked) before the state changes. */
function apply (state: LiveState, type: number, r: Reader): void {
  switch (type) {
    case REC.SET_RETAINED: { const m = readMessage(r); r.done(); state.setRetained(m); return }
    case REC.DELETE_RETAINED: { const t = r.str(); r.done(); state.deleteRetained(t); return }
    case REC.SAVE_SESSION: { const s = readSession(r); r.done(); state.saveSession(s); return }
    case REC.DELETE_SESSION: { const id = r.str(); r.done(); state.deleteSession(id); return }
    case REC.ADD_OUTGOING: { const id = r.str(); const o = readOutgoing(r); r.done(); state.addOutgoing(id, o); return }
    case REC.UPDATE_OUTGOING: {
      const id = r.str(); const seq = r.f64(); const st = readState(r)
      const packetId = r.u8() === 1 ? r.u16() : undefined
      r.done()
      state.updateOutgoing(id, seq, packetId, st)
      return
    }
    case REC.REMOVE_OUTGOING: { const id = r.str(); const seq = r.f64(); r.done(); state.removeOutgoing(id, seq); return }
    case REC.ADD_INCOMING: { const id = r.str(); const p = r.u16(); r.done(); state.addIncoming(id, p); return }
    case REC.REMOVE_INCOMING: { const id = r.str(); const p = r.u16(); r.done(); state.removeIncoming(id, p); return }
    default: throw new DecodeError(`unknown record type ${type}`)
  }
}

export async function recover (fd: number, state: LiveState): Promise<RecoveryResult> {
  const size = await fileSize(fd)
  let buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 64)))
  let bufStart = 0 // file offset of buf[0]
  let bufLen = 0
  let off = 0 // file offset of the next record
  let records = 0
  let headerEnd = 0
  let problem: string | undefined
  const r = new Reader(buf, 0, 0)

  /** Make buf hold the file bytes [off, off + need). False at end of file. */
  async function fill (need: number): Promise<boolean> {
    if (off + need <= bufStart + bufLen) return true
    const keepFrom = off - bufStart
    const keep = bufLen - keepFrom
    if (need > buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, Math.min(buf.length * 2, size - off)))
      buf.copy(next, 0, keepFrom, bufLen)
      buf = next
    } else {
      buf.copy(buf, 0, keepFrom, bufLen)
    }
    bufStart = off
    bufLen = keep
    while (bufLen < need) {
      const n = await readAt(fd, buf, bufLen, buf.length - bufLen, bufStart + bufLen)
      if (n === 0) return false
      bufLen += n
    }
    return true
  }

  while (off < size) {
    if (size - off < RECORD_HEADER_BYTES || !await fill(RECORD_HEADER_BYTES)) {
      problem = `truncated record header at offset ${off}`
      break
    }
    let p = off - bufStart
    const len = buf.readUInt32LE(p)
    if (len < 1 || len > MAX_RECORD_BYTES) { problem = `invalid record length ${len} at offset ${off}`; break }
    const total = RECORD_HEADER_BYTES + len
    if (off + total > size || !await fill(total)) {
      problem = `truncated record at offset ${off} (${total} bytes long, ${size - off} left in the file)`
      break
    }
    p = off - bufStart
    const crc = buf.readUInt32LE(p + 4)
    if (crc32(buf, p + RECORD_HEADER_BYTES, p + total, crc32(buf, p, p + 4)) !== crc) {
      problem = `checksum mismatch in the record at offset ${off}`
      break
    }
    const type = buf[p + RECORD_HEADER_BYTES]
    r.reset(buf, p + RECORD_HEADER_BYTES + 1, p + total)
    try {
      if (records === 0) {
        if (type !== REC.HEADER) throw new DecodeError('the file does not start with a header record')
        const h = readHeader(r)
        if (h.version !== FORMAT_VERSION) {
          throw new FormatVersionError(`it was written in format version ${h.version}; this version of Hearth reads version ${FORMAT_VERSION}`)
        }
      } else {
        apply(state, type, r)
      }
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      problem = `undecodable record at offset ${off}: ${err.message}`
      break
    }
    records++
    off += total
    if (records === 1) headerEnd = off
  }
  if (records === 0 && problem === undefined) problem = 'empty file, no header record'
  return { size, goodEnd: off, headerEnd, records, problem }
}
