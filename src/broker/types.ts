import type { Duplex } from 'node:stream'

export type QoS = 0 | 1 | 2
export type ProtocolVersion = 3 | 4 | 5
export type UserProperties = Record<string, string | string[]>

/** The MQTT 5 application properties a PUBLISH (or a will) carries end to end. */
export interface MessageProperties {
  payloadFormatIndicator?: boolean
  /** Seconds. On delivery the broker sends what is left of it [MQTT-3.3.2-6]. */
  messageExpiryInterval?: number
  contentType?: string
  responseTopic?: string
  correlationData?: Buffer
  userProperties?: UserProperties
}

/** An application message, as the broker routes it and as in-process clients see it. */
export interface Message {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  properties?: MessageProperties
}

/** A message delivered to an in-process client. */
export interface DeliveredMessage extends Message {
  /** Subscription identifiers of every matching subscription (MQTT 5). */
  subscriptionIdentifiers?: number[]
  /** True when the broker resends a message the client has not acknowledged. */
  dup: boolean
  /**
   * The subscriptions (filters as the client subscribed them) this delivery matched, when the
   * broker knows them (live deliveries): the client need not match the topic again.
   */
  filters?: string[]
  /** With `manualAck`, on QoS 1/2 deliveries: the identifier to acknowledge it by. */
  packetId?: number
}

export interface WillMessage extends Message {
  /** Seconds to wait after the connection closes before publishing (MQTT 5). */
  delayInterval?: number
}

export interface SubscriptionOptions {
  topic: string
  qos: QoS
  /** No Local (MQTT 5) */
  nl?: boolean
  /** Retain As Published (MQTT 5) */
  rap?: boolean
  /** Retain Handling 0/1/2 (MQTT 5) */
  rh?: 0 | 1 | 2
  /** Subscription identifier (MQTT 5) */
  subscriptionIdentifier?: number
}

/**
 * What a listener knows about the peer of a stream it hands to `Broker.handle()`. A plain TCP or
 * TLS socket is read directly; a WebSocket (or a proxied) stream should say who is on the other end.
 */
export interface PeerInfo {
  /** The peer's address (for WebSocket behind a trusted proxy, the forwarded client address). */
  remoteAddress?: string
  remotePort?: number
  /** How the client reached the broker: 'mqtt', 'mqtts', 'ws', 'wss', or a listener's own name. */
  transport?: string
  /** The client's TLS certificate, when the listener asked for one. */
  certificate?: import('node:tls').PeerCertificate
  /**
   * An identity the listener has verified itself (a client certificate's CN, as Mosquitto's
   * use_identity_as_username): it replaces the CONNECT's user name, the password is not used and
   * the authenticator is not asked; authorisation and ClientInfo see this name.
   */
  username?: string
}

export interface ClientInfo {
  clientId: string
  username?: string
  protocolVersion: ProtocolVersion
  /** 'network' for socket clients, 'local' for in-process clients. */
  kind: 'network' | 'local'
  remoteAddress?: string
  remotePort?: number
  /** 'local' for in-process clients; for network clients the listener's transport ('mqtt' when not told). */
  transport: string
  connectedAt: number
  keepalive: number
  cleanStart: boolean
  sessionExpiryInterval: number
  subscriptions: number
  inflight: number
  queued: number
}

/**
 * Broker options. Every limit has a default suited to a Raspberry Pi on a home network; the
 * defaults and accepted ranges are in `INTEGER_OPTIONS` (src/broker/options.ts) and the README.
 */
