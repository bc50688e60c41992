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
  /**
   * Sessions matched by the publish being routed (non-shared subscriptions, merged), the first
   * nMatched entries. The arrays are reused with a count rather than emptied (`length = 0` frees
   * the backing store, and the next push makes a new one, for every message).
   */
  private matched: Array<Session | null> = []
  private nMatched = 0
  /** Shared-group picks for the publish being routed, delivered one by one. */
  private sharedPicks: Array<Subscription | null> = []
  private nShared = 0
  private curOrigin: Session | undefined = undefined
  private readonly visit = (sub: Subscription): void => this.collect(sub)

  constructor (private readonly core: BrokerCore) {}

  /**
   * Route an accepted message to every matching subscription. A publish made while routing
   * (an in-process subscriber publishing from its handler) is routed after the current one,
   * which keeps per-publisher order [v3.1.1 MQTT-4.6.0-6 / v5 MQTT-4.6.0-5].
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
    this.nMatched = 0
    this.nShared = 0
    const core = this.core
    const delivery = core.delivery
    core.tree.match(msg.topic, this.visit)
    // route() never nests routeOne (a publish made while routing waits in pending), so the scratch arrays are this one's.
    const nMatched = this.nMatched
    const nShared = this.nShared
    for (let i = 0; i < nMatched; i++) {
      const s = matched[i] as Session
      matched[i] = null // no session stays referenced from here after its message
      if (!core.mayRead(s, msg.topic)) continue
      // Delivered QoS is the minimum of the publish QoS and the granted QoS [v3.1.1 MQTT-3.8.4-6 / v5 MQTT-3.8.4-8];
      // for overlapping subscriptions the highest granted QoS wins [v3.1.1 MQTT-3.3.5-1 / v5 MQTT-3.3.4-2].
      const qos = msg.qos < s.matchQos ? msg.qos : s.matchQos
      // RETAIN is cleared on live delivery unless Retain As Published [v3.1.1 MQTT-3.3.1-9 / v5 MQTT-3.3.1-12..13]
      delivery.deliver(s, msg, qos, s.matchRap && msg.retain, s.matchSubIds, s.matchKeys)
    }
    for (let i = 0; i < nShared; i++) {
      const sub = shared[i] as Subscription
      shared[i] = null
      if (!core.mayRead(sub.session, msg.topic)) continue
      const qos = msg.qos < sub.qos ? msg.qos : sub.qos
      delivery.deliver(sub.session, msg, qos, sub.rap && msg.retain, sub.subId !== undefined ? (sub.idList ??= [sub.subId]) : undefined, sub.session.collectFilters ? (sub.keyList ??= [sub.key]) : undefined)
    }
  }

  private collect (sub: Subscription): void {
    const s = sub.session
    if (sub.group !== undefined) { this.sharedPicks[this.nShared++] = sub; return }
    // No Local: never back to the publisher's own session [v5 MQTT-3.8.3-3]
    if (sub.nl && s === this.curOrigin) return
    if (s.matchGen !== this.gen) {
      s.matchGen = this.gen
      s.matchQos = sub.qos
      s.matchRap = sub.rap
      // One subscription matched so far: its own lists, lent (see Subscription.idList)
      s.matchSubIds = sub.subId !== undefined ? (sub.idList ??= [sub.subId]) : undefined
      s.matchKeys = s.collectFilters ? (sub.keyList ??= [sub.key]) : undefined
      s.matchLent = true
      this.matched[this.nMatched++] = s
      return
    }
    if (s.matchLent) { // a second subscription of this session matches: this message gets lists of its own
      s.matchLent = false
      if (s.matchSubIds !== undefined) s.matchSubIds = s.matchSubIds.slice()
      if (s.matchKeys !== undefined) s.matchKeys = s.matchKeys.slice()
    }
    if (s.matchKeys !== undefined) s.matchKeys.push(sub.key)
    if (sub.qos > s.matchQos) s.matchQos = sub.qos
    if (sub.rap) s.matchRap = true
    if (sub.subId !== undefined) {
      // One copy carrying every matching Subscription Identifier [v5 MQTT-3.3.4-3, v5 MQTT-3.3.4-4]
      if (s.matchSubIds === undefined) s.matchSubIds = [sub.subId]
      else s.matchSubIds.push(sub.subId)
    }
  }
}
