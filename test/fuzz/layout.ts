/**
 * Where the fields of an encoded packet lie: strings and binary fields (with their two-byte
 * length), MQTT 5 property blocks and the properties in them. The mutator uses it to break one
 * field while keeping (or deliberately breaking) every enclosing length, and `edit` rewrites the
 * enclosing lengths after a change of size.
 */
import { varint as encodeVarint } from '../helpers/bytes'

interface Field { kind: 'str' | 'bin', start: number, end: number }
interface PropBlock { lenStart: number, start: number, end: number, props: Array<{ start: number, end: number, id: number }> }
export interface Layout {
  type: number
  /** First byte of the body (after the Remaining Length). */
  body: number
  end: number
  fields: Field[]
  blocks: PropBlock[]
}

/** Value sizes by property identifier (MQTT 5 section 2.2.2.2): byte, int16, int32, var, str, bin, pair. */
const PROP_TYPE: Record<number, 'b' | 'i2' | 'i4' | 'v' | 's' | 'x' | 'p'> = {
  0x01: 'b', 0x02: 'i4', 0x03: 's', 0x08: 's', 0x09: 'x', 0x0b: 'v', 0x11: 'i4', 0x12: 's', 0x13: 'i2',
  0x15: 's', 0x16: 'x', 0x17: 'b', 0x18: 'i4', 0x19: 'b', 0x1a: 's', 0x1c: 's', 0x1f: 's', 0x21: 'i2',
  0x22: 'i2', 0x23: 'i2', 0x24: 'b', 0x25: 'b', 0x26: 'p', 0x27: 'i4', 0x28: 'b', 0x29: 'b', 0x2a: 'b',
}
export const PROPERTY_IDS = Object.keys(PROP_TYPE).map(Number)

/** Decode a Variable Byte Integer at `pos`: [value, next position], or null. */
export function readVarint (b: Buffer, pos: number, end = b.length): [number, number] | null {
  let v = 0
  let mul = 1
  for (let i = 0; i < 4; i++) {
    if (pos >= end) return null
    const x = b[pos++]
    v += (x & 0x7f) * mul
    if ((x & 0x80) === 0) return [v, pos]
    mul *= 128
  }
  return null
}

export { encodeVarint }

class Cursor {
  constructor (readonly b: Buffer, public pos: number, readonly end: number, readonly lay: Layout) {}
  need (n: number): void { if (this.pos + n > this.end) throw new RangeError('short') }
  u8 (): number { this.need(1); return this.b[this.pos++] }
  u16 (): number { this.need(2); const v = this.b.readUInt16BE(this.pos); this.pos += 2; return v }
  field (kind: 'str' | 'bin'): void {
    const start = this.pos
    const n = this.u16()
    this.need(n)
    this.pos += n
    this.lay.fields.push({ kind, start, end: this.pos })
  }

  props (): void {
    const lenStart = this.pos
    const r = readVarint(this.b, this.pos, this.end)
    if (r === null) throw new RangeError('bad varint')
    const [len, start] = r
    const end = start + len
    if (end > this.end) throw new RangeError('short')
    const block: PropBlock = { lenStart, start, end, props: [] }
    this.pos = start
    while (this.pos < end) {
      const pStart = this.pos
      const id = this.u8()
      switch (PROP_TYPE[id]) {
        case 'b': this.u8(); break
        case 'i2': this.u16(); break
        case 'i4': this.need(4); this.pos += 4; break
        case 'v': { const v = readVarint(this.b, this.pos, end); if (v === null) throw new RangeError('bad varint'); this.pos = v[1]; break }
        case 's': this.field('str'); break
        case 'x': this.field('bin'); break
        case 'p': this.field('str'); this.field('str'); break
        default: throw new RangeError('unknown property')
      }
      block.props.push({ start: pStart, end: this.pos, id })
    }
    if (this.pos !== end) throw new RangeError('property overrun')
    this.lay.blocks.push(block)
  }
}

/** Lay out a whole, well-formed packet of protocol level `v`; null when it does not parse. */
export function locate (b: Buffer, v: number): Layout | null {
  if (b.length < 2) return null
  const rl = readVarint(b, 1)
  if (rl === null || rl[1] + rl[0] !== b.length) return null
  const lay: Layout = { type: b[0] >> 4, body: rl[1], end: b.length, fields: [], blocks: [] }
  const c = new Cursor(b, rl[1], b.length, lay)
  const v5 = v === 5
  try {
    switch (lay.type) {
      case 1: { // CONNECT
        c.field('str')
        const level = c.u8() & 0x7f
        const flags = c.u8()
        c.u16()
        if (level === 5) c.props()
        c.field('str')
        if (flags & 0x04) { if (level === 5) c.props(); c.field('str'); c.field('bin') }
        if (flags & 0x80) c.field('str')
        if (flags & 0x40) c.field('bin')
        break
      }
      case 2: c.u8(); c.u8(); if (v5) c.props(); break
      case 3: c.field('str'); if ((b[0] >> 1) & 3) c.u16(); if (v5) c.props(); c.pos = c.end; break
      case 4: case 5: case 6: case 7:
        c.u16()
        if (v5 && c.pos < c.end) { c.u8(); if (c.pos < c.end) c.props() }
        break
      case 8: c.u16(); if (v5) c.props(); while (c.pos < c.end) { c.field('str'); c.u8() } break
      case 9: case 11: c.u16(); if (v5) c.props(); c.pos = c.end; break
      case 10: c.u16(); if (v5) c.props(); while (c.pos < c.end) c.field('str'); break
      case 14: case 15:
        if (v5 && c.pos < c.end) { c.u8(); if (c.pos < c.end) c.props() }
        break
      default: break
    }
  } catch {
    return { type: lay.type, body: lay.body, end: lay.end, fields: [], blocks: [] }
  }
  if (c.pos !== c.end && lay.type !== 3) return { type: lay.type, body: lay.body, end: lay.end, fields: [], blocks: [] }
  return lay
}

/**
 * Replace bytes [start, end) of a laid-out packet with `repl`, then rewrite every enclosing length:
 * the string or binary field around the change, the property block around it, and the Remaining
 * Length. `fixLengths` false keeps the old lengths (a deliberately inconsistent packet).
 */
export function edit (b: Buffer, lay: Layout, start: number, end: number, repl: Buffer, fixLengths = true): Buffer {
  let out = Buffer.concat([b.subarray(0, start), repl, b.subarray(end)])
  if (!fixLengths) return out
  const delta = repl.length - (end - start)
  // The innermost field whose content holds the change (its two-byte length lies before it).
  const field = lay.fields.filter(f => f.start + 2 <= start && end <= f.end).sort((x, y) => (x.end - x.start) - (y.end - y.start))[0]
  if (field !== undefined) {
    const n = field.end - field.start - 2 + delta
    if (n >= 0 && n <= 0xffff) out.writeUInt16BE(n, field.start)
  }
  const block = lay.blocks.find(k => k.start <= start && end <= k.end)
  if (block !== undefined) {
    const len = block.end - block.start + delta
    if (len >= 0) out = Buffer.concat([out.subarray(0, block.lenStart), encodeVarint(len), out.subarray(block.start)])
  }
  return withRemainingLength(out, out.length - lay.body)
}

/** The packet with its body unchanged and a Remaining Length of `rl` (minimally encoded). */
export function withRemainingLength (b: Buffer, rl: number, header?: Buffer): Buffer {
  const r = readVarint(b, 1)
  const bodyStart = r === null ? 2 : r[1]
  return Buffer.concat([b.subarray(0, 1), header ?? encodeVarint(rl), b.subarray(bodyStart)])
}
