// The FilePersistence record codec (src/broker/persistence-file/codec.ts) on its own: every record
// body byte for byte as the format comment lays it out (files written by one version are read by
// the next), every reader back to the exact value, and the reader's refusals. Written against
// surviving mutants (docs/mutation.md).
import assert from 'node:assert/strict'
import {
  REC, MAGIC, FORMAT_VERSION, DecodeError, Reader, encodeAddOutgoing, encodeAddSubscription, encodeHeader, encodeIncoming,
  encodeKey, encodeMessage, encodeRemoveOutgoing, encodeRemoveSubscription, encodeRetainRef, encodeSaveMeta, encodeSaveSession,
  encodeUpdateOutgoing, readHeader, readMessage, readMeta, readOutgoing, readOutgoingV1, readSession, readState, readSubscription,
  type OutgoingFields,
} from '../../src/broker/persistence-file/codec'
import { LEGACY_HEADER_BYTES, RECORD_HEADER_BYTES, RecordBuffer } from '../../src/broker/persistence-file/record-buffer'
import type { StoredMessage, StoredSessionMeta } from '../../src/broker/persistence'
import type { MessageProperties, SubscriptionOptions } from '../../src/broker/types'

// The layout, written out independently of the encoder.
const u8 = (v: number): Buffer => Buffer.from([v])
const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b }
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b }
const f64 = (v: number): Buffer => { const b = Buffer.alloc(8); b.writeDoubleLE(v); return b }
const str = (s: string): Buffer => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s, 'utf8')])
const bytes = (b: Buffer): Buffer => Buffer.concat([u32(b.length), b])

/** Encode one record; return its type and body (after the framing) and a Reader over the body. */
function record (encode: (w: RecordBuffer) => number, legacy = false): { type: number, body: Buffer, r: Reader } {
  const w = new RecordBuffer()
  const size = encode(w)
  assert.equal(size, w.len)
  const h = legacy ? LEGACY_HEADER_BYTES : RECORD_HEADER_BYTES
  const all = Buffer.from(w.buf.subarray(0, w.len))
  assert.equal(all.readUInt32LE(0), w.len - h, 'length field: type + body')
  return { type: all[h], body: all.subarray(h + 1), r: new Reader(all, h + 1, all.length) }
}

const FULL: StoredMessage = {
  topic: 'a/ü', payload: Buffer.from([0, 1, 255]), qos: 2, retain: true, expiresAt: 1234.5,
  properties: {
    payloadFormatIndicator: true, messageExpiryInterval: 60, contentType: 'text/x', responseTopic: 'r/t',
    correlationData: Buffer.from('cd'), userProperties: { k: 'v', many: ['1', '22'] },
  },
}
const FULL_BYTES = Buffer.concat([
  str('a/ü'), bytes(Buffer.from([0, 1, 255])), u8(2 | 4 | 8 | 16), f64(1234.5),
  u8(1 | 2 | 4 | 8 | 16 | 32 | 64), f64(60), str('text/x'), str('r/t'), bytes(Buffer.from('cd')),
  u32(2), str('k'), u8(0), str('v'), str('many'), u8(1), u32(2), str('1'), str('22'),
])

