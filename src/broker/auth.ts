import { timingSafeEqual } from 'node:crypto'
import type { PeerCertificate } from 'node:tls'
import type { ProtocolVersion, QoS } from './types'

/** What the broker knows about a client when it asks for authentication. */
export interface AuthenticateRequest {
  clientId: string
  username?: string
  password?: Buffer
  protocolVersion: ProtocolVersion
  kind: 'network' | 'local'
  remoteAddress?: string
  /** The TLS peer certificate, when the listener asked for one. */
  certificate?: PeerCertificate
}

/** The answer to an authentication request. */
export interface AuthenticateResult {
  ok: boolean
  /** MQTT 5 CONNACK reason code when refused (default 0x86 Bad User Name or Password). */
  reasonCode?: number
}

/** The identity an authoriser sees. */
export interface AuthClient {
  clientId: string
  username?: string
  kind: 'network' | 'local'
}

/**
 * Decides whether a client may connect.
 * Implementations must pass `test/conformance/auth.suite.ts`.
 */
export interface Authenticator {
  /**
   * Called once per CONNECT, before any session state is touched. Return `true`/`false` or a
   * result with a reason code; a Promise is awaited. A thrown error refuses with 0x80.
   */
  authenticate (request: AuthenticateRequest): boolean | AuthenticateResult | Promise<boolean | AuthenticateResult>
}

/**
 * Decides what a connected client may do, per topic.
 * Implementations must pass `test/conformance/auth.suite.ts`.
 */
export interface Authorizer {
  /** May `client` publish to `topic`? Called for every PUBLISH and for the will at CONNECT. */
  authorizePublish (client: AuthClient, topic: string, qos: QoS): boolean | Promise<boolean>
  /**
   * May `client` subscribe to `filter` (for shared subscriptions, the filter without `$share/group/`)?
   * Return false to refuse, true to grant the requested QoS, or a lower QoS to grant that.
   */
  authorizeSubscribe (client: AuthClient, filter: string, qos: QoS): boolean | QoS | Promise<boolean | QoS>
}

/** Accepts every client. */
export const allowAllAuthenticator: Authenticator = {
  authenticate: () => true,
}

/** Allows every publish and subscribe. */
export const allowAllAuthorizer: Authorizer = {
  authorizePublish: () => true,
  authorizeSubscribe: () => true,
}

/**
 * A username/password table, for the Node-RED node and the CLI's config file.
 * Passwords are compared in constant time.
 */
export class UserTableAuthenticator implements Authenticator {
  private users: Map<string, Buffer>
  constructor (users: Record<string, string>, private allowAnonymous = false) {
    this.users = new Map(Object.entries(users).map(([u, p]) => [u, Buffer.from(p, 'utf8')]))
  }

  authenticate (req: AuthenticateRequest): AuthenticateResult {
    if (req.username === undefined) return { ok: this.allowAnonymous, reasonCode: 0x87 }
    const want = this.users.get(req.username)
    const got = req.password ?? Buffer.alloc(0)
    if (!want) return { ok: false, reasonCode: 0x86 }
    const ok = want.length === got.length && timingSafeEqual(want, got)
    return ok ? { ok: true } : { ok: false, reasonCode: 0x86 }
  }
}
