import type { QoS } from '../broker'

/** Which way a topic rule carries messages: `in` from the remote broker, `out` to it, or `both`. */
export type BridgeDirection = 'in' | 'out' | 'both'

/**
 * One topic rule, as Mosquitto's `topic pattern [[[out | in | both] qos-level] local-prefix remote-prefix]`.
 * Outgoing: the bridge subscribes locally to localPrefix + pattern and publishes at the remote with
 * the local prefix replaced by the remote one. Incoming: it subscribes at the remote to
 * remotePrefix + pattern and publishes locally with the remote prefix replaced by the local one.
 * An empty pattern maps one topic: localPrefix locally is remotePrefix at the remote.
 */
export interface BridgeTopic {
  /** A topic filter (wildcards allowed), or '' to map the single topic localPrefix <-> remotePrefix. */
  pattern: string
  /** Default 'out'. */
  direction?: BridgeDirection
  /** QoS of the bridge's subscriptions for this rule (messages go at most at this QoS). Default 0. */
  qos?: QoS
  /** Default ''. */
  localPrefix?: string
  /** Default ''. */
  remotePrefix?: string
}

/** A file path (read when the bridge is created) or the PEM text itself as a Buffer. */
export type PemSource = string | Buffer

/**
 * A bridge to a remote broker: the shape of one entry of the CLI's `bridges` and of the broker
 * node's bridges. Only `name`, `url` and `topics` are required; defaults are Mosquitto's.
 */
export interface BridgeConfig {
  /** Names the bridge in messages, and in the default client id. */
  name: string
  /** mqtt://host[:1883], mqtts://host[:8883], ws://host[:80]/path, wss://host[:443]/path. */
  url: string
  /** 3 (MQTT 3.1), 4 (3.1.1) or 5. Left out: 5, then 4 if the remote refuses 5. */
  protocolVersion?: 3 | 4 | 5
  /** Client id at the remote. Default '<name>.<hostname>' (Mosquitto's remote_clientid). */
  clientId?: string
  username?: string
  password?: string
  /** Default false: a persistent session at the remote (and locally). */
  cleanSession?: boolean
  /** Seconds, 5 to 65535. Default 60. */
  keepalive?: number
  /** CA certificate(s) the remote's certificate must chain to (mqtts, wss). Default: the system's. */
  ca?: PemSource
  /** Client certificate, for a remote that asks for one (mqtts, wss). */
  cert?: PemSource
  /** Private key of `cert`. */
  key?: PemSource
  keyPassphrase?: string
  /** Check the remote's certificate and host name. Default true. */
  rejectUnauthorized?: boolean
  /** 3.1/3.1.1: connect with the bridge bit (protocol level 0x83/0x84), Mosquitto's try_private. Default true. */
  tryPrivate?: boolean
  /** Publish the bridge state ('1'/'0', retained) locally and at the remote. Default true. */
  notifications?: boolean
  /** Publish the state locally only. Default false. */
  notificationsLocalOnly?: boolean
  /** Default '$SYS/broker/connection/<clientId>/state'. */
  notificationTopic?: string
  /** Client id of the bridge's in-process side. Default 'local.<clientId>' (Mosquitto's local_clientid). */
  localClientId?: string
  /**
   * Seconds to wait before reconnecting: a constant, or [base, cap] for a growing random wait
   * (Mosquitto's restart_timeout). Default [5, 30].
   */
  restartTimeout?: number | [number, number]
  topics: BridgeTopic[]
}

export type BridgeState = 'connecting' | 'connected' | 'disconnected' | 'closed'

/** Why the link is down, or went down. */
export interface BridgeProblem {
  code: import('./errors').BridgeErrorCode
  message: string
  /** The remote's reason code (CONNACK, DISCONNECT), when it gave one. */
  reasonCode?: number
}

/** What `bridge.status()` and the 'state' event report. */
export interface BridgeStatus {
  name: string
  state: BridgeState
  url: string
  clientId: string
  localClientId: string
  /** The protocol level used (or being tried). */
  protocolVersion: 3 | 4 | 5
  /** Since when the bridge is in this state (ms since the epoch). */
  since: number
  /** connected: whether the remote still had the bridge's session. */
  sessionPresent?: boolean
  /** The last problem, kept until the next successful connection. */
  lastError?: BridgeProblem
  /** disconnected: when the next attempt is due (ms since the epoch). */
  retryAt?: number
  /** Messages published locally from the remote, and at the remote from here. */
  messagesIn: number
  messagesOut: number
  /** Messages that crossed no rule, could not be sent (QoS 0 while away, too large) or were refused. */
  dropped: number
  /** Outgoing messages held by the bridge: waiting for the link, or sent and not yet acknowledged. */
  pending: number
  /** Outgoing messages waiting behind those in the bridge's local session (bounded by maxQueuedMessages). */
  queued: number
}

export interface BridgeWarning {
  message: string
  error?: Error
}

export interface BridgeEvents {
  state: [status: BridgeStatus]
  warning: [warning: BridgeWarning]
}
