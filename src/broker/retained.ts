/*
 * Retained messages [v3.1.1 §3.3.1.3 / v5 §3.3.1.3]: one per topic, in a trie of topic levels kept apart from
 * the subscription trie (as Mosquitto's retain.c does), so a new subscription's filter walks only
 * the stored topics it can match. The store counts its messages and bytes for the broker's
 * limits. Walks are iterative: however deep an old stored topic is, they never use the stack.
 */
import type { RoutedMessage } from './message'

/**
 * A topic level. Most stored topics end in levels with one child each (`site/7/device/42/temperature`):
 * such a node holds its child directly, and only a second child makes a Map (about 200 bytes fewer per node).
 */
class RetainNode {
  private kids: RetainNode | Map<string, RetainNode> | null = null
  msg: RoutedMessage | null = null
  constructor (readonly parent: RetainNode | null, readonly level: string) {}

  child (level: string): RetainNode | undefined {
    const k = this.kids
    if (k === null) return undefined
    if (k instanceof RetainNode) return k.level === level ? k : undefined
    return k.get(level)
  }

  /** The child for `level`, made if missing. */
  childOrNew (level: string): RetainNode {
    const found = this.child(level)
    if (found !== undefined) return found
    const made = new RetainNode(this, level)
    const k = this.kids
    if (k === null) this.kids = made
    else if (k instanceof RetainNode) this.kids = new Map([[k.level, k], [level, made]])
    else k.set(level, made)
    return made
  }

  removeChild (level: string): void {
    const k = this.kids
    if (k instanceof RetainNode) { if (k.level === level) this.kids = null; return }
    k?.delete(level)
    if (k?.size === 0) this.kids = null
  }

  get hasChildren (): boolean { return this.kids !== null }

  /** The children in insertion order. */
  children (): RetainNode[] {
    const k = this.kids
    if (k === null) return []
    return k instanceof RetainNode ? [k] : [...k.values()]
  }
}

/** What a retained message counts against maxRetainedBytes: its topic and payload. */
export function retainedBytes (m: { topic: string, payload: Buffer }): number {
  return m.topic.length + m.payload.length
}

export class RetainedStore {
  private root = new RetainNode(null, '')
  private count = 0
  private byteCount = 0
  private volatileCount = 0
  private volatileByteCount = 0

  /** Stored messages, without the volatile ones. */
  get size (): number { return this.count }
  /** Topic and payload bytes of the stored messages, without the volatile ones. */
  get bytes (): number { return this.byteCount }
  /** Volatile messages stored. */
  get volatileSize (): number { return this.volatileCount }
  get volatileBytes (): number { return this.volatileByteCount }

  /** Store or replace the retained message for its topic. */
  set (msg: RoutedMessage): void {
    let node = this.root
    for (const level of msg.topic.split('/')) node = node.childOrNew(level)
    if (node.msg !== null) this.tally(node.msg, -1)
    this.tally(msg, 1)
    node.msg = msg
  }

  /** Volatile messages (the broker's $SYS values) are counted apart: they are outside the limits. */
  private tally (m: RoutedMessage, sign: 1 | -1): void {
    if (m.volatile === true) { this.volatileCount += sign; this.volatileByteCount += sign * retainedBytes(m); return }
    this.count += sign
    this.byteCount += sign * retainedBytes(m)
  }

  /** Delete the retained message for `topic` [v3.1.1 MQTT-3.3.1-10 / v5 MQTT-3.3.1-6]. Returns the message deleted, if one existed. */
  delete (topic: string): RoutedMessage | undefined {
    const node = this.find(topic)
    if (node === undefined || node.msg === null) return undefined
    const old = node.msg
    this.tally(old, -1)
    node.msg = null
    let n: RetainNode | null = node
    while (n !== null && n.parent !== null && n.msg === null && !n.hasChildren) {
      n.parent.removeChild(n.level)
      n = n.parent
    }
    return old
  }

  get (topic: string): RoutedMessage | undefined {
    return this.find(topic)?.msg ?? undefined
  }

  private find (topic: string): RetainNode | undefined {
    let node: RetainNode | undefined = this.root
    for (const level of topic.split('/')) {
      node = node.child(level)
      if (!node) return undefined
    }
    return node
  }

  /** Every retained message whose topic matches `filter`; wildcards skip `$` topics at the first level [v3.1.1 MQTT-4.7.2-1 / v5 MQTT-4.7.2-1]. */
  match (filter: string, out: RoutedMessage[] = []): RoutedMessage[] {
    const levels = filter.split('/')
    const stack: Array<[RetainNode, number]> = [[this.root, 0]]
    while (stack.length > 0) {
      const [node, i] = stack.pop() as [RetainNode, number]
      if (i === levels.length) {
        if (node.msg !== null) out.push(node.msg)
        continue
      }
      const level = levels[i]
      if (level === '#') {
        if (node.msg !== null && i > 0) out.push(node.msg) // 'a/#' matches 'a' [v3.1.1 §4.7.1.2 / v5 §4.7.1.2]
        for (const child of node.children()) {
          if (i === 0 && child.level.charCodeAt(0) === 0x24) continue
          collect(child, out)
        }
        continue
      }
      if (!node.hasChildren) continue
      if (level === '+') {
        const kids = node.children()
        for (let j = kids.length - 1; j >= 0; j--) { // reversed onto the stack: visited in insertion order
          const child = kids[j]
          if (i === 0 && child.level.charCodeAt(0) === 0x24) continue
          stack.push([child, i + 1])
        }
        continue
      }
      const child = node.child(level)
      if (child) stack.push([child, i + 1])
    }
    return out
  }

  all (): RoutedMessage[] {
    const out: RoutedMessage[] = []
    for (const c of this.root.children()) collect(c, out)
    return out
  }
}

/** Every message at or below `start`, without recursion. */
function collect (start: RetainNode, out: RoutedMessage[]): void {
  const stack = [start]
  while (stack.length > 0) {
    const node = stack.pop() as RetainNode
    if (node.msg !== null) out.push(node.msg)
    const kids = node.children()
    for (let j = kids.length - 1; j >= 0; j--) stack.push(kids[j]) // visited in insertion order
  }
}
