// src/broker/parser.ts patches private internals of mqtt-packet's Parser (and loads its
// mqtt-packet/constants, mqtt-packet/packet and bl). package.json pins the exact version; this spec
// fails loudly when the installed mqtt-packet is not that version or its internals changed shape,
// and a canary parse exercises each patch through the broker's own createParser().
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import mqtt from 'mqtt-packet'
import { BadUtf8Error, PacketTooLargeError, ParsedProtocolError, createParser, userPropertyOrder } from '../../src/broker/parser'

const root = path.join(__dirname, '..', '..')
const PINNED = '9.0.2'
/** sha256 of the mqtt-packet files whose internals parser.ts relies on, at the pinned version. */
const FINGERPRINT: Record<string, string> = {
  'parser.js': 'bde1d714e10bf2f3a087c3a49587a67c4885fb89060e0892f62ef042d4769d65',
  'constants.js': 'd6fdce69a4967e98f04c6105b773f2b5d29cb00881730a993356cbfb83e5e55c',
  'packet.js': 'c46ee790f5ed7c9713dbfbdbf5f5010e6bd7404120371eef2cb9bc16d94c9fc7',
}
const CHANGED = 'mqtt-packet changed: re-check every patch in src/broker/parser.ts against the new parser.js, then update the pin and this spec'

/** Feed `chunks` to a broker parser; collect packets and errors. */
function parse (chunks: Buffer[], opts: { maxPacketSize?: number, protocolVersion?: 4 | 5 } = {}): { packets: mqtt.Packet[], errors: Error[] } {
  const max = opts.maxPacketSize ?? 1024 * 1024
  const parser = createParser((_cmd, size) => size > max ? new PacketTooLargeError(`packet of ${size} bytes`) : undefined)
  ;(parser as unknown as { settings: { protocolVersion: number } }).settings.protocolVersion = opts.protocolVersion ?? 5
  const packets: mqtt.Packet[] = []
  const errors: Error[] = []
  parser.on('packet', (p: mqtt.Packet) => packets.push(p))
  parser.on('error', (e: Error) => errors.push(e))
  for (const c of chunks) parser.parse(c)
  return { packets, errors }
}

const gen = (p: mqtt.Packet, v: 4 | 5 = 5): Buffer => mqtt.generate(p, { protocolVersion: v } as Parameters<typeof mqtt.generate>[1])

