import { Duplex } from 'node:stream'

/**
 * One end of an in-memory, full-duplex byte pipe. What one end writes, the other reads.
 * Backpressure is real: a write whose bytes the peer has not read yet (beyond the peer's
 * highWaterMark) stays pending until the peer reads, so a paused reader makes the writer's
 * buffer grow exactly as a slow TCP peer would.
 */
class PipeEnd extends Duplex {
  peer!: PipeEnd
  /** Write callback held back until the peer's reader asks for more. */
  private pendingWrite: (() => void) | null = null
  remoteAddress = 'in-memory'
  remotePort = 0

  constructor (highWaterMark: number) {
    super({ allowHalfOpen: false, highWaterMark })
  }

  override _read (): void {
    const release = this.peer.pendingWrite
    if (release) {
      this.peer.pendingWrite = null
      release()
    }
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peer.destroyed || this.peer.readableEnded) {
      cb(new Error('peer closed'))
      return
    }
    if (this.peer.push(chunk)) cb()
    else this.pendingWrite = () => cb()
  }

  override _final (cb: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null)
    cb()
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    const release = this.pendingWrite
    this.pendingWrite = null
    if (release) release()
    const peer = this.peer
    // Like a TCP reset: the other end sees its input end and then closes.
    if (!peer.destroyed) {
      if (!peer.readableEnded) peer.push(null)
      setImmediate(() => { if (!peer.destroyed) peer.destroy() })
    }
    cb(err)
  }
}

/** Two connected in-memory streams: give one to `broker.handle()`, keep the other as the client's socket. */
export function duplexPair (highWaterMark = 64 * 1024): [client: Duplex, server: Duplex] {
  const a = new PipeEnd(highWaterMark)
  const b = new PipeEnd(highWaterMark)
  a.peer = b
  b.peer = a
  return [a, b]
}
