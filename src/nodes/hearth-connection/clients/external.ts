/**
 * External client: a broker at a URL (mqtt, mqtts, ws, wss) through MQTT.js.
 *
 * - One MQTT.js client for the life of this object; it reconnects with backoff and jitter
 *   (MQTT.js's own timer is parked), keeping its store, so QoS 1/2 messages in flight when the
 *   link drops are sent again with the same packet identifiers once it is back.
 * - Outgoing messages go through a bounded queue: while disconnected, and while the socket is
 *   full. Back-pressure is one 'drain' listener for the whole queue, never one per message.
 *   Past the queue's limits a QoS 0 message is dropped (and counted), a QoS 1/2 one refused.
 * - QoS 1/2 messages in flight are bounded by maxInflight and the broker's Receive Maximum.
 */
import type { Writable } from 'node:stream'
import mqtt, { type IConnackPacket, type IDisconnectPacket, type MqttClient } from 'mqtt'
import type { Message, SubscriptionOptions } from '../../../broker/types'
import type { ExternalLimits } from '../options'
import type { BrokerUrl } from '../url'
import { CLOSE_TIMEOUT_MS, type LocalSettings } from './local'
import { clientOptions, publishOptions, refusalName, subscribeOptions, toDelivered, type TlsOptions } from './mqttjs'
import { OutgoingQueue, type PublishDone, type QueuedMessage } from './outgoing-queue'
import type { ClientEvents, ClientStats, ConnectionClient } from './types'

export interface ExternalClientSettings extends Omit<LocalSettings, 'brokerNode'> {
  url: BrokerUrl
  tls?: TlsOptions
  limits: ExternalLimits
}

/** At most one warning about dropped messages per this many ms. */
const DROP_REPORT_MS = 10000

/** The delay before reconnect attempt `n` (0-based): doubling from `base` up to `max`, jittered to 50-100 %. */
export function backoff (n: number, base: number, max: number, random: () => number = Math.random): number {
  const full = Math.min(max, base * 2 ** Math.min(n, 30))
  return Math.round(full / 2 + random() * full / 2)
}

type CodedError = Error & { code?: unknown, reasonCode?: number }

export class ExternalClient implements ConnectionClient {
  private mqtt: MqttClient | undefined
  private wanted = false
  /** CONNACK received on the current network connection. */
  private linked = false
  /** Linked and the birth message sent: the queue may flow. */
  private open = false
  /** Settles once the birth message of the current connection is acknowledged (or failed). */
  private birthSent: Promise<void> = Promise.resolve()
  private attempts = 0
  private reconnectTimer: NodeJS.Timeout | undefined
  /** The refusal the broker gave last (translated), until a connection succeeds. */
  private refusal: string | undefined
  private lastProblem: string | undefined
  private readonly queue: OutgoingQueue
  private inflight = 0
  private window = 1
  private ids = false
  private drainWaiting = false
  private drainWaiters: QueuedMessage[] = []
  private dropped = 0
  private dropTimer: NodeJS.Timeout | undefined
  private unreported = 0
  private readonly v5: boolean

  constructor (private readonly settings: ExternalClientSettings, private readonly events: ClientEvents) {
    this.v5 = settings.options.protocolVersion === 5
    this.queue = new OutgoingQueue({ maxMessages: settings.limits.queueMaxMessages, maxBytes: settings.limits.queueMaxBytes })
  }

  get connected (): boolean { return this.linked }
  get subscriptionIdentifiers (): boolean { return this.ids }

