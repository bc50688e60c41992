/*
 * Topic rules with Mosquitto's semantics (mosquitto.conf(5), `topic`): which filters the bridge
 * subscribes to on each side, and how a topic is renamed on its way across. The first rule of the
 * message's direction whose filter matches decides; a message no rule maps does not cross.
 */
import { matchTopic, validTopicName, type QoS } from '../broker'
import type { ResolvedTopic } from './config'

const goesOut = (t: ResolvedTopic): boolean => t.direction === 'out' || t.direction === 'both'
const comesIn = (t: ResolvedTopic): boolean => t.direction === 'in' || t.direction === 'both'

/**
 * Replace the prefix `from` of `topic` with `to`. A filter `p/#` also matches `p` itself
 * [MQTT-4.7.1-2]: with prefixes that end in '/', `p` maps to the other prefix without its '/'.
 */
function swap (topic: string, from: string, to: string): string | undefined {
  let out: string | undefined
  if (topic.startsWith(from)) out = to + topic.slice(from.length)
  else if (from.endsWith('/') && to.endsWith('/') && topic === from.slice(0, -1)) out = to.slice(0, -1)
  return out !== undefined && validTopicName(out) ? out : undefined
}

function map (rules: ResolvedTopic[], topic: string, inbound: boolean): string | undefined {
  for (const t of rules) {
    if (!(inbound ? comesIn(t) : goesOut(t))) continue
    const [filter, from, to] = inbound ? [t.remoteFilter, t.remotePrefix, t.localPrefix] : [t.localFilter, t.localPrefix, t.remotePrefix]
    if (t.pattern === '') {
      if (topic === from) return to
      continue
    }
    if (!matchTopic(filter, topic)) continue
    const mapped = swap(topic, from, to)
    if (mapped !== undefined) return mapped
  }
  return undefined
}

/** The remote topic of a local message, or undefined when no out/both rule maps it. */
export function toRemote (rules: ResolvedTopic[], localTopic: string): string | undefined {
  return map(rules, localTopic, false)
}

/** The local topic of a remote message, or undefined when no in/both rule maps it. */
export function toLocal (rules: ResolvedTopic[], remoteTopic: string): string | undefined {
  return map(rules, remoteTopic, true)
}

/** Filters to subscribe to, each once at the highest QoS of its rules, in rule order. */
function filters (rules: ResolvedTopic[], pick: (t: ResolvedTopic) => boolean, key: (t: ResolvedTopic) => string): Map<string, QoS> {
  const out = new Map<string, QoS>()
  for (const t of rules) {
    if (!pick(t)) continue
    const f = key(t)
    const q = out.get(f)
    if (q === undefined || t.qos > q) out.set(f, t.qos)
  }
  return out
}

/** Local subscriptions of the out/both rules. */
export function localFilters (rules: ResolvedTopic[]): Map<string, QoS> {
  return filters(rules, goesOut, t => t.localFilter)
}

/** Remote subscriptions of the in/both rules. */
export function remoteFilters (rules: ResolvedTopic[]): Map<string, QoS> {
  return filters(rules, comesIn, t => t.remoteFilter)
}

/**
 * Remote filters of out-only rules that no in/both rule subscribes to: unsubscribed at the
 * remote on connect, in case a former `in` rule left them in the remote session (Mosquitto's
 * bridge_attempt_unsubscribe).
 */
export function staleRemoteFilters (rules: ResolvedTopic[]): string[] {
  const wanted = remoteFilters(rules)
  const out = new Set<string>()
  for (const t of rules) if (t.direction === 'out' && !wanted.has(t.remoteFilter)) out.add(t.remoteFilter)
  return [...out]
}
