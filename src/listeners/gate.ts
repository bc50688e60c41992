/*
 * Between a listener and the broker: streams that arrive before the broker is ready wait (not read,
 * their CONNECT stays in the buffer) and are served once it is; every stream is tracked so that
 * closing the listener closes its clients too, promptly.
 */
import type { Duplex } from 'node:stream'
import type { Broker, PeerInfo } from '../broker'
import { ListenerError } from './errors'

const DEFAULT_MAX_WAITING = 10000
/** How long a closing stream may take to say goodbye (TLS close_notify, WebSocket close frame). */
const CLOSE_GRACE_MS = 500

export class Gate {
  private target: Broker | undefined
  private readonly waiting = new Map<Duplex, PeerInfo>()
  private readonly streams = new Set<Duplex>()
  private closed = false
  private readonly maxWaiting: number

  constructor (maxWaiting = DEFAULT_MAX_WAITING) {
    this.maxWaiting = maxWaiting
  }

  get isClosed (): boolean { return this.closed }

  /** Streams open through this gate (waiting or served). */
  get size (): number { return this.streams.size }

  accept (stream: Duplex, peer: PeerInfo): void {
    if (this.closed || stream.destroyed) { stream.destroy(); return }
    this.streams.add(stream)
    ;(stream as Tagged)[GATE] = this
    stream.on('close', onClose) // a shared listener, not a closure per stream
    if (this.target !== undefined) { this.target.handle(stream, peer); return }
    if (this.waiting.size >= this.maxWaiting) { stream.destroy(); return }
    this.waiting.set(stream, peer)
    stream.on('error', ignore) // until the broker takes it
  }

  /** A stream closed: it is no longer tracked. */
  forget (stream: Duplex): void {
    this.streams.delete(stream)
    this.waiting.delete(stream)
  }

  /** From now on streams go to `broker`, starting with those that were waiting. */
  serve (broker: Broker): void {
    if (this.closed) throw new ListenerError('LISTENER_CLOSED', 'the listener is closed')
    this.target = broker
    const waiting = [...this.waiting]
    this.waiting.clear()
    for (const [stream, peer] of waiting) {
      stream.off('error', ignore)
      broker.handle(stream, peer)
    }
  }

  /** Close every stream: end it, destroy it if it has not closed within a short grace. */
  close (): Promise<void> {
    this.closed = true
    this.waiting.clear()
    return Promise.all([...this.streams].map(s => closeStream(s))).then(() => undefined)
  }
}

const GATE = Symbol('hearth.gate')
type Tagged = Duplex & { [GATE]?: Gate }
function onClose (this: Duplex): void { (this as Tagged)[GATE]?.forget(this) }

function closeStream (s: Duplex): Promise<void> {
  return new Promise<void>(resolve => {
    if (s.destroyed) { resolve(); return }
    s.once('close', () => resolve())
    s.on('error', ignore)
    s.end()
    setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref()
  })
}

function ignore (): void { /* the stream closes; nothing to report */ }
