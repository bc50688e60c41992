/*
 * The hot path: match a message against the subscription trie, merge overlapping subscriptions
 * per session, and hand each session its copy; plus outgoing QoS 1/2 flow (in flight, queue,
 * acknowledgements). Nothing here allocates per subscriber beyond what the spec makes distinct.
 */
import type { BrokerCore } from './core'
import type { ClientBase } from './client-base'
import { storedMessage, type RoutedMessage } from './message'
import type { Outgoing, Session } from './session'
import type { Subscription } from './topic-tree'
import type { StoredOutgoing } from './persistence'
import type { QoS } from './types'

interface Pending { msg: RoutedMessage, origin: Session | undefined }

export class Router {
  private gen = 0
  private routing = false
  private pending: Pending[] = []
  /** Sessions matched by the publish being routed (non-shared subscriptions, merged). */
  private matched: Session[] = []
  /** Shared-group picks for the publish being routed, delivered one by one. */
  private sharedPicks: Subscription[] = []
  private curOrigin: Session | undefined = undefined
  private readonly visit = (sub: Subscription): void => this.collect(sub)

  constructor (private readonly core: BrokerCore) {}

  /**
   * Route an accepted message to every matching subscription. A publish made while routing
   * (an in-process subscriber publishing from its handler) is routed after the current one,
   * which keeps per-publisher order [MQTT-4.6.0-6].
   */
  route (msg: RoutedMessage, origin: Session | undefined): void {
    if (this.routing) { this.pending.push({ msg, origin }); return }
    this.routing = true
    try {
      this.routeOne(msg, origin)
      while (this.pending.length > 0) {
        const p = this.pending.shift() as Pending
        this.routeOne(p.msg, p.origin)
      }
    } finally {
      this.routing = false
    }
  }

  private routeOne (msg: RoutedMessage, origin: Session | undefined): void {
    this.gen++
    this.curOrigin = origin
    const matched = this.matched
    const shared = this.sharedPicks
    matched.length = 0
    shared.length = 0
    this.core.tree.match(msg.topic, this.visit)
    for (let i = 0; i < matched.length; i++) {
      const s = matched[i]
      // Delivered QoS is the minimum of the publish QoS and the granted QoS [MQTT-3.8.4-8];
      // for overlapping subscriptions the highest granted QoS wins [MQTT-3.3.4-2].
      const qos = msg.qos < s.matchQos ? msg.qos : s.matchQos
      // RETAIN is cleared on live delivery unless Retain As Published [MQTT-3.3.1-12, MQTT-3.3.1-13]
      this.deliver(s, msg, qos, s.matchRap && msg.retain, s.matchSubIds)
    }
    for (let i = 0; i < shared.length; i++) {
      const sub = shared[i]
      const qos = msg.qos < sub.qos ? msg.qos : sub.qos
      this.deliver(sub.session, msg, qos, sub.rap && msg.retain, sub.subId !== undefined ? [sub.subId] : undefined)
    }
    matched.length = 0
    shared.length = 0
  }

  private collect (sub: Subscription): void {
    const s = sub.session
    if (sub.group !== undefined) { this.sharedPicks.push(sub); return }
    // No Local: never back to the publisher's own session [MQTT-3.8.3-3]
    if (sub.nl && s === this.curOrigin) return
    if (s.matchGen !== this.gen) {
      s.matchGen = this.gen
      s.matchQos = sub.qos
      s.matchRap = sub.rap
      s.matchSubIds = sub.subId !== undefined ? [sub.subId] : undefined
      this.matched.push(s)
      return
    }
    if (sub.qos > s.matchQos) s.matchQos = sub.qos
    if (sub.rap) s.matchRap = true
    if (sub.subId !== undefined) {
      // One copy carrying every matching Subscription Identifier [MQTT-3.3.4-3, MQTT-3.3.4-5]
      if (s.matchSubIds === undefined) s.matchSubIds = [sub.subId]
      else s.matchSubIds.push(sub.subId)
    }
  }

  /** Give one session its copy of a message at the given QoS and RETAIN flag. */
  deliver (s: Session, msg: RoutedMessage, qos: QoS, retain: boolean, subIds: number[] | undefined): void {
    const core = this.core
    if (msg.expiresAt !== undefined && msg.expiresAt <= Date.now()) { // [MQTT-3.3.2-5]
      core.dropped(s.clientId, msg.topic, qos, 'expired')
      return
    }
    const c = s.client
    if (qos === 0) {
      if (c === null || !c.active) return // QoS 0 is not queued for absent clients
      if (!c.writable()) { core.dropped(s.clientId, msg.topic, 0, 'slow-consumer'); return }
      if (c.sendPublish(msg, 0, retain, subIds, 0, false)) core.stats.messagesSent++
      else core.dropped(s.clientId, msg.topic, 0, 'packet-too-large')
      return
    }
    const o: Outgoing = { seq: ++s.outSeq, packetId: 0, state: 'queued', msg, qos, retain, subIds }
    if (c !== null && c.active && s.queued === 0 && s.resend.length === 0 && (c.kind === 'local' || (s.sentUnacked < c.sendQuota && c.writable()))) {
      this.send(s, c, o, true)
      return
    }
    if (s.queued >= core.opts.maxQueuedMessages) { // bounded queue; drops are counted
      core.dropped(s.clientId, msg.topic, qos, 'queue-full')
      return
    }
    if (s.persistent && !core.persistence.addOutgoing(s.clientId, stored(o))) {
      core.dropped(s.clientId, msg.topic, qos, 'persistence-full')
      return
    }
    s.enqueue(o)
  }

