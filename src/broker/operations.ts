/*
 * What a client does once connected, shared by network handlers and in-process clients:
 * publish, subscribe, unsubscribe. Handlers add the wire details (acks, packet ids, aliases).
 */
import type { BrokerCore } from './core'
import type { ClientBase } from './client-base'
import { RC, reasonError } from './errors'
import type { Subscription } from './topic-tree'
import { clientMayPublish } from './metrics'
import { parseShared, validTopicFilter } from './topics'
import type { Message, SubscriptionOptions, QoS } from './types'

/** The result of accepting a PUBLISH: a reason code, possibly after authorisation. */
export type Accept = number | Promise<number>

/**
 * Authorise and route an application message from a client. Returns the reason code for the
 * PUBACK/PUBREC (0x00; 0x87 not authorised; 0x97 quota exceeded when a new retained message
 * would pass the retained limits).
 */
export function acceptPublish (core: BrokerCore, c: ClientBase, msg: Message): Accept {
  if (!clientMayPublish(msg.topic)) return refuse(core, c, msg) // $SYS belongs to the broker (bridge state topics aside)
  if (!core.retainedFits(msg)) { // maxRetainedMessages / maxRetainedBytes: refused as over quota, not routed
    core.dropped(c.clientId, msg.topic, msg.qos, 'retained-limit')
    return RC.QUOTA_EXCEEDED
  }
  const verdict = core.authz.authorizePublish(c, msg.topic, msg.qos)
  if (verdict === true) return routeAccepted(core, c, msg)
  if (verdict === false) return refuse(core, c, msg)
  return Promise.resolve(verdict).then(
    ok => ok ? routeAccepted(core, c, msg) : refuse(core, c, msg),
    err => { core.warn('publish authorisation failed', c.clientId, err as Error); return RC.UNSPECIFIED_ERROR },
  )
}

function refuse (core: BrokerCore, c: ClientBase, msg: Message): number {
  core.dropped(c.clientId, msg.topic, msg.qos, 'not-authorized')
  return RC.NOT_AUTHORIZED
}

function routeAccepted (core: BrokerCore, c: ClientBase, msg: Message): number {
  return core.accept(msg, c.clientId, c.session ?? undefined)
}

/**
 * Subscribe. Returns one reason code per request, in order [MQTT-3.8.4-6]; the caller sends the
 * SUBACK first and then calls `after()` to send retained messages [MQTT-3.8.4-4]. Undefined when
 * the client's session ended meanwhile: there is nobody to answer.
 */
export async function subscribe (core: BrokerCore, c: ClientBase, requests: SubscriptionOptions[]): Promise<{ codes: number[], after: () => void } | undefined> {
  const s = c.session
  if (s === null) throw new Error('not connected')
  const codes: number[] = []
  const retainedFor: Subscription[] = []
  const added: SubscriptionOptions[] = []
  for (const req of requests) {
    const shared = parseShared(req.topic)
    // A valid filter [MQTT-4.7.1-1..3] within the broker's topic level limit
    if (shared === false || !core.validFilter(req.topic)) {
      codes.push(c.protocolVersion === 5 ? RC.TOPIC_FILTER_INVALID : 0x80)
      continue
    }
    if (shared && req.nl && c.protocolVersion === 5) {
      // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4]
      throw reasonError(RC.PROTOCOL_ERROR, 'No Local set on a shared subscription')
    }
    const filter = shared ? shared.filter : req.topic
    const verdict = await core.authorizeSubscription(c, filter, req.qos)
    // The session may have ended while the authoriser was asked (the connection closed, or a Clean
    // Start took the client id over): nothing more is done for it, and it is not written back.
    if (c.session !== s) return undefined
    if (verdict === false) {
      codes.push(c.protocolVersion === 5 ? RC.NOT_AUTHORIZED : 0x80)
      continue
    }
    if (!s.subscriptions.has(req.topic) && s.subscriptions.size >= core.opts.maxSubscriptionsPerClient) {
      codes.push(c.protocolVersion === 5 ? RC.QUOTA_EXCEEDED : 0x80) // maxSubscriptionsPerClient
      continue
    }
    let qos: QoS = verdict === true ? req.qos : (Math.min(verdict, req.qos) as QoS)
    if (qos > core.opts.maximumQoS) qos = core.opts.maximumQoS // granted QoS may be lower [MQTT-3.8.4-7]
    const sub: Subscription = {
      session: s,
      filter,
      key: req.topic,
      qos,
      nl: req.nl ?? false,
      rap: req.rap ?? false,
      rh: req.rh ?? 0,
      subId: req.subscriptionIdentifier,
      group: shared ? shared.group : undefined,
    }
    const options: SubscriptionOptions = { topic: req.topic, qos, nl: sub.nl, rap: sub.rap, rh: sub.rh, subscriptionIdentifier: sub.subId }
    if (s.persistent && !core.persistence.addSubscription(s.clientId, options)) {
      codes.push(c.protocolVersion === 5 ? RC.QUOTA_EXCEEDED : 0x80) // the persistent store is full
      continue
    }
    // A repeated subscription replaces the existing one [MQTT-3.8.4-3]
    const existed = core.addSubscription(s, sub)
    codes.push(qos)
    added.push(options)
    // Retain Handling: 0 always, 1 only for a new subscription, 2 never; never for shared [MQTT-3.3.1-9, MQTT-3.3.1-10]
    if (!shared && core.opts.retainAvailable && (sub.rh === 0 || (sub.rh === 1 && !existed))) retainedFor.push(sub)
  }
  if (added.length > 0) {
    core.emit('subscribed', { clientId: c.clientId, subscriptions: added })
  }
  return {
    codes,
    after: () => { for (const sub of retainedFor) if (c.session === s) core.delivery.deliverRetained(sub) },
  }
}

/** Unsubscribe. Returns one reason code per filter [MQTT-3.10.4-5]. */
export function unsubscribe (core: BrokerCore, c: ClientBase, filters: string[]): number[] {
  const s = c.session
  if (s === null) throw new Error('not connected')
  const codes: number[] = []
  const removed: string[] = []
  for (const f of filters) {
    const sub = s.subscriptions.get(f)
    if (sub === undefined) {
      const valid = parseShared(f) !== false && validTopicFilter(f)
      codes.push(valid ? RC.NO_SUBSCRIPTION_EXISTED : RC.TOPIC_FILTER_INVALID)
      continue
    }
    core.removeSubscription(s, sub)
    removed.push(f)
    codes.push(RC.SUCCESS)
  }
  if (removed.length > 0) {
    core.emit('unsubscribed', { clientId: c.clientId, topics: removed })
  }
  return codes
}