describe('unit: persistence record codec', function () {
  it('record type numbers are those of format 2 (files on disk depend on them)', function () {
    assert.deepEqual(REC, {
      HEADER: 1, SET_RETAINED_V1: 2, DELETE_RETAINED: 3, SAVE_SESSION: 4, DELETE_SESSION: 5, ADD_OUTGOING_V1: 6,
      UPDATE_OUTGOING: 7, REMOVE_OUTGOING: 8, ADD_INCOMING: 9, REMOVE_INCOMING: 10, MESSAGE: 11, RETAINED: 12,
      RETAIN_REF: 13, ADD_OUTGOING: 14, SAVE_SESSION_META: 15, ADD_SUBSCRIPTION: 16, REMOVE_SUBSCRIPTION: 17,
    })
    assert.deepEqual([MAGIC, FORMAT_VERSION], ['HEARTHP1', 2])
  })

  it('header: magic, format version, generation, creation time; a wrong magic is refused', function () {
    const before = Date.now()
    const { type, body, r } = record(w => encodeHeader(w, 7), true)
    assert.equal(type, REC.HEADER)
    assert.deepEqual(body.subarray(0, 20), Buffer.concat([Buffer.from('HEARTHP1', 'latin1'), u32(2), f64(7)]))
    const created = body.readDoubleLE(20)
    assert.ok(created >= before && created <= Date.now(), String(created))
    assert.equal(body.length, 28)
    assert.deepEqual(readHeader(r), { version: 2, generation: 7 })
    r.done()
    const bad = Buffer.from(body)
    bad[0] = 0x58
    assert.throws(() => readHeader(new Reader(bad, 0, bad.length)), DecodeError)
  })

  it('header: written whole wherever it starts in the buffer, also where the magic crosses its end', function () {
    const { body: alone } = record(w => encodeHeader(w, 7), true)
    for (let pad = 1; pad <= 48; pad++) {
      const w = new RecordBuffer()
      const fill = w.buf.length - pad
      w.append(Buffer.alloc(fill, 0xaa))
      const size = encodeHeader(w, 7)
      assert.equal(w.len, fill + size, `pad ${pad}`)
      const all = w.buf.subarray(0, w.len)
      assert.deepEqual(all.subarray(0, fill), Buffer.alloc(fill, 0xaa), `pad ${pad}`)
      const rec = all.subarray(fill)
      assert.equal(rec.readUInt32LE(0), rec.length - LEGACY_HEADER_BYTES, `pad ${pad}`)
      assert.deepEqual(rec.subarray(LEGACY_HEADER_BYTES, LEGACY_HEADER_BYTES + 21), Buffer.concat([u8(REC.HEADER), alone.subarray(0, 20)]), `pad ${pad}`)
    }
  })

  it('a message with every property: its bytes, and read back whole', function () {
    const { type, body, r } = record(w => encodeMessage(w, REC.RETAINED, 42, FULL))
    assert.equal(type, REC.RETAINED)
    assert.deepEqual(body, Buffer.concat([f64(42), FULL_BYTES]))
    assert.equal(r.f64(), 42)
    assert.deepEqual(readMessage(r), FULL)
    r.done()
  })

  it('a message without properties or expiry, and properties one at a time, read back with nothing added', function () {
    const plain: StoredMessage = { topic: 't', payload: Buffer.alloc(0), qos: 1, retain: false }
    const one = record(w => encodeMessage(w, REC.MESSAGE, 1, plain))
    assert.deepEqual([one.type, one.body], [REC.MESSAGE, Buffer.concat([f64(1), str('t'), bytes(Buffer.alloc(0)), u8(1)])])
    one.r.f64()
    assert.deepEqual(readMessage(one.r), plain)
    one.r.done()
    const props: MessageProperties[] = [
      { payloadFormatIndicator: false }, { payloadFormatIndicator: true }, { messageExpiryInterval: 0 }, { contentType: '' },
      { responseTopic: 'x' }, { correlationData: Buffer.from([9]) }, { userProperties: {} }, { userProperties: { a: [] } }, {},
    ]
    for (const p of props) {
      const m: StoredMessage = { topic: 'p', payload: Buffer.from('x'), qos: 0, retain: false, properties: p }
      const { r } = record(w => encodeMessage(w, REC.MESSAGE, 2, m))
      r.f64()
      assert.deepEqual(readMessage(r), m, JSON.stringify(p))
      r.done()
    }
  })

  it('session metadata: the owner and disconnect time bits, and read back whole', function () {
    const metas: Array<[StoredSessionMeta, Buffer]> = [
      [{ clientId: 'c', protocolVersion: 5, expiryInterval: 10 }, Buffer.concat([str('c'), u8(5), f64(10), u8(0)])],
      [{ clientId: 'c', protocolVersion: 4, expiryInterval: 0xffffffff, disconnectedAt: 99, owner: { kind: 'network' } },
        Buffer.concat([str('c'), u8(4), f64(0xffffffff), u8(1 | 2), f64(99)])],
      [{ clientId: 'c', protocolVersion: 3, expiryInterval: 1, owner: { kind: 'local', username: 'u' } },
        Buffer.concat([str('c'), u8(3), f64(1), u8(2 | 4 | 8), str('u')])],
      [{ clientId: 'c', protocolVersion: 5, expiryInterval: 1, owner: { kind: 'network', username: '' } },
        Buffer.concat([str('c'), u8(5), f64(1), u8(2 | 4), str('')])],
    ]
    for (const [meta, expected] of metas) {
      const { type, body, r } = record(w => encodeSaveMeta(w, meta))
      assert.deepEqual([type, body], [REC.SAVE_SESSION_META, expected])
      assert.deepEqual(readMeta(r), meta)
      r.done()
    }
  })

  it('subscriptions: option bits, inside a whole session and alone', function () {
    const subs: Array<[SubscriptionOptions, Buffer]> = [
      [{ topic: 'a/#', qos: 1 }, Buffer.concat([str('a/#'), u8(1), u8(0)])],
      [{ topic: 'b', qos: 2, nl: true, rap: true, rh: 2, subscriptionIdentifier: 268435455 },
        Buffer.concat([str('b'), u8(2), u8(1 | 2 | 4 | 8 | 16 | 32), u8(2), u32(268435455)])],
      [{ topic: 'c', qos: 0, nl: false, rap: false, rh: 0 }, Buffer.concat([str('c'), u8(0), u8(1 | 4 | 16), u8(0)])],
    ]
    const meta: StoredSessionMeta = { clientId: 's', protocolVersion: 5, expiryInterval: 5 }
    const whole = record(w => encodeSaveSession(w, meta, subs.map(s => s[0]), subs.length))
    assert.deepEqual([whole.type, whole.body], [REC.SAVE_SESSION, Buffer.concat([str('s'), u8(5), f64(5), u8(0), u32(3), ...subs.map(s => s[1])])])
    assert.deepEqual(readSession(whole.r), { ...meta, subscriptions: subs.map(s => s[0]) })
    whole.r.done()
    for (const [sub, expected] of subs) {
      const { type, body, r } = record(w => encodeAddSubscription(w, 'id', sub))
      assert.deepEqual([type, body], [REC.ADD_SUBSCRIPTION, Buffer.concat([str('id'), expected])])
      assert.equal(r.str(), 'id')
      assert.deepEqual(readSubscription(r), sub)
      r.done()
    }
    const rm = record(w => encodeRemoveSubscription(w, 'id', 'a/#'))
    assert.deepEqual([rm.type, rm.body], [REC.REMOVE_SUBSCRIPTION, Buffer.concat([str('id'), str('a/#')])])
  })

  it('outgoing records: state, packet identifier, subscription identifiers, RETAIN and QoS bits', function () {
    const cases: Array<[OutgoingFields, Buffer]> = [
      [{ seq: 1, state: 'queued', packetId: undefined, qos: 0, retain: false, subIds: undefined }, Buffer.concat([f64(1), u8(0), u8(0)])],
      [{ seq: 2, state: 'sent', packetId: 65535, qos: 1, retain: true, subIds: [1, 268435455] },
        Buffer.concat([f64(2), u8(1), u8(1 | 2 | 4 | (1 << 3)), u16(65535), u32(2), u32(1), u32(268435455)])],
      [{ seq: 3, state: 'released', packetId: 258, qos: 2, retain: false, subIds: [] },
        Buffer.concat([f64(3), u8(2), u8(1 | 2 | (2 << 3)), u16(258), u32(0)])],
    ]
    for (const [o, fields] of cases) {
      const { type, body, r } = record(w => encodeAddOutgoing(w, 'cl', o, 77))
      assert.deepEqual([type, body], [REC.ADD_OUTGOING, Buffer.concat([str('cl'), fields, f64(77)])])
      assert.equal(r.str(), 'cl')
      assert.deepEqual(readOutgoing(r), { fields: o, messageId: 77 })
      r.done()
    }
    const up = record(w => encodeUpdateOutgoing(w, 'cl', 9, 513, 'released'))
    assert.deepEqual([up.type, up.body], [REC.UPDATE_OUTGOING, Buffer.concat([str('cl'), f64(9), u8(2), u8(1), u16(513)])])
    const up2 = record(w => encodeUpdateOutgoing(w, 'cl', 9, undefined, 'sent'))
    assert.deepEqual(up2.body, Buffer.concat([str('cl'), f64(9), u8(1), u8(0)]))
    const rm = record(w => encodeRemoveOutgoing(w, 'cl', 9))
    assert.deepEqual([rm.type, rm.body], [REC.REMOVE_OUTGOING, Buffer.concat([str('cl'), f64(9)])])
    const inc = record(w => encodeIncoming(w, REC.ADD_INCOMING, 'cl', 0x1234))
    assert.deepEqual([inc.type, inc.body], [REC.ADD_INCOMING, Buffer.concat([str('cl'), u16(0x1234)])])
    const ref = record(w => encodeRetainRef(w, 5))
    assert.deepEqual([ref.type, ref.body], [REC.RETAIN_REF, f64(5)])
    const key = record(w => encodeKey(w, REC.DELETE_SESSION, 'k'))
    assert.deepEqual([key.type, key.body], [REC.DELETE_SESSION, str('k')])
  })

  it('format 1 outgoing records carry the message inline, whose QoS and RETAIN are the delivery\'s', function () {
    const body = Buffer.concat([f64(4), u8(1), u8(1 | 2), u16(7), u32(1), u32(3), FULL_BYTES])
    const r = new Reader(body, 0, body.length)
    assert.deepEqual(readOutgoingV1(r), { fields: { seq: 4, state: 'sent', packetId: 7, qos: 2, retain: true, subIds: [3] }, message: FULL })
    r.done()
    const plain = Buffer.concat([f64(5), u8(0), u8(0), str('t'), bytes(Buffer.from('x')), u8(1)])
    assert.deepEqual(readOutgoingV1(new Reader(plain, 0, plain.length)).fields, { seq: 5, state: 'queued', packetId: undefined, qos: 1, retain: false, subIds: undefined })
  })

  it('the reader refuses what does not fit: past the end, trailing bytes, an unknown state, QoS 3', function () {
    const b = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9])
    const r = new Reader(b, 1, 4)
    assert.equal(r.u16(), 0x0302)
    assert.equal(r.u8(), 4)
    assert.throws(() => r.u8(), DecodeError)
    assert.throws(() => new Reader(b, 0, 3).u32(), DecodeError)
    assert.throws(() => new Reader(b, 0, 1).u16(), DecodeError)
    assert.throws(() => new Reader(b, 0, 7).f64(), DecodeError)
    assert.throws(() => new Reader(b, 0, 2).latin1(3), DecodeError)
    assert.equal(new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4).u32(), 0xffffffff)
    assert.equal(new Reader(Buffer.from([0x01, 0x02, 0x03, 0x80]), 0, 4).u32(), 0x80030201)
    const s = Buffer.concat([u32(5), Buffer.from('abc')])
    assert.throws(() => new Reader(s, 0, s.length).str(), DecodeError, 'a string longer than the record')
    assert.throws(() => new Reader(s, 0, s.length).bytes(), DecodeError, 'bytes longer than the record')
    const trailing = new Reader(b, 0, 2)
    trailing.u8()
    assert.throws(() => trailing.done(), DecodeError)
    trailing.u8()
    trailing.done()
    assert.equal(trailing.reset(b, 8, 9).u8(), 9)
    for (const st of [0, 1, 2]) assert.equal(readState(new Reader(Buffer.from([st]), 0, 1)), ['queued', 'sent', 'released'][st])
    assert.throws(() => readState(new Reader(Buffer.from([3]), 0, 1)), DecodeError)
    const q3 = Buffer.concat([f64(1), u8(0), u8(3 << 3), f64(2)])
    assert.throws(() => readOutgoing(new Reader(q3, 0, q3.length)), DecodeError)
  })

  it('bytes read back are a copy: the reader\'s buffer can be reused', function () {
    const src = bytes(Buffer.from('keep'))
    const out = new Reader(src, 0, src.length).bytes()
    src.fill(0)
    assert.equal(out.toString(), 'keep')
  })
})
