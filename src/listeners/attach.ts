/*
 * MQTT over WebSocket on an HTTP(S) server someone else owns (Node-RED's own, on /mqtt next to
 * the editor's /comms socket and the websocket nodes): only upgrade requests for our exact path
 * are handled, every other upgrade request is left untouched for the server's other listeners.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { Duplex } from 'node:stream'
import { Server as TlsServer } from 'node:tls'
import type { Broker } from '../broker'
import { ListenerError } from './errors'
import { Gate } from './gate'
import { pathOf, WebSocketAcceptor } from './websocket-acceptor'
import type { AttachOptions } from './types'

/** MQTT paths attached to each HTTP server. */
const attached = new WeakMap<object, Set<string>>()

export class WebSocketAttachment {
  readonly path: string
  readonly transport: string
  private readonly gate: Gate
  private readonly acceptor: WebSocketAcceptor
  private readonly onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  private detached: Promise<void> | undefined

  /** Use attachWebSocket(). */
  constructor (private readonly server: HttpServer, options: AttachOptions) {
    const path = options.path
    if (typeof path !== 'string' || !path.startsWith('/')) throw new ListenerError('BAD_PATH', 'path must start with /')
    const paths = attached.get(server) ?? new Set<string>()
    if (paths.has(path)) throw new ListenerError('PATH_IN_USE', `an MQTT WebSocket is already attached to ${path}`)
    this.path = path
    this.transport = options.transport ?? (server instanceof TlsServer ? 'wss' : 'ws')
    this.gate = new Gate(options.maxWaiting)
    this.acceptor = new WebSocketAcceptor(this.gate, { ...options, transport: this.transport, path })
    this.onUpgrade = (req, socket, head) => {
      // Another path is another listener's business: not a byte read or written.
      if (pathOf(req.url) !== this.path) return
      this.acceptor.handle(req, socket, head)
    }
    paths.add(path)
    attached.set(server, paths)
    server.on('upgrade', this.onUpgrade)
  }

  /** Connections open through this attachment (waiting or served). */
  get connections (): number { return this.gate.size }

  /** From now on connections go to `broker`, starting with those that waited. */
  serve (broker: Broker): void {
    this.gate.serve(broker)
  }

  /** Stop handling the path, free it for another attachment and close this attachment's clients. */
  detach (): Promise<void> {
    if (this.detached === undefined) {
      this.server.off('upgrade', this.onUpgrade)
      attached.get(this.server)?.delete(this.path)
      this.acceptor.close()
      this.detached = this.gate.close()
    }
    return this.detached
  }
}

/**
 * Serve MQTT over WebSocket on `options.path` of an existing HTTP(S) server. Throws a
 * ListenerError: BAD_PATH, or PATH_IN_USE when another MQTT WebSocket has that path on this server.
 */
export function attachWebSocket (server: HttpServer, options: AttachOptions): WebSocketAttachment {
  return new WebSocketAttachment(server, options)
}
