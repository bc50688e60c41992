// MQTT wire helpers for the load generator: packets are encoded once with mqtt-packet,
// and the receiving side scans the byte stream for fixed headers instead of parsing.
import mqttPacket from 'mqtt-packet'

export const PROTOCOL_VERSION = 4 // MQTT 3.1.1: every broker under test speaks it

export function encode (packet) {
  return mqttPacket.generate(packet)
}

export function connectPacket (clientId, keepalive = 60) {
  return encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: PROTOCOL_VERSION, clean: true, clientId, keepalive })
}

export function subscribePacket (messageId, filters, qos) {
  return encode({ cmd: 'subscribe', messageId, subscriptions: filters.map(topic => ({ topic, qos })) })
}

export const DISCONNECT = encode({ cmd: 'disconnect' })

export function publishPacket (topic, payload, qos, messageId = 0, retain = false) {
  const p = { cmd: 'publish', topic, payload, qos, retain, dup: false }
  if (qos > 0) p.messageId = messageId
  return encode(p)
}

// A ring of pre-encoded PUBLISH packets. QoS 0: one batch of identical packets, written again and again.
// QoS 1/2: every packet id 1..65535 once, in order, so a batch is a zero-copy slice of one big buffer.
// The buffers are never mutated after encoding, so the same bytes may sit in several pending writes.
export class PublishRing {
  constructor (topic, payload, qos, batchMsgs) {
    this.qos = qos
    const one = publishPacket(topic, payload, qos, 1)
    this.pktLen = one.length
    if (qos === 0) {
      this.size = batchMsgs
      this.buf = Buffer.allocUnsafe(one.length * batchMsgs)
      for (let i = 0; i < batchMsgs; i++) one.copy(this.buf, i * one.length)
    } else {
      this.size = 65535
      this.buf = Buffer.allocUnsafe(one.length * 65535)
      // offset of the packet id: fixed header + topic length prefix + topic
      const idOff = one.length - payload.length - 2
      for (let i = 0; i < 65535; i++) {
        const off = i * one.length
        one.copy(this.buf, off)
        this.buf.writeUInt16BE(i + 1, off + idOff)
      }
    }
    this.pos = 0 // index of the next packet in the ring
  }

  // Returns a slice holding up to n packets (fewer at the end of the ring).
  take (n) {
    if (this.qos === 0) return n === this.size ? this.buf : this.buf.subarray(0, n * this.pktLen)
    const k = Math.min(n, this.size - this.pos)
    const s = this.buf.subarray(this.pos * this.pktLen, (this.pos + k) * this.pktLen)
    this.pos = (this.pos + k) % this.size
    return s
  }
}

// Packet types (upper nibble of the first byte).
export const T = { CONNACK: 2, PUBLISH: 3, PUBACK: 4, PUBREC: 5, PUBREL: 6, PUBCOMP: 7, SUBACK: 9, PINGRESP: 13 }

// Streaming scanner over a socket's byte stream.
// - QoS 0 PUBLISH packets are only counted (this.qos0) and skipped, never copied, unless wantQos0Body.
// - every other packet is handed to onPacket(b0, buf, bodyStart, bodyEnd, packetStart), whole, in one buffer.
// A packet split across reads is copied into a buffer of its full size (linear, whatever the read sizes) only when
// its content is needed; a fixed header split across reads is carried over (at most 4 bytes).
export class Scanner {
  constructor (onPacket, wantQos0Body = false) {
    this.onPacket = onPacket
    this.skipQos0 = !wantQos0Body
    this.qos0 = 0
    this.skip = 0 // bytes still to skip of a counted QoS 0 publish
    this.head = null // incomplete fixed header carried over
    this.pkt = null // packet being assembled across reads
    this.fill = 0
    this.body = 0
  }

  // buf may be a reused read buffer: nothing keeps a reference to it after feed returns.
  feed (buf, n) {
    let i = 0
    if (this.skip > 0) {
      if (this.skip >= n) { this.skip -= n; return }
      i = this.skip
      this.skip = 0
    } else if (this.head !== null) {
      const carried = this.head.length
      const h = Buffer.concat([this.head, buf.subarray(0, Math.min(n, 5 - carried))])
      this.head = null
      let j = 1
      let rl = 0
      let mul = 1
      let byte
      do {
        if (j >= h.length) { this.head = h; return } // still incomplete: all of buf (under 5 bytes) is in h
        byte = h[j++]
        rl += (byte & 127) * mul
        mul *= 128
      } while (byte & 128)
      i = j - carried // bytes of buf that belonged to the header
      if (this.skipQos0 && (h[0] & 0xf6) === 0x30) {
        this.qos0++
        if (i + rl > n) { this.skip = i + rl - n; return }
        i += rl
      } else {
        this.pkt = Buffer.allocUnsafe(j + rl)
        h.copy(this.pkt, 0, 0, j)
        this.fill = j
        this.body = j
      }
    }
    if (this.pkt !== null) {
      const p = this.pkt
      const k = Math.min(p.length - this.fill, n - i)
      buf.copy(p, this.fill, i, i + k)
      this.fill += k
      i += k
      if (this.fill < p.length) return
      this.pkt = null
      this.onPacket(p[0], p, this.body, p.length, 0)
    }
    const skipQos0 = this.skipQos0
    while (i < n) {
      const b0 = buf[i]
      let j = i + 1
      let rl = 0
      let mul = 1
      let byte
      do {
        if (j >= n) { this.head = Buffer.from(buf.subarray(i, n)); return }
        byte = buf[j++]
        rl += (byte & 127) * mul
        mul *= 128
      } while (byte & 128)
      const end = j + rl
      if (skipQos0 && (b0 & 0xf6) === 0x30) {
        this.qos0++
        if (end > n) { this.skip = end - n; return }
        i = end
        continue
      }
      if (end > n) {
        this.pkt = Buffer.allocUnsafe(end - i)
        buf.copy(this.pkt, 0, i, n)
        this.fill = n - i
        this.body = j - i
        return
      }
      this.onPacket(b0, buf, j, end, i)
      i = end
    }
  }
}

// Outgoing acknowledgements collected while scanning one read, written as one buffer afterwards.
export class AckStage {
  constructor () {
    this.buf = null // allocated on first use: idle connections stay small
    this.len = 0
  }

  push (b0, id) {
    if (this.buf === null) this.buf = Buffer.allocUnsafe(4096)
    if (this.len + 4 > this.buf.length) {
      const nb = Buffer.allocUnsafe(this.buf.length * 2)
      this.buf.copy(nb, 0, 0, this.len)
      this.buf = nb
    }
    const b = this.buf
    b[this.len] = b0
    b[this.len + 1] = 2
    b[this.len + 2] = id >> 8
    b[this.len + 3] = id & 255
    this.len += 4
  }

  flush (socket) {
    if (this.len === 0) return
    socket.write(Buffer.from(this.buf.subarray(0, this.len)))
    this.len = 0
  }
}

export const ACK = { PUBACK: 0x40, PUBREC: 0x50, PUBREL: 0x62, PUBCOMP: 0x70 }

// Packet id of a PUBLISH (QoS > 0) whose variable header starts at s.
export function publishId (buf, s) {
  const tlen = (buf[s] << 8) | buf[s + 1]
  return (buf[s + 2 + tlen] << 8) | buf[s + 3 + tlen]
}
