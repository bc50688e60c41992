import type { IncomingMessage } from 'node:http'
import type { PeerInfo } from '../broker'

export type ListenerProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss'

/** PEM text or its bytes. */
export type Pem = string | Buffer

/** TLS material and client-certificate rules of an mqtts or wss listener. */
export interface TlsSettings {
  /** The server's certificate chain (PEM). */
  cert: Pem
  /** The server's private key (PEM). */
  key: Pem
  /** Passphrase of an encrypted key. */
  keyPassphrase?: string
  /** CA certificate(s) client certificates are checked against (PEM). */
  ca?: Pem | Pem[]
  /**
   * Ask every client for a certificate signed by `ca` and refuse the TLS handshake without one
   * (Mosquitto's require_certificate). Default false: no client certificate is asked for.
   */
  requireCertificate?: boolean
  /**
   * The CN of the client certificate becomes the client's user name; the CONNECT's user name and
   * password are not used (Mosquitto's use_identity_as_username). Needs requireCertificate.
   */
  useIdentityAsUsername?: boolean
}

/** What a WebSocket handshake tells a `verifyClient` function (the `ws` package's, and Node-RED's webSocketNodeVerifyClient). */
export interface VerifyClientInfo { origin: string, secure: boolean, req: IncomingMessage }
export type VerifyClient =
  | ((info: VerifyClientInfo) => boolean)
  | ((info: VerifyClientInfo, callback: (result: boolean, code?: number, message?: string, headers?: Record<string, string>) => void) => void)

/** Called for a problem of one connection (a failed TLS handshake, a refused upgrade): worth a debug line, no more. */
export type ClientErrorHandler = (err: Error, peer: PeerInfo) => void

/** Options shared by listeners that accept connections and by WebSocket attachments. */
export interface AcceptOptions {
  /**
   * Bound of one WebSocket message, in bytes: pass the broker's maxPacketSize. Larger messages
   * close the connection (WebSocket close code 1009). Default 268435460 (the broker's default).
   */
  maxPacketSize?: number
  /** Connections that may wait while the broker loads; more are closed at once. Default 10000. */
  maxWaiting?: number
  /**
   * WebSocket only: take the client's address from the X-Forwarded-For header written by a
   * reverse proxy. true trusts one proxy (the last address of the header); a number N trusts N
   * proxies in a row. Default false: the header is ignored.
   */
  trustProxy?: boolean | number
  /** WebSocket only: decides whether a handshake is accepted (as the `ws` package's verifyClient). */
  verifyClient?: VerifyClient
  onClientError?: ClientErrorHandler
}

export interface ListenerOptions extends AcceptOptions {
  protocol: ListenerProtocol
  /** 0 picks a free port. */
  port: number
  /** Bind address. Default: every interface. */
  host?: string
  /** ws/wss: the only path accepted (e.g. '/mqtt'). Default: any path, as Mosquitto. */
  path?: string
  /** mqtts/wss: required. */
  tls?: TlsSettings
  /** Milliseconds a TLS handshake may take. Default 10000. */
  handshakeTimeout?: number
  /** Errors of the server after it is bound (not of one connection). Default: ignored. */
  onError?: (err: Error) => void
}

export interface AttachOptions extends AcceptOptions {
  /** The path MQTT clients connect to, e.g. '/mqtt' (exact match of the URL's path). */
  path: string
  /** Transport reported for these clients. Default 'wss' on an https server, 'ws' otherwise. */
  transport?: string
}
