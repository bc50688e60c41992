/*
 * Local -> remote. The bridge's in-process client acknowledges explicitly (manualAck): a QoS 1/2
 * message stays in flight in its local session, persisted, until the remote has acknowledged it,
 * and goes to the remote under the same packet identifier, so that a resend after a link outage or
 * a restart is one the remote recognises [MQTT-4.3.3-9]. Messages the link cannot take yet wait
 * here (at most the local client's Receive Maximum of them); the rest wait in the local session,
 * bounded and counted like any session's queue.
 */
import type { DeliveredMessage, LocalClient, MessageProperties, QoS } from '../broker'
import type mqtt from 'mqtt-packet'
import type { ResolvedTopic } from './config'
import type { EchoFilter } from './echo'
import type { LinkInfo, RemoteLink } from './remote-link'
import { toRemote } from './topic-map'

interface Entry {
  /** Packet identifier in the local session, also used at the remote (0 for QoS 0). */
  id: number
  localQos: QoS
  /** QoS at the remote: the local one, at most the remote's Maximum QoS. */
  qos: QoS
  topic: string
  payload: Buffer
  retain: boolean
  properties: MessageProperties | undefined
  state: 'waiting' | 'sent' | 'released'
}

/**
 * QoS 0 messages that may wait for a link that is up but cannot take them yet (a slow remote);
 * more are dropped, as the broker drops QoS 0 for a slow consumer. QoS 1/2 are bounded by the
 * local client's Receive Maximum.
 */
const MAX_WAITING_QOS0 = 1000

export interface OutboundContext {
  local: () => LocalClient | undefined
  rules: ResolvedTopic[]
  echo: EchoFilter
  counted: (what: 'out' | 'dropped') => void
  warn: (message: string) => void
}

export class Outbound {
  private waiting: Entry[] = []
  /** QoS 0 entries among `waiting`. */
  private waiting0 = 0
  /** Sent and not yet acknowledged by the remote, by packet identifier, in send order. */
  private readonly inflight = new Map<number, Entry>()
  private link: RemoteLink | undefined
  private info: LinkInfo | undefined
  /** New messages go out once the link's subscriptions are made (their packet identifiers are free again). */
  private open = false

  constructor (private readonly ctx: OutboundContext) {}

  get pending (): number { return this.waiting.length + this.inflight.size }

  /** A message from a local out/both subscription. */
  fromLocal (m: DeliveredMessage): void {
    const topic = toRemote(this.ctx.rules, m.topic)
    if (topic === undefined) { this.ctx.counted('dropped'); this.ackLocal(m.packetId ?? 0, m.qos); return } // no rule maps it
    // a retained value that came from the remote is not carried back
    if (m.retain && this.ctx.echo.outgoingIsEcho(m.topic, m.payload)) { this.ackLocal(m.packetId ?? 0, m.qos); return }
    if (m.retain) this.ctx.echo.sentOut(m.topic, topic, m.payload)
    const e: Entry = { id: m.packetId ?? 0, localQos: m.qos, qos: m.qos, topic, payload: m.payload, retain: m.retain, properties: m.properties, state: 'waiting' }
    if (m.qos > 0 && m.dup && (this.inflight.has(e.id) || this.waiting.some(w => w.id === e.id))) return // already held here
    if (m.qos === 0) {
      // not kept for a link that is away, nor beyond a bound for one that is slow
      if (this.link?.isUp !== true || this.waiting0 >= MAX_WAITING_QOS0) { this.ctx.counted('dropped'); return }
      this.waiting0++
    }
    this.waiting.push(e)
    this.pump()
  }

  /** A QoS 2 message of the local session that the remote had received (PUBREC) before: release it there. */
  fromLocalPubrel (id: number): void {
    const e: Entry = { id, localQos: 2, qos: 2, topic: '', payload: Buffer.alloc(0), retain: false, properties: undefined, state: 'released' }
    this.inflight.set(id, e)
    if (this.link?.isUp === true) this.link.send({ cmd: 'pubrel', messageId: id })
  }

  /** The link is up: resend what is in flight, in order, with DUP [MQTT-4.4.0-1]. New messages wait for open(). */
  linkUp (link: RemoteLink, info: LinkInfo): void {
    this.link = link
    this.info = info
    this.open = false
    for (const e of [...this.inflight.values()]) {
      if (!info.sessionPresent && e.state === 'released') {
        // The remote lost its session: it had received the message, nothing more to release
        this.complete(e)
        continue
      }
      if (e.state === 'released') link.send({ cmd: 'pubrel', messageId: e.id })
      else link.send(this.publishPacket(e, info.sessionPresent))
    }
    link.on('drain', () => this.pump())
  }

