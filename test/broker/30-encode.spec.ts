// Test whether the hand-written PUBLISH encoder (the hot path) produces exactly mqtt-packet's bytes,
// and whether the shared per-variant encoding gives each subscriber its own packet identifier.
import assert from 'node:assert/strict'
import mqtt from 'mqtt-packet'
import { encodePublish, encodeAck } from '../../src/broker/encode'
import type { RoutedMessage } from '../../src/broker/message'
import type { QoS } from '../../src/broker/types'

function routed (topic: string, payload: Buffer, qos: QoS, retain: boolean): RoutedMessage {
  return { topic, payload, qos, retain, properties: undefined, expiresAt: undefined, origin: undefined, enc: undefined }
}

describe('30 encoding', function () {
  it('[MQTT-3.3.1-1][MQTT-3.3.2-1] a PUBLISH without properties is byte-identical to mqtt-packet for every QoS, RETAIN, size and topic', function () {
    let cases = 0
    for (const v5 of [false, true]) {
      for (const qos of [0, 1, 2] as QoS[]) {
        for (const retain of [false, true]) {
          for (const size of [0, 5, 120, 200, 20000, 3_000_000]) {
            for (const topic of ['a', 'a/b/ç/€', 'x'.repeat(300)]) {
              const payload = Buffer.alloc(size, 7)
              const mine = encodePublish(routed(topic, payload, qos, retain), qos, retain, v5, undefined, 513, false, 0, Date.now())
              const ref = mqtt.generate({ cmd: 'publish', topic, payload, qos, retain, dup: false, messageId: qos > 0 ? 513 : undefined, properties: v5 ? {} : undefined } as mqtt.IPublishPacket, { protocolVersion: v5 ? 5 : 4 } as object)
              assert.ok(mine.equals(ref), `v5=${v5} qos=${qos} retain=${retain} size=${size} topic=${topic.length}`)
              cases++
            }
          }
        }
      }
    }
    assert.equal(cases, 216)
  })

  it('[MQTT-2.2.1-3] copies of a shared encoding carry their own packet identifier and DUP flag; the shared bytes stay intact', function () {
    const msg = routed('t/x', Buffer.from('hello'), 1, false)
    const a = encodePublish(msg, 1, false, false, undefined, 1, false, 0, 0)
    const b = encodePublish(msg, 1, false, false, undefined, 40000, true, 0, 0)
    const pa = mqtt.parser(); const pb = mqtt.parser()
    const got: mqtt.Packet[] = []
    pa.on('packet', p => got.push(p)); pb.on('packet', p => got.push(p))
    pa.parse(a); pb.parse(b)
    assert.equal((got[0] as mqtt.IPublishPacket).messageId, 1)
    assert.equal((got[0] as mqtt.IPublishPacket).dup, false)
    assert.equal((got[1] as mqtt.IPublishPacket).messageId, 40000)
    assert.equal((got[1] as mqtt.IPublishPacket).dup, true)
    const again = encodePublish(msg, 1, false, false, undefined, 7, false, 0, 0)
    assert.equal(again.readUInt16BE(again.length - 7), 7)
  })

  it('[MQTT-3.3.1-1][MQTT-3.3.1-3] a resend with DUP 1 never marks the cached encoding: later first deliveries are byte-identical to mqtt-packet with DUP 0', function () {
    for (const v5 of [false, true]) {
      for (const qos of [1, 2] as QoS[]) {
        for (const retain of [false, true]) {
          const msg = routed('t/dup', Buffer.from('payload'), qos, retain)
          const ref = (id: number, dup: boolean): Buffer => mqtt.generate({ cmd: 'publish', topic: 't/dup', payload: Buffer.from('payload'), qos, retain, dup, messageId: id, properties: v5 ? {} : undefined } as mqtt.IPublishPacket, { protocolVersion: v5 ? 5 : 4 } as object)
          const what = `v5=${v5} qos=${qos} retain=${retain}`
          assert.ok(encodePublish(msg, qos, retain, v5, undefined, 10, false, 0, 0).equals(ref(10, false)), `first copy, ${what}`)
          assert.ok(encodePublish(msg, qos, retain, v5, undefined, 10, true, 0, 0).equals(ref(10, true)), `resend, ${what}`)
          assert.ok(encodePublish(msg, qos, retain, v5, undefined, 11, false, 0, 0).equals(ref(11, false)), `a later subscriber's first copy, ${what}`)
        }
      }
    }
  })

  it('[MQTT-3.4.2-1] acknowledgements with reason 0x00 use the two-byte form, which mqtt-packet parses on 3.1.1 and 5', function () {
    for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const) {
      for (const protocolVersion of [4, 5]) {
        const p = mqtt.parser({ protocolVersion })
        let got: mqtt.Packet | undefined
        p.on('packet', x => { got = x })
        p.parse(encodeAck(cmd, 258))
        assert.equal(got?.cmd, cmd)
        assert.equal((got as mqtt.IPubackPacket).messageId, 258)
      }
    }
  })
})
