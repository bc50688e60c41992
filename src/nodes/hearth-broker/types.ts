/** The hearth-broker node: shared by the runtime and the editor (types and plain values only). */

export const TYPE = 'hearth-broker'

/**
 * How a listener is reached: MQTT over TCP, over TLS, over WebSocket or secure WebSocket on its own
 * port, or MQTT over WebSocket on Node-RED's own HTTP(S) server under a path (`nodered`).
 */
export const LISTENER_KINDS = ['mqtt', 'mqtts', 'ws', 'wss', 'nodered'] as const
export type ListenerKind = typeof LISTENER_KINDS[number]

/** At most this many listeners per broker node. */
export const MAX_LISTENERS = 16

/** One listener as stored in the flow. Numbers arrive as strings from the editor form. */
export interface ListenerConfig {
  kind: ListenerKind
  /** mqtt, mqtts, ws, wss: the TCP port (0 picks a free one). */
  port?: number | string
  /** mqtt, mqtts, ws, wss: the bind address; empty for every interface. */
  host?: string
  /** ws, wss: the only path served (empty for any); nodered: required, relative to httpNodeRoot. */
  path?: string
  /** mqtts, wss: every client must present a certificate signed by the TLS config's CA. */
  requireCertificate?: boolean
  /** mqtts, wss with requireCertificate: the certificate's CN is the client's user name. */
  useIdentityAsUsername?: boolean
  /** ws, wss, nodered: take the client's address from X-Forwarded-For (one trusted proxy). */
  trustProxy?: boolean
}

/** Who an ACL row is for: clients without a user name, one user, or every client (a pattern with %u / %c). */
export const ACL_WHO = ['anonymous', 'user', 'pattern'] as const
export type AclWho = typeof ACL_WHO[number]
export const ACL_ACCESS = ['read', 'write', 'readwrite', 'deny'] as const
export type AclRowAccess = typeof ACL_ACCESS[number]

/** One ACL rule as the editor's table shows it: a Mosquitto `topic` line (in a `user` block or not) or a `pattern` line. */
export interface AclRow {
  who: AclWho
  /** who = 'user': the user name. */
  user?: string
  access: AclRowAccess
  topic: string
}

/** The node's config as stored in the flow. Numbers arrive as strings from the editor form. */
export interface BrokerNodeConfig {
  name: string
  /** The listeners. Absent in flows saved before listeners existed: `port` and `host` are then the one TCP listener. */
  listeners?: ListenerConfig[]
  /** Flows saved before listeners existed: the TCP port. Now a copy of the first listener's port, for labels. */
  port: number | string
  /** Flows saved before listeners existed: the bind address. */
  host: string
  /** The id of a core `tls-config` node: certificate, key and CA of the mqtts and wss listeners. */
  tls: string
  /** Allowed protocol versions. */
  mqtt31: boolean
  mqtt311: boolean
  mqtt5: boolean
  allowAnonymous: boolean
  /** The accounts' user names, in order; their password hashes are in the credentials. Absent in older flows.
   *  (Not `users`: the editor keeps that name for the nodes using a config node.) */
  usernames?: string[]
  /** Check publish, subscribe and delivery against `acl`. */
  aclEnabled: boolean
  acl: AclRow[]
  maximumQoS: number | string
  retainAvailable: boolean
  /** Keep retained messages and sessions on disk (default on); off keeps them in memory. */
  persistence: boolean
  /** The folder for them; empty for `<userDir>/hearth/<node id>/`. Relative paths start at userDir. */
  persistenceDir: string
  /** 'always': on disk (fsync) before every acknowledgement; 'periodic': flushed every `persistenceFlushInterval` ms. */
  persistenceSync: 'always' | 'periodic' | ''
  /** Milliseconds between flushes with 'periodic'. */
  persistenceFlushInterval: number | string
  /** The broker's integer limits (see LIMIT_KEYS): empty for the broker's default. */
  [limit: string]: unknown
}

/**
 * The node's credentials. `userHashes` is written by the runtime only (password type: never sent
 * to the editor); `newPasswords` carries what the editor changed, once, to the runtime, which
 * hashes it into `userHashes` and drops it. `username`/`password` are the one account of flows
 * saved before the users table existed.
 */
export interface BrokerNodeCredentials {
  username: string
  password: string
  /** JSON: user name to a `$7$` (or imported `$6$`) hash. */
  userHashes: string
  /** JSON: user name to `{password}` (plain, to hash) or `{hash}` (imported from a password file). */
  newPasswords: string
}

