// src/broker/parser.ts parses whole PUBLISH packets at the start of a read itself (the fast path)
// and leaves everything else to mqtt-packet's parser. Fed one byte at a time, every packet takes
// mqtt-packet's path (no packet is ever whole at the start of a read), so the two must agree on
// every packet and every error, for ordinary and for malformed input.
import assert from 'node:assert/strict'
import mqtt from 'mqtt-packet'
import { PacketTooLargeError, createParser } from '../../src/broker/parser'

interface Outcome { packets: mqtt.Packet[], errors: string[], stockPublishes: number, stockAcks: number }

function run (chunks: Buffer[], protocolVersion: 4 | 5, maxSize = 1 << 20): Outcome {
  const parser = createParser((_cmd, size) => size > maxSize ? new PacketTooLargeError('too large') : undefined)
  const internals = parser as unknown as { settings: { protocolVersion: number }, _parsePublish: () => void, _parseConfirmation: () => unknown }
  internals.settings.protocolVersion = protocolVersion
  let stockPublishes = 0
  const stock = internals._parsePublish
  internals._parsePublish = function (this: unknown) { stockPublishes++; stock.call(this) }
  let stockAcks = 0
  const stockAck = internals._parseConfirmation
  internals._parseConfirmation = function (this: unknown) { stockAcks++; return stockAck.call(this) }
  const packets: mqtt.Packet[] = []
  const errors: string[] = []
  parser.on('packet', (p: mqtt.Packet) => packets.push(p))
  parser.on('error', (e: Error) => errors.push(`${e.constructor.name}: ${e.message}`))
  for (const c of chunks) {
    parser.parse(c)
    if (errors.length > 0) break // the connection closes on the first error
  }
  return { packets, errors, stockPublishes, stockAcks }
}

const bytewise = (buf: Buffer): Buffer[] => [...buf].map(b => Buffer.from([b]))
const gen = (p: mqtt.Packet, v: 4 | 5): Buffer => mqtt.generate(p, { protocolVersion: v } as Parameters<typeof mqtt.generate>[1])
const pub = (over: Partial<mqtt.IPublishPacket>): mqtt.IPublishPacket =>
  ({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false, ...over } as mqtt.IPublishPacket)

/** Both paths: the same packets (whole, every field) and the same errors. Returns the whole-buffer outcome. */
function same (buf: Buffer, v: 4 | 5, maxSize?: number): Outcome {
  const fast = run([buf], v, maxSize)
  const stock = run(bytewise(buf), v, maxSize)
  assert.ok(stock.stockPublishes >= stock.packets.filter(p => p.cmd === 'publish').length, 'bytewise: every PUBLISH through mqtt-packet')
  assert.deepStrictEqual(fast.packets, stock.packets)
  assert.deepStrictEqual(fast.errors, stock.errors)
  return fast
}

