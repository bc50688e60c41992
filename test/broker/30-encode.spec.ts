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

  // Written against surviving mutants (docs/mutation.md).
  const ref = (p: Partial<mqtt.IPublishPacket> & { topic: string, payload: Buffer, qos: QoS }, v5: boolean): Buffer =>
    mqtt.generate({ cmd: 'publish', retain: false, dup: false, ...p, properties: p.properties ?? (v5 ? {} : undefined) } as mqtt.IPublishPacket, { protocolVersion: v5 ? 5 : 4 } as object)

  it('(MQTT 3.1.1 and 5 section 2.2.3) the Remaining Length takes 1, 2, 3 or 4 bytes exactly at its boundaries (127/128, 16383/16384, 2097151/2097152)', function () {
    let cases = 0
    for (const v5 of [false, true]) {
      for (const qos of [0, 1] as QoS[]) {
        for (const rem of [127, 128, 16383, 16384, 2097151, 2097152]) {
          const fixed = 2 + 1 + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) // topic length, topic 'a', packet id, property length
          const payload = Buffer.alloc(rem - fixed, 0x5a)
          const mine = encodePublish(routed('a', payload, qos, false), qos, false, v5, undefined, 9, false, 0, 0)
          const expected = ref({ topic: 'a', payload, qos, messageId: qos > 0 ? 9 : undefined }, v5)
          assert.equal(mine.length, expected.length, `v5=${v5} qos=${qos} remaining length ${rem}`)
          assert.ok(mine.equals(expected), `v5=${v5} qos=${qos} remaining length ${rem}`)
          cases++
        }
      }
    }
    assert.equal(cases, 24)
  })

  it('every variant of one message (3.x or 5, QoS 0-2, RETAIN 0/1) is encoded as itself, whatever was encoded before', function () {
    const msg = routed('v/x', Buffer.from('p'), 2, true)
    for (const v5 of [false, true]) {
      for (const retain of [true, false]) {
        for (const qos of [0, 2, 1] as QoS[]) {
          const mine = encodePublish(msg, qos, retain, v5, undefined, 300, false, 0, 0)
          assert.ok(mine.equals(ref({ topic: 'v/x', payload: Buffer.from('p'), qos, retain, messageId: qos > 0 ? 300 : undefined }, v5)), `v5=${v5} qos=${qos} retain=${retain}`)
        }
      }
    }
    // a QoS 0 fan-out hands every subscriber the same bytes (encoded once)
    assert.equal(encodePublish(msg, 0, false, true, undefined, 0, false, 0, 0), encodePublish(msg, 0, false, true, undefined, 0, false, 0, 0))
  })

  it('[MQTT-3.3.4-3][MQTT-3.3.2-6] a PUBLISH encoded for one MQTT 5 subscriber (subscription identifiers, topic alias, remaining expiry) carries its own packet identifier and DUP', function () {
    const props = { contentType: 'c', userProperties: { k: 'v' } }
    for (const qos of [1, 2] as QoS[]) {
      const msg: RoutedMessage = { ...routed('own/t', Buffer.from('x'), qos, false), properties: props }
      const withIds = encodePublish(msg, qos, false, true, [4, 9], 513, false, 0, 0)
      assert.ok(withIds.equals(ref({ topic: 'own/t', payload: Buffer.from('x'), qos, messageId: 513, properties: { ...props, subscriptionIdentifier: [4, 9] } }, true)), `qos ${qos}, two identifiers`)
      const oneId = encodePublish(msg, qos, false, true, [4], 514, true, 0, 0)
      assert.ok(oneId.equals(ref({ topic: 'own/t', payload: Buffer.from('x'), qos, messageId: 514, dup: true, properties: { ...props, subscriptionIdentifier: 4 } }, true)), `qos ${qos}, one identifier, DUP`)
      const aliasSet = encodePublish(msg, qos, false, true, undefined, 515, false, 3, 0)
      assert.ok(aliasSet.equals(ref({ topic: 'own/t', payload: Buffer.from('x'), qos, messageId: 515, properties: { ...props, topicAlias: 3 } }, true)), `qos ${qos}, alias set`)
      const aliasUsed = encodePublish(msg, qos, false, true, undefined, 516, false, -3, 0)
      assert.ok(aliasUsed.equals(ref({ topic: '', payload: Buffer.from('x'), qos, messageId: 516, properties: { ...props, topicAlias: 3 } }, true)), `qos ${qos}, alias used`)
      const expiring: RoutedMessage = { ...msg, expiresAt: 10_000 }
      for (const [now, left] of [[0, 10], [8_999, 2], [9_000, 1], [9_001, 1], [10_000, 0], [12_000, 0]]) {
        const mine = encodePublish(expiring, qos, false, true, undefined, 517, false, 0, now)
        assert.ok(mine.equals(ref({ topic: 'own/t', payload: Buffer.from('x'), qos, messageId: 517, properties: { ...props, messageExpiryInterval: left } }, true)), `qos ${qos}, ${now} ms: ${left} s left`)
      }
    }
    // without properties of its own: only what the subscriber needs
    const bare = routed('own/b', Buffer.from('y'), 0, false)
    assert.ok(encodePublish(bare, 0, false, true, [7], 0, false, 0, 0).equals(ref({ topic: 'own/b', payload: Buffer.from('y'), qos: 0, properties: { subscriptionIdentifier: 7 } }, true)))
  })
})
