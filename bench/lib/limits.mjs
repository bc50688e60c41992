// The limits a scenario needs raised, set explicitly for every broker that has them.
// Hearth ships Pi-sized defaults (src/broker/options.ts INTEGER_OPTIONS: 1000 connections, 32 connects pending per
// address, 1000 sessions, 50,000 retained messages, 1 MiB buffered toward one socket, ...). A scenario states what it
// needs (needsOf); that becomes a --config file for the Hearth CLI and configuration lines for Mosquitto. Aedes has no
// such limits. A value is never set below the broker's default, so a scenario only ever raises a limit.
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PROTOCOL_VERSION } from './wire.mjs'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const require = createRequire(import.meta.url)

let hearthOptions = null
// The broker's own table of limits (defaults and ranges), from the build: the bench never restates a default.
function integerOptions () {
  if (hearthOptions === null) {
    const dist = `${ROOT}dist/broker/index.js`
    if (!existsSync(dist)) throw new Error('dist/broker/index.js missing (npm run build)')
    hearthOptions = require(dist).INTEGER_OPTIONS
  }
  return hearthOptions
}

const MOSQUITTO_MAX_QUEUED = 1000 // mosquitto.conf(5): max_queued_messages defaults to 1000

// What one run asks of a broker, from the generator's job (bench/gen/gen.mjs) and the scenario's options.
//   connections       clients connected at once
//   connectsInFlight  sockets from 127.0.0.1 that have not finished CONNECT at once
//   sessions          sessions held (each connected client has one; offline persistent ones count too)
//   retained, retainedBytes   retained messages stored and their topic + payload bytes
//   queuePerClient    deliveries that may wait at the broker for one subscriber (the generator's window)
//   deliveryQos       QoS of those deliveries (QoS 0 ones wait in the output buffer, QoS 1/2 ones in the session queue)
//   packetBytes       largest PUBLISH written, bytes
//   inboundUnacked    QoS 1/2 publishes one client keeps unacknowledged toward the broker
//   subscriptionsPerClient   subscriptions one client holds
// A job of kind 'explicit' states them itself (job.needs).
export function needsOf (job) {
  const publish = (topicLen, qos) => 2 + 2 + topicLen + job.payloadSize + (qos > 0 ? 2 : 0) + 2
  const n = { connections: 0, connectsInFlight: 1, sessions: 0, retained: 0, retainedBytes: 0, queuePerClient: 0, deliveryQos: 0, packetBytes: 0, inboundUnacked: 0, subscriptionsPerClient: 1 }
  switch (job.kind) {
    case 'throughput': {
      const topicLen = `bench/${job.name}/${job.pubs - 1}`.length
      n.connections = job.pubs + job.subs
      n.connectsInFlight = Math.min(100, Math.max(job.pubs, job.subs)) // connectMany: 100 CONNECTs in flight per role
      n.queuePerClient = Math.ceil(job.window / job.subs)
      n.deliveryQos = job.qos
      n.packetBytes = publish(topicLen, job.qos)
      n.inboundUnacked = job.qos > 0 ? Math.min(job.window, job.maxUnacked || job.window) : 0
      break
    }
    case 'latency':
      n.connections = 2
      n.queuePerClient = Math.ceil(job.rate / 10) // 100 ms of messages
      n.packetBytes = publish(`bench/${job.name}/0`.length, 0)
      break
    case 'retained': {
      const topicLen = `bench/retained/${job.count - 1}`.length
      n.connections = 2
      n.retained = job.count
      n.retainedBytes = job.count * (topicLen + job.payloadSize)
      n.queuePerClient = job.count // a new `#` subscriber is owed every retained message at once
      n.packetBytes = publish(topicLen, 1)
      n.inboundUnacked = 500 // pubRetained keeps 500 unacknowledged
      break
    }
    case 'conns':
      n.connections = job.count
      n.connectsInFlight = job.concurrency
      n.packetBytes = 64
      break
    case 'populate': // bench/lib/state.mjs populate(): the restart scenario's large state
      n.connections = job.concurrency + 2
      n.connectsInFlight = job.concurrency
      n.sessions = job.sessions
      n.retained = job.retained
      n.retainedBytes = job.retainedBytes
      n.queuePerClient = job.queued
      n.deliveryQos = 1
      n.packetBytes = job.packetBytes
      n.inboundUnacked = job.window
      break
    case 'explicit':
      Object.assign(n, job.needs)
      break
    default: throw new Error(`needsOf: unknown job kind ${job.kind}`)
  }
  n.sessions += n.connections
  return n
}

