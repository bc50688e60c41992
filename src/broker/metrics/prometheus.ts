/*
 * The broker's figures in the Prometheus text exposition format (version 0.0.4): `hearth_`
 * prefix, counters ending in `_total`, base units (seconds, bytes), and only low-cardinality
 * labels: the constant labels the caller gives (which broker node) and `listener`, `type` (packet
 * type) and `reason` (drop reason), whose values are fixed sets.
 */
import { DROP_REASONS } from './counters'
import type { BrokerMetrics, PacketType } from './types'
import type { DurationStats } from '../persistence-file/options'
import { HearthError } from '../errors'

/** The Content-Type of what renderPrometheus returns. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

type Labels = Record<string, string>
type Kind = 'counter' | 'gauge' | 'histogram'

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Packet types a broker receives from clients, and those it sends. */
const RECEIVED: readonly PacketType[] = ['connect', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'unsubscribe', 'pingreq', 'disconnect', 'auth']
const SENT: readonly PacketType[] = ['connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'suback', 'unsuback', 'pingresp', 'disconnect', 'auth']

function escapeLabel (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function formatValue (v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

class Exposition {
  private readonly lines: string[] = []
  private readonly constant: string

  constructor (labels: Labels) {
    for (const name of Object.keys(labels)) {
      if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new HearthError('HEARTH_BAD_LABEL', `invalid Prometheus label name '${name}'`)
      if (typeof labels[name] !== 'string') throw new HearthError('HEARTH_BAD_LABEL', `Prometheus label '${name}' must be a string`)
    }
    this.constant = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')
  }

  family (name: string, kind: Kind, help: string): this {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${kind}`)
    return this
  }

  sample (name: string, value: number, labels?: Labels): this {
    const own = labels === undefined ? '' : Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')
    const all = this.constant === '' ? own : own === '' ? this.constant : `${this.constant},${own}`
    this.lines.push(`${name}${all === '' ? '' : `{${all}}`} ${formatValue(value)}`)
    return this
  }

  /** One family with one sample. */
  one (name: string, kind: Kind, help: string, value: number): this {
    return this.family(name, kind, help).sample(name, value)
  }

  histogram (name: string, help: string, h: DurationStats): this {
    this.family(name, 'histogram', help)
    h.bounds.forEach((le, i) => this.sample(`${name}_bucket`, h.buckets[i], { le: String(le) }))
    this.sample(`${name}_bucket`, h.count, { le: '+Inf' })
    this.sample(`${name}_sum`, h.sum)
    return this.sample(`${name}_count`, h.count)
  }

  text (): string { return this.lines.join('\n') + '\n' }
}

/**
 * Render a broker's figures for a Prometheus scrape. `labels` are added to every series (for
 * example `{ node: 'living room' }` to tell brokers apart); a name that is not a valid label
 * name, or a value that is not a string, throws a HearthError with code HEARTH_BAD_LABEL.
 */
export function renderPrometheus (broker: { metrics (): BrokerMetrics }, labels: Labels = {}): string {
  const m = broker.metrics()
  const e = new Exposition(labels)

  e.family('hearth_info', 'gauge', 'Hearth broker version (always 1).').sample('hearth_info', 1, { version: m.version })
  e.one('hearth_uptime_seconds', 'gauge', 'Seconds since the broker started.', m.uptime)

  e.family('hearth_connected_clients', 'gauge', 'Clients connected now, by listener (local: in-process clients).')
  for (const l of m.listeners) e.sample('hearth_connected_clients', l.connections, { listener: l.name })
  e.one('hearth_pending_connections', 'gauge', 'Network connections open and still waiting for CONNECT.', m.clients.pending)
  e.one('hearth_clients_maximum', 'gauge', 'Most clients connected at once since the broker started.', m.clients.maximum)
  e.one('hearth_sessions', 'gauge', 'Sessions held, for connected and disconnected clients.', m.clients.total)
  e.one('hearth_sessions_disconnected', 'gauge', 'Sessions kept for clients that are not connected.', m.clients.disconnected)
  e.one('hearth_sessions_expired_total', 'counter', 'Sessions that expired (Session Expiry Interval) since the broker started.', m.clients.expired)
  e.one('hearth_subscriptions', 'gauge', 'Subscriptions, without the shared ones.', m.subscriptions)
  e.one('hearth_shared_subscriptions', 'gauge', 'Shared subscriptions ($share/...).', m.sharedSubscriptions)
  e.one('hearth_retained_messages', 'gauge', 'Retained messages (without the broker\'s own $SYS values), as maxRetainedMessages counts them.', m.retained.messages)
  e.one('hearth_retained_bytes', 'gauge', 'Topic and payload bytes of the retained messages, as maxRetainedBytes counts them.', m.retained.bytes)
  e.one('hearth_queued_messages', 'gauge', 'Messages waiting in session queues.', m.queued.messages)
  e.one('hearth_queued_bytes', 'gauge', 'Payload bytes waiting in session queues.', m.queued.bytes)
  e.one('hearth_inflight_messages', 'gauge', 'QoS 1 and 2 messages sent and not yet acknowledged.', m.inflight.messages)

  e.family('hearth_connections_total', 'counter', 'Network connections opened, by listener.')
  for (const l of m.listeners) if (l.name !== 'local') e.sample('hearth_connections_total', l.socketsOpened, { listener: l.name })
  e.family('hearth_received_bytes_total', 'counter', 'Bytes received from network clients, by listener.')
  for (const l of m.listeners) if (l.name !== 'local') e.sample('hearth_received_bytes_total', l.bytesReceived, { listener: l.name })
  e.family('hearth_sent_bytes_total', 'counter', 'Bytes sent to network clients, by listener.')
  for (const l of m.listeners) if (l.name !== 'local') e.sample('hearth_sent_bytes_total', l.bytesSent, { listener: l.name })

  e.family('hearth_packets_received_total', 'counter', 'MQTT packets received from network clients, by packet type.')
  for (const t of RECEIVED) e.sample('hearth_packets_received_total', m.packets.received[t], { type: t })
  e.family('hearth_packets_sent_total', 'counter', 'MQTT packets sent to network clients, by packet type.')
  for (const t of SENT) e.sample('hearth_packets_sent_total', m.packets.sent[t], { type: t })

  e.one('hearth_publish_received_total', 'counter', 'PUBLISH taken from clients, network and in-process.', m.publish.received)
  e.one('hearth_publish_sent_total', 'counter', 'PUBLISH delivered to clients, network and in-process (resends included).', m.publish.sent)
  e.one('hearth_publish_received_bytes_total', 'counter', 'Payload bytes of the PUBLISH taken from clients.', m.publish.bytesReceived)
  e.one('hearth_publish_sent_bytes_total', 'counter', 'Payload bytes of the PUBLISH delivered to clients.', m.publish.bytesSent)
  e.family('hearth_messages_dropped_total', 'counter', 'Messages dropped, by reason.')
  for (const r of DROP_REASONS) e.sample('hearth_messages_dropped_total', m.dropped[r], { reason: r })
  e.one('hearth_auth_failures_total', 'counter', 'Logins refused by the authenticator (or failed with an error).', m.authFailures)

  e.one('hearth_heap_used_bytes', 'gauge', 'V8 heap in use by the whole process.', m.heap.current)
  const d = m.eventLoopDelay
  if (d !== undefined) {
    e.one('hearth_event_loop_delay_p50_seconds', 'gauge', 'Median event loop delay over the last window (about 10 s).', d.p50)
    e.one('hearth_event_loop_delay_p90_seconds', 'gauge', '90th percentile of the event loop delay over the last window.', d.p90)
    e.one('hearth_event_loop_delay_p99_seconds', 'gauge', '99th percentile of the event loop delay over the last window.', d.p99)
    e.one('hearth_event_loop_delay_max_seconds', 'gauge', 'Largest event loop delay over the last window.', d.max)
    e.one('hearth_event_loop_delay_mean_seconds', 'gauge', 'Mean event loop delay over the last window.', d.mean)
  }
  const p = m.persistence
  if (p !== undefined) {
    e.histogram('hearth_persistence_write_duration_seconds', 'Time to write one batch of records to the log.', p.write)
    e.histogram('hearth_persistence_fsync_duration_seconds', 'Time of one fdatasync of the log.', p.fsync)
    e.one('hearth_persistence_file_bytes', 'gauge', 'Size of the current log file.', p.fileBytes)
    e.one('hearth_persistence_live_bytes', 'gauge', 'Approximate size of the live state (what maxStoreBytes bounds).', p.liveBytes)
    e.one('hearth_persistence_pending_bytes', 'gauge', 'Records made and not yet written (what maxPendingBytes bounds).', p.pendingBytes)
    e.one('hearth_persistence_messages', 'gauge', 'Distinct messages in the store.', p.messages)
    e.one('hearth_persistence_compactions_total', 'counter', 'Compactions of the log.', p.compactions)
    e.one('hearth_persistence_refused_total', 'counter', 'Additions refused because a bound of the store was reached.', p.refused)
  }
  return e.text()
}
