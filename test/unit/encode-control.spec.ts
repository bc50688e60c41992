// Control packets encoded by hand (src/broker/encode-control.ts): every form it takes must be byte for byte what
// mqtt-packet generates, and every other form must be left to mqtt-packet (undefined).
import assert from 'node:assert/strict'
import fc from 'fast-check'
import mqtt from 'mqtt-packet'
import { encodeControl } from '../../src/broker/encode-control'

const generate = (p: mqtt.Packet, v: number): Buffer => mqtt.generate(p, { protocolVersion: v } as Parameters<typeof mqtt.generate>[1])
const same = (p: mqtt.Packet, v: number): void => {
  const mine = encodeControl(p, v)
  assert.ok(mine !== undefined, `encoded by hand: ${JSON.stringify(p)} (v${v})`)
  assert.deepEqual(mine, generate(p, v), `${JSON.stringify(p)} (v${v})`)
}

describe('unit: control packets encoded by hand', function () {
  it('PINGRESP, SUBACK and UNSUBACK on 3.1.1 and 5, acks with a reason code on 5: as mqtt-packet, byte for byte', function () {
    for (const v of [4, 5]) {
      same({ cmd: 'pingresp' }, v)
      same({ cmd: 'suback', messageId: 1, granted: [0] } as mqtt.ISubackPacket, v)
      same({ cmd: 'suback', messageId: 65535, granted: [0, 1, 2, 0x80] } as mqtt.ISubackPacket, v)
      same({ cmd: 'suback', messageId: 258, granted: Array.from({ length: 200 }, (_, i) => i % 3) } as mqtt.ISubackPacket, v) // remaining length over 127
      same({ cmd: 'unsuback', messageId: 7, ...(v === 5 ? { granted: [0, 0x11] } : {}) } as unknown as mqtt.IUnsubackPacket, v)
    }
    same({ cmd: 'unsuback', messageId: 9, granted: Array.from({ length: 150 }, () => 0x11) } as unknown as mqtt.IUnsubackPacket, 5)
    for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const) {
      for (const reasonCode of [0x10, 0x80, 0x87, 0x92, 0x97]) same({ cmd, messageId: 513, reasonCode } as mqtt.Packet, 5)
    }
  })

  it('[MQTT-3.2.2-1] MQTT 5 CONNACK with any mix of the properties Hearth sets, in any order: as mqtt-packet', function () {
    const prop = fc.record({
      sessionExpiryInterval: fc.nat({ max: 0xffffffff }),
      assignedClientIdentifier: fc.string({ maxLength: 30 }),
      serverKeepAlive: fc.nat({ max: 0xffff }),
      receiveMaximum: fc.integer({ min: 1, max: 0xffff }),
      topicAliasMaximum: fc.nat({ max: 0xffff }),
      maximumQoS: fc.integer({ min: 0, max: 1 }),
      retainAvailable: fc.boolean(),
      maximumPacketSize: fc.integer({ min: 1, max: 0xffffffff }),
    }, { requiredKeys: [] })
    fc.assert(fc.property(prop, fc.boolean(), fc.constantFrom(0, 0x80, 0x87), fc.func(fc.integer()), (props, sessionPresent, reasonCode, order) => {
      const entries = Object.entries(props).sort((a, b) => order(a[0]) - order(b[0]))
      const p: mqtt.IConnackPacket = { cmd: 'connack', sessionPresent, reasonCode }
      if (entries.length > 0) p.properties = Object.fromEntries(entries) as mqtt.IConnackPacket['properties']
      same(p, 5)
    }), { numRuns: 500 })
  })

  it('leaves every other form to mqtt-packet', function () {
    const others: Array<[mqtt.Packet, number]> = [
      [{ cmd: 'connack', returnCode: 0, sessionPresent: false }, 4],
      [{ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { reasonString: 'no' } }, 5],
      [{ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { userProperties: { a: 'b' } } }, 5],
      [{ cmd: 'suback', messageId: 1, granted: [0], properties: { reasonString: 'why' } } as mqtt.ISubackPacket, 5],
      [{ cmd: 'unsuback', messageId: 1, properties: { reasonString: 'why' }, granted: [0] } as unknown as mqtt.IUnsubackPacket, 5],
      [{ cmd: 'unsuback', messageId: 1 } as mqtt.IUnsubackPacket, 5],
      [{ cmd: 'puback', messageId: 1, reasonCode: 0x10 } as mqtt.IPubackPacket, 4],
      [{ cmd: 'puback', messageId: 1, reasonCode: 0x10, properties: { reasonString: 'x' } } as mqtt.IPubackPacket, 5],
      [{ cmd: 'puback', messageId: 1 } as mqtt.IPubackPacket, 5],
      [{ cmd: 'disconnect', reasonCode: 0x8e } as mqtt.IDisconnectPacket, 5],
      [{ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, 4],
    ]
    for (const [p, v] of others) assert.equal(encodeControl(p, v), undefined, JSON.stringify(p))
  })
})
