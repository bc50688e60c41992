/**
 * Mutations of a client's packet list: bit flips, truncation, duplication, splicing, oversized
 * and non-minimal Remaining Lengths, ill-formed UTF-8 and U+0000 in any string field, reserved
 * flag bits, duplicated / unknown / forbidden MQTT 5 properties, broken property lengths, packets
 * out of order and random bytes. Each mutation names itself, for the reproduction report.
 */
import type { Rng } from './prng'
import { locate, edit, encodeVarint, withRemainingLength, readVarint, PROPERTY_IDS, type Layout } from './layout'
import { oddConnect } from './generate'

/** Byte sequences that are not well-formed UTF-8 [MQTT-1.5.3-1], and U+0000 [MQTT-1.5.3-2]. */
const BAD_UTF8 = [
  [0xc0, 0x80], [0xc3, 0x28], [0xff], [0xfe], [0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00], [0xef, 0xbf, 0xbf], [0xe0, 0x80, 0xaf],
].map(a => Buffer.from(a))

type Mutation = (rng: Rng, pkts: Buffer[], v: number) => Buffer[]

const at = (rng: Rng, pkts: Buffer[]): number => rng.int(0, pkts.length - 1)

function replace (pkts: Buffer[], i: number, ...b: Buffer[]): Buffer[] {
  return [...pkts.slice(0, i), ...b, ...pkts.slice(i + 1)]
}

function layoutOf (pkts: Buffer[], i: number, v: number): Layout | null {
  return locate(pkts[i], v)
}

