// User properties whose names interleave (a=1, b=2, a=3) cannot be held by an object, so the
// encoder writes them back in their wire order into the PUBLISH that mqtt-packet generated,
// re-encoding the Remaining Length and the property length (src/broker/encode.ts). Checked here
// across the lengths where those variable byte integers grow, on the shared and the
// per-subscriber paths. Written against surviving mutants (docs/mutation.md).
import assert from 'node:assert/strict'
import mqtt from 'mqtt-packet'
import { encodePublish } from '../../src/broker/encode'
import { userPropertyOrder } from '../../src/broker/parser'
import type { RoutedMessage } from '../../src/broker/message'
import type { QoS } from '../../src/broker/types'
import { assertPublish, rawBytes } from '../helpers/packets'

function interleaved (n: number): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i < n; i++) out.push([i % 2 === 0 ? 'a' : `k${i}`, `v${i}`])
  return out
}

function message (pairs: Array<[string, string]>, payload: Buffer, qos: QoS): RoutedMessage {
  const userProperties: Record<string, string | string[]> = {}
  for (const [k, v] of pairs) {
    const had = userProperties[k]
    userProperties[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v]
  }
  userPropertyOrder.set(userProperties, pairs)
  return { topic: 'u/p', payload, qos, retain: false, properties: { contentType: 'text/plain', userProperties }, expiresAt: undefined, origin: undefined, enc: undefined }
}

function parse (buf: Buffer): mqtt.IPublishPacket {
  const parser = mqtt.parser({ protocolVersion: 5 })
  const got: mqtt.Packet[] = []
  parser.on('packet', p => got.push(p))
  parser.on('error', err => { throw err })
  parser.parse(buf)
  assert.equal(got.length, 1, 'exactly one whole packet')
  const p = got[0] as mqtt.IPublishPacket
  rawBytes.set(p, buf)
  return p
}

describe('unit: user properties in wire order through the encoder', function () {
  it('[MQTT-3.3.2-17][MQTT-3.3.2-18] the order survives every length of property block and packet, QoS, and per-subscriber encoding', function () {
    let cases = 0
    for (const count of [3, 40, 2000]) { // property block of about 20 B, 300 B, 20 kB
      for (const size of [0, 100, 20000, 2_100_000]) { // Remaining Length of 1 to 4 bytes
        for (const qos of [0, 1, 2] as QoS[]) {
          const pairs = interleaved(count)
          const msg = message(pairs, Buffer.alloc(size, 0x41), qos)
          const what = `${count} pairs, ${size} B payload, QoS ${qos}`
          const shared = encodePublish(msg, qos, false, true, undefined, 700, false, 0, 0)
          assertPublish(parse(shared), { topic: 'u/p', payload: msg.payload, qos, messageId: qos > 0 ? 700 : undefined, properties: { contentType: 'text/plain', userProperties: pairs } }, what)
          const own = encodePublish(msg, qos, false, true, [33], 701, qos > 0, 0, 0)
          assertPublish(parse(own), { topic: 'u/p', payload: msg.payload, qos, dup: qos > 0, messageId: qos > 0 ? 701 : undefined, properties: { contentType: 'text/plain', userProperties: pairs, subscriptionIdentifier: 33 } }, what)
          cases++
        }
      }
    }
    assert.equal(cases, 36)
  })
})
