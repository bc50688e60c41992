// A bare MQTT 3.1.1 client on a raw socket: pre-encoded packets out, Scanner in.
// Reads land in one shared buffer per thread (net onread), so receiving allocates nothing per read.
import net from 'node:net'
import tls from 'node:tls'
import { WebSocket, createWebSocketStream } from 'ws'
import { Scanner, AckStage, connectPacket, subscribePacket, T } from '../lib/wire.mjs'

const READ_BUF = Buffer.allocUnsafe(256 * 1024)

// Receive coalescing (QoS 0 throughput only): after a small read a socket pauses until a shared timer fires,
// so the next read collects what arrived meanwhile instead of one wake-up per packet.
const paused = []
let resumeTimer = null
function resumeAll () {
  resumeTimer = null
  for (const c of paused.splice(0)) if (!c.closed) c.socket.resume()
}

export class Client {
  // onPacket(client, b0, buf, s, e) handles everything except CONNACK/SUBACK; afterRead(client, qos0Count) runs after each read.
  constructor ({ host, port, clientId, keepalive = 60, onPacket = null, afterRead = null, wantQos0Body = false, connectBuf = null, coalesce = null }) {
    this.clientId = clientId
    this.onPacket = onPacket
    this.afterRead = afterRead
    this.acks = new AckStage()
    this.pending = null // { resolve, reject, type }
    this.closed = false
    this.coalesce = coalesce
    this.scanner = new Scanner((b0, buf, s, e) => this._packet(b0, buf, s, e), wantQos0Body)
    const onRead = (n, buf) => {
      const before = this.scanner.qos0
      this.scanner.feed(buf, n)
      if (this.afterRead !== null) this.afterRead(this, this.scanner.qos0 - before)
      this.acks.flush(this.socket)
      if (this.coalesce !== null && n < this.coalesce.minBytes) {
        this.socket.pause()
        paused.push(this)
        if (resumeTimer === null) resumeTimer = setTimeout(resumeAll, this.coalesce.ms)
      }
    }
    this.socket = openSocket(host, port, Client.transport, onRead)
    this.socket.on('error', err => this._fail(err))
    this.socket.on('close', () => {
      this.closed = true
      Client.unexpectedCloses++
      if (Client.onUnexpectedClose !== null) Client.onUnexpectedClose(this)
      this._fail(new Error(`connection closed by broker (${clientId})`))
    })
    this.connected = new Promise((resolve, reject) => {
      this.pending = { resolve, reject, type: T.CONNACK }
    })
    this.socket.write(connectBuf || connectPacket(clientId, keepalive))
  }

  // 'tcp' (raw socket, reads into the shared buffer), 'tls' (mqtts, certificate not checked) or 'ws' (MQTT over WebSocket, path /mqtt)
  static transport = 'tcp'
  static unexpectedCloses = 0
  static onUnexpectedClose = null

  _fail (err) {
    if (this.pending !== null) {
      const p = this.pending
      this.pending = null
      p.reject(err)
    }
  }

  _packet (b0, buf, s, e) {
    const type = b0 >> 4
    if (this.pending !== null && type === this.pending.type) {
      const p = this.pending
      this.pending = null
      if (type === T.CONNACK && buf[s + 1] !== 0) p.reject(new Error(`CONNACK return code ${buf[s + 1]}`))
      else if (type === T.SUBACK && buf[s + 2] >= 0x80) p.reject(new Error(`SUBACK refused: 0x${buf[s + 2].toString(16)}`))
      else p.resolve(this)
      return
    }
    if (this.onPacket !== null) this.onPacket(this, b0, buf, s, e)
  }

  subscribe (filters, qos) {
    const done = new Promise((resolve, reject) => {
      this.pending = { resolve, reject, type: T.SUBACK }
    })
    this.socket.write(subscribePacket(1, filters, qos))
    return done
  }

  close () {
    if (this.closed) return
    this.closed = true
    this.pending = null
    this.socket.removeAllListeners('close')
    this.socket.on('error', () => {})
    this.socket.end(Buffer.from([0xe0, 0x00])) // DISCONNECT
    if (typeof this.socket.destroySoon === 'function') this.socket.destroySoon()
    else this.socket.destroy()
  }
}

// TLS and WebSocket reads arrive as buffers of their own ('data' events): the same scanner, one allocation per read.
function openSocket (host, port, transport, onRead) {
  if (transport === 'tls') {
    const s = tls.connect({ host, port, rejectUnauthorized: false })
    s.setNoDelay(true)
    s.on('data', d => onRead(d.length, d))
    return s
  }
  if (transport === 'ws') {
    const ws = new WebSocket(`ws://${host}:${port}/mqtt`, 'mqtt', { perMessageDeflate: false })
    const s = createWebSocketStream(ws)
    s.on('data', d => onRead(d.length, d))
    return s
  }
  return net.connect({ host, port, noDelay: true, onread: { buffer: READ_BUF, callback: onRead } })
}
