/*
 * Delivery: each session's outgoing state machine, as Mosquitto's database.c is to its subs.c.
 * The router decides who gets a message; this module decides when and how it goes out: QoS 0 at
 * once or dropped for a slow socket, QoS 1/2 in flight within the client's Receive Maximum or
 * queued (bounded), resends on resume, acknowledgements, and the retained messages of a new
 * subscription, streamed at the pace the socket drains. How a message reaches the other side is
 * the client's own business (ClientBase.sendQoS): the state machine never asks what kind of
 * client it serves.
 */
import type { BrokerCore } from './core'
import type { ClientBase } from './client-base'
import { storedMessage, type RoutedMessage } from './message'
import type { Outgoing, Replay, Session } from './session'
import type { Subscription } from './topic-tree'
import type { StoredOutgoing } from './persistence'
import type { QoS } from './types'

/** Retained messages sent per turn of the event loop to one session before yielding. */
const REPLAY_BATCH = 256

export class Delivery {
  constructor (private readonly core: BrokerCore) {}

  /** Give one session its copy of a message at the given QoS and RETAIN flag. */
  deliver (s: Session, msg: RoutedMessage, qos: QoS, retain: boolean, subIds: number[] | undefined, filters?: string[]): void {
    const core = this.core
    if (msg.expiresAt !== undefined && msg.expiresAt <= Date.now()) { // [v5 MQTT-3.3.2-5]
      core.dropped(s.clientId, msg.topic, qos, 'expired')
      return
    }
    const c = s.client
    const live = c !== null && c.active
    if (qos === 0) {
      if (!live) return // QoS 0 is not queued for absent clients
      // Behind a retained replay in progress, so that the client never sees an older value last.
      if (s.replay !== null || s.held0 > 0) { this.hold(s, { seq: 0, packetId: 0, state: 'queued', msg, qos, retain, subIds, filters }); return }
      if (!c.writable()) { core.dropped(s.clientId, msg.topic, 0, 'slow-consumer'); return }
      this.send0(s, c, msg, retain, subIds, filters)
      return
    }
    if (live && s.queued === 0 && s.resend.length === 0 && s.replay === null && c.canSend(s)) {
      c.sendFreshQoS(s, msg, qos, retain, subIds, filters)
      return
    }
    this.hold(s, { seq: ++s.outSeq, packetId: 0, state: 'queued', msg, qos, retain, subIds, filters })
  }

  /** Queue a message (bounded, and stored first for a persistent session); drops are counted. */
  private hold (s: Session, o: Outgoing): boolean {
    const limits = this.core.opts
    if (s.queued >= limits.maxQueuedMessages) {
      this.core.dropped(s.clientId, o.msg.topic, o.qos, 'queue-full')
      return false
    }
    if (s.queuedBytes + o.msg.payload.length > limits.maxQueuedBytes) {
      this.core.dropped(s.clientId, o.msg.topic, o.qos, 'queue-bytes')
      return false
    }
    if (o.qos > 0 && s.persistent && !this.core.persistence.addOutgoing(s.clientId, stored(o))) {
      this.core.dropped(s.clientId, o.msg.topic, o.qos, 'persistence-full')
      return false
    }
    s.enqueue(o)
    return true
  }

  private send0 (s: Session, c: ClientBase, msg: RoutedMessage, retain: boolean, subIds: number[] | undefined, filters?: string[]): void {
    if (c.sendPublish(msg, 0, retain, subIds, 0, false, filters)) this.core.stats.messagesSent++
    else this.core.dropped(s.clientId, msg.topic, 0, 'packet-too-large')
  }

