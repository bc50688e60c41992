/*
 * Retained messages [MQTT-3.3.1-5..11]: one per topic, in a trie of topic levels kept apart from
 * the subscription trie (as Mosquitto's retain.c does), so a new subscription's filter walks only
 * the stored topics it can match.
 */
import type { RoutedMessage } from './message'

class RetainNode {
  children: Map<string, RetainNode> | null = null
  msg: RoutedMessage | null = null
  constructor (readonly parent: RetainNode | null, readonly level: string) {}
}

export class RetainedStore {
  private root = new RetainNode(null, '')
  private count = 0

  get size (): number { return this.count }

  /** Store or replace the retained message for its topic. */
  set (msg: RoutedMessage): void {
    let node = this.root
    for (const level of msg.topic.split('/')) {
      if (node.children === null) node.children = new Map()
      let next = node.children.get(level)
      if (!next) { next = new RetainNode(node, level); node.children.set(level, next) }
      node = next
    }
    if (node.msg === null) this.count++
    node.msg = msg
  }

  /** Delete the retained message for `topic` [MQTT-3.3.1-10]. Returns true when one existed. */
  delete (topic: string): boolean {
    let node: RetainNode | undefined = this.root
    for (const level of topic.split('/')) {
      node = node.children?.get(level)
      if (!node) return false
    }
    if (node.msg === null) return false
    node.msg = null
    this.count--
    let n: RetainNode | null = node
    while (n !== null && n.parent !== null && n.msg === null && (n.children === null || n.children.size === 0)) {
      n.parent.children?.delete(n.level)
      n = n.parent
    }
    return true
  }

  get (topic: string): RoutedMessage | undefined {
    let node: RetainNode | undefined = this.root
    for (const level of topic.split('/')) {
      node = node.children?.get(level)
      if (!node) return undefined
    }
    return node.msg ?? undefined
  }

  /** Every retained message whose topic matches `filter`; wildcards skip `$` topics at the first level [MQTT-4.7.2-1]. */
  match (filter: string, out: RoutedMessage[] = []): RoutedMessage[] {
    walk(this.root, filter.split('/'), 0, out)
    return out
  }

  all (): RoutedMessage[] {
    const out: RoutedMessage[] = []
    collect(this.root, out, false)
    return out
  }
}

function walk (node: RetainNode, levels: string[], i: number, out: RoutedMessage[]): void {
  if (i === levels.length) {
    if (node.msg !== null) out.push(node.msg)
    return
  }
  const level = levels[i]
  if (node.children === null) {
    return
  }
  if (level === '#') {
    if (node.msg !== null && i > 0) out.push(node.msg) // 'a/#' matches 'a'
    for (const [k, child] of node.children) {
      if (i === 0 && k.charCodeAt(0) === 0x24) continue
      collect(child, out, true)
    }
    return
  }
  if (level === '+') {
    for (const [k, child] of node.children) {
      if (i === 0 && k.charCodeAt(0) === 0x24) continue
      walk(child, levels, i + 1, out)
    }
    return
  }
  const child = node.children.get(level)
  if (child) walk(child, levels, i + 1, out)
}

function collect (node: RetainNode, out: RoutedMessage[], self: boolean): void {
  if (self && node.msg !== null) out.push(node.msg)
  if (node.children !== null) for (const c of node.children.values()) collect(c, out, true)
}