const MUTATIONS: Record<string, Mutation> = {
  flipBits (rng, pkts) {
    const i = at(rng, pkts)
    const b = Buffer.from(pkts[i])
    for (let n = rng.int(1, 4); n > 0; n--) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7)
    return replace(pkts, i, b)
  },
  setByte (rng, pkts) {
    const i = at(rng, pkts)
    const b = Buffer.from(pkts[i])
    b[rng.int(0, b.length - 1)] = rng.pick([0x00, 0x01, 0x7f, 0x80, 0xff, rng.int(0, 255)])
    return replace(pkts, i, b)
  },
  /** Cut a packet short; what follows is read as its rest. */
  truncate (rng, pkts) {
    const i = at(rng, pkts)
    return replace(pkts, i, pkts[i].subarray(0, rng.int(0, pkts[i].length - 1)))
  },
  /** Cut the body and make the Remaining Length agree: a well-framed, too-short packet. */
  truncateBody (rng, pkts) {
    const i = at(rng, pkts)
    const r = readVarint(pkts[i], 1)
    if (r === null) return pkts
    const body = pkts[i].subarray(r[1])
    const cut = body.subarray(0, rng.int(0, Math.max(0, body.length - 1)))
    return replace(pkts, i, Buffer.concat([pkts[i].subarray(0, 1), encodeVarint(cut.length), cut]))
  },
  /** Trailing bytes inside the packet. */
  extendBody (rng, pkts) {
    const i = at(rng, pkts)
    const r = readVarint(pkts[i], 1)
    if (r === null) return pkts
    const body = Buffer.concat([pkts[i].subarray(r[1]), rng.bytes(rng.int(1, 8))])
    return replace(pkts, i, Buffer.concat([pkts[i].subarray(0, 1), encodeVarint(body.length), body]))
  },
  duplicate (rng, pkts) {
    const i = at(rng, pkts)
    const j = rng.int(0, pkts.length)
    return [...pkts.slice(0, j), pkts[i], ...pkts.slice(j)]
  },
  /** Move a packet elsewhere (e.g. before CONNECT). */
  reorder (rng, pkts) {
    const i = at(rng, pkts)
    const rest = [...pkts.slice(0, i), ...pkts.slice(i + 1)]
    const j = rng.int(0, rest.length)
    return [...rest.slice(0, j), pkts[i], ...rest.slice(j)]
  },
  remove (rng, pkts) {
    if (pkts.length < 2) return pkts
    const i = at(rng, pkts)
    return [...pkts.slice(0, i), ...pkts.slice(i + 1)]
  },
  /** The head of one packet glued to the tail of another. */
  splice (rng, pkts) {
    const i = at(rng, pkts)
    const j = at(rng, pkts)
    const a = pkts[i].subarray(0, rng.int(1, pkts[i].length))
    const b = pkts[j].subarray(rng.int(0, pkts[j].length - 1))
    return replace(pkts, i, Buffer.concat([a, b]))
  },
  /** A Remaining Length far beyond the bytes that follow (up to the MQTT maximum). */
  oversizeLength (rng, pkts) {
    const i = at(rng, pkts)
    const rl = rng.pick([268435455, 2097152, 16384, 65536, rng.int(128, 268435455)])
    return replace(pkts, i, withRemainingLength(pkts[i], rl))
  },
  /** A Remaining Length that does not match the body. */
  randomLength (rng, pkts) {
    const i = at(rng, pkts)
    return replace(pkts, i, withRemainingLength(pkts[i], rng.int(0, pkts[i].length + 8)))
  },
  /** A five-byte Variable Byte Integer, or a non-minimal one [MQTT-1.5.5-1]. */
  badLengthEncoding (rng, pkts) {
    const i = at(rng, pkts)
    const r = readVarint(pkts[i], 1)
    if (r === null) return pkts
    const rl = r[0]
    const header = rng.chance(0.5)
      ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])
      : Buffer.concat([encodeVarint(rl).map((x, k, a) => k === a.length - 1 ? x | 0x80 : x), Buffer.from([0x00])])
    return replace(pkts, i, withRemainingLength(pkts[i], rl, header))
  },
  /** Reserved fixed-header flags [MQTT-2.2.2-1], QoS 3 [MQTT-3.3.1-4], DUP on QoS 0. */
  headerFlags (rng, pkts) {
    const i = at(rng, pkts)
    const b = Buffer.from(pkts[i])
    b[0] = (b[0] & 0xf0) | rng.int(0, 15)
    return replace(pkts, i, b)
  },
  /** Change the packet type, keeping the body. */
  packetType (rng, pkts) {
    const i = at(rng, pkts)
    const b = Buffer.from(pkts[i])
    b[0] = (rng.int(0, 15) << 4) | (b[0] & 0x0f)
    return replace(pkts, i, b)
  },
  /** Ill-formed UTF-8 or U+0000 inside a string field, lengths kept consistent. */
  badUtf8 (rng, pkts, v) {
    const i = at(rng, pkts)
    const lay = layoutOf(pkts, i, v)
    const strs = lay?.fields.filter(f => f.kind === 'str') ?? []
    if (lay === null || strs.length === 0) return pkts
    const f = rng.pick(strs)
    const pos = rng.int(f.start + 2, f.end)
    const bad = rng.pick(BAD_UTF8)
    const overwrite = rng.chance(0.5) ? Math.min(bad.length, f.end - pos) : 0
    return replace(pkts, i, edit(pkts[i], lay, pos, pos + overwrite, bad))
  },
  /** A string or binary length that overruns or underruns its content. */
  fieldLength (rng, pkts, v) {
    const i = at(rng, pkts)
    const lay = layoutOf(pkts, i, v)
    if (lay === null || lay.fields.length === 0) return pkts
    const f = rng.pick(lay.fields)
    const b = Buffer.from(pkts[i])
    b.writeUInt16BE(rng.pick([0, 0xffff, Math.max(0, f.end - f.start - 3), f.end - f.start - 1, rng.int(0, 0xffff)]), f.start)
    return replace(pkts, i, b)
  },
  /** Send one MQTT 5 property twice (a Protocol Error for all but User Property and Subscription Identifier). */
  duplicateProperty (rng, pkts, v) {
    const i = at(rng, pkts)
    const lay = layoutOf(pkts, i, v)
    const blocks = lay?.blocks.filter(k => k.props.length > 0) ?? []
    if (lay === null || blocks.length === 0) return pkts
    const k = rng.pick(blocks)
    const p = rng.pick(k.props)
    return replace(pkts, i, edit(pkts[i], lay, p.end, p.end, pkts[i].subarray(p.start, p.end)))
  },
  /** Insert a property: unknown identifier, forbidden in this packet, or a valid one with a wrong value. */
  insertProperty (rng, pkts, v) {
    const i = at(rng, pkts)
    const lay = layoutOf(pkts, i, v)
    if (lay === null || lay.blocks.length === 0) return pkts
    const k = rng.pick(lay.blocks)
    const id = rng.chance(0.8) ? rng.pick(PROPERTY_IDS) : rng.pick([0x00, 0x04, 0x0a, 0x7f, 0x80, 0xff])
    const value = rng.pick([Buffer.from([rng.int(0, 3)]), Buffer.from([0, 0]), Buffer.from([0, 1, 0x61]), Buffer.from([0, 0, 0, 0]), Buffer.from([0xff, 0xff, 0xff, 0xff]), rng.bytes(rng.int(0, 6))])
    const pos = rng.pick([k.start, k.end])
    return replace(pkts, i, edit(pkts[i], lay, pos, pos, Buffer.concat([Buffer.from([id]), value])))
  },
  removeProperty (rng, pkts, v) {
    const i = at(rng, pkts)
    const lay = layoutOf(pkts, i, v)
    const blocks = lay?.blocks.filter(k => k.props.length > 0) ?? []
    if (lay === null || blocks.length === 0) return pkts
    const p = rng.pick(rng.pick(blocks).props)
    return replace(pkts, i, edit(pkts[i], lay, p.start, p.end, Buffer.alloc(0)))
  },
  /** A property block length that disagrees with its content. */
  propertyLength (rng, pkts, v) {
    const i = at(rng, pkts)
    const lay = layoutOf(pkts, i, v)
    if (lay === null || lay.blocks.length === 0) return pkts
    const k = rng.pick(lay.blocks)
    const len = rng.pick([0, k.end - k.start + 1, Math.max(0, k.end - k.start - 1), 268435455, rng.int(0, 300)])
    const b = Buffer.concat([pkts[i].subarray(0, k.lenStart), encodeVarint(len), pkts[i].subarray(k.start)])
    return replace(pkts, i, withRemainingLength(b, b.length - lay.body))
  },
  /** CONNECT with a wrong protocol name or level, bridge levels, reserved connect flags. */
  oddConnect (rng, pkts) {
    return rng.chance(0.5) ? [oddConnect(rng), ...pkts.slice(1)] : [oddConnect(rng), ...pkts]
  },
  /** Connect flags: reserved bit, will QoS 3, will flags without a will, password without user name. */
  connectFlags (rng, pkts, v) {
    const lay = layoutOf(pkts, 0, v)
    if (lay === null || lay.type !== 1 || lay.fields.length === 0) return pkts
    const off = lay.fields[0].end + 1
    const b = Buffer.from(pkts[0])
    b[off] ^= rng.pick([0x01, 0x18, 0x20, 0x40, 0x80, 0x04, 0x02, 0x10])
    return replace(pkts, 0, b)
  },
  /** Random bytes between packets. */
  garbage (rng, pkts) {
    const j = rng.int(0, pkts.length)
    return [...pkts.slice(0, j), rng.bytes(rng.int(1, 16)), ...pkts.slice(j)]
  },
}

const MUTATION_NAMES = Object.keys(MUTATIONS)

/** Apply `count` random mutations; returns the new list and the names applied. */
export function mutate (rng: Rng, pkts: Buffer[], v: number, count: number): { packets: Buffer[], applied: string[] } {
  let out = pkts
  const applied: string[] = []
  for (let n = 0; n < count && out.length > 0; n++) {
    const name = rng.pick(MUTATION_NAMES)
    out = MUTATIONS[name](rng, out, v).filter(b => b.length > 0)
    applied.push(name)
  }
  return { packets: out, applied }
}