  /**
   * Network clients: the message goes in flight under a fresh packet identifier and stays there
   * until acknowledged [v3.1.1 §4.3.2, v3.1.1 §4.3.3 / v5 §4.3.2, v5 §4.3.3].
   */
  sendInflight (s: Session, c: ClientBase, o: Outgoing, fresh: boolean): void {
    const core = this.core
    const pid = s.allocatePacketId()
    o.packetId = pid
    o.state = 'sent'
    if (s.persistent) {
      if (!fresh) core.persistence.updateOutgoing(s.clientId, o.seq, pid, 'sent')
      else if (!core.persistence.addOutgoing(s.clientId, stored(o))) {
        core.dropped(s.clientId, o.msg.topic, o.qos, 'persistence-full')
        return
      }
    }
    s.addInflight(pid, o)
    if (c.sendPublish(o.msg, o.qos, o.retain, o.subIds, pid, false)) {
      core.stats.messagesSent++
      return
    }
    // Too large for the client: discard and behave as if delivered [v5 MQTT-3.1.2-25]
    s.inflight.delete(pid)
    if (s.persistent) core.persistence.removeOutgoing(s.clientId, o.seq)
    core.dropped(s.clientId, o.msg.topic, o.qos, 'packet-too-large')
  }

  /** In-process clients: the listener has the message once the call returns; nothing stays in flight. */
  sendImmediate (s: Session, c: ClientBase, o: Outgoing, fresh: boolean): void {
    this.sendNow(c, o.msg, o.qos, o.retain, o.subIds, o.filters)
    if (!fresh && s.persistent) this.core.persistence.removeOutgoing(s.clientId, o.seq)
  }

  /** A QoS 1/2 message to a client that takes it at once (see sendImmediate), with or without an outgoing record. */
  sendNow (c: ClientBase, msg: RoutedMessage, qos: QoS, retain: boolean, subIds: number[] | undefined, filters: string[] | undefined): void {
    c.sendPublish(msg, qos, retain, subIds, 0, false, filters)
    this.core.stats.messagesSent++
  }

  /** Send what waits, while the client's Receive Maximum and its socket allow [v5 MQTT-3.3.4-9]. */
  pump (s: Session): void {
    const c = s.client
    if (c === null || !c.active) return
    // First what a resume could not resend within the client's Receive Maximum, as it was.
    while (s.resend.length > 0 && c.canSend(s)) {
      const o = s.resend.shift() as Outgoing
      if (!s.inflight.has(o.packetId)) continue
      if (o.state === 'released') c.sendPubrel(o.packetId)
      else c.sendPublish(o.msg, o.qos, o.retain, o.subIds, o.packetId, true)
    }
    if (s.resend.length > 0) return
    if (s.replay !== null && !this.replay(s, c)) return
    const now = Date.now()
    while (s.queued > 0) {
      const o = s.peek() as Outgoing
      if (o.qos === 0 ? !c.writable() : !c.canSend(s)) return
      s.shift()
      if (o.msg.expiresAt !== undefined && o.msg.expiresAt <= now) {
        if (s.persistent && o.qos > 0) this.core.persistence.removeOutgoing(s.clientId, o.seq)
        this.core.dropped(s.clientId, o.msg.topic, o.qos, 'expired')
        continue
      }
      if (o.qos === 0) this.send0(s, c, o.msg, o.retain, o.subIds, o.filters)
      else c.sendQoS(o, false)
      if (c.session !== s || !c.active) return
    }
  }

  /**
   * Stream a subscription's retained messages: as many as the socket takes, then the rest when
   * it drains (or, for QoS 1/2, as acknowledgements free the Receive Maximum), a batch per turn
   * of the event loop. Each is looked up again when its turn comes, so a newer value published
   * meanwhile is what the client gets, never an older one after it. Returns true when done.
   */
  private replay (s: Session, c: ClientBase): boolean {
    const core = this.core
    const replay = s.replay as Replay[]
    let budget = REPLAY_BATCH
    const now = Date.now()
    while (replay.length > 0) {
      const r = replay[0]
      while (r.next < r.list.length) {
        if (budget-- === 0) { this.continueLater(s, c); return false }
        const m = core.retained.get(r.list[r.next].topic)
        const qos: QoS = m === undefined ? 0 : m.qos < r.qos ? m.qos : r.qos
        if (qos === 0 ? !c.writable() : !c.canSend(s)) return false
        r.next++
        if (m === undefined || (m.expiresAt !== undefined && m.expiresAt <= now)) continue // [v5 MQTT-3.3.2-5]
        if (!core.mayRead(s, m.topic)) continue
        // RETAIN=1 on messages sent for a new subscription [v3.1.1 MQTT-3.3.1-8 / v5 §3.3.1.3]
        if (qos === 0) this.send0(s, c, m, true, r.subIds)
        else c.sendFreshQoS(s, m, qos, true, r.subIds, undefined)
        if (c.session !== s || !c.active) return false
      }
      replay.shift()
    }
    s.replay = null
    return true
  }

