/*
 * The broker's figures as one object (Broker.metrics()): the core's counters, what the core holds
 * now (clients, sessions, subscriptions, retained and queued messages), the load averages, the
 * heap, the event loop's delay and the file store's figures. It also runs the $SYS tree.
 */
import type { BrokerCore } from '../core'
import { FilePersistence } from '../persistence-file'
import { byType, total } from './counters'
import { EventLoopMonitor } from './event-loop'
import { dueForSample, LoadSeries } from './load'
import { SysPublisher } from './sys'
import type { BrokerMetrics, ListenerMetrics, PersistenceMetrics } from './types'
import { hearthVersion } from './version'

/** Without the $SYS timer, the load averages are folded in on read, at most this often. */
const LAZY_SAMPLE_MS = 5000

type LoadName = keyof BrokerMetrics['load']

export class MetricsService {
  readonly loop = new EventLoopMonitor()
  private readonly startedAt = Date.now()
  private readonly loads: Record<LoadName, LoadSeries> = {
    messagesReceived: new LoadSeries(),
    messagesSent: new LoadSeries(),
    publishReceived: new LoadSeries(),
    publishSent: new LoadSeries(),
    publishDropped: new LoadSeries(),
    bytesReceived: new LoadSeries(),
    bytesSent: new LoadSeries(),
    sockets: new LoadSeries(),
    connections: new LoadSeries(),
  }

  private lastSample = 0
  private heapMax = 0
  private sys: SysPublisher | null = null
  private releaseLoop: (() => void) | null = null

  constructor (private readonly core: BrokerCore) {}

  /** The broker is serving: take the starting points, and start $SYS unless sysInterval is 0. */
  start (): void {
    this.sample(Date.now())
    if (this.core.opts.sysInterval === 0 || this.sys !== null) return
    this.releaseLoop = this.loop.acquire()
    this.sys = new SysPublisher(this.core, this)
    this.sys.start()
  }

  stop (): void {
    this.sys?.stop()
    this.sys = null
    this.releaseLoop?.()
    this.releaseLoop = null
  }

  /** Fold the counters into the load averages (at most about once a second, as Mosquitto: see dueForSample). */
  sample (now: number): void {
    if (!dueForSample(this.lastSample, now)) return
    const dt = this.lastSample === 0 ? 0 : (now - this.lastSample) / 1000
    this.lastSample = now
    const m = this.core.metrics
    const st = this.core.stats
    let sockets = 0
    for (const l of m.listeners.values()) sockets += l.socketsOpened
    const l = this.loads
    l.messagesReceived.sample(total(m.packetsReceived), dt)
    l.messagesSent.sample(total(m.packetsSent), dt)
    l.publishReceived.sample(m.publishReceived, dt)
    l.publishSent.sample(m.publishSent, dt)
    l.publishDropped.sample(st.dropped, dt)
    l.bytesReceived.sample(st.bytesReceived, dt)
    l.bytesSent.sample(st.bytesSent, dt)
    l.sockets.sample(sockets, dt)
    l.connections.sample(m.packetsReceived[1], dt)
  }

  snapshot (now = Date.now()): BrokerMetrics {
    if (this.sys === null && now - this.lastSample >= LAZY_SAMPLE_MS) this.sample(now)
    const core = this.core
    const m = core.metrics
    const st = core.stats

    const perListener = new Map<string, number>()
    let connected = 0
    for (const c of core.clients.values()) {
      if (!c.active) continue
      connected++
      const name = c.kind === 'local' ? 'local' : c.transport()
      perListener.set(name, (perListener.get(name) ?? 0) + 1)
    }
    const listeners: ListenerMetrics[] = [{ name: 'local', connections: perListener.get('local') ?? 0, socketsOpened: 0, bytesReceived: 0, bytesSent: 0 }]
    for (const lc of m.listeners.values()) {
      listeners.push({ name: lc.name, connections: perListener.get(lc.name) ?? 0, socketsOpened: lc.socketsOpened, bytesReceived: lc.bytesReceived, bytesSent: lc.bytesSent })
    }

    let queued = 0
    let queuedBytes = 0
    let inflight = 0
    let inflightBytes = 0
    for (const s of core.sessions.values()) {
      queued += s.queued
      queuedBytes += s.queuedBytes
      if (s.inflight.size === 0) continue
      for (const o of s.inflight.values()) { inflight++; inflightBytes += o.msg.payload.length }
    }

    const heap = process.memoryUsage().heapUsed
    if (heap > this.heapMax) this.heapMax = heap
    const retained = core.retained
    const load = {} as BrokerMetrics['load']
    for (const name of Object.keys(this.loads) as LoadName[]) load[name] = this.loads[name].value

    const out: BrokerMetrics = {
      version: hearthVersion(),
      time: now,
      uptime: Math.floor((now - this.startedAt) / 1000),
      clients: {
        connected,
        disconnected: core.sessions.size - connected,
        total: core.sessions.size,
        maximum: m.clientsMaximum,
        expired: m.clientsExpired,
        pending: core.connectionCount() - core.clients.size,
      },
      listeners,
      subscriptions: core.tree.size - core.tree.sharedSize,
      sharedSubscriptions: core.tree.sharedSize,
      retained: { messages: retained.size, bytes: retained.bytes, sys: retained.volatileSize },
      queued: { messages: queued, bytes: queuedBytes },
      inflight: { messages: inflight, bytes: inflightBytes },
      store: {
        messages: retained.size + retained.volatileSize + queued + inflight,
        bytes: retained.bytes + retained.volatileBytes + queuedBytes + inflightBytes,
      },
      messages: { received: total(m.packetsReceived), sent: total(m.packetsSent) },
      packets: { received: byType(m.packetsReceived), sent: byType(m.packetsSent) },
      publish: { received: m.publishReceived, sent: m.publishSent, dropped: st.dropped, bytesReceived: m.publishBytesReceived, bytesSent: m.publishBytesSent },
      bytes: { received: st.bytesReceived, sent: st.bytesSent },
      dropped: { ...m.drops },
      authFailures: m.authFailures,
      load,
      heap: { current: heap, maximum: this.heapMax },
    }
    const delay = this.loop.read(now)
    if (delay !== undefined) out.eventLoopDelay = delay
    const p = persistenceMetrics(core)
    if (p !== undefined) out.persistence = p
    return out
  }
}

function persistenceMetrics (core: BrokerCore): PersistenceMetrics | undefined {
  if (!(core.persistence instanceof FilePersistence)) return undefined
  const s = core.persistence.stats()
  return {
    fileBytes: s.fileBytes,
    liveBytes: s.liveBytes,
    pendingBytes: s.pendingBytes,
    messages: s.messages,
    compactions: s.compactions,
    refused: s.refused,
    write: s.writeTime,
    fsync: s.syncTime,
  }
}
