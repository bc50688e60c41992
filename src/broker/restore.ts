/*
 * Loading what persistence holds into a broker that starts: retained messages, and sessions with
 * their subscriptions, queued and in-flight messages and incoming QoS 2 state. Each stored
 * message becomes one RoutedMessage, however many sessions owe it, so the broker and the store
 * share it.
 */
import type { BrokerCore } from './core'
import type { RoutedMessage } from './message'
import type { PersistedState, StoredMessage } from './persistence'
import { NEVER_EXPIRES, Session } from './session'
import { parseShared } from './topics'
import type { SubscriptionOptions } from './types'

export function restoreState (core: BrokerCore, state: PersistedState): void {
  const now = Date.now()
  // The stored object itself becomes the routed message (the fields it lacks are added): one object per message for
  // the broker and the store, which never reads or writes the added ones.
  const restored = (m: StoredMessage): RoutedMessage => {
    const r = m as RoutedMessage
    r.origin = undefined
    r.enc = undefined
    r.stored = m
    return r
  }
  for (const r of state.retained) {
    if (r.expiresAt !== undefined && r.expiresAt <= now) { core.persistence.deleteRetained(r.topic); continue }
    core.keepRetained(restored(r))
  }
  for (const st of state.sessions) {
    const s = new Session(st.clientId)
    s.expiryInterval = st.expiryInterval
    s.protocolVersion = st.protocolVersion
    s.disconnectedAt = st.disconnectedAt ?? now
    if (st.owner !== undefined) {
      s.username = st.owner.username
      s.kind = st.owner.kind
      s.ownerKnown = true
    }
    if (s.expiryInterval < NEVER_EXPIRES) {
      s.expireAt = s.disconnectedAt + s.expiryInterval * 1000
      if (s.expireAt <= now) { core.persistence.deleteSession(s.clientId); continue }
      core.waiting.add(s)
    }
    core.sessions.set(s.clientId, s)
    for (const so of st.subscriptions) restoreSubscription(core, s, so)
    for (const o of st.outgoing) {
      const out = { seq: o.seq, packetId: o.packetId ?? 0, state: o.state, msg: restored(o.message), qos: o.qos, retain: o.retain, subIds: o.subscriptionIdentifiers }
      if (o.seq > s.outSeq) s.outSeq = o.seq
      if (o.state !== 'queued' && o.packetId) { s.addInflight(o.packetId, out); s.notePacketId(o.packetId) } else s.enqueue({ ...out, state: 'queued', packetId: 0 })
    }
    for (const id of st.incoming) s.addIncoming(id)
  }
}

function restoreSubscription (core: BrokerCore, s: Session, so: SubscriptionOptions): void {
  const shared = parseShared(so.topic)
  if (shared === false) return
  core.addSubscription(s, {
    session: s,
    filter: shared ? shared.filter : so.topic,
    key: so.topic,
    qos: so.qos,
    nl: so.nl ?? false,
    rap: so.rap ?? false,
    rh: so.rh ?? 0,
    subId: so.subscriptionIdentifier,
    group: shared ? shared.group : undefined,
  })
}
