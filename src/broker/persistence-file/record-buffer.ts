/**
 * Framing of the FilePersistence log (all integers little-endian).
 *
 * A record in format 2:
 *   u32 length   bytes of `type + body`
 *   u32 hcrc     CRC-32 of the 4 length bytes (seeded): lets recovery find the next record after damage
 *   u32 crc      CRC-32 over the 4 length bytes, then over `type + body`
 *   u8  type
 *   ... body
 *
 * The header record at the start of every file keeps the framing of format 1 (no hcrc), so that
 * any version can read the header and refuse a format it does not know instead of cutting it:
 *   u32 length, u32 crc, u8 type, ... body
 */
import { crc32 } from './crc32'

export const RECORD_HEADER_BYTES = 12
export const LEGACY_HEADER_BYTES = 8
/** Larger than any MQTT packet (256 MiB) plus our overhead; a longer length field is corruption. */
export const MAX_RECORD_BYTES = 512 * 1024 * 1024
/** Seed of the header check, so that zero-filled space never looks like a record. */
const HCRC_SEED = 0x48454152

const INITIAL_CAPACITY = 64 * 1024

/** The header check of a record whose length field is at `b[at, at + 4)`. */
export function headerCheck (b: Uint8Array, at: number): number {
  return crc32(b, at, at + 4, HCRC_SEED)
}

/** A growable byte buffer that records are encoded into. */
export class RecordBuffer {
  buf: Buffer = Buffer.allocUnsafe(INITIAL_CAPACITY)
  len = 0
  private start = -1
  private legacy = false

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

  /** Open a record of `type`; `legacy` uses the format 1 framing (header records only). */
  begin (type: number, legacy = false): void {
    const h = legacy ? LEGACY_HEADER_BYTES : RECORD_HEADER_BYTES
    this.ensure(h + 1)
    this.start = this.len
    this.legacy = legacy
    this.len += h
    this.buf[this.len++] = type
  }

  /** Close the record opened by begin(): fill in its length and checksums. Returns its size. */
  end (): number {
    const s = this.start
    const b = this.buf
    const h = this.legacy ? LEGACY_HEADER_BYTES : RECORD_HEADER_BYTES
    const n = this.len - s - h
    b.writeUInt32LE(n, s)
    const c = crc32(b, s + h, this.len, crc32(b, s, s + 4))
    if (this.legacy) {
      b.writeUInt32LE(c, s + 4)
    } else {
      b.writeUInt32LE(headerCheck(b, s), s + 4)
      b.writeUInt32LE(c, s + 8)
    }
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
