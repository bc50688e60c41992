import type { DeliveredMessage, SubscriptionOptions } from '../../broker/types'
import { topicMatches } from '../shared/topics'
import type { MessageHandler } from './api'

/** One broker subscription shared by every node that asked for the same filter. */
export interface SubscriptionEntry {
  filter: string
  options: SubscriptionOptions
  /** MQTT 5 subscription identifier: derived from the filter so it survives a restart. */
  id: number
  handlers: Map<string, MessageHandler>
}

const MAX_SUBSCRIPTION_ID = 268435455

/** FNV-1a of the filter, folded into the subscription identifier range (1..268435455). */
function filterHash (filter: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < filter.length; i++) {
    h ^= filter.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return (h % MAX_SUBSCRIPTION_ID) + 1
}

/**
 * The connection's routing table. The client (in-process or external) has one message listener; it calls
 * `dispatch`, which finds the handlers by subscription identifier (MQTT 5) or by matching the
 * topic against each filter, with no per-message listeners or closures.
 */
export class SubscriptionTable {
  private byFilter = new Map<string, SubscriptionEntry>()
  private byId = new Map<number, SubscriptionEntry>()

  constructor (private onHandlerError: (err: Error) => void) {}

  get size (): number { return this.byFilter.size }

  entries (): IterableIterator<SubscriptionEntry> { return this.byFilter.values() }

  has (filter: string): boolean { return this.byFilter.has(filter) }

  /** Add `handler` for `ref`; the newest options for a filter win, with the highest QoS asked. */
  add (options: SubscriptionOptions, ref: string, handler: MessageHandler): SubscriptionEntry {
    let entry = this.byFilter.get(options.topic)
    if (!entry) {
      let id = filterHash(options.topic)
      while (this.byId.has(id)) id = id >= MAX_SUBSCRIPTION_ID ? 1 : id + 1
      entry = { filter: options.topic, options: { ...options }, id, handlers: new Map() }
      this.byFilter.set(entry.filter, entry)
      this.byId.set(id, entry)
    } else {
      const qos = Math.max(entry.options.qos, options.qos) as SubscriptionOptions['qos']
      entry.options = { ...options, qos }
    }
    entry.handlers.set(ref, handler)
    return entry
  }

  /** Remove `ref`'s handler; returns true when the filter has no handler left (and is gone). */
  remove (filter: string, ref: string): boolean {
    const entry = this.byFilter.get(filter)
    if (!entry) return false
    entry.handlers.delete(ref)
    if (entry.handlers.size > 0) return false
    this.byFilter.delete(filter)
    this.byId.delete(entry.id)
    return true
  }

  /** The SUBSCRIBE options for an entry; subscription identifiers only for MQTT 5 (and when the broker takes them). */
  wire (entry: SubscriptionEntry, protocolVersion: 4 | 5, identifiers = true): SubscriptionOptions {
    const o: SubscriptionOptions = { topic: entry.filter, qos: entry.options.qos }
    if (protocolVersion === 5) {
      if (entry.options.nl !== undefined) o.nl = entry.options.nl
      if (entry.options.rap !== undefined) o.rap = entry.options.rap
      if (entry.options.rh !== undefined) o.rh = entry.options.rh
      if (identifiers) o.subscriptionIdentifier = entry.id
    }
    return o
  }

  /** Route one delivered message to the handlers of every filter it matched. */
  dispatch (message: DeliveredMessage): void {
    // In-process: the broker says which filters matched, so nothing is matched again.
    if (message.filters !== undefined && this.routeByFilter(message.filters, message)) return
    const ids = message.subscriptionIdentifiers
    if (ids !== undefined && ids.length > 0 && this.routeById(ids, message)) return
    for (const entry of this.byFilter.values()) {
      if (topicMatches(entry.filter, message.topic)) this.deliver(entry, message)
    }
  }

  private routeByFilter (filters: string[], message: DeliveredMessage): boolean {
    for (let i = 0; i < filters.length; i++) {
      if (!this.byFilter.has(filters[i])) return false // a filter of this connection's earlier life: match instead
    }
    for (let i = 0; i < filters.length; i++) this.deliver(this.byFilter.get(filters[i]) as SubscriptionEntry, message)
    return true
  }

  private routeById (ids: number[], message: DeliveredMessage): boolean {
    for (const id of ids) {
      const entry = this.byId.get(id)
      // An identifier from an earlier run, or a collision: fall back to matching.
      if (!entry || !topicMatches(entry.filter, message.topic)) return false
    }
    for (let i = 0; i < ids.length; i++) {
      if (ids.indexOf(ids[i]) === i) this.deliver(this.byId.get(ids[i]) as SubscriptionEntry, message)
    }
    return true
  }

  private deliver (entry: SubscriptionEntry, message: DeliveredMessage): void {
    for (const handler of entry.handlers.values()) {
      try {
        handler(message)
      } catch (err) {
        this.onHandlerError(err as Error)
      }
    }
  }
}
