#!/usr/bin/env node
// Self-check of the generator's wire code: the byte-scanning counter must see exactly the packets mqtt-packet
// encoded, whatever the read boundaries, through a reused read buffer (as net's onread gives them).
// run.mjs runs it first; standalone: node bench/selftest.mjs
import { Scanner, PublishRing, encode, publishId, T } from './lib/wire.mjs'

function rng (seed) {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 4294967296 }
}

export function selfTest (seed = 12345) {
  const rand = rng(seed)
  const packets = []
  const want = { qos0: 0, other: [] }
  for (let i = 0; i < 5000; i++) {
    const k = rand()
    if (k < 0.5) {
      const qos = rand() < 0.6 ? 0 : rand() < 0.5 ? 1 : 2
      const size = rand() < 0.02 ? Math.floor(rand() * 40000) : Math.floor(rand() * 200) // 1- to 3-byte remaining length
      const id = 1 + Math.floor(rand() * 65535)
      const p = { cmd: 'publish', topic: `t/${i}`, payload: Buffer.alloc(size, i & 255), qos, retain: false, dup: false }
      if (qos) p.messageId = id
      packets.push(encode(p))
      if (qos === 0) want.qos0++
      else want.other.push(`${T.PUBLISH}:${id}`)
    } else {
      const cmd = ['puback', 'pubrec', 'pubrel', 'pubcomp'][Math.floor(rand() * 4)]
      const id = 1 + Math.floor(rand() * 65535)
      packets.push(encode({ cmd, messageId: id }))
      want.other.push(`${{ puback: T.PUBACK, pubrec: T.PUBREC, pubrel: T.PUBREL, pubcomp: T.PUBCOMP }[cmd]}:${id}`)
    }
  }
  const stream = Buffer.concat(packets)
  const readBuf = Buffer.alloc(65536)
  for (const maxChunk of [1, 2, 3, 7, 100, 1500, 65536]) {
    const got = []
    const sc = new Scanner((b0, buf, s, _e) => {
      const type = b0 >> 4
      got.push(`${type}:${type === T.PUBLISH ? publishId(buf, s) : (buf[s] << 8) | buf[s + 1]}`)
    })
    let off = 0
    while (off < stream.length) {
      const n = Math.min(stream.length - off, 1 + Math.floor(rand() * maxChunk))
      stream.copy(readBuf, 0, off, off + n)
      readBuf.fill(0xff, n, n + 16) // garbage after the valid bytes, as a reused buffer would hold
      sc.feed(readBuf, n)
      off += n
    }
    if (sc.qos0 !== want.qos0) throw new Error(`scanner (chunks ≤ ${maxChunk}): counted ${sc.qos0} QoS 0 publishes, expected ${want.qos0}`)
    if (got.join() !== want.other.join()) throw new Error(`scanner (chunks ≤ ${maxChunk}): acknowledged packets differ`)
    if (sc.head !== null || sc.pkt !== null || sc.skip !== 0) throw new Error(`scanner (chunks ≤ ${maxChunk}): state left over at the end`)
  }
  // the publish ring: consecutive ids 1..65535, whole packets per slice
  const ring = new PublishRing('a/b', Buffer.alloc(10), 1, 100)
  let expect = 1
  for (let i = 0; i < 700; i++) {
    const slice = ring.take(100)
    const sc = new Scanner((b0, buf, s) => {
      const id = publishId(buf, s)
      if (id !== expect) throw new Error(`ring: id ${id}, expected ${expect}`)
      expect = expect === 65535 ? 1 : expect + 1
    })
    sc.feed(slice, slice.length)
    if (sc.head !== null || sc.pkt !== null || sc.skip !== 0) throw new Error('ring: a slice ends inside a packet')
  }
  return { packets: packets.length, bytes: stream.length }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const r = selfTest()
  console.log(`generator self-test passed (${r.packets} packets, ${r.bytes} bytes, 7 chunkings)`)
}