/** A change the editor sends for one user in `newPasswords`. */
export type PasswordChange = { password: string } | { hash: string }

/**
 * The broker's integer limits the node exposes, in the editor's order. Their defaults and ranges
 * are the core's (INTEGER_OPTIONS); the editor receives them through the node setting below.
 */
export const LIMIT_KEYS = [
  'maxConnections', 'maxPendingPerAddress', 'maxConnectSize', 'connectTimeout', 'maxPacketSize',
  'maxInflight', 'receiveMaximum', 'maxQueuedMessages', 'maxQueuedBytes', 'maxOutgoingBytes',
  'maxKeepalive', 'topicAliasMaximum', 'maxSessionExpiryInterval', 'maxSessions',
  'maxSubscriptionsPerClient', 'maxRetainedMessages', 'maxRetainedBytes', 'maxTopicLevels', 'authFailureDelay', 'sysInterval', 'tickInterval',
] as const

/** The node setting (RED.settings in the editor) that carries the core's option table. */
export const OPTIONS_SETTING = 'hearthBrokerOptionRanges'

/** An integer option's default and range, as the core's INTEGER_OPTIONS holds it. */
export interface OptionRange { default: number, min: number, max: number }

/** The listener of a new node, and of flows saved before listeners existed (with their port and host). */
export const DEFAULT_LISTENER: ListenerConfig = { kind: 'mqtt', port: 1883, host: '' }

export const DEFAULTS = {
  name: '',
  listeners: [DEFAULT_LISTENER],
  port: 1883,
  host: '',
  tls: '',
  mqtt31: true,
  mqtt311: true,
  mqtt5: true,
  allowAnonymous: true,
  usernames: [] as string[],
  aclEnabled: false,
  acl: [] as AclRow[],
  maximumQoS: 2,
  retainAvailable: true,
  persistence: true,
  persistenceDir: '',
  persistenceSync: 'always' as const,
  persistenceFlushInterval: 1000,
}

/** Range of the node's own integer settings (not broker options). */
export const PORT_RANGE = { min: 0, max: 65535 }
export const FLUSH_RANGE = { min: 10, max: 3600000 }

/** Commands the node accepts in `msg.action`. */
export const ACTIONS = ['listClients', 'disconnect', 'publish', 'listRetained', 'clearRetained', 'stats'] as const
export type BrokerAction = typeof ACTIONS[number]

/** Events sent on the output, as `msg.topic`. */
export type BrokerEventName = 'clientConnected' | 'clientDisconnected' | 'subscribed' | 'unsubscribed' | 'messageDropped'

/** Parse an integer within [min, max]; undefined when it is not one (the shared reader). */
export { parseIntIn } from '../shared/values'

/** A bind address as the node accepts it: empty (every interface), an IP address or a host name. */
export function validHost (host: string): boolean {
  return /^[\w.:-]*$/.test(host)
}

/** A WebSocket path: starts with '/', no query, fragment or blank. */
export function validPath (path: string): boolean {
  return /^\/[^\s?#]*$/.test(path)
}

/** Does this listener use the TLS config? */
export function isSecure (kind: ListenerKind): boolean {
  return kind === 'mqtts' || kind === 'wss'
}

/** Does this listener carry MQTT over WebSocket? */
export function isWebSocket (kind: ListenerKind): boolean {
  return kind === 'ws' || kind === 'wss' || kind === 'nodered'
}

/** A user name the users table accepts: not empty, no ':' (the password file's separator), no control characters. */
export function validUserName (name: string): boolean {
  return name !== '' && !/[:\u0000-\u001f\u007f]/.test(name) && name.trim() === name
}

/** A path under Node-RED's httpNodeRoot, as core websocket nodes compute it. */
export function nodeRedPath (settings: { [key: string]: unknown }, path: string): string {
  const root = typeof settings.httpNodeRoot === 'string' && settings.httpNodeRoot !== '' ? settings.httpNodeRoot : '/'
  return root + (root.endsWith('/') ? '' : '/') + (path.startsWith('/') ? path.slice(1) : path)
}

/** The listeners of a node config: its own, or the one TCP listener of a flow saved before listeners existed. */
export function listenersOf (config: { [key: string]: unknown }): ListenerConfig[] {
  if (Array.isArray(config.listeners)) return config.listeners as ListenerConfig[]
  const port = config.port === undefined || config.port === '' ? DEFAULT_LISTENER.port : config.port as number | string
  const host = typeof config.host === 'string' ? config.host : ''
  return [{ kind: 'mqtt', port, host }]
}