describe('unit: the parser\'s PUBLISH fast path agrees with mqtt-packet', function () {
  const ordinary: Array<[string, mqtt.IPublishPacket]> = [
    ['QoS 0', pub({})],
    ['QoS 1 with its packet identifier', pub({ qos: 1, messageId: 4242 })],
    ['QoS 1, DUP', pub({ qos: 1, messageId: 1, dup: true })],
    ['QoS 2', pub({ qos: 2, messageId: 300 })],
    ['QoS 2, DUP and RETAIN', pub({ qos: 2, messageId: 65535, dup: true, retain: true })],
    ['an empty payload', pub({ payload: Buffer.alloc(0) })],
    ['a UTF-8 topic', pub({ topic: 'maison/cuisine/température/€/😀' })],
    ['a 200-byte payload (two-byte Remaining Length)', pub({ payload: Buffer.alloc(200, 7) })],
    ['a 20 000-byte payload (three-byte Remaining Length)', pub({ payload: Buffer.alloc(20000, 9) })],
  ]
  for (const v of [4, 5] as const) {
    for (const [what, p] of ordinary) {
      it(`MQTT ${v === 5 ? '5' : '3.1.1'}: ${what}, alone and three in a row, on the fast path`, function () {
        const one = gen(p, v)
        const three = Buffer.concat([one, one, one])
        const out = same(three, v)
        assert.equal(out.packets.length, 3)
        assert.equal(out.stockPublishes, 0, 'whole buffer: no PUBLISH through mqtt-packet')
        const { length, ...rest } = out.packets[0] as mqtt.IPublishPacket & { length: number }
        assert.equal(length, one.length - (p.payload.length >= 128 ? (p.payload.length >= 16384 ? 4 : 3) : 2))
        assert.deepStrictEqual({ ...rest }, { ...p, ...(p.qos === 0 ? {} : { messageId: p.messageId }) })
      })
    }
  }

  for (const v of [4, 5] as const) {
    it(`MQTT ${v === 5 ? '5' : '3.1.1'}: PUBACK, PUBREC, PUBREL and PUBCOMP with a packet identifier only, between PUBLISH packets, on the fast path`, function () {
      const acks = [[0x40, 0x02, 0x00, 0x01], [0x50, 0x02, 0x01, 0x00], [0x62, 0x02, 0xff, 0xff], [0x70, 0x02, 0x10, 0x92]].map(b => Buffer.from(b))
      // MQTT 5: reason code 0x00 given, and property length 0 given (mqtt-packet writes both)
      const v5forms = v === 5 ? [Buffer.from([0x40, 0x03, 0x00, 0x07, 0x00]), Buffer.from([0x70, 0x04, 0x00, 0x08, 0x00, 0x00]), gen({ cmd: 'puback', messageId: 9 } as mqtt.Packet, v)] : []
      const out = same(Buffer.concat([acks[0], gen(pub({}), v), ...acks, acks[3], ...v5forms]), v)
      assert.deepEqual(out.packets.map(p => [p.cmd, (p as { messageId?: number }).messageId]), [
        ['puback', 1], ['publish', undefined], ['puback', 1], ['pubrec', 256], ['pubrel', 65535], ['pubcomp', 4242], ['pubcomp', 4242],
        ...(v === 5 ? [['puback', 7], ['pubcomp', 8], ['puback', 9]] : []),
      ])
      assert.deepEqual([out.stockAcks, out.stockPublishes], [0, 0], 'whole buffer: none through mqtt-packet')
    })
  }

  it('MQTT 5: an acknowledgement with a reason code or properties, one with wrong flags and one before CONNECT go through mqtt-packet', function () {
    const withCode = Buffer.from([0x40, 0x03, 0x00, 0x03, 0x10])
    const withProps = gen({ cmd: 'pubrec', messageId: 4, reasonCode: 0, properties: { reasonString: 'ok' } } as mqtt.Packet, 5)
    const plain = Buffer.from([0x40, 0x02, 0x00, 0x05])
    const out = same(Buffer.concat([plain, withCode, withProps, plain]), 5)
    assert.equal(out.packets.length, 4)
    assert.equal(out.stockAcks, 3, 'the first on the fast path, the rest after the one with a reason code through mqtt-packet')
    const badFlags = same(Buffer.from([0x60, 0x02, 0x00, 0x01]), 4) // PUBREL must have flags 0010
    assert.deepEqual([badFlags.packets, badFlags.errors.length], [[], 1])
    const v3long = same(Buffer.concat([Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00]), plain]), 4) // MQTT 3.1.1: Remaining Length 2 only
    assert.equal(v3long.stockAcks, 2)
    const beforeConnect = createParser((cmd) => cmd === 'connect' ? undefined : new PacketTooLargeError('CONNECT first'))
    const seen: string[] = []
    beforeConnect.on('packet', (p: mqtt.Packet) => seen.push(p.cmd))
    beforeConnect.on('error', (e: Error) => seen.push(e.message))
    beforeConnect.parse(plain)
    assert.deepEqual(seen, ['CONNECT first'])
  })

  it('MQTT 5: a PUBLISH with properties goes through mqtt-packet, and those after it too', function () {
    const withProps = gen(pub({ qos: 1, messageId: 1, properties: { contentType: 'text/plain', userProperties: { a: 'b' } } }), 5)
    const plain = gen(pub({}), 5)
    const out = same(Buffer.concat([plain, withProps, plain]), 5)
    assert.equal(out.packets.length, 3)
    assert.equal(out.stockPublishes, 2, 'the first on the fast path, the rest after the packet with properties through mqtt-packet')
  })

  it('other packets, and a PUBLISH cut by the end of the read, are left to mqtt-packet; whole packets after them come back to the fast path', function () {
    const p = gen(pub({ qos: 1, messageId: 9 }), 4)
    const ping = gen({ cmd: 'pingreq' }, 4)
    const out = run([Buffer.concat([ping, p, p.subarray(0, 5)]), Buffer.concat([p.subarray(5), p, p]), p], 4)
    assert.deepEqual(out.errors, [])
    assert.deepEqual(out.packets.map(x => x.cmd), ['pingreq', 'publish', 'publish', 'publish', 'publish', 'publish'])
    assert.equal(out.stockPublishes, 2, 'the one after PINGREQ and the cut one; the bytes that complete it end its part in mqtt-packet, the rest of that read is on the fast path')
    for (const i of [1, 2, 3, 4]) assert.deepStrictEqual(out.packets[i], out.packets[5])
  })

  it('a stream cut anywhere, in two reads or in three: the same packets and errors as mqtt-packet alone', function () {
    for (const v of [4, 5] as const) {
      const stream = Buffer.concat([
        gen(pub({ qos: 1, messageId: 7, payload: Buffer.alloc(150, 1) }), v),
        gen(pub({}), v),
        gen({ cmd: 'pingreq' }, v),
        gen(pub({ qos: 2, messageId: 8, topic: 'x/€' }), v),
        ...(v === 5 ? [gen(pub({ properties: { contentType: 'c' } }), v)] : []),
        gen({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'a/#', qos: 1 }] } as mqtt.ISubscribePacket, v),
        gen({ cmd: 'puback', messageId: 10 } as mqtt.Packet, v),
        gen({ cmd: 'pubrel', messageId: 11 } as mqtt.Packet, v),
        gen(pub({ retain: true }), v),
      ])
      const stock = run(bytewise(stream), v)
      assert.equal(stock.packets.length, v === 5 ? 9 : 8)
      for (let cut = 1; cut < stream.length; cut++) {
        const two = run([stream.subarray(0, cut), stream.subarray(cut)], v)
        assert.deepStrictEqual([two.packets, two.errors], [stock.packets, stock.errors], `cut at ${cut}`)
        const second = Math.min(stream.length - 1, cut + 3)
        if (second > cut) assert.deepStrictEqual(run([stream.subarray(0, cut), stream.subarray(cut, second), stream.subarray(second)], v).packets, stock.packets, `cuts at ${cut} and ${second}`)
      }
      const bad = Buffer.concat([gen(pub({}), v), Buffer.from([0x32, 0x04, 0x00, 0x01, 0x61, 0x00]), gen(pub({}), v)])
      const badStock = run(bytewise(bad), v)
      for (let cut = 1; cut < bad.length; cut++) {
        const out = run([bad.subarray(0, cut), bad.subarray(cut)], v)
        assert.deepStrictEqual([out.packets, out.errors], [badStock.packets, badStock.errors], `malformed, cut at ${cut}`)
      }
    }
  })

  const malformed: Array<[string, number[], 4 | 5, RegExp]> = [
    ['QoS 3 [MQTT-3.3.1-4]', [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], 4, /QoS bits/],
    ['a Remaining Length not minimally encoded [MQTT-1.5.5-1]', [0x30, 0x84, 0x00, 0x00, 0x01, 0x61, 0x78, 0x79], 4, /minimally encoded/],
    ['a topic length beyond the packet', [0x30, 0x04, 0x00, 0x09, 0x61, 0x62], 4, /Cannot parse topic/],
    ['a QoS 1 PUBLISH cut before its packet identifier [MQTT-2.2.1-3]', [0x32, 0x04, 0x00, 0x01, 0x61, 0x00], 4, /messageId/],
    ['malformed UTF-8 in the topic [MQTT-1.5.3-1]', [0x30, 0x05, 0x00, 0x02, 0xc0, 0xaf, 0x78], 4, /BadUtf8Error/],
    ['U+0000 in the topic [MQTT-1.5.3-2]', [0x30, 0x05, 0x00, 0x02, 0x61, 0x00, 0x78], 4, /BadUtf8Error/],
    ['MQTT 5: a property length beyond the packet', [0x30, 0x05, 0x00, 0x01, 0x61, 0x09, 0x78], 5, /property length/],
    ['MQTT 5: no room for the property length', [0x30, 0x03, 0x00, 0x01, 0x61], 5, /property length/],
  ]
  for (const [what, bytes, v, err] of malformed) {
    it(`${what}: the same error as mqtt-packet's path, after the good packet before it`, function () {
      const good = gen(pub({}), v)
      const out = same(Buffer.concat([good, Buffer.from(bytes)]), v)
      assert.equal(out.packets.length, 1)
      assert.ok(out.errors.length >= 1)
      assert.match(out.errors[0], err)
    })
  }

  it('a PUBLISH above the maximum packet size is refused, not emitted [MQTT-3.1.2-24]', function () {
    const big = gen(pub({ payload: Buffer.alloc(300) }), 4)
    const out = same(Buffer.concat([gen(pub({}), 4), big]), 4, 200)
    assert.equal(out.packets.length, 1)
    assert.deepEqual(out.errors, ['PacketTooLargeError: too large'])
  })

  it('the payload is the packet\'s own bytes: a view into the read, not a copy of the whole read', function () {
    const a = gen(pub({ payload: Buffer.from('first') }), 4)
    const b = gen(pub({ payload: Buffer.from('second') }), 4)
    const out = run([Buffer.concat([a, b])], 4)
    assert.deepEqual(out.packets.map(p => String((p as mqtt.IPublishPacket).payload)), ['first', 'second'])
    assert.equal(((out.packets[1] as mqtt.IPublishPacket).payload as Buffer).length, 6)
  })
})
