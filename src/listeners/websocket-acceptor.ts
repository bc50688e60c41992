/*
 * Turns HTTP upgrade requests into MQTT streams: checks the path and the WebSocket subprotocol,
 * completes the handshake with the `ws` package (bounded message size, verifyClient), and hands a
 * WebSocketDuplex with the peer's address to the gate. Shared by WebSocket listeners and by
 * attachments to an existing HTTP server.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import { WebSocketServer } from 'ws'
import type { PeerInfo } from '../broker'
import type { Gate } from './gate'
import { commonName, requestPeer, verifiedCertificate } from './peer'
import { WebSocketDuplex } from './websocket-stream'
import { ListenerError } from './errors'
import type { AcceptOptions, VerifyClient, VerifyClientInfo } from './types'

/** The broker's default maxPacketSize. */
const DEFAULT_MAX_PACKET = 268435460

/** Subprotocols MQTT clients offer: 'mqtt' [v3.1.1 MQTT-6.0.0-3 / v5 MQTT-6.0.0-3], and 'mqttv3.1' from 3.1 clients. */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1']

export interface AcceptorOptions extends AcceptOptions {
  transport: string
  /** Only this path is served; undefined accepts any. */
  path?: string
  /** The TLS client certificate's CN becomes the user name (wss listeners with useIdentityAsUsername). */
  useIdentityAsUsername?: boolean
}

/**
 * A verifyClient that cannot throw into the HTTP server's upgrade event (which would take the
 * process down): a throw refuses the handshake (HTTP 401) and is reported. Keeps the arity, which
 * tells `ws` whether the function answers through a callback.
 */
function guardVerifyClient (fn: VerifyClient, report: (err: Error, req: IncomingMessage) => void): VerifyClient {
  if (fn.length >= 2) {
    const withCallback = fn as (info: VerifyClientInfo, cb: VerifyCallback) => void
    return (info: VerifyClientInfo, cb: VerifyCallback) => {
      let answered = false
      const once: VerifyCallback = (ok, code, message, headers) => {
        if (answered) return
        answered = true
        cb(ok, code, message, headers)
      }
      try {
        withCallback(info, once)
      } catch (err) {
        report(err as Error, info.req)
        once(false, 401)
      }
    }
  }
  const sync = fn as (info: VerifyClientInfo) => boolean
  return (info: VerifyClientInfo): boolean => {
    try {
      return sync(info)
    } catch (err) {
      report(err as Error, info.req)
      return false
    }
  }
}

type VerifyCallback = (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void

/** The path of a request URL, without the query. */
export function pathOf (url: string | undefined): string {
  const u = url ?? '/'
  const q = u.indexOf('?')
  return q === -1 ? u : u.slice(0, q)
}

/** Answer an upgrade request with an HTTP error and close the socket. */
export function refuseUpgrade (socket: Duplex, status: number): void {
  if (!socket.writable) { socket.destroy(); return }
  const text = STATUS_CODES[status] ?? 'Error'
  socket.once('finish', () => socket.destroy())
  socket.on('error', () => socket.destroy())
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

export class WebSocketAcceptor {
  private readonly wss: WebSocketServer

  constructor (private readonly gate: Gate, private readonly options: AcceptorOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxPacketSize ?? DEFAULT_MAX_PACKET,
      // 'mqtt' whenever offered [v3.1.1 MQTT-6.0.0-4 / v5 MQTT-6.0.0-4]; 'mqttv3.1' for clients that offer only that.
      handleProtocols: (offered: Set<string>) => SUBPROTOCOLS.find(p => offered.has(p)) ?? false,
      verifyClient: options.verifyClient === undefined ? undefined : guardVerifyClient(options.verifyClient, (err, req) => this.report(err, req)),
    })
    this.wss.on('wsClientError', (err: Error, socket: Duplex, req: IncomingMessage) => {
      this.report(err, req)
      refuseUpgrade(socket, 400)
    })
  }

  /** Whether this acceptor serves the request's path. */
  matches (req: IncomingMessage): boolean {
    return this.options.path === undefined || pathOf(req.url) === this.options.path
  }

  /**
   * Complete the WebSocket handshake of an upgrade request this acceptor matches. Never throws:
   * a failure is reported; the socket is closed when `owned` (our own server), else left alone.
   */
  handle (req: IncomingMessage, socket: Duplex, head: Buffer, owned = false): void {
    if (socket.destroyed || (socket as Socket).bytesWritten > 0) {
      // Another upgrade listener (a websocket node on the same path) answered it first: not ours.
      this.report(new ListenerError('UPGRADE_TAKEN', `another handler answered the upgrade request for ${pathOf(req.url)}`), req)
      return
    }
    try {
      this.upgrade(req, socket, head)
    } catch (err) {
      this.report(err as Error, req)
      if (owned) socket.destroy() // on our own server nobody else will answer it
    }
  }

  private upgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.gate.isClosed) { refuseUpgrade(socket, 503); return }
    const offered = req.headers['sec-websocket-protocol']
    if (offered !== undefined && !offered.split(',').some(p => SUBPROTOCOLS.includes(p.trim()))) {
      // A client that offers subprotocols but not MQTT's is not an MQTT client [v3.1.1 MQTT-6.0.0-3 / v5 MQTT-6.0.0-3].
      this.report(new ListenerError('BAD_PROTOCOL', `WebSocket subprotocol ${offered} is not mqtt`), req)
      refuseUpgrade(socket, 400)
      return
    }
    this.wss.handleUpgrade(req, socket, head, (ws, request) => {
      const peer = this.peerOf(request)
      const stream = new WebSocketDuplex(ws)
      if (peer === undefined) { stream.destroy(); return }
      this.gate.accept(stream, peer)
    })
  }

  private peerOf (req: IncomingMessage): PeerInfo | undefined {
    const peer = requestPeer(req, this.options.transport, this.options.trustProxy)
    if (req.socket instanceof TLSSocket) {
      const cert = verifiedCertificate(req.socket)
      if (cert !== undefined) peer.certificate = cert
      if (this.options.useIdentityAsUsername === true) {
        const cn = cert !== undefined ? commonName(cert) : undefined
        if (cn === undefined) {
          this.report(new ListenerError('NO_CERTIFICATE_CN', 'the client certificate has no CN to use as user name'), req)
          return undefined
        }
        peer.username = cn
      }
    }
    return peer
  }

  private report (err: Error, req: IncomingMessage): void {
    this.options.onClientError?.(err, requestPeer(req, this.options.transport, this.options.trustProxy))
  }

  close (): void {
    this.wss.close()
  }
}