  private continueLater (s: Session, c: ClientBase): void {
    if (s.replayScheduled) return
    s.replayScheduled = true
    setImmediate(() => {
      s.replayScheduled = false
      if (c.session === s && c.active) this.pump(s)
    })
  }

  /**
   * On session resume: resend unacknowledged PUBLISH with DUP and PUBREL, in order, with their
   * packet identifiers [v3.1.1 MQTT-4.4.0-1 / v5 MQTT-4.4.0-1], no more at once than the client's Receive Maximum
   * [v5 MQTT-3.3.4-9] (the rest follow as acknowledgements come in), then the queue.
   */
  resume (s: Session): void {
    const c = s.client
    if (c === null) return
    s.clearResend()
    let budget = c.sendQuota
    for (const o of s.inflight.values()) {
      if (budget <= 0) { s.holdForResend(o); continue }
      budget--
      if (o.state === 'released') c.sendPubrel(o.packetId)
      else c.sendPublish(o.msg, o.qos, o.retain, o.subIds, o.packetId, true) // [v3.1.1 MQTT-3.3.1-1 / v5 MQTT-3.3.1-1] DUP on resend
    }
    this.pump(s)
  }

  /** PUBACK for an outgoing QoS 1 message [v3.1.1 §4.3.2 / v5 §4.3.2]. */
  puback (s: Session, packetId: number): boolean {
    const o = s.inflight.get(packetId)
    if (o === undefined || o.qos !== 1) return false
    this.complete(s, o)
    return true
  }

  /** PUBREC for an outgoing QoS 2 message: answer PUBREL, or complete at once on an error code [v3.1.1 §4.3.3 / v5 §4.3.3]. */
  pubrec (s: Session, packetId: number, reasonCode: number): boolean {
    const o = s.inflight.get(packetId)
    if (o === undefined || o.qos !== 2) return false
    if (reasonCode >= 0x80) {
      this.complete(s, o)
      return true
    }
    o.state = 'released'
    if (s.persistent) this.core.persistence.updateOutgoing(s.clientId, o.seq, packetId, 'released')
    return true
  }

  /** PUBCOMP for an outgoing QoS 2 message. */
  pubcomp (s: Session, packetId: number): boolean {
    const o = s.inflight.get(packetId)
    if (o === undefined || o.state !== 'released') return false
    this.complete(s, o)
    return true
  }

  private complete (s: Session, o: Outgoing): void {
    s.inflight.delete(o.packetId)
    if (s.persistent) this.core.persistence.removeOutgoing(s.clientId, o.seq)
    this.pump(s)
  }

  /** Send the retained messages matching a new subscription [v3.1.1 MQTT-3.3.1-6, v3.1.1 MQTT-3.3.1-8 / v5 MQTT-3.3.1-9..10], streamed. */
  deliverRetained (sub: Subscription): void {
    const list = this.core.matchRetained(sub.filter)
    if (list.length === 0) return
    const s = sub.session
    ;(s.replay ??= []).push({ list, next: 0, qos: sub.qos, subIds: sub.subId !== undefined ? [sub.subId] : undefined })
    this.pump(s)
  }
}

/** The outgoing record for persistence: its message is the publish's one StoredMessage, shared by every session. */
function stored (o: Outgoing): StoredOutgoing {
  return {
    seq: o.seq,
    packetId: o.packetId || undefined,
    state: o.state,
    qos: o.qos,
    retain: o.retain,
    message: storedMessage(o.msg),
    subscriptionIdentifiers: o.subIds,
  }
}