export interface BrokerOptions {
  /** Simultaneous connections, network and in-process, including sockets still waiting for CONNECT. Default 1000. */
  maxConnections?: number
  /** Sockets from one remote address that have not completed CONNECT. Default 32. */
  maxPendingPerAddress?: number
  /** Largest first packet (CONNECT), in bytes; anything else first closes the socket. Default 65536. */
  maxConnectSize?: number
  /** Milliseconds a socket may stay without completing CONNECT. Default 10000. */
  connectTimeout?: number
  /** Largest packet the broker accepts, in bytes. Default 2 MiB. */
  maxPacketSize?: number
  /** Outgoing QoS 1/2 messages in flight per 3.x client. Default 100. */
  maxInflight?: number
  /** Receive Maximum the broker announces to MQTT 5 clients. Default 32. */
  receiveMaximum?: number
  /** Messages queued per session (offline or flow-controlled). Default 1000. */
  maxQueuedMessages?: number
  /** Payload bytes queued per session. Default 8 MiB. */
  maxQueuedBytes?: number
  /** Bytes buffered toward one socket before QoS 0 messages are dropped and reading pauses. Default 1 MiB. */
  maxOutgoingBytes?: number
  /** Largest keepalive accepted, in seconds; 0 means no limit. Default 0. */
  maxKeepalive?: number
  /** Highest QoS the broker grants. Default 2. */
  maximumQoS?: QoS
  /** Whether retained messages are supported. Default true. */
  retainAvailable?: boolean
  /** Topic Alias Maximum announced to MQTT 5 clients (inbound aliases). Default 10. */
  topicAliasMaximum?: number
  /** Assign outbound topic aliases to MQTT 5 clients that accept them. Default true. */
  outboundTopicAliases?: boolean
  /** Allowed protocol versions. Default [3, 4, 5]. */
  protocols?: ProtocolVersion[]
  /** Longest a session outlives its connection, in seconds. Default 1209600 (14 days). */
  maxSessionExpiryInterval?: number
  /** Sessions kept, connected or not. Default 1000. */
  maxSessions?: number
  /** Subscriptions per client. Default 10000. */
  maxSubscriptionsPerClient?: number
  /** Retained messages kept. Default 50000. */
  maxRetainedMessages?: number
  /** Bytes of retained messages kept (topic and payload). Default 32 MiB. */
  maxRetainedBytes?: number
  /** Most levels in a topic name or filter, from any client. Default 128. */
  maxTopicLevels?: number
  /** Milliseconds before a refused login is answered; refusals to one address are spaced this far apart. Default 1000. */
  authFailureDelay?: number
  /** Seconds between updates of the $SYS tree (Mosquitto's topics, retained, never persisted); 0 turns it off. Default 10. */
  sysInterval?: number
  /** Internal timer resolution in milliseconds (keepalive, expiry, will delay). Default 1000. */
  tickInterval?: number
  /** Persistence backend. Default: in-memory. */
  persistence?: import('./persistence').Persistence
  /** Authentication hook. Default: accept everyone. */
  authenticate?: import('./auth').Authenticator
  /** Authorisation hook. Default: allow everything. */
  authorize?: import('./auth').Authorizer
  /** Prefix for broker-assigned client identifiers (followed by 24 random hex digits). Default 'hearth-'. */
  assignedClientIdPrefix?: string
}

export type DropReason =
  | 'queue-full'        // the session's offline/flow-control queue was full
  | 'slow-consumer'     // a QoS 0 message for a socket that could not keep up
  | 'packet-too-large'  // larger than the client's Maximum Packet Size
  | 'expired'           // Message Expiry Interval passed before delivery
  | 'not-authorized'    // publish refused by the authoriser
  | 'retained-limit'    // a retained message beyond maxRetainedMessages or maxRetainedBytes
  | 'queue-bytes'       // the session's queue held maxQueuedBytes
  | 'persistence-full'  // the persistent store refused it (its size or unwritten-buffer bound was reached)

export interface BrokerEvents {
  clientConnected: [info: ClientInfo]
  clientDisconnected: [info: { clientId: string, reason: string, reasonCode?: number, username?: string, remoteAddress?: string }]
  subscribed: [info: { clientId: string, subscriptions: SubscriptionOptions[] }]
  unsubscribed: [info: { clientId: string, topics: string[] }]
  messageDropped: [info: { clientId: string, topic: string, qos: QoS, reason: DropReason }]
  /** Non-fatal problems worth logging (persistence write failures, client errors). */
  warning: [info: { message: string, clientId?: string, error?: Error }]
}

export interface BrokerStats {
  connections: number
  sessions: number
  subscriptions: number
  retained: number
  messagesReceived: number
  messagesSent: number
  bytesReceived: number
  bytesSent: number
  dropped: number
}

/** Options for an in-process client. They mirror a CONNECT packet. */
export interface LocalConnectOptions {
  clientId?: string
  protocolVersion?: 4 | 5
  /** Clean session (3.1.1) / Clean Start (5). Default true. */
  clean?: boolean
  /** Session expiry in seconds (5); with 3.1.1 semantics a non-clean session never expires. */
  sessionExpiryInterval?: number
  keepalive?: number
  username?: string
  password?: Buffer | string
  will?: WillMessage
  /**
   * Acknowledge QoS 1/2 deliveries explicitly, as a network client does: each carries a
   * `packetId` and stays in flight in the session (persisted with it) until `puback(packetId)`
   * (QoS 1) or `pubrec(packetId)` then `pubcomp(packetId)` (QoS 2). What is not acknowledged comes
   * again with `dup` when the session resumes, and a QoS 2 message already received comes back as a
   * 'pubrel' event. Default false: a delivery is acknowledged once the 'message' listeners return.
   */
  manualAck?: boolean
  /** With `manualAck`: QoS 1/2 deliveries in flight at once (the client's Receive Maximum). Default 100. */
  receiveMaximum?: number
}

export type Stream = Duplex
