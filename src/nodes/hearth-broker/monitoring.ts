/**
 * The broker node's monitoring settings and the sidebar's wire format: plain values and types
 * shared by the runtime and the editor.
 */

/** The Prometheus endpoint on a port of its own: off unless `metrics` is ticked. */
export const METRICS_DEFAULTS = { metrics: false, metricsPort: 9234, metricsHost: '127.0.0.1' }

/** The comms topic a broker node's figures go out on, once a second while the sidebar watches. */
export const statsTopic = (id: string): string => `hearth/broker/${id}/stats`

/** Seconds the runtime keeps publishing figures and recording topics after the sidebar last asked. */
export const WATCH_SECONDS = 10
/** The sidebar asks again this often while it is open (ms). */
export const KEEPALIVE_MS = 3000
/** The topic tree keeps at most this many topics (the oldest seen goes first) ... */
export const MAX_TOPICS = 2000
/** ... and at most this many payload bytes of each message ... */
export const PREVIEW_BYTES = 256
/** ... and at most this many characters of topic names in all (a topic name may be 64 KiB long). */
export const MAX_TOPIC_CHARS = 256 * 1024
/** Points of the sidebar's plots: one a second, five minutes. */
export const HISTORY_POINTS = 300

/** One second of a broker's figures, as the sidebar plots them. */
export interface StatsFrame {
  id: string
  /** ms since the epoch. */
  time: number
  /** PUBLISH per second taken from clients / delivered to clients. */
  msgsIn: number
  msgsOut: number
  /** Payload bytes per second of those PUBLISH. */
  bytesIn: number
  bytesOut: number
  clients: number
  subscriptions: number
  retained: number
  dropped: number
}

/** A connected client, as the sidebar's table shows it (never a password). */
export interface ClientRow {
  clientId: string
  username: string
  address: string
  transport: string
  protocolVersion: number
  /** ms since the epoch. */
  connectedAt: number
  subscriptions: number
  inflight: number
  queued: number
  dropped: number
}

/** A payload preview: at most PREVIEW_BYTES, as text when it is UTF-8, else as hex. */
export interface Preview {
  text: string
  /** 'utf8' or 'hex'. */
  encoding: 'utf8' | 'hex'
  /** The whole payload's length in bytes. */
  bytes: number
  truncated: boolean
}

/** One topic the sidebar's tree shows. */
export interface TopicRow {
  topic: string
  /** Messages seen on it since recording started. */
  count: number
  /** ms since the epoch of the last one; 0 when only the retained value is known. */
  lastAt: number
  last?: Preview & { qos: number, retain: boolean }
  retained?: Preview & { qos: number }
}

/** The broker nodes of the running flows, for the sidebar's picker. */
export interface BrokerRow {
  id: string
  name: string
  running: boolean
  /** Why it does not run, translated. */
  failure?: string
}
