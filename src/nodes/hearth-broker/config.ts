import type { BrokerOptions, ProtocolVersion, QoS } from '../../broker/types'
import { UserTableAuthenticator } from '../../broker'
import { parseIntIn, readFlag as bool } from '../shared/values'
import { DEFAULTS, LIMITS, type BrokerNodeConfig, type BrokerNodeCredentials } from './types'

/** A config problem: a catalog key (under `hearth-broker.errors.`) and its substitutions. */
export interface ConfigProblem { key: string, subs: Record<string, string | number> }

/** Where and how the node keeps its state. */
export interface PersistenceSettings {
  enabled: boolean
  /** The folder override as typed (trimmed); empty for the default folder. */
  dir: string
  syncMode: 'always' | 'periodic'
  flushInterval: number
}

export type ParsedConfig =
  | { ok: true, port: number, host: string, options: BrokerOptions, persistence: PersistenceSettings }
  | { ok: false, problem: ConfigProblem }

/** Turn the node's config into listener settings and BrokerOptions, or say what to fix. */
export function parseBrokerConfig (config: Partial<BrokerNodeConfig>, creds: Partial<BrokerNodeCredentials>): ParsedConfig {
  const ints: Partial<Record<keyof BrokerNodeConfig, number>> = {}
  for (const [key, min, max] of LIMITS) {
    const raw = config[key] === undefined || config[key] === '' ? DEFAULTS[key] : config[key]
    const n = parseIntIn(raw, min, max)
    if (n === undefined) return { ok: false, problem: { key: 'bad-number', subs: { option: key, value: String(raw), min, max } } }
    ints[key] = n
  }
  const host = typeof config.host === 'string' && config.host.trim() !== '' ? config.host.trim() : String(DEFAULTS.host)
  if (!/^[\w.:-]+$/.test(host)) return { ok: false, problem: { key: 'bad-host', subs: { host } } }

  const protocols: ProtocolVersion[] = []
  if (bool(config.mqtt31, true)) protocols.push(3)
  if (bool(config.mqtt311, true)) protocols.push(4)
  if (bool(config.mqtt5, true)) protocols.push(5)
  if (protocols.length === 0) return { ok: false, problem: { key: 'no-protocol', subs: {} } }

  const allowAnonymous = bool(config.allowAnonymous, true)
  const username = creds.username ? String(creds.username) : undefined
  if (!allowAnonymous && username === undefined) return { ok: false, problem: { key: 'no-user', subs: {} } }
  const password = creds.password ? String(creds.password) : ''
  if (username !== undefined && password === '') return { ok: false, problem: { key: 'empty-password', subs: { username } } }

  const options: BrokerOptions = {
    protocols,
    maxConnections: ints.maxConnections,
    maxPacketSize: ints.maxPacketSize,
    maxInflight: ints.maxInflight,
    maxQueuedMessages: ints.maxQueuedMessages,
    maxKeepalive: ints.maxKeepalive,
    maximumQoS: ints.maximumQoS as QoS,
    retainAvailable: bool(config.retainAvailable, true),
    // One rule with the CLI: no account, no credential check. Connection nodes of this Node-RED
    // that give no user name are trusted.
    authenticate: new UserTableAuthenticator(username === undefined ? {} : { [username]: password }, { allowAnonymous, trustLocal: true }),
  }
  const sync = config.persistenceSync === undefined || config.persistenceSync === '' ? DEFAULTS.persistenceSync : config.persistenceSync
  if (sync !== 'always' && sync !== 'periodic') return { ok: false, problem: { key: 'bad-sync', subs: { value: String(sync) } } }
  const persistence: PersistenceSettings = {
    enabled: bool(config.persistence, true),
    dir: typeof config.persistenceDir === 'string' ? config.persistenceDir.trim() : '',
    syncMode: sync,
    flushInterval: ints.persistenceFlushInterval as number,
  }
  return { ok: true, port: ints.port as number, host, options, persistence }
}