// The Hearth CLI's --config object for these needs: every limit a need touches, each at least its default.
// Returns { config, raised: [{ key, value, default, why }] } (raised: the ones above their default).
export function hearthConfig (needs) {
  const opts = integerOptions()
  const want = {
    maxConnections: [needs.connections + 100, 'clients connected at once'],
    maxSessions: [needs.sessions + 100, 'sessions held'],
    maxPendingPerAddress: [needs.connectsInFlight * 2, 'connects in flight from 127.0.0.1'],
    maxRetainedMessages: [needs.retained + 1000, 'retained messages stored'],
    maxRetainedBytes: [Math.ceil(needs.retainedBytes * 1.5), 'retained topic + payload bytes'],
    maxQueuedMessages: [needs.queuePerClient, 'deliveries waiting for one subscriber'],
    maxQueuedBytes: [needs.queuePerClient * needs.packetBytes * 2, 'bytes waiting for one subscriber'],
    maxOutgoingBytes: [needs.queuePerClient * needs.packetBytes * 2, 'bytes buffered toward one subscriber'],
    maxPacketSize: [needs.packetBytes * 2, 'largest packet'],
    maxSubscriptionsPerClient: [needs.subscriptionsPerClient + 100, 'subscriptions of one client'],
  }
  // Receive Maximum bounds QoS 1/2 publishes an MQTT 5 client keeps unacknowledged; the generator speaks 3.1.1
  // (no Receive Maximum), so it only matters if the protocol version changes.
  if (PROTOCOL_VERSION === 5) want.receiveMaximum = [needs.inboundUnacked, 'unacknowledged publishes toward the broker']
  const config = {}
  const raised = []
  for (const [key, [need, why]] of Object.entries(want)) {
    const o = opts[key]
    if (!o) throw new Error(`Hearth has no option ${key} any more: bench/lib/limits.mjs needs updating`)
    const value = Math.min(o.max, Math.max(o.default, Math.ceil(need)))
    config[key] = value
    if (value > o.default) raised.push({ key, value, default: o.default, why })
  }
  return { config, raised }
}

// Mosquitto's equivalents, as mosquitto.conf lines. `listenerLines` go right after the `listener` line
// (max_connections is per listener). Mosquitto has no limit on retained messages, sessions or packet size by default.
export function mosquittoConfig (needs) {
  const listenerLines = ['max_connections -1'] // unlimited (also the default): 10k idle connections
  const lines = []
  const raised = [{ key: 'max_connections', value: -1, default: -1, why: 'clients connected at once (unlimited)' }]
  // max_queued_messages bounds the QoS 1/2 messages queued for a client beyond the 20 in flight, and in 2.0 also the
  // QoS 0 packets waiting in its output queue (beyond it they are dropped): for QoS 0 it is the counterpart of Hearth's
  // maxOutgoingBytes, and gets the same twofold headroom.
  const queue = needs.deliveryQos === 0 ? needs.queuePerClient * 2 : needs.queuePerClient
  if (queue > MOSQUITTO_MAX_QUEUED) {
    lines.push(`max_queued_messages ${queue}`)
    raised.push({ key: 'max_queued_messages', value: queue, default: MOSQUITTO_MAX_QUEUED, why: 'deliveries waiting for one subscriber' })
  }
  return { listenerLines, lines, raised }
}

// One line per broker for the report: what was raised above its default.
export function describeRaised (raised) {
  return raised.length ? raised.map(r => `${r.key} ${r.value}`).join(', ') : 'defaults'
}
