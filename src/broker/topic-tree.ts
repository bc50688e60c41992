/*
 * The subscription trie: one node per topic level. Matching a topic walks the literal level,
 * then `+`, then `#`, as Mosquitto's sub__search does. Shared subscriptions ($share/group/filter)
 * live on the node of their filter, one group per share name [v5 §4.8.2].
 */
import type { QoS } from './types'
import type { Session } from './session'

export interface Subscription {
  session: Session
  /** The filter without any `$share/group/` prefix. */
  filter: string
  /** The filter as the client sent it (map key in the session). */
  key: string
  qos: QoS
  nl: boolean
  rap: boolean
  rh: 0 | 1 | 2
  subId: number | undefined
  group: string | undefined
  /**
   * `[subId]` and `[key]`, made on the first message this subscription alone matches for its session
   * (the usual case) and handed to every such delivery, so routing allocates no list per message.
   * Never changed: the router copies them before it adds to them.
   */
  idList?: number[]
  keyList?: string[]
}

interface SharedGroup {
  members: Subscription[]
  next: number
}

class TrieNode {
  children: Map<string, TrieNode> | null = null
  subs: Map<Session, Subscription> | null = null
  shared: Map<string, SharedGroup> | null = null
  constructor (readonly parent: TrieNode | null, readonly level: string) {}

  isEmpty (): boolean {
    return (this.children === null || this.children.size === 0) && (this.subs === null || this.subs.size === 0) &&
      (this.shared === null || this.shared.size === 0)
  }
}

/** Receives every matching subscription. Shared groups yield the one member chosen for this message. */
export type MatchVisitor = (sub: Subscription) => void

export class TopicTree {
  private root = new TrieNode(null, '')
  private count = 0
  private sharedCount = 0

  /** Subscriptions, shared ones included. */
  get size (): number { return this.count }
  /** Shared subscriptions (one per member of each group). */
  get sharedSize (): number { return this.sharedCount }

  /** Add or replace the session's subscription on `sub.filter` (and group). Returns true when it replaced one. */
  add (sub: Subscription): boolean {
    const node = this.nodeFor(sub.filter, true) as TrieNode
    if (sub.group === undefined) {
      if (node.subs === null) node.subs = new Map()
      const existed = node.subs.has(sub.session)
      node.subs.set(sub.session, sub)
      if (!existed) this.count++
      return existed
    }
    if (node.shared === null) node.shared = new Map()
    let g = node.shared.get(sub.group)
    if (!g) { g = { members: [], next: 0 }; node.shared.set(sub.group, g) }
    const i = g.members.findIndex(m => m.session === sub.session)
    if (i >= 0) { g.members[i] = sub; return true }
    g.members.push(sub)
    this.count++
    this.sharedCount++
    return false
  }

  /** Remove a subscription. Returns true when it existed. */
  remove (sub: Pick<Subscription, 'session' | 'filter' | 'group'>): boolean {
    const node = this.nodeFor(sub.filter, false)
    if (!node) return false
    let removed = false
    if (sub.group === undefined) {
      removed = node.subs !== null && node.subs.delete(sub.session)
    } else if (node.shared !== null) {
      const g = node.shared.get(sub.group)
      if (g) {
        const i = g.members.findIndex(m => m.session === sub.session)
        if (i >= 0) { g.members.splice(i, 1); removed = true; this.sharedCount--; if (g.next > i) g.next-- }
        if (g.members.length === 0) node.shared.delete(sub.group)
      }
    }
    if (removed) this.count--
    this.prune(node)
    return removed
  }

  /** Visit every subscription matching `topic`. `$` topics never match a leading wildcard [v3.1.1 MQTT-4.7.2-1 / v5 MQTT-4.7.2-1]. */
  match (topic: string, visit: MatchVisitor): void {
    const levels = topic.split('/')
    this.walk(this.root, levels, 0, topic.charCodeAt(0) === 0x24, visit)
  }

  /**
   * Recursive, one frame per level of the published topic: topic names are bounded by
   * maxTopicLevels (at most 1000), whatever deep filters the trie holds.
   */
  private walk (node: TrieNode, levels: string[], i: number, dollar: boolean, visit: MatchVisitor): void {
    const children = node.children
    if (i === levels.length) {
      emit(node, visit)
      // 'a/#' also matches 'a' [v3.1.1 §4.7.1.2 / v5 §4.7.1.2]
      const hash = children?.get('#')
      if (hash) emit(hash, visit)
      return
    }
    if (children === null) return
    const lit = children.get(levels[i])
    if (lit) this.walk(lit, levels, i + 1, dollar, visit)
    if (i === 0 && dollar) return
    const plus = children.get('+')
    if (plus) this.walk(plus, levels, i + 1, dollar, visit)
    const hash = children.get('#')
    if (hash) emit(hash, visit)
  }

  private nodeFor (filter: string, create: boolean): TrieNode | null {
    let node = this.root
    let start = 0
    for (;;) {
      const end = filter.indexOf('/', start)
      const level = end === -1 ? filter.slice(start) : filter.slice(start, end)
      if (node.children === null) {
        if (!create) return null
        node.children = new Map()
      }
      let next = node.children.get(level)
      if (!next) {
        if (!create) return null
        next = new TrieNode(node, level)
        node.children.set(level, next)
      }
      node = next
      if (end === -1) return node
      start = end + 1
    }
  }

  private prune (node: TrieNode): void {
    let n: TrieNode | null = node
    while (n !== null && n.parent !== null && n.isEmpty()) {
      n.parent.children?.delete(n.level)
      n = n.parent
    }
  }
}

function emit (node: TrieNode, visit: MatchVisitor): void {
  if (node.subs !== null) node.subs.forEach(visit) // no iterator object per match
  if (node.shared !== null) for (const g of node.shared.values()) visit(pickMember(g))
}

/** Round robin over the group, preferring members whose client is connected (MQTT 5 section 4.8.2 leaves the choice to the Server). */
function pickMember (g: SharedGroup): Subscription {
  const n = g.members.length
  for (let k = 0; k < n; k++) {
    const idx = (g.next + k) % n
    const m = g.members[idx]
    if (m.session.client !== null) { g.next = (idx + 1) % n; return m }
  }
  const m = g.members[g.next % n]
  g.next = (g.next + 1) % n
  return m
}
