import { createHash, timingSafeEqual } from 'node:crypto'
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
  /**
   * Optional read check at delivery (Mosquitto's read ACL): may `client` receive a message on
   * `topic`? Called synchronously for every message about to be delivered through a granted
   * subscription, and for each retained message sent on subscribe, so a broad granted filter
   * never leaks a topic the client may not read. Leave it out to allow every delivery.
   */
  authorizeRead? (client: AuthClient, topic: string): boolean
}

/** Accepts every client. */
export const allowAllAuthenticator: Authenticator = {
  authenticate: () => true,
}

/** Allows every publish, subscribe and delivery. */
export const allowAllAuthorizer: Authorizer = {
  authorizePublish: () => true,
  authorizeSubscribe: () => true,
  authorizeRead: () => true,
}

/** How a {@link UserTableAuthenticator} treats clients without an account. */
export interface UserTableOptions {
  /**
   * Let in clients that send no user name. When the table holds no account at all, credentials
   * are not checked and every client is treated as anonymous, as Mosquitto does with
   * `allow_anonymous true` and no password file. Default false.
   */
  allowAnonymous?: boolean
  /** Let in in-process clients (this process's own code) that give no user name, whatever `allowAnonymous` says. Default false. */
  trustLocal?: boolean
}

const digest = (b: Buffer): Buffer => createHash('sha256').update(b).digest()

/**
 * A username/password table, shared by the Node-RED broker node and the CLI. One rule for both:
 * with no accounts, credentials are not checked (anonymous setting decides); with accounts, a user
 * name that is given must name an account and carry its password, whatever the anonymous setting.
 * Passwords are compared in constant time, whatever their length and whether the user exists.
 */
export class UserTableAuthenticator implements Authenticator {
  private readonly users: Map<string, Buffer>
  private readonly allowAnonymous: boolean
  private readonly trustLocal: boolean
  /** Compared against when the user does not exist, so that an unknown name takes as long as a known one. */
  private readonly decoy = digest(Buffer.from('hearth: no such user'))

  constructor (users: Record<string, string>, options: UserTableOptions | boolean = {}) {
    const o = typeof options === 'boolean' ? { allowAnonymous: options } : options
    this.allowAnonymous = o.allowAnonymous ?? false
    this.trustLocal = o.trustLocal ?? false
    this.users = new Map(Object.entries(users).map(([u, p]) => [u, digest(Buffer.from(p, 'utf8'))]))
  }

  /** Whether any account is configured. */
  get hasAccounts (): boolean { return this.users.size > 0 }

  authenticate (req: AuthenticateRequest): AuthenticateResult {
    if (req.username === undefined || this.users.size === 0) {
      const ok = this.allowAnonymous || (this.trustLocal && req.kind === 'local')
      return ok ? { ok: true } : { ok: false, reasonCode: 0x87 }
    }
    const want = this.users.get(req.username)
    const same = timingSafeEqual(want ?? this.decoy, digest(req.password ?? Buffer.alloc(0)))
    return same && want !== undefined ? { ok: true } : { ok: false, reasonCode: 0x86 }
  }
}