  start (): void {
    if (this.wanted) return
    this.wanted = true
    this.events.state('connecting')
    let c: MqttClient
    try {
      c = mqtt.connect(this.settings.url.href, clientOptions(this.settings.options, this.settings.tls))
    } catch (err) {
      // Options MQTT.js refuses outright: say so, and do not retry what cannot work.
      const text = this.events.text('errors.connection', { broker: this.broker, message: (err as Error).message })
      this.events.log('error', text)
      this.wanted = false
      this.events.state('error', text)
      this.events.settled()
      return
    }
    this.mqtt = c
    c.on('connect', (connack: IConnackPacket) => this.onConnack(c, connack))
    c.on('message', (_topic, _payload, packet) => { if (c === this.mqtt) this.events.message(toDelivered(packet)) })
    c.on('error', (err: Error) => this.onError(c, err))
    c.on('disconnect', (packet: IDisconnectPacket) => this.onServerDisconnect(c, packet))
    c.on('close', () => this.onClose(c))
  }

  private get broker (): string {
    return `${this.settings.options.clientId ?? ''}@${this.settings.url.href}`
  }

  private onConnack (c: MqttClient, connack: IConnackPacket): void {
    if (c !== this.mqtt || !this.wanted) return
    this.linked = true
    this.attempts = 0
    this.refusal = undefined
    this.lastProblem = undefined
    const p = connack.properties
    // [v5 MQTT-3.3.4-7] never more unacknowledged QoS 1/2 PUBLISH packets than the server's Receive Maximum.
    this.window = Math.max(1, Math.min(this.settings.limits.maxInflight, p?.receiveMaximum ?? 65535))
    this.ids = this.v5 && p?.subscriptionIdentifiersAvailable !== false
    this.events.log('log', this.events.text('state.connected', { broker: this.broker }))
    this.birthSent = this.events.connected().then(async () => {
      const birth = this.settings.birth
      if (birth && this.linked && c === this.mqtt) {
        await this.sendDirect(birth).catch((err: Error) => this.events.log('warn', this.events.text('errors.birth-failed', { message: err.message })))
      }
      if (!this.linked || c !== this.mqtt || !this.wanted) return
      this.open = true
      this.events.state('connected')
      this.events.settled()
      this.pump()
    }, (err: Error) => this.events.log('error', err.message))
  }

  private onError (c: MqttClient, err: CodedError): void {
    if (c !== this.mqtt || !this.wanted) return
    if (typeof err.code === 'number' && !this.linked) {
      // CONNACK with a refusal: show the broker's reason until a connection succeeds.
      const pv = this.v5 ? 5 : 4
      const text = this.events.text('errors.refused', { reason: refusalName(err.code, pv), code: `0x${err.code.toString(16)}` })
      if (text !== this.refusal) this.events.log('error', text)
      this.refusal = text
      this.events.state('error', text)
      return
    }
    const text = this.events.text('errors.connection', { broker: this.broker, message: err.message })
    if (text !== this.lastProblem) this.events.log('log', text)
    this.lastProblem = text
  }

  private onServerDisconnect (c: MqttClient, packet: IDisconnectPacket): void {
    if (c !== this.mqtt || !this.wanted) return
    const code = packet.reasonCode ?? 0
    this.events.log('log', this.events.text('state.server-disconnected', { broker: this.broker, reason: refusalName(code, 5), code: `0x${code.toString(16)}` }))
  }

