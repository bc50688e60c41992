/*
 * A listener on its own port: MQTT over TCP, TLS, WebSocket or secure WebSocket. It binds at once
 * (port problems are reported before the broker has loaded), holds connections that arrive before
 * serve(broker), and closing it closes its clients too.
 */
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import tls from 'node:tls'
import type { Broker, PeerInfo } from '../broker'
import { ListenerError } from './errors'
import { Gate } from './gate'
import { commonName, socketPeer, verifiedCertificate } from './peer'
import { tlsServerOptions } from './tls-options'
import { WebSocketAcceptor, refuseUpgrade } from './websocket-acceptor'
import type { ListenerOptions, ListenerProtocol } from './types'

const PROTOCOLS: readonly ListenerProtocol[] = ['mqtt', 'mqtts', 'ws', 'wss']

/** Check what can be checked before binding; throws a ListenerError. */
export function checkListenerOptions (o: ListenerOptions): void {
  if (!PROTOCOLS.includes(o.protocol)) throw new ListenerError('BAD_PROTOCOL', `protocol must be one of ${PROTOCOLS.join(', ')}`)
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new ListenerError('BAD_PORT', 'port must be an integer from 0 to 65535')
  const web = o.protocol === 'ws' || o.protocol === 'wss'
  if (o.path !== undefined && (!web || !o.path.startsWith('/'))) {
    throw new ListenerError('BAD_PATH', web ? 'path must start with /' : 'path is for ws and wss listeners only')
  }
  const secure = o.protocol === 'mqtts' || o.protocol === 'wss'
  if (!secure && o.tls !== undefined) throw new ListenerError('TLS_NOT_ALLOWED', 'TLS settings are for mqtts and wss listeners only')
}

export class MqttListener {
  readonly protocol: ListenerProtocol
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number
  /** The bound address, as the system reports it ('::' or '0.0.0.0' for every interface). */
  readonly host: string
  readonly path: string | undefined
  private readonly sockets = new Set<net.Socket>()
  private closing: Promise<void> | undefined

  private constructor (
    options: ListenerOptions,
    private readonly server: net.Server,
    private readonly gate: Gate,
    private readonly acceptor: WebSocketAcceptor | undefined,
  ) {
    this.protocol = options.protocol
    this.path = options.path
    const addr = server.address() as net.AddressInfo
    this.port = addr.port
    this.host = addr.address
    server.on('error', (err) => options.onError?.(err))
  }

  /** Bind a listener; rejects with a ListenerError for bad options, or with the bind error (EADDRINUSE, EACCES, ...). */
  static async open (options: ListenerOptions): Promise<MqttListener> {
    checkListenerOptions(options)
    const gate = new Gate(options.maxWaiting)
    const secure = options.protocol === 'mqtts' || options.protocol === 'wss'
    const tlsOptions = secure ? tlsServerOptions(options.tls, options.handshakeTimeout) : undefined
    const identity = secure && options.tls?.useIdentityAsUsername === true
    const report = (err: Error, socket: net.Socket): void => options.onClientError?.(err, socketPeer(socket, options.protocol))
    let server: net.Server
    let acceptor: WebSocketAcceptor | undefined
    if (options.protocol === 'mqtt') {
      server = net.createServer({ noDelay: true }, (socket) => gate.accept(socket, socketPeer(socket, 'mqtt')))
    } else if (options.protocol === 'mqtts') {
      server = tls.createServer({ ...tlsOptions }, (socket) => {
        socket.setNoDelay(true)
        const peer = socketPeer(socket, 'mqtts')
        const cert = verifiedCertificate(socket)
        if (cert !== undefined) peer.certificate = cert
        if (identity) {
          const cn = cert !== undefined ? commonName(cert) : undefined
          if (cn === undefined) {
            report(new ListenerError('NO_CERTIFICATE_CN', 'the client certificate has no CN to use as user name'), socket)
            socket.destroy()
            return
          }
          peer.username = cn
        }
        gate.accept(socket, peer)
      })
    } else {
      const web = options.protocol === 'wss' ? https.createServer({ ...tlsOptions }) : http.createServer()
      acceptor = new WebSocketAcceptor(gate, { ...options, transport: options.protocol, useIdentityAsUsername: identity })
      const a = acceptor
      web.on('request', (_req, res) => {
        res.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end()
      })
      web.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
        if (a.matches(req)) a.handle(req, socket, head, true)
        else refuseUpgrade(socket, 404)
      })
      web.on('clientError', (err: Error, socket: net.Socket) => {
        report(err, socket)
        socket.destroy()
      })
      server = web
    }
    // Handshake failures concern one client: reported, never a server error. The TLS socket may be
    // gone already (the client hung up): its address is then the one noted when the TCP socket came.
    const rawPeers = new WeakMap<net.Socket, PeerInfo>()
    if (secure) {
      server.prependListener('connection', (raw: net.Socket) => rawPeers.set(raw, socketPeer(raw, options.protocol)))
      server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
        const under = (socket as unknown as { _parent?: net.Socket | null })._parent
        const peer = socket.remoteAddress === undefined && under ? rawPeers.get(under) : undefined
        options.onClientError?.(err, peer ?? socketPeer(socket, options.protocol))
      })
    }
    await new Promise<void>((resolve, reject) => {
      const onListenError = (err: Error): void => { server.off('listening', onListening); reject(err) }
      const onListening = (): void => { server.off('error', onListenError); resolve() }
      server.once('error', onListenError)
      server.once('listening', onListening)
      server.listen(options.port, options.host)
    })
    const listener = new MqttListener(options, server, gate, acceptor)
    // A plain TCP socket is itself the stream the gate tracks; under TLS and WebSocket the raw socket is tracked
    // from the start, so that closing the listener also cuts a handshake in progress.
    if (options.protocol !== 'mqtt') server.on('connection', (socket: net.Socket) => listener.track(socket))
    return listener
  }

  /** The URL clients use, e.g. mqtts://127.0.0.1:8883 or ws://[::]:8080/mqtt. */
  get url (): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host
    return `${this.protocol}://${host}:${this.port}${this.path ?? ''}`
  }

  /** Connections open through this listener (waiting or served). */
  get connections (): number { return this.gate.size }

  /** From now on connections go to `broker`, starting with those that waited. */
  serve (broker: Broker): void {
    this.gate.serve(broker)
  }

  /**
   * Stop accepting, close every client of this listener (ended, then cut after a short grace) and
   * any handshake in progress; resolves once the port is free.
   */
  close (): Promise<void> {
    if (this.closing === undefined) {
      const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()))
      this.acceptor?.close()
      // Once the clients had their grace, cut what is left: handshakes in progress, lingering sockets.
      const clientsClosed = this.gate.close().then(() => { for (const s of this.sockets) s.destroy() })
      this.closing = Promise.all([serverClosed, clientsClosed]).then(() => undefined)
    }
    return this.closing
  }

  private track (socket: net.Socket): void {
    this.sockets.add(socket)
    ;(socket as TrackedSocket)[TRACKED_IN] = this.sockets
    socket.on('close', onTrackedClose) // a shared listener: a closure and a once-wrapper per socket cost about 250 bytes
  }
}

const TRACKED_IN = Symbol('hearth.listener-sockets')
type TrackedSocket = net.Socket & { [TRACKED_IN]?: Set<net.Socket> }
function onTrackedClose (this: net.Socket): void { (this as TrackedSocket)[TRACKED_IN]?.delete(this) }