  /** Packet identifiers in use toward the remote (the link must not give them to a SUBSCRIBE). */
  inUse (id: number): boolean { return this.inflight.has(id) }

  /** The link's subscriptions are made: send what waits. */
  start (): void {
    this.open = true
    this.pump()
  }

  /** The link is down: QoS 0 messages waiting for it are dropped; the rest wait for the next one. */
  linkDown (): void {
    this.link = undefined
    this.info = undefined
    this.open = false
    for (let i = 0; i < this.waiting0; i++) this.ctx.counted('dropped')
    this.waiting = this.waiting.filter(e => e.localQos > 0)
    this.waiting0 = 0
  }

  /** The local client reconnected: its session resends what it holds, so start afresh. */
  reset (): void {
    this.waiting = []
    this.waiting0 = 0
    this.inflight.clear()
  }

  private publishPacket (e: Entry, dup: boolean): mqtt.IPublishPacket {
    const info = this.info as LinkInfo
    const p: mqtt.IPublishPacket = {
      cmd: 'publish',
      topic: e.topic,
      payload: e.payload,
      qos: e.qos,
      // A remote without retained messages gets none [MQTT-3.2.2-14]
      retain: e.retain && info.retainAvailable,
      dup: dup && e.qos > 0,
    }
    if (e.qos > 0) p.messageId = e.id
    if (this.link?.opts.protocolVersion === 5 && e.properties !== undefined) p.properties = { ...e.properties }
    return p
  }

  /** Send what waits, within the remote's Receive Maximum and while the connection takes more. */
  private pump (): void {
    const link = this.link
    const info = this.info
    if (link === undefined || info === undefined || !link.isUp || !this.open) return
    while (this.waiting.length > 0 && link.writable()) {
      const e = this.waiting[0]
      // Never above the remote's Maximum QoS [MQTT-3.2.2-11]
      e.qos = (e.localQos < info.maximumQoS ? e.localQos : info.maximumQoS) as QoS
      if (e.qos > 0 && this.inflight.size >= info.receiveMaximum) return // [MQTT-3.3.4-9]
      this.waiting.shift()
      if (e.localQos === 0) this.waiting0--
      const packet = this.publishPacket(e, false)
      if (link.size(packet) > info.maximumPacketSize) { // [MQTT-3.1.2-24]
        this.ctx.warn(`a message on ${e.topic} is larger than the remote accepts (${info.maximumPacketSize} bytes): dropped`)
        this.ctx.counted('dropped')
        this.ackLocal(e.id, e.localQos)
        continue
      }
      if (e.qos > 0) {
        e.state = 'sent'
        this.inflight.set(e.id, e)
      }
      link.send(packet)
      this.ctx.counted('out')
      if (e.qos === 0) this.ackLocal(e.id, e.localQos)
    }
  }

  /** PUBACK, PUBREC or PUBCOMP from the remote. */
  onAck (cmd: 'puback' | 'pubrec' | 'pubcomp', id: number, reasonCode: number): void {
    const e = this.inflight.get(id)
    if (e === undefined) return
    if (cmd === 'puback') {
      if (e.qos !== 1) return
      if (reasonCode >= 0x80) this.refused(e, reasonCode)
      this.complete(e)
    } else if (cmd === 'pubrec') {
      if (e.qos !== 2) return
      if (reasonCode >= 0x80) { this.refused(e, reasonCode); this.complete(e); return } // the exchange ends there [MQTT-4.3.3]
      e.state = 'released'
      if (e.localQos === 2) this.ctx.local()?.pubrec(e.id)
      this.link?.send({ cmd: 'pubrel', messageId: id })
    } else if (e.state === 'released') {
      this.complete(e)
    }
  }

  private refused (e: Entry, reasonCode: number): void {
    this.ctx.counted('dropped')
    this.ctx.warn(`the remote refused a message on ${e.topic} (reason 0x${reasonCode.toString(16)})`)
  }

  private complete (e: Entry): void {
    this.inflight.delete(e.id)
    this.ackLocal(e.id, e.localQos)
    this.pump()
  }

  /** The local session may forget the message. */
  private ackLocal (id: number, qos: QoS): void {
    const local = this.ctx.local()
    if (local === undefined || id === 0) return
    if (qos === 1) local.puback(id)
    else if (qos === 2) {
      local.pubrec(id)
      local.pubcomp(id)
    }
  }
}
