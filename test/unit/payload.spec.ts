// Payload encoding and decoding of the Node-RED nodes (src/nodes/shared/payload.ts): tables of
// inputs and the exact value each gives, plus round-trip properties.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodePayload, encodePayload } from '../../src/nodes/shared/payload'

describe('unit: payload encoding and decoding', function () {
  it('encodePayload: Buffer as is, string as UTF-8, object as JSON, number/boolean/bigint as text, null/undefined empty', function () {
    const buf = Buffer.from([0, 255, 1])
    assert.equal(encodePayload(buf), buf, 'the same Buffer, not a copy')
    const table: Array<[unknown, Buffer]> = [
      ['héllo ✓', Buffer.from('héllo ✓', 'utf8')],
      ['', Buffer.alloc(0)],
      [{ a: 1, b: [true, null] }, Buffer.from('{"a":1,"b":[true,null]}')],
      [[1, 'x'], Buffer.from('[1,"x"]')],
      [42, Buffer.from('42')],
      [-0.5, Buffer.from('-0.5')],
      [true, Buffer.from('true')],
      [false, Buffer.from('false')],
      [10n, Buffer.from('10')],
      [null, Buffer.alloc(0)],
      [undefined, Buffer.alloc(0)],
      [new Uint8Array([7, 8, 9]).subarray(1), Buffer.from([8, 9])],
    ]
    for (const [input, want] of table) assert.deepEqual(encodePayload(input), want, `encodePayload(${String(input)})`)
  })

  it('decodePayload per output format, including what "auto" makes of JSON, text and binary', function () {
    const bin = Buffer.from([0xff, 0xfe, 0x00])
    const cases: Array<[Buffer, Parameters<typeof decodePayload>[1], ReturnType<typeof decodePayload>]> = [
      [Buffer.from('{"a":1}'), 'auto', { ok: true, value: { a: 1 } }],
      [Buffer.from(' [1,2] '), 'auto', { ok: true, value: [1, 2] }],
      [Buffer.from('42'), 'auto', { ok: true, value: 42 }],
      [Buffer.from('true'), 'auto', { ok: true, value: true }],
      [Buffer.from('null'), 'auto', { ok: true, value: null }],
      [Buffer.from('"s"'), 'auto', { ok: true, value: 's' }],
      [Buffer.from('hello'), 'auto', { ok: true, value: 'hello' }],
      [Buffer.from('{not json'), 'auto', { ok: true, value: '{not json' }],
      [Buffer.from('12abc'), 'auto', { ok: true, value: '12abc' }],
      [Buffer.alloc(0), 'auto', { ok: true, value: '' }],
      [bin, 'auto', { ok: true, value: bin }],
      [Buffer.from('{"a":1}'), 'string', { ok: true, value: '{"a":1}' }],
      [bin, 'buffer', { ok: true, value: bin }],
      [Buffer.from('hi'), 'base64', { ok: true, value: 'aGk=' }],
      [Buffer.from('{"a":[1]}'), 'json', { ok: true, value: { a: [1] } }],
      [Buffer.from('hello'), 'json', { ok: false, reason: 'invalid-json' }],
      [Buffer.alloc(0), 'json', { ok: false, reason: 'invalid-json' }],
      [bin, 'json', { ok: false, reason: 'not-utf8' }],
    ]
    for (const [payload, format, want] of cases) {
      assert.deepEqual(decodePayload(payload, format), want, `decodePayload(${JSON.stringify(payload.toString('latin1'))}, ${format})`)
    }
  })

  it('property: any JSON value but a top-level string or null (sent as text / as empty) survives encode -> decode "json" and "auto"', function () {
    fc.assert(fc.property(fc.jsonValue().filter(v => v !== null && typeof v !== 'string'), value => {
      const normal = JSON.parse(JSON.stringify(value)) as unknown
      const enc = encodePayload(value)
      assert.deepEqual(decodePayload(enc, 'json'), { ok: true, value: normal })
      const auto = decodePayload(enc, 'auto')
      assert.deepEqual(auto, { ok: true, value: normal })
    }), { numRuns: 500 })
  })

  it('property: any string survives encode -> decode "string"; "auto" gives the string unless it is JSON text', function () {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), s => {
      const enc = encodePayload(s)
      const back = enc.toString('utf8')
      assert.deepEqual(decodePayload(enc, 'string'), { ok: true, value: back })
      let json: { ok: true, value: unknown } | undefined
      try { json = { ok: true, value: JSON.parse(back) } } catch { json = undefined }
      assert.deepEqual(decodePayload(enc, 'auto'), json ?? { ok: true, value: back })
    }), { numRuns: 1000 })
  })

  it('property: any bytes survive "buffer" and "base64"; "auto" returns non-UTF-8 bytes as the Buffer', function () {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), arr => {
      const b = Buffer.from(arr)
      assert.deepEqual(decodePayload(b, 'buffer'), { ok: true, value: b })
      const b64 = decodePayload(b, 'base64')
      assert.ok(b64.ok)
      assert.deepEqual(Buffer.from(b64.value as string, 'base64'), b)
      const auto = decodePayload(b, 'auto')
      if (b.length > 0 && !Buffer.from(b.toString('utf8'), 'utf8').equals(b)) assert.deepEqual(auto, { ok: true, value: b })
    }), { numRuns: 1000 })
  })
})