  private onClose (c: MqttClient): void {
    if (c !== this.mqtt) return
    const wasLinked = this.linked
    this.linked = false
    this.open = false
    this.releaseDrainWaiters()
    if (!this.wanted) return
    if (wasLinked) {
      this.events.log('log', this.events.text('state.disconnected', { broker: this.broker }))
      this.events.state('disconnected')
    }
    this.events.settled()
    if (this.reconnectTimer) return
    const { reconnectDelay, reconnectDelayMax } = this.settings.limits
    const delay = backoff(this.attempts++, reconnectDelay, reconnectDelayMax)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      if (!this.wanted || c !== this.mqtt) return
      if (this.refusal === undefined) this.events.state('connecting')
      // The same stores: in-flight QoS 1/2 messages and incoming QoS 2 state carry over.
      c.reconnect({ incomingStore: c.incomingStore, outgoingStore: c.outgoingStore })
    }, delay)
  }

  /** Sent QoS 0 messages that waited for the socket: done once it drained, or once it closed. */
  private releaseDrainWaiters (): void {
    this.drainWaiting = false
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w.done()
  }

  private stream (): Writable | undefined {
    return this.mqtt?.stream as unknown as Writable | undefined
  }

  private socketFull (): boolean {
    const s = this.stream()
    if (!s) return true
    return s.writableNeedDrain ?? (s.writableLength >= s.writableHighWaterMark)
  }

  private waitDrain (): void {
    const s = this.stream()
    if (this.drainWaiting || !s) return
    this.drainWaiting = true
    s.once('drain', () => {
      if (s !== this.stream()) return
      this.releaseDrainWaiters()
      this.pump()
    })
  }

  /** An Error with a code (what callers test) and translated text (what users read). */
  private error (code: string, key: string, subs?: Record<string, string | number>): Error {
    return Object.assign(new Error(this.events.text(key, subs)), { code })
  }

  publish (message: Message, done: PublishDone): void {
    if (!this.wanted) return done(this.error('HEARTH_NOT_CONNECTED', 'errors.not-connected'))
    const item: QueuedMessage = { message, bytes: OutgoingQueue.sizeOf(message), done }
    if (this.queue.length === 0 && this.open && !this.socketFull() && (message.qos === 0 || this.inflight < this.window)) {
      this.send(item)
    } else if (this.queue.fits(item.bytes)) {
      this.queue.push(item)
    } else if (message.qos === 0) {
      this.drop()
      done()
    } else {
      const { queueMaxMessages, queueMaxBytes } = this.settings.limits
      done(this.error('HEARTH_QUEUE_FULL', 'errors.queue-full', { messages: queueMaxMessages, bytes: queueMaxBytes }))
    }
  }

  private drop (): void {
    this.dropped++
    this.unreported++
    if (this.dropTimer) return
    this.reportDrops()
    this.dropTimer = setTimeout(() => { this.dropTimer = undefined; if (this.unreported > 0) this.reportDrops() }, DROP_REPORT_MS)
  }

  private reportDrops (): void {
    const { queueMaxMessages, queueMaxBytes } = this.settings.limits
    this.events.log('warn', this.events.text('errors.queue-dropped', { count: this.unreported, total: this.dropped, messages: queueMaxMessages, bytes: queueMaxBytes }))
    this.unreported = 0
  }

  /** Hand queued messages to the socket while it takes them and the in-flight window allows. */
  private pump (): void {
    while (this.open && this.queue.length > 0) {
      if (this.socketFull()) {
        this.waitDrain()
        return
      }
      const head = this.queue.peek() as QueuedMessage
      if (head.message.qos > 0 && this.inflight >= this.window) return
      this.send(this.queue.shift() as QueuedMessage)
    }
  }

  private send (item: QueuedMessage): void {
    const c = this.mqtt as MqttClient
    const m = item.message
    if (m.qos === 0) {
      // No callback: MQTT.js would add a 'drain' listener per message while the socket is full.
      c.publish(m.topic, m.payload, publishOptions(m, this.v5))
      if (this.socketFull()) {
        this.drainWaiters.push(item)
        this.waitDrain()
      } else {
        item.done()
      }
      return
    }
    this.inflight++
    c.publish(m.topic, m.payload, publishOptions(m, this.v5), (err) => {
      this.inflight--
      item.done(err ? this.publishError(err as CodedError) : undefined)
      this.pump()
    })
  }

  /** Publish around the queue (birth and close messages); QoS 1/2 resolve on acknowledgement. */
  private sendDirect (m: Message): Promise<void> {
    const c = this.mqtt as MqttClient
    return new Promise((resolve, reject) => {
      if (m.qos === 0) {
        c.publish(m.topic, m.payload, publishOptions(m, this.v5))
        resolve()
        return
      }
      this.inflight++
      c.publish(m.topic, m.payload, publishOptions(m, this.v5), (err) => {
        this.inflight--
        if (err) reject(this.publishError(err as CodedError))
        else resolve()
      })
    })
  }

  private publishError (err: CodedError): Error {
    if (typeof err.code === 'number') return Object.assign(new Error(refusalName(err.code, 5)), { reasonCode: err.code })
    return this.error('HEARTH_NOT_CONNECTED', 'errors.not-connected')
  }

  subscribe (list: SubscriptionOptions[]): Promise<number[]> {
    const c = this.mqtt
    if (!c || !this.linked) return Promise.reject(new Error(this.events.text('errors.not-connected')))
    // One SUBSCRIBE per filter: an MQTT 5 subscription identifier belongs to the whole packet.
    return Promise.all(list.map((s) => new Promise<number>((resolve, reject) => {
      const opts = subscribeOptions(s, this.v5, this.ids)
      const packetOpts = opts.properties ? { properties: opts.properties } : {}
      c.subscribe({ [s.topic]: opts }, packetOpts, (err, _granted, packet) => {
        const code = packet?.granted?.[0]
        if (typeof code === 'number') resolve(code)
        else reject(err ?? new Error(this.events.text('errors.not-connected')))
      })
    })))
  }

  async unsubscribe (filters: string[]): Promise<void> {
    const c = this.mqtt
    if (c && this.linked) await c.unsubscribeAsync(filters).catch(() => {})
  }

  /** Wait (at most `ms`) for `done()` to hold, checking every 10 ms. */
  private async until (done: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms
    while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
  }

  /**
   * Clean close, as core: what is queued goes out (for a while), then the close message, then
   * DISCONNECT with reason 0, so the broker does not publish the will [v3.1.1 MQTT-3.14.4-3 / v5 MQTT-3.14.4-3].
   */
  async stop (): Promise<void> {
    if (!this.wanted) return
    this.wanted = false
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = undefined
    if (this.dropTimer) clearTimeout(this.dropTimer)
    this.dropTimer = undefined
    if (this.unreported > 0) this.reportDrops()
    const c = this.mqtt
    if (c && this.linked) {
      // Connected, perhaps with the birth message still waiting for its acknowledgement: the close message
      // goes after it, never instead of it.
      let birthTimer: NodeJS.Timeout | undefined
      await Promise.race([this.birthSent, new Promise((resolve) => { birthTimer = setTimeout(resolve, CLOSE_TIMEOUT_MS) })])
      clearTimeout(birthTimer)
      await this.until(() => !this.linked || !this.open || (this.queue.length === 0 && this.inflight === 0), CLOSE_TIMEOUT_MS)
      const close = this.settings.close
      if (close && this.linked) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([this.sendDirect(close).catch(() => {}), new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_TIMEOUT_MS) })])
        clearTimeout(timer)
      }
    }
    this.open = false
    const gone = this.error('HEARTH_NOT_CONNECTED', 'errors.not-connected')
    for (const item of this.queue.drain()) item.done(gone)
    if (c) {
      // Give up on what is still unacknowledged so MQTT.js sends DISCONNECT at once.
      for (const id of Object.keys(c.outgoing)) c.removeOutgoingMessage(Number(id))
      await this.end(c)
    }
    this.linked = false
    this.releaseDrainWaiters()
    this.events.state('disconnected')
    this.events.log('log', this.events.text('state.closed', { broker: this.broker }))
  }

  private end (c: MqttClient): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { c.stream?.destroy(); resolve() }, CLOSE_TIMEOUT_MS)
      c.end(!this.linked, () => { clearTimeout(timer); resolve() })
    })
  }

  stats (): ClientStats {
    return {
      queued: this.queue.length,
      queuedBytes: this.queue.bytes,
      inflight: this.inflight,
      dropped: this.dropped,
      drainListeners: this.stream()?.listenerCount('drain') ?? 0,
    }
  }
}
