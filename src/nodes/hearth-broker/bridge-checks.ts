/**
 * The broker node's bridges as the dialog checks them (browser-safe: the editor bundles it): the
 * same rules as the bridge module applies at start (src/bridge/config.ts), named by the field at
 * fault so the dialog can mark it. The runtime relies on the bridge module's own check.
 */
import { parseShared, validTopicFilter, validTopicName } from '../../broker/topics'
import { parseBrokerUrl } from '../hearth-connection/url'
import { parseIntIn } from '../shared/values'
import { BRIDGE_DIRECTIONS, type BridgeNodeConfig, type BridgeRuleConfig } from './types'

/** What is wrong, as a catalog key under `hearth-broker.invalid.`, and the field to mark. */
export interface BridgeFault {
  key: string
  field: 'name' | 'url' | 'tls' | 'clientId' | 'keepalive' | 'topics' | 'pattern' | 'direction' | 'qos' | 'localPrefix' | 'remotePrefix'
  /** 0-based index of the topic rule at fault. */
  rule?: number
}

const text = (v: unknown): string => typeof v === 'string' ? v.trim() : v === undefined || v === null ? '' : String(v)

/** A bridge name as Mosquitto's connection name: not empty, no blank, '/', '+', '#'. */
export function validBridgeName (name: string): boolean {
  return name !== '' && !/[\s/+#\u0000]/.test(name)
}

/** Is the URL one a bridge uses with TLS (mqtts, wss)? */
export function secureUrl (url: unknown): boolean {
  const u = parseBrokerUrl(url)
  return typeof u !== 'string' && u.secure
}

/** What is wrong with one topic rule, or undefined. */
export function ruleFault (r: BridgeRuleConfig, rule: number): BridgeFault | undefined {
  const row = (typeof r === 'object' && r !== null ? r : {}) as Partial<BridgeRuleConfig>
  if (!(BRIDGE_DIRECTIONS as readonly string[]).includes(String(row.direction ?? 'out'))) return { key: 'bridge-direction', field: 'direction', rule }
  const qos = text(row.qos)
  if (qos !== '' && parseIntIn(qos, 0, 2) === undefined) return { key: 'bridge-qos', field: 'qos', rule }
  const pattern = typeof row.pattern === 'string' ? row.pattern : ''
  const prefixes = [['localPrefix', typeof row.localPrefix === 'string' ? row.localPrefix : ''], ['remotePrefix', typeof row.remotePrefix === 'string' ? row.remotePrefix : '']] as const
  for (const [field, p] of prefixes) {
    if (p !== '' && !validTopicName(p)) return { key: 'bridge-prefix', field, rule }
  }
  if (pattern === '') {
    // One topic remapped: both prefixes are the whole topic on each side.
    for (const [field, p] of prefixes) if (p === '') return { key: 'bridge-one-topic', field, rule }
    return undefined
  }
  if (parseShared(pattern) !== null || !validTopicFilter(pattern)) return { key: 'bridge-pattern', field: 'pattern', rule }
  for (const [field, p] of prefixes) {
    if (!validTopicFilter(p + pattern)) return { key: 'bridge-prefix-pattern', field, rule }
  }
  return undefined
}

/**
 * What is wrong with one bridge, or undefined. `tlsExists` says whether a tls-config node id is
 * known (the editor asks its own node list).
 */
export function bridgeFault (b: BridgeNodeConfig, tlsExists: (id: string) => boolean = () => true): BridgeFault | undefined {
  const c = (typeof b === 'object' && b !== null ? b : {}) as Partial<BridgeNodeConfig>
  if (!validBridgeName(text(c.name))) return { key: 'bridge-name', field: 'name' }
  if (typeof parseBrokerUrl(c.url) === 'string') return { key: 'bridge-url', field: 'url' }
  const tls = text(c.tls)
  if (secureUrl(c.url) && tls !== '' && !tlsExists(tls)) return { key: 'bridge-tls', field: 'tls' }
  const clientId = text(c.clientId)
  if (clientId !== '' && !validTopicName(`$SYS/broker/connection/${clientId}/state`)) return { key: 'bridge-client-id', field: 'clientId' }
  const keepalive = text(c.keepalive)
  if (keepalive !== '' && parseIntIn(keepalive, 5, 65535) === undefined) return { key: 'bridge-keepalive', field: 'keepalive' }
  if (!Array.isArray(c.topics) || c.topics.length === 0) return { key: 'bridge-no-rule', field: 'topics' }
  for (let i = 0; i < c.topics.length; i++) {
    const f = ruleFault(c.topics[i], i)
    if (f !== undefined) return f
  }
  return undefined
}

/** What is wrong with the node's list of bridges (a catalog key under `hearth-broker.invalid.`), or undefined. */
export function bridgesProblem (list: unknown, tlsExists?: (id: string) => boolean): string | undefined {
  if (list === undefined || list === null) return undefined
  if (!Array.isArray(list)) return 'bridges'
  const names = new Set<string>()
  for (const b of list as BridgeNodeConfig[]) {
    const f = bridgeFault(b, tlsExists)
    if (f !== undefined) return f.key
    const name = text(b.name)
    if (names.has(name)) return 'bridge-duplicate'
    names.add(name)
  }
  return undefined
}
