/*
 * Who gets a message (Mosquitto's subs.c): match it against the subscription trie, merge
 * overlapping subscriptions per session, pick one member per shared group, apply the read check,
 * and hand each session its copy to the delivery state machine (delivery.ts). Nothing here
 * allocates per subscriber beyond what the spec makes distinct.
 */
import type { BrokerCore } from './core'
import type { RoutedMessage } from './message'
import type { Session } from './session'
import type { Subscription } from './topic-tree'

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
    const core = this.core
    const delivery = core.delivery
    core.tree.match(msg.topic, this.visit)
    for (let i = 0; i < matched.length; i++) {
      const s = matched[i]
      if (!core.mayRead(s, msg.topic)) continue
      // Delivered QoS is the minimum of the publish QoS and the granted QoS [MQTT-3.8.4-8];
      // for overlapping subscriptions the highest granted QoS wins [MQTT-3.3.4-2].
      const qos = msg.qos < s.matchQos ? msg.qos : s.matchQos
      // RETAIN is cleared on live delivery unless Retain As Published [MQTT-3.3.1-12, MQTT-3.3.1-13]
      delivery.deliver(s, msg, qos, s.matchRap && msg.retain, s.matchSubIds, s.matchKeys)
    }
    for (let i = 0; i < shared.length; i++) {
      const sub = shared[i]
      if (!core.mayRead(sub.session, msg.topic)) continue
      const qos = msg.qos < sub.qos ? msg.qos : sub.qos
      delivery.deliver(sub.session, msg, qos, sub.rap && msg.retain, sub.subId !== undefined ? [sub.subId] : undefined, sub.session.collectFilters ? [sub.key] : undefined)
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
      s.matchKeys = s.collectFilters ? [sub.key] : undefined
      this.matched.push(s)
      return
    }
    if (s.matchKeys !== undefined) s.matchKeys.push(sub.key)
    if (sub.qos > s.matchQos) s.matchQos = sub.qos
    if (sub.rap) s.matchRap = true
    if (sub.subId !== undefined) {
      // One copy carrying every matching Subscription Identifier [MQTT-3.3.4-3, MQTT-3.3.4-5]
      if (s.matchSubIds === undefined) s.matchSubIds = [sub.subId]
      else s.matchSubIds.push(sub.subId)
    }
  }
}
