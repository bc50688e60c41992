// "relay": not a broker. It answers CONNECT/SUBSCRIBE and forwards every PUBLISH it reads, byte for byte and a
// whole read at a time, to every subscribed connection (no topic matching, no retained, no sessions).
// Acks are generated so QoS 1/2 flows complete. It exists to measure the generator's own ceiling:
// `node bench/run.mjs --brokers relay --only fanin,fanout50,qos1`. Not part of the default broker set.
import net from 'node:net'
import { Scanner, AckStage, ACK, T, publishId } from '../lib/wire.mjs'

const args = process.argv.slice(2)
const opt = name => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined }
const port = Number(opt('--port') ?? 0)
const host = opt('--host') ?? '127.0.0.1'

const subscribers = new Set()
const CONNACK = Buffer.from([0x20, 2, 0, 0])

function forward (ranges) {
  if (ranges.length === 0) return
  const data = ranges.length === 1 ? ranges[0] : Buffer.concat(ranges)
  for (const s of subscribers) s.write(data)
}

const server = net.createServer({ noDelay: true }, socket => {
  const acks = new AckStage()
  // complete PUBLISH packets read in this chunk, as zero-copy slices of it ('data' chunks are never reused),
  // adjacent ones merged, forwarded together
  let out = []
  let lastBuf = null
  let lastEnd = -1
  const scanner = new Scanner((b0, buf, s, e, start) => {
    const type = b0 >> 4
    if (type === T.PUBLISH) {
      if (buf === lastBuf && start === lastEnd) out[out.length - 1] = buf.subarray(out[out.length - 1].byteOffset - buf.byteOffset, e)
      else out.push(buf.subarray(start, e))
      lastBuf = buf
      lastEnd = e
      const q = (b0 >> 1) & 3
      if (q === 1) acks.push(ACK.PUBACK, publishId(buf, s))
      else if (q === 2) acks.push(ACK.PUBREC, publishId(buf, s))
    } else if (type === 1) { // CONNECT
      socket.write(CONNACK)
    } else if (type === 8) { // SUBSCRIBE: grant every filter at the requested QoS
      const codes = []
      let p = s + 2
      while (p < e) { const l = (buf[p] << 8) | buf[p + 1]; codes.push(buf[p + 2 + l] & 3); p += 3 + l }
      socket.write(Buffer.from([0x90, 2 + codes.length, buf[s], buf[s + 1], ...codes]))
      subscribers.add(socket)
    } else if (type === T.PUBREL) {
      acks.push(ACK.PUBCOMP, (buf[s] << 8) | buf[s + 1])
    } else if (type === T.PUBREC) { // from a subscriber, QoS 2
      acks.push(ACK.PUBREL, (buf[s] << 8) | buf[s + 1])
    } else if (type === 12) { // PINGREQ
      socket.write(Buffer.from([0xd0, 0]))
    } else if (type === 14) { // DISCONNECT
      socket.end()
    }
  }, true)
  socket.on('data', chunk => {
    scanner.feed(chunk, chunk.length)
    forward(out)
    out = []
    lastBuf = null
    acks.flush(socket)
  })
  socket.on('error', () => {})
  socket.on('close', () => subscribers.delete(socket))
})
server.listen(port, host, () => console.log(`relay listening on mqtt://${host}:${server.address().port}`))
