/**
 * While the sidebar watches a broker node (it asks every few seconds), the runtime publishes the
 * node's figures on Node-RED's comms once a second and records the topics seen. WATCH_SECONDS
 * after the last ask both stop and the topic tree is dropped: an unwatched broker pays nothing.
 * A watcher also stops when its broker goes (the node closed or was redeployed).
 */
import type { Broker, BrokerMetrics } from '../../../broker'
import { WATCH_SECONDS, statsTopic, type StatsFrame } from '../monitoring'
import { TopicRecorder } from './topic-recorder'

/** Node-RED's comms, as the node API offers it. */
export interface Comms { publish (topic: string, data: unknown, retain?: boolean): void }

/** What one second is measured from. */
interface Mark { time: number, received: number, sent: number, bytesIn: number, bytesOut: number, dropped: number }

function mark (m: BrokerMetrics): Mark {
  return { time: m.time, received: m.publish.received, sent: m.publish.sent, bytesIn: m.publish.bytesReceived, bytesOut: m.publish.bytesSent, dropped: m.publish.dropped }
}

/** Per-second rates between two marks (a counter never goes back; a new broker starts a new watcher). */
export function frame (id: string, prev: Mark, m: BrokerMetrics): StatsFrame {
  const now = mark(m)
  const seconds = Math.max((now.time - prev.time) / 1000, 0.001)
  const rate = (a: number, b: number): number => Math.round(Math.max(b - a, 0) / seconds * 10) / 10
  return {
    id,
    time: now.time,
    msgsIn: rate(prev.received, now.received),
    msgsOut: rate(prev.sent, now.sent),
    bytesIn: rate(prev.bytesIn, now.bytesIn),
    bytesOut: rate(prev.bytesOut, now.bytesOut),
    clients: m.clients.connected,
    subscriptions: m.subscriptions + m.sharedSubscriptions,
    retained: m.retained.messages,
    dropped: rate(prev.dropped, now.dropped),
  }
}

export class Watcher {
  readonly topics = new TopicRecorder()
  private timer: NodeJS.Timeout | undefined
  private askedAt = 0
  private last: Mark | undefined

  /** `current()` is the node's running broker now (undefined once it closed). */
  constructor (
    readonly id: string,
    readonly broker: Broker,
    private readonly current: () => Broker | undefined,
    private readonly comms: Comms | undefined,
    private readonly onStop: () => void,
  ) {}

  get watching (): boolean { return this.timer !== undefined }

  /** The sidebar asked: (re)start publishing and recording for WATCH_SECONDS. */
  touch (now = Date.now()): void {
    this.askedAt = now
    if (this.timer !== undefined) return
    this.last = mark(this.broker.metrics())
    this.topics.start(this.broker)
    this.timer = setInterval(() => this.tick(), 1000)
    this.timer.unref()
  }

  private tick (): void {
    if (this.current() !== this.broker || Date.now() - this.askedAt > WATCH_SECONDS * 1000) { this.stop(); return }
    const m = this.broker.metrics()
    const f = frame(this.id, this.last ?? mark(m), m)
    this.last = mark(m)
    this.comms?.publish(statsTopic(this.id), f, false)
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.last = undefined
    this.topics.stop()
    this.onStop()
  }
}
