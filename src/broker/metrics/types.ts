/** The public shape of the broker's figures: `Broker.metrics()` returns one of these. */
import type { DropReason } from '../types'
import type { DurationStats } from '../persistence-file/options'

/** MQTT control packet types, as counted per direction. */
export type PacketType =
  | 'connect' | 'connack' | 'publish' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'subscribe' | 'suback'
  | 'unsubscribe' | 'unsuback' | 'pingreq' | 'pingresp' | 'disconnect' | 'auth'

/** A Mosquitto-style load figure: the per-minute rate, exponentially averaged over 1, 5 and 15 minutes. */
export interface LoadAverage { '1min': number, '5min': number, '15min': number }

/** Per listener (the transport a connection arrived through: 'mqtt', 'mqtts', 'ws', 'wss' or a listener's name). */
export interface ListenerMetrics {
  name: string
  /** Connected clients now. */
  connections: number
  /** Network connections (sockets) opened since start. */
  socketsOpened: number
  bytesReceived: number
  bytesSent: number
}

/** The event loop's delay over the last window (about 10 s), in seconds. */
export interface EventLoopDelay {
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
  /** Length of the window the figures cover, seconds. */
  window: number
}

/** The file store's figures (FilePersistence only). */
export interface PersistenceMetrics {
  fileBytes: number
  liveBytes: number
  pendingBytes: number
  /** Distinct messages stored. */
  messages: number
  compactions: number
  refused: number
  /** Batches written to the log, and how long each write took. */
  write: DurationStats
  /** fdatasyncs of the log, and how long each took. */
  fsync: DurationStats
}

/**
 * Every figure the broker keeps, at one moment. Counters count from the broker's start; "now"
 * figures are gauges. In-process clients exchange no packets: they appear in `clients`,
 * `sessions`, and the `publish` counters, not in `packets`, `messages` or `bytes`.
 */
export interface BrokerMetrics {
  version: string
  /** When the figures were taken, ms since the epoch. */
  time: number
  /** Seconds since the broker started. */
  uptime: number
  clients: {
    /** Connected now (network and in-process). */
    connected: number
    /** Sessions kept for clients that are not connected. */
    disconnected: number
    /** Connected and disconnected: every session the broker holds. */
    total: number
    /** Most clients connected at once since start. */
    maximum: number
    /** Sessions that expired since start. */
    expired: number
    /** Sockets open and still waiting for CONNECT. */
    pending: number
  }
  listeners: ListenerMetrics[]
  /** Subscriptions without the shared ones (as Mosquitto's subscriptions/count), and shared subscriptions (one per group member). */
  subscriptions: number
  sharedSubscriptions: number
  /** Retained messages that count against maxRetainedMessages/maxRetainedBytes (topic + payload bytes), and the broker's own $SYS values. */
  retained: { messages: number, bytes: number, sys: number }
  /** Messages waiting in session queues (payload bytes), and QoS 1/2 messages in flight. */
  queued: { messages: number, bytes: number }
  inflight: { messages: number, bytes: number }
  /**
   * Mosquitto's message store (store/messages/count, bytes): retained messages ($SYS values too;
   * topic and payload bytes) and the messages queued or in flight (payload bytes), counted per session.
   */
  store: { messages: number, bytes: number }
  /** Every MQTT packet, of any type, received and sent (Mosquitto's messages/received, messages/sent). */
  messages: { received: number, sent: number }
  packets: { received: Record<PacketType, number>, sent: Record<PacketType, number> }
  /** PUBLISH only, network and in-process; bytes are payload bytes. `dropped` counts every drop. */
  publish: { received: number, sent: number, dropped: number, bytesReceived: number, bytesSent: number }
  /** Network bytes. */
  bytes: { received: number, sent: number }
  dropped: Record<DropReason, number>
  /** Logins refused by the authenticator. */
  authFailures: number
  load: {
    messagesReceived: LoadAverage
    messagesSent: LoadAverage
    publishReceived: LoadAverage
    publishSent: LoadAverage
    publishDropped: LoadAverage
    bytesReceived: LoadAverage
    bytesSent: LoadAverage
    sockets: LoadAverage
    connections: LoadAverage
  }
  /** V8 heap in use by the whole process (with Node-RED, all of Node-RED), and the most seen. */
  heap: { current: number, maximum: number }
  /** Present while the event loop is watched (the $SYS tree is on, or metrics are served). */
  eventLoopDelay?: EventLoopDelay
  /** Present with FilePersistence. */
  persistence?: PersistenceMetrics
}
