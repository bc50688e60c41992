/**
 * The node's config (as stored in the flow) turned into listener plans and broker options, or the
 * first problem, named by a catalog key. Flows saved before listeners and the users table existed
 * read as their one TCP listener and their one account.
 */
import { INTEGER_OPTIONS } from '../../broker'
import type { BrokerOptions, ProtocolVersion, QoS } from '../../broker/types'
import {
  ACL_ACCESS, ACL_WHO, DEFAULTS, FLUSH_RANGE, LIMIT_KEYS, LISTENER_KINDS, MAX_LISTENERS, PORT_RANGE,
  isSecure, isWebSocket, listenersOf, validHost, validPath, validUserName,
  type AclRow, type BrokerNodeConfig, type ListenerKind,
} from './types'
import { parseIntIn, readFlag as bool } from '../shared/values'

/** A config problem: a catalog key (under `hearth-broker.errors.`) and its substitutions. */
export interface ConfigProblem { key: string, subs: Record<string, string | number> }

export class ConfigError extends Error {
  constructor (readonly problem: ConfigProblem) { super(problem.key) }
}

/** Where and how the node keeps its state. */
export interface PersistenceSettings {
  enabled: boolean
  /** The folder override as typed (trimmed); empty for the default folder. */
  dir: string
  syncMode: 'always' | 'periodic'
  flushInterval: number
}

/** One listener to open. */
export interface ListenerPlan {
  kind: ListenerKind
  /** 1-based position in the node's list, for messages. */
  number: number
  port: number
  /** undefined: every interface. */
  host: string | undefined
  path: string | undefined
  requireCertificate: boolean
  useIdentityAsUsername: boolean
  trustProxy: boolean
}

export interface ParsedConfig {
  listeners: ListenerPlan[]
  /** The broker's options, without authentication and authorisation. */
  options: BrokerOptions
  allowAnonymous: boolean
  /** The accounts' names; undefined for a flow saved before the users table (its one account is in the credentials). */
  usernames: string[] | undefined
  /** The ACL rows when the ACL is on. */
  acl: AclRow[] | undefined
  /** The tls-config node id ('' for none). */
  tls: string
  persistence: PersistenceSettings
}

const problem = (key: string, subs: Record<string, string | number> = {}): ConfigError => new ConfigError({ key, subs })

function intOption (option: string, raw: unknown, min: number, max: number): number {
  const n = parseIntIn(raw, min, max)
  if (n === undefined) throw problem('bad-number', { option, value: String(raw), min, max })
  return n
}

function parseListener (raw: unknown, index: number): ListenerPlan {
  const l = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>
  const number = index + 1
  const kind = l.kind as ListenerKind
  if (!LISTENER_KINDS.includes(kind)) throw problem('bad-listener-kind', { number, kind: String(l.kind) })
  // A path without its leading '/' means the same path, as for core websocket nodes.
  const typed = typeof l.path === 'string' ? l.path.trim() : ''
  const path = typed !== '' && !typed.startsWith('/') ? `/${typed}` : typed
  if (kind === 'nodered' && path === '') throw problem('path-required', { number })
  if (isWebSocket(kind) && path !== '' && !validPath(path)) throw problem('bad-path', { number, path })
  let port = 0
  let host: string | undefined
  if (kind !== 'nodered') {
    port = intOption(`listener ${number} port`, l.port === '' || l.port === undefined ? undefined : l.port, PORT_RANGE.min, PORT_RANGE.max)
    const h = typeof l.host === 'string' ? l.host.trim() : ''
    if (!validHost(h)) throw problem('bad-host', { host: h })
    host = h === '' ? undefined : h
  }
  const secure = isSecure(kind)
  const requireCertificate = secure && bool(l.requireCertificate, false)
  const useIdentityAsUsername = requireCertificate && bool(l.useIdentityAsUsername, false)
  return {
    kind,
    number,
    port,
    host,
    path: isWebSocket(kind) && path !== '' ? path : undefined,
    requireCertificate,
    useIdentityAsUsername,
    trustProxy: isWebSocket(kind) && bool(l.trustProxy, false),
  }
}