  /** Send an outgoing QoS 1/2 message: in-process clients take it at once, network ones keep it in flight. */
  private send (s: Session, c: ClientBase, o: Outgoing, fresh: boolean): void {
    const core = this.core
    if (c.kind === 'local') {
      c.sendPublish(o.msg, o.qos, o.retain, o.subIds, 0, false)
      core.stats.messagesSent++
      if (!fresh && s.persistent) core.persistence.removeOutgoing(s.clientId, o.seq)
      return
    }
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
    // Too large for the client: discard and behave as if delivered [MQTT-3.1.2-25]
    s.inflight.delete(pid)
    if (s.persistent) core.persistence.removeOutgoing(s.clientId, o.seq)
    core.dropped(s.clientId, o.msg.topic, o.qos, 'packet-too-large')
  }

  /** Send queued messages while the client's Receive Maximum and its socket allow [MQTT-3.3.4-9]. */
  pump (s: Session): void {
    const c = s.client
    if (c === null || !c.active) return
    const local = c.kind === 'local'
    // First what a resume could not resend within the client's Receive Maximum, as it was.
    while (s.resend.length > 0 && s.sentUnacked < c.sendQuota && c.writable()) {
      const o = s.resend.shift() as Outgoing
      if (!s.inflight.has(o.packetId)) continue
      if (o.state === 'released') c.sendPubrel(o.packetId)
      else c.sendPublish(o.msg, o.qos, o.retain, o.subIds, o.packetId, true)
    }
    if (s.resend.length > 0) return
    const now = Date.now()
    while (s.queued > 0 && (local || (s.sentUnacked < c.sendQuota && c.writable()))) {
      const o = s.shift() as Outgoing
      if (o.msg.expiresAt !== undefined && o.msg.expiresAt <= now) {
        if (s.persistent) this.core.persistence.removeOutgoing(s.clientId, o.seq)
        this.core.dropped(s.clientId, o.msg.topic, o.qos, 'expired')
        continue
      }
      this.send(s, c, o, false)
      if (c.session !== s || !c.active) return
    }
  }

  /**
   * On session resume: resend unacknowledged PUBLISH with DUP and PUBREL, in order, with their
   * packet identifiers [MQTT-4.4.0-1], no more at once than the client's Receive Maximum
   * [MQTT-3.3.4-9] (the rest follow as acknowledgements come in), then the queue.
   */
  resume (s: Session): void {
    const c = s.client
    if (c === null) return
    s.resend = []
    let budget = c.kind === 'local' ? Infinity : c.sendQuota
    for (const o of s.inflight.values()) {
      if (budget <= 0) { s.resend.push(o); continue }
      budget--
      if (o.state === 'released') c.sendPubrel(o.packetId)
      else c.sendPublish(o.msg, o.qos, o.retain, o.subIds, o.packetId, true) // [MQTT-3.3.1-1] DUP on resend
    }
    this.pump(s)
  }

  /** PUBACK for an outgoing QoS 1 message [MQTT-4.3.2]. */
  puback (s: Session, packetId: number): boolean {
    const o = s.inflight.get(packetId)
    if (o === undefined || o.qos !== 1) return false
    s.inflight.delete(packetId)
    if (s.persistent) this.core.persistence.removeOutgoing(s.clientId, o.seq)
    this.pump(s)
    return true
  }

  /** PUBREC for an outgoing QoS 2 message: answer PUBREL, or complete at once on an error code [MQTT-4.3.3]. */
  pubrec (s: Session, packetId: number, reasonCode: number): boolean {
    const o = s.inflight.get(packetId)
    if (o === undefined || o.qos !== 2) return false
    if (reasonCode >= 0x80) {
      s.inflight.delete(packetId)
      if (s.persistent) this.core.persistence.removeOutgoing(s.clientId, o.seq)
      this.pump(s)
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
    s.inflight.delete(packetId)
    if (s.persistent) this.core.persistence.removeOutgoing(s.clientId, o.seq)
    this.pump(s)
    return true
  }

  /** Send the retained messages matching a new subscription [MQTT-3.3.1-6, MQTT-3.3.1-8]. */
  deliverRetained (sub: Subscription): void {
    const list = this.core.matchRetained(sub.filter)
    for (const m of list) {
      const qos = m.qos < sub.qos ? m.qos : sub.qos
      this.deliver(sub.session, m, qos, true, sub.subId !== undefined ? [sub.subId] : undefined)
    }
  }
}

/** The outgoing record for persistence: its message is the publish's one StoredMessage, shared by every session. */
export function stored (o: Outgoing): StoredOutgoing {
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
