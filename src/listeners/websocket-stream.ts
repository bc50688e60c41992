/*
 * One WebSocket as the byte stream the broker reads MQTT from. Frames are not packets: a binary
 * message may hold several MQTT packets or part of one, and the broker's parser sees only bytes
 * [v3.1.1 MQTT-6.0.0-2 / v5 MQTT-6.0.0-2]. A text (or any non-binary) message closes the connection [v3.1.1 MQTT-6.0.0-1 / v5 MQTT-6.0.0-1].
 */
import { Duplex } from 'node:stream'
import WebSocket from 'ws'

/** Close codes (RFC 6455 section 7.4.1). */
const NORMAL = 1000
const UNSUPPORTED_DATA = 1003
const INTERNAL_ERROR = 1011
/** How long a closing handshake may take before the socket is cut. */
const CLOSE_TIMEOUT_MS = 1000

export class WebSocketDuplex extends Duplex {
  private killTimer: NodeJS.Timeout | undefined

  constructor (private readonly ws: WebSocket) {
    super({ allowHalfOpen: false })
    ws.on('message', (data, isBinary) => {
      if (this.destroyed) return
      if (!isBinary) {
        // MQTT Control Packets travel in binary frames only; anything else closes [v3.1.1 MQTT-6.0.0-1 / v5 MQTT-6.0.0-1]
        this.closeWebSocket(UNSUPPORTED_DATA)
        this.destroy()
        return
      }
      if (!this.push(toBuffer(data))) ws.pause()
    })
    ws.once('close', () => {
      if (this.killTimer !== undefined) clearTimeout(this.killTimer)
      if (!this.destroyed) { this.push(null); this.destroy() }
    })
    ws.on('error', (err) => { if (!this.destroyed) this.destroy(err) })
  }

  /** The underlying WebSocket. */
  get webSocket (): WebSocket { return this.ws }

  override _read (): void {
    if (this.ws.isPaused) this.ws.resume()
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send(chunk, cb)
  }

  override _writev (chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.send(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map(c => c.chunk)), cb)
  }

  private send (data: Buffer, cb: (err?: Error | null) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) { cb(new Error('WebSocket is not open')); return }
    this.ws.send(data, { binary: true }, (err) => cb(err ?? null)) // MQTT goes in binary frames [v3.1.1 MQTT-6.0.0-1 / v5 MQTT-6.0.0-1]
  }

  override _final (cb: (err?: Error | null) => void): void {
    this.closeWebSocket(NORMAL)
    cb()
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    this.closeWebSocket(err === null ? NORMAL : INTERNAL_ERROR)
    cb(err)
  }

  /** Start the closing handshake once; cut the socket if the peer does not answer in time. */
  private closeWebSocket (code: number): void {
    const ws = this.ws
    if (ws.readyState === WebSocket.OPEN) ws.close(code)
    if (ws.readyState !== WebSocket.CLOSED && this.killTimer === undefined) {
      this.killTimer = setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS)
      this.killTimer.unref()
    }
  }
}

function toBuffer (data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}