describe('unit: the mqtt-packet internals parser.ts patches', function () {
  it(`package.json pins mqtt-packet to exactly ${PINNED}, and that version is installed`, function () {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    assert.equal(pkg.dependencies['mqtt-packet'], PINNED, 'an exact version, not a range: parser.ts patches its private methods')
    const installed = JSON.parse(readFileSync(require.resolve('mqtt-packet/package.json'), 'utf8')) as { version: string }
    assert.equal(installed.version, PINNED, CHANGED)
  })

  it('the patched files are byte for byte those of the pinned version', function () {
    const dir = path.dirname(require.resolve('mqtt-packet/package.json'))
    for (const [file, want] of Object.entries(FINGERPRINT)) {
      assert.equal(createHash('sha256').update(readFileSync(path.join(dir, file))).digest('hex'), want, `${file}: ${CHANGED}`)
    }
  })

  it('the private methods and fields exist with the shape parser.ts expects', function () {
    const parser = mqtt.parser({ protocolVersion: 4 }) as unknown as Record<string, unknown> & { _list: Record<string, unknown>, _states: string[] }
    const arity: Record<string, number> = {
      parse: 1, _parseLength: 0, _parseString: 1, _parseVarByteNum: 1, _parseByte: 0, _parseByType: 1,
      _parseProperties: 0, _emitError: 1, _resetState: 0,
    }
    for (const [name, n] of Object.entries(arity)) {
      assert.equal(typeof parser[name], 'function', `Parser#${name}: ${CHANGED}`)
      assert.equal((parser[name] as (...a: unknown[]) => unknown).length, n, `Parser#${name} arity: ${CHANGED}`)
    }
    // The parse loop calls its states by name: an instance override of _parseLength is what runs.
    assert.deepEqual(parser._states, ['_parseHeader', '_parseLength', '_parsePayload', '_newPacket'], CHANGED)
    assert.equal(parser._stateCounter, 0)
    assert.equal(parser.error, null)
    assert.ok(parser.packet !== null && typeof parser.packet === 'object')
    for (const m of ['append', 'consume', 'slice', 'readUInt8', 'readUInt16BE', 'readUInt32BE']) assert.equal(typeof parser._list[m], 'function', `_list.${m}: ${CHANGED}`)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const constants = require('mqtt-packet/constants') as { propertiesCodes: Record<number, string>, propertiesTypes: Record<string, string> }
    assert.equal(constants.propertiesCodes[0x26], 'userProperties')
    assert.equal(constants.propertiesTypes.userProperties, 'pair')
    assert.equal(constants.propertiesTypes.payloadFormatIndicator, 'byte')
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Packet = require('mqtt-packet/packet') as new () => Record<string, unknown>
    assert.deepEqual(Object.keys(new Packet()).sort(), ['cmd', 'dup', 'length', 'payload', 'qos', 'retain', 'topic'])
  })

  describe('canary parse through createParser(): each patch acts', function () {
    it('a good packet, split at every byte and repeated, parses whole (_resetState with the plain BufferList)', function () {
      const p: mqtt.IPublishPacket = { cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false, properties: { contentType: 'c', userProperties: { k: 'v' } } }
      const buf = gen(p)
      const chunks = [...buf].map(b => Buffer.from([b]))
      const { packets, errors } = parse([...chunks, buf, buf])
      assert.deepEqual(errors, [])
      const parser = createParser(() => undefined) as unknown as { _list: object, _resetState: () => void }
      parser._resetState()
      assert.equal(parser._list.constructor.name, 'BufferList', 'the plain BufferList, not a BufferListStream per connection')
      assert.equal(packets.length, 3)
      for (const got of packets) {
        const { length: _l, ...rest } = got as mqtt.IPublishPacket & { length: number }
        assert.deepEqual({ ...rest, properties: { ...rest.properties, userProperties: { ...rest.properties?.userProperties } } }, p)
      }
    })

    it('_parseLength: a Remaining Length not minimally encoded is an error [MQTT-1.5.5-1]', function () {
      const { packets, errors } = parse([Buffer.from([0xc0, 0x80, 0x00])])
      assert.deepEqual(packets, [])
      assert.match(errors[0]?.message ?? '', /minimally encoded/)
    })

    it('_parseLength: a packet above the maximum size is refused from its fixed header alone', function () {
      const { errors } = parse([Buffer.from([0x30, 0xe8, 0x07])], { maxPacketSize: 100 }) // announces 1000 bytes, sends none
      assert.ok(errors[0] instanceof PacketTooLargeError, String(errors[0]))
    })

    it('_parseString: malformed UTF-8 and U+0000 in a string are errors [MQTT-1.5.3-1][MQTT-1.5.3-2]', function () {
      const bad = Buffer.from([0x30, 0x06, 0x00, 0x02, 0xc0, 0xaf, 0x00, 0x78]) // v5 PUBLISH, topic C0 AF, no properties
      assert.ok(parse([bad]).errors[0] instanceof BadUtf8Error)
      const nul = Buffer.from([0x30, 0x06, 0x00, 0x02, 0x61, 0x00, 0x00, 0x78])
      assert.ok(parse([nul]).errors[0] instanceof BadUtf8Error)
    })

    it('_parseProperties: a property twice is a Protocol Error; a boolean byte above 1 too; user properties keep their wire order', function () {
      const props = (...p: Buffer[]): Buffer => Buffer.concat([Buffer.from([p.reduce((n, b) => n + b.length, 0)]), ...p])
      const str = (s: string): Buffer => Buffer.concat([Buffer.from([0, s.length]), Buffer.from(s)])
      const publish = (pr: Buffer): Buffer => { const body = Buffer.concat([str('t'), pr, Buffer.from('p')]); return Buffer.concat([Buffer.from([0x30, body.length]), body]) }
      assert.ok(parse([publish(props(Buffer.from([0x03]), str('a'), Buffer.from([0x03]), str('b')))]).errors[0] instanceof ParsedProtocolError)
      assert.ok(parse([publish(props(Buffer.from([0x01, 0x02])))]).errors[0] instanceof ParsedProtocolError)
      assert.match(parse([publish(props(Buffer.from([0x11, 0, 0, 0, 1])))]).errors[0]?.message ?? '', /not allowed in publish/)
      const up = (k: string, v: string): Buffer => Buffer.concat([Buffer.from([0x26]), str(k), str(v)])
      const { packets, errors } = parse([publish(props(up('a', '1'), up('b', '2'), up('a', '3')))])
      assert.deepEqual(errors, [])
      const user = (packets[0] as mqtt.IPublishPacket).properties?.userProperties as object
      assert.deepEqual({ ...user }, { a: ['1', '3'], b: '2' })
      assert.deepEqual(userPropertyOrder.get(user), [['a', '1'], ['b', '2'], ['a', '3']])
    })
  })
})
