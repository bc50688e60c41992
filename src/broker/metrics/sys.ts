/*
 * The $SYS tree, with Mosquitto 2.0's topic names so that existing dashboards and exporters work
 * unchanged. Every `sysInterval` seconds each value is worked out and published, retained, only
 * when its text differs from what the retained store holds (uptime changes every time). The
 * values are volatile retained messages: never persisted, outside the retained limits. They go
 * out at QoS 0: a value is superseded at the next interval, and a QoS 1/2 copy would be queued and
 * written to disk for every persistent session subscribed to $SYS.
 */
import type { BrokerCore } from '../core'
import type { RoutedMessage } from '../message'
import type { BrokerMetrics, LoadAverage } from './types'

interface Sampler {
  sample (now: number): void
  snapshot (now: number): BrokerMetrics
}

const B = '$SYS/broker/'

/** Every $SYS topic and its text, from one snapshot. */
function sysValues (m: BrokerMetrics): Array<[string, string]> {
  const n = (v: number): string => String(Math.round(v))
  const out: Array<[string, string]> = [
    [B + 'version', `hearth version ${m.version}`],
    [B + 'uptime', `${m.uptime} seconds`],
    [B + 'clients/total', n(m.clients.total)],
    [B + 'clients/maximum', n(m.clients.maximum)],
    [B + 'clients/disconnected', n(m.clients.disconnected)],
    [B + 'clients/inactive', n(m.clients.disconnected)],
    [B + 'clients/connected', n(m.clients.connected)],
    [B + 'clients/active', n(m.clients.connected)],
    [B + 'clients/expired', n(m.clients.expired)],
    [B + 'messages/stored', n(m.store.messages)],
    [B + 'store/messages/count', n(m.store.messages)],
    [B + 'store/messages/bytes', n(m.store.bytes)],
    [B + 'subscriptions/count', n(m.subscriptions)],
    [B + 'shared_subscriptions/count', n(m.sharedSubscriptions)],
    [B + 'retained messages/count', n(m.retained.messages + m.retained.sys)],
    [B + 'heap/current', n(m.heap.current)],
    [B + 'heap/maximum', n(m.heap.maximum)],
    [B + 'messages/received', n(m.messages.received)],
    [B + 'messages/sent', n(m.messages.sent)],
    [B + 'publish/messages/dropped', n(m.publish.dropped)],
    [B + 'publish/messages/received', n(m.publish.received)],
    [B + 'publish/messages/sent', n(m.publish.sent)],
    [B + 'publish/bytes/received', n(m.publish.bytesReceived)],
    [B + 'publish/bytes/sent', n(m.publish.bytesSent)],
    [B + 'bytes/received', n(m.bytes.received)],
    [B + 'bytes/sent', n(m.bytes.sent)],
  ]
  const loads: Array<[string, LoadAverage]> = [
    ['messages/received', m.load.messagesReceived],
    ['messages/sent', m.load.messagesSent],
    ['publish/dropped', m.load.publishDropped],
    ['publish/received', m.load.publishReceived],
    ['publish/sent', m.load.publishSent],
    ['bytes/received', m.load.bytesReceived],
    ['bytes/sent', m.load.bytesSent],
    ['sockets', m.load.sockets],
    ['connections', m.load.connections],
  ]
  for (const [name, l] of loads) {
    for (const w of ['1min', '5min', '15min'] as const) out.push([`${B}load/${name}/${w}`, l[w].toFixed(2)])
  }
  return out
}

export class SysPublisher {
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly core: BrokerCore, private readonly sampler: Sampler) {}

  start (): void {
    this.update()
    this.timer = setInterval(() => this.update(), this.core.opts.sysInterval * 1000)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private update (): void {
    if (this.core.closing) return
    const now = Date.now()
    this.sampler.sample(now)
    for (const [topic, text] of sysValues(this.sampler.snapshot(now))) this.put(topic, text)
  }

  /** Publish `text` on `topic` unless the retained store already holds exactly that value. */
  private put (topic: string, text: string): void {
    const payload = Buffer.from(text)
    const cur = this.core.retained.get(topic)
    if (cur !== undefined && cur.volatile === true && cur.payload.equals(payload)) return
    const msg: RoutedMessage = {
      topic, payload, qos: 0, retain: true, properties: undefined, expiresAt: undefined, origin: undefined, enc: undefined, stored: undefined, volatile: true,
    }
    try {
      this.core.publishVolatile(msg)
    } catch (err) {
      this.core.warn(`could not publish ${topic}`, undefined, err as Error)
    }
  }
}