function parseUsers (raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined
  if (!Array.isArray(raw)) throw problem('bad-users', {})
  const seen = new Set<string>()
  for (const name of raw) {
    if (typeof name !== 'string' || !validUserName(name)) throw problem('bad-user-name', { user: String(name) })
    if (seen.has(name)) throw problem('duplicate-user', { user: name })
    seen.add(name)
  }
  return raw as string[]
}

function parseAcl (raw: unknown): AclRow[] {
  if (!Array.isArray(raw)) return []
  return raw.map((r: unknown, i: number) => {
    const row = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>
    const who = row.who as AclRow['who']
    const access = row.access as AclRow['access']
    if (!ACL_WHO.includes(who) || !ACL_ACCESS.includes(access) || typeof row.topic !== 'string') {
      throw problem('bad-acl-row', { row: i + 1 })
    }
    const user = typeof row.user === 'string' ? row.user : undefined
    return who === 'user' ? { who, user, access, topic: row.topic } : { who, access, topic: row.topic }
  })
}

/** The broker's integer options set on the node; empty ones are left to the core's defaults. */
function parseLimits (config: Partial<BrokerNodeConfig>): Partial<BrokerOptions> {
  const out: Record<string, number> = {}
  for (const key of [...LIMIT_KEYS, 'maximumQoS'] as const) {
    const raw = config[key]
    if (raw === undefined || raw === null || raw === '') continue
    const range = INTEGER_OPTIONS[key]
    out[key] = intOption(key, raw, range.min, range.max)
  }
  return out as Partial<BrokerOptions>
}

function parseConfig (config: Partial<BrokerNodeConfig>): ParsedConfig {
  const rawListeners = listenersOf(config)
  if (rawListeners.length === 0) throw problem('no-listener', {})
  if (rawListeners.length > MAX_LISTENERS) throw problem('too-many-listeners', { max: MAX_LISTENERS })
  const listeners = rawListeners.map(parseListener)
  const tls = typeof config.tls === 'string' ? config.tls : ''
  const secure = listeners.find(l => isSecure(l.kind))
  if (secure !== undefined && tls === '') throw problem('tls-required', { number: secure.number, kind: secure.kind })

  const protocols: ProtocolVersion[] = []
  if (bool(config.mqtt31, true)) protocols.push(3)
  if (bool(config.mqtt311, true)) protocols.push(4)
  if (bool(config.mqtt5, true)) protocols.push(5)
  if (protocols.length === 0) throw problem('no-protocol', {})

  const limits = parseLimits(config)
  const options: BrokerOptions = {
    ...limits,
    protocols,
    maximumQoS: (limits.maximumQoS ?? DEFAULTS.maximumQoS) as QoS,
    retainAvailable: bool(config.retainAvailable, true),
  }

  const sync = config.persistenceSync === undefined || config.persistenceSync === '' ? DEFAULTS.persistenceSync : config.persistenceSync
  if (sync !== 'always' && sync !== 'periodic') throw problem('bad-sync', { value: String(sync) })
  const flush = config.persistenceFlushInterval === undefined || config.persistenceFlushInterval === '' ? DEFAULTS.persistenceFlushInterval : config.persistenceFlushInterval
  const persistence: PersistenceSettings = {
    enabled: bool(config.persistence, true),
    dir: typeof config.persistenceDir === 'string' ? config.persistenceDir.trim() : '',
    syncMode: sync,
    flushInterval: intOption('persistenceFlushInterval', flush, FLUSH_RANGE.min, FLUSH_RANGE.max),
  }

  return {
    listeners,
    options,
    allowAnonymous: bool(config.allowAnonymous, true),
    usernames: parseUsers(config.usernames),
    acl: bool(config.aclEnabled, false) ? parseAcl(config.acl) : undefined,
    tls,
    persistence,
  }
}

export type ParseResult = { ok: true, config: ParsedConfig } | { ok: false, problem: ConfigProblem }

/** Turn the node's config into listener plans and broker options, or say what to fix. */
export function parseBrokerConfig (config: Partial<BrokerNodeConfig>): ParseResult {
  try {
    return { ok: true, config: parseConfig(config) }
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, problem: err.problem }
    throw err
  }
}
