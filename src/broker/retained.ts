/*
 * Retained messages [MQTT-3.3.1-5..11]: one per topic, in a trie of topic levels kept apart from
 * the subscription trie (as Mosquitto's retain.c does), so a new subscription's filter walks only
 * the stored topics it can match. The store counts its messages and bytes for the broker's
 * limits. Walks are iterative: however deep an old stored topic is, they never use the stack.
 */
import type { RoutedMessage } from './message'

class RetainNode {
  children: Map<string, RetainNode> | null = null
  msg: RoutedMessage | null = null
  constructor (readonly parent: RetainNode | null, readonly level: string) {}
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
    for (const level of msg.topic.split('/')) {
      if (node.children === null) node.children = new Map()
      let next = node.children.get(level)
      if (!next) { next = new RetainNode(node, level); node.children.set(level, next) }
      node = next
    }
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

  /** Delete the retained message for `topic` [MQTT-3.3.1-10]. Returns the message deleted, if one existed. */
  delete (topic: string): RoutedMessage | undefined {
    const node = this.find(topic)
    if (node === undefined || node.msg === null) return undefined
    const old = node.msg
    this.tally(old, -1)
    node.msg = null
    let n: RetainNode | null = node
    while (n !== null && n.parent !== null && n.msg === null && (n.children === null || n.children.size === 0)) {
      n.parent.children?.delete(n.level)
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
      node = node.children?.get(level)
      if (!node) return undefined
    }
    return node
  }

  /** Every retained message whose topic matches `filter`; wildcards skip `$` topics at the first level [MQTT-4.7.2-1]. */
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
        if (node.msg !== null && i > 0) out.push(node.msg) // 'a/#' matches 'a' [MQTT-4.7.1-2]
        if (node.children !== null) {
          for (const [k, child] of node.children) {
            if (i === 0 && k.charCodeAt(0) === 0x24) continue
            collect(child, out)
          }
        }
        continue
      }
      if (node.children === null) continue
      if (level === '+') {
        const kids = [...node.children]
        for (let j = kids.length - 1; j >= 0; j--) { // reversed onto the stack: visited in insertion order
          const [k, child] = kids[j]
          if (i === 0 && k.charCodeAt(0) === 0x24) continue
          stack.push([child, i + 1])
        }
        continue
      }
      const child = node.children.get(level)
      if (child) stack.push([child, i + 1])
    }
    return out
  }

  all (): RoutedMessage[] {
    const out: RoutedMessage[] = []
    if (this.root.children !== null) for (const c of this.root.children.values()) collect(c, out)
    return out
  }
}

/** Every message at or below `start`, without recursion. */
function collect (start: RetainNode, out: RoutedMessage[]): void {
  const stack = [start]
  while (stack.length > 0) {
    const node = stack.pop() as RetainNode
    if (node.msg !== null) out.push(node.msg)
    if (node.children === null) continue
    const kids = [...node.children.values()]
    for (let j = kids.length - 1; j >= 0; j--) stack.push(kids[j]) // visited in insertion order
  }
}
