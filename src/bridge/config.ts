/*
 * A bridge's settings: every key checked (a BridgeConfigError names the key at fault) and the
 * defaults filled in, Mosquitto's where it has one. Pure: no file is read here (see tls.ts).
 */
import { hostname as osHostname } from 'node:os'
import { parseShared, validTopicFilter, validTopicName, type QoS } from '../broker'
import { BridgeConfigError } from './errors'
import type { BridgeDirection, PemSource } from './types'

type RemoteProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss'

/** A topic rule with its defaults and the filters it subscribes to on each side. */
export interface ResolvedTopic {
  pattern: string
  direction: BridgeDirection
  qos: QoS
  localPrefix: string
  remotePrefix: string
  /** localPrefix + pattern (localPrefix alone for an empty pattern). */
  localFilter: string
  /** remotePrefix + pattern (remotePrefix alone for an empty pattern). */
  remoteFilter: string
}

export interface ResolvedBridge {
  name: string
  /** The URL as given. */
  url: string
  protocol: RemoteProtocol
  host: string
  port: number
  /** ws/wss: the path and query of the URL. */
  path: string
  protocolVersion: 3 | 4 | 5
  /** protocolVersion was left out: 5 first, 4 when the remote refuses 5. */
  fallback: boolean
  clientId: string
  localClientId: string
  username?: string
  password?: string
  cleanSession: boolean
  keepalive: number
  tls?: { ca?: PemSource, cert?: PemSource, key?: PemSource, keyPassphrase?: string, rejectUnauthorized: boolean }
  tryPrivate: boolean
  notifications: boolean
  notificationsLocalOnly: boolean
  notificationTopic: string
  /** Milliseconds [base, cap]; equal for a constant wait. */
  restartTimeout: [number, number]
  topics: ResolvedTopic[]
}

export const DEFAULT_KEEPALIVE = 60
export const DEFAULT_RESTART_TIMEOUT: [number, number] = [5, 30]
const DEFAULT_PORTS: Record<RemoteProtocol, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 }
const PROTOCOLS = Object.keys(DEFAULT_PORTS) as RemoteProtocol[]
const DIRECTIONS: readonly BridgeDirection[] = ['in', 'out', 'both']

const KEYS = [
  'name', 'url', 'protocolVersion', 'clientId', 'username', 'password', 'cleanSession', 'keepalive', 'ca', 'cert', 'key',
  'keyPassphrase', 'rejectUnauthorized', 'tryPrivate', 'notifications', 'notificationsLocalOnly', 'notificationTopic',
  'localClientId', 'restartTimeout', 'topics',
]
const TLS_KEYS = ['ca', 'cert', 'key', 'keyPassphrase', 'rejectUnauthorized']
const TOPIC_KEYS = ['pattern', 'direction', 'qos', 'localPrefix', 'remotePrefix']

type Obj = Record<string, unknown>

function isObject (v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v)
}

function name (prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`
}

function checkKeys (o: Obj, allowed: readonly string[], prefix: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new BridgeConfigError('UNKNOWN_KEY', name(prefix, k), 'unknown key')
  }
}

function str (o: Obj, key: string, prefix = '', allowEmpty = false): string | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new BridgeConfigError('BAD_TYPE', name(prefix, key), 'must be a string')
  if (v === '' && !allowEmpty) throw new BridgeConfigError('BAD_VALUE', name(prefix, key), 'must not be empty')
  return v
}

function bool (o: Obj, key: string): boolean | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') throw new BridgeConfigError('BAD_TYPE', key, 'must be true or false')
  return v
}

function int (o: Obj, key: string, prefix: string, min: number, max: number): number | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new BridgeConfigError('BAD_TYPE', name(prefix, key), 'must be an integer')
  if (v < min || v > max) throw new BridgeConfigError('BAD_VALUE', name(prefix, key), `must be from ${min} to ${max}, got ${v}`)
  return v
}

function pem (o: Obj, key: string): PemSource | undefined {
  const v = o[key]
  if (v === undefined || Buffer.isBuffer(v)) return v
  return str(o, key)
}

/** The remote's address from the URL. */
function target (url: string): { protocol: RemoteProtocol, host: string, port: number, path: string } {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new BridgeConfigError('BAD_VALUE', 'url', `is not a URL: "${url}" (e.g. mqtt://broker.example:1883)`)
  }
  const protocol = u.protocol.replace(/:$/, '') as RemoteProtocol
  if (!PROTOCOLS.includes(protocol)) throw new BridgeConfigError('BAD_VALUE', 'url', `must start with ${PROTOCOLS.map(p => p + '://').join(', ')}, got "${url}"`)
  if (u.hostname === '') throw new BridgeConfigError('BAD_VALUE', 'url', `names no host: "${url}"`)
  if (u.username !== '' || u.password !== '') throw new BridgeConfigError('NOT_ALLOWED', 'url', 'must not hold credentials: give them as username and password')
  const web = protocol === 'ws' || protocol === 'wss'
  if (!web && ((u.pathname !== '' && u.pathname !== '/') || u.search !== '')) {
    throw new BridgeConfigError('BAD_VALUE', 'url', `a path is for ws:// and wss:// URLs, got "${url}"`)
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
  return { protocol, host, port: u.port === '' ? DEFAULT_PORTS[protocol] : Number(u.port), path: web ? u.pathname + u.search : '' }
}

/** A prefix is part of a topic name: no wildcards. */
function prefix (o: Obj, key: string, at: string): string {
  const p = str(o, key, at, true) ?? ''
  if (p !== '' && !validTopicName(p)) throw new BridgeConfigError('BAD_VALUE', name(at, key), `must be a topic name without wildcards, got "${p}"`)
  return p
}

function topicOf (v: unknown, at: string): ResolvedTopic {
  if (!isObject(v)) throw new BridgeConfigError('BAD_TYPE', at, 'must be an object')
  checkKeys(v, TOPIC_KEYS, at)
  const pattern = str(v, 'pattern', at, true)
  if (pattern === undefined) throw new BridgeConfigError('MISSING', name(at, 'pattern'), 'is required (a topic filter such as "home/#", or "" to map one topic)')
  const direction = str(v, 'direction', at) ?? 'out'
  if (!(DIRECTIONS as readonly string[]).includes(direction)) throw new BridgeConfigError('BAD_VALUE', name(at, 'direction'), `must be one of "in", "out", "both", got "${direction}"`)
  const qos = (int(v, 'qos', at, 0, 2) ?? 0) as QoS
  const localPrefix = prefix(v, 'localPrefix', at)
  const remotePrefix = prefix(v, 'remotePrefix', at)
  if (pattern === '') {
    // One topic remapped: both prefixes are whole topic names (Mosquitto's "" place marker)
    for (const [k, p] of [['localPrefix', localPrefix], ['remotePrefix', remotePrefix]]) {
      if (p === '') throw new BridgeConfigError('MISSING', name(at, k), 'is required when the pattern is "" (the topic it maps)')
    }
  } else {
    if (parseShared(pattern) !== null) throw new BridgeConfigError('BAD_VALUE', name(at, 'pattern'), 'must not be a shared subscription ($share/...)')
    if (!validTopicFilter(pattern)) throw new BridgeConfigError('BAD_VALUE', name(at, 'pattern'), `is not a valid topic filter: "${pattern}"`)
    for (const [k, p] of [['localPrefix', localPrefix], ['remotePrefix', remotePrefix]]) {
      if (!validTopicFilter(p + pattern)) throw new BridgeConfigError('BAD_VALUE', name(at, k), `with the pattern makes an invalid topic filter: "${p + pattern}"`)
    }
  }
  return {
    pattern,
    direction: direction as BridgeDirection,
    qos,
    localPrefix,
    remotePrefix,
    localFilter: localPrefix + pattern,
    remoteFilter: remotePrefix + pattern,
  }
}

function restartTimeout (o: Obj): [number, number] {
  const v = o.restartTimeout
  const seconds = (x: unknown, key: string): number => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new BridgeConfigError('BAD_TYPE', key, 'must be a number of seconds, or [base, cap]')
    if (x < 0.1 || x > 86400) throw new BridgeConfigError('BAD_VALUE', key, `must be from 0.1 to 86400 seconds, got ${x}`)
    return x
  }
  if (v === undefined) return [DEFAULT_RESTART_TIMEOUT[0] * 1000, DEFAULT_RESTART_TIMEOUT[1] * 1000]
  if (Array.isArray(v)) {
    if (v.length !== 2) throw new BridgeConfigError('BAD_VALUE', 'restartTimeout', 'must be a number of seconds, or [base, cap]')
    const base = seconds(v[0], 'restartTimeout[0]')
    const cap = seconds(v[1], 'restartTimeout[1]')
    if (cap < base) throw new BridgeConfigError('BAD_VALUE', 'restartTimeout', `the cap (${cap}) is below the base (${base})`)
    return [base * 1000, cap * 1000]
  }
  const c = seconds(v, 'restartTimeout')
  return [c * 1000, c * 1000]
}

/** Check a bridge's settings and fill in the defaults. Throws a BridgeConfigError naming the key. */
export function resolveBridgeConfig (raw: unknown, hostname: string = osHostname()): ResolvedBridge {
  if (!isObject(raw)) throw new BridgeConfigError('BAD_TYPE', '(bridge)', 'must be an object')
  checkKeys(raw, KEYS, '')
  const bridgeName = str(raw, 'name')
  if (bridgeName === undefined) throw new BridgeConfigError('MISSING', 'name', 'is required')
  if (/[\s/+#\u0000]/.test(bridgeName)) throw new BridgeConfigError('BAD_VALUE', 'name', `must not contain spaces, '/', '+' or '#', got "${bridgeName}"`)
  const url = str(raw, 'url')
  if (url === undefined) throw new BridgeConfigError('MISSING', 'url', 'is required (e.g. "mqtt://broker.example:1883")')
  const where = target(url)
  const secure = where.protocol === 'mqtts' || where.protocol === 'wss'
  for (const k of TLS_KEYS) {
    if (!secure && raw[k] !== undefined) throw new BridgeConfigError('NOT_ALLOWED', k, `is for mqtts:// and wss:// URLs, not ${where.protocol}://`)
  }
  const pv = raw.protocolVersion
  if (pv !== undefined && pv !== 3 && pv !== 4 && pv !== 5) throw new BridgeConfigError('BAD_VALUE', 'protocolVersion', `must be 3, 4 or 5, got ${JSON.stringify(pv)}`)
  const clientId = str(raw, 'clientId') ?? `${bridgeName}.${hostname}`
  const username = str(raw, 'username')
  const password = str(raw, 'password', '', true)
  if (password !== undefined && username === undefined) throw new BridgeConfigError('CONFLICT', 'password', 'needs a username')
  const notifications = bool(raw, 'notifications') ?? true
  const notificationTopic = str(raw, 'notificationTopic') ?? `$SYS/broker/connection/${clientId}/state`
  if (!validTopicName(notificationTopic)) {
    const key = raw.notificationTopic !== undefined ? 'notificationTopic' : 'clientId'
    throw new BridgeConfigError('BAD_VALUE', key, `makes the notification topic "${notificationTopic}", which is not a valid topic name`)
  }
  const list = raw.topics
  if (list === undefined) throw new BridgeConfigError('MISSING', 'topics', 'is required: at least one topic rule')
  if (!Array.isArray(list)) throw new BridgeConfigError('BAD_TYPE', 'topics', 'must be an array of topic rules')
  if (list.length === 0) throw new BridgeConfigError('BAD_VALUE', 'topics', 'needs at least one topic rule')
  const resolved: ResolvedBridge = {
    name: bridgeName,
    url,
    ...where,
    protocolVersion: pv ?? 5,
    fallback: pv === undefined,
    clientId,
    localClientId: str(raw, 'localClientId') ?? `local.${clientId}`,
    cleanSession: bool(raw, 'cleanSession') ?? false,
    keepalive: int(raw, 'keepalive', '', 5, 65535) ?? DEFAULT_KEEPALIVE,
    tryPrivate: bool(raw, 'tryPrivate') ?? true,
    notifications,
    notificationsLocalOnly: bool(raw, 'notificationsLocalOnly') ?? false,
    notificationTopic,
    restartTimeout: restartTimeout(raw),
    topics: list.map((t, i) => topicOf(t, `topics[${i}]`)),
  }
  if (username !== undefined) resolved.username = username
  if (password !== undefined) resolved.password = password
  if (secure) {
    const ca = pem(raw, 'ca')
    const cert = pem(raw, 'cert')
    const key = pem(raw, 'key')
    if (cert !== undefined && key === undefined) throw new BridgeConfigError('MISSING', 'key', 'is required with cert (the private key of the client certificate)')
    if (key !== undefined && cert === undefined) throw new BridgeConfigError('MISSING', 'cert', 'is required with key (the client certificate)')
    const keyPassphrase = str(raw, 'keyPassphrase', '', true)
    if (keyPassphrase !== undefined && key === undefined) throw new BridgeConfigError('NOT_ALLOWED', 'keyPassphrase', 'needs a key')
    resolved.tls = { rejectUnauthorized: bool(raw, 'rejectUnauthorized') ?? true }
    if (ca !== undefined) resolved.tls.ca = ca
    if (cert !== undefined) resolved.tls.cert = cert
    if (key !== undefined) resolved.tls.key = key
    if (keyPassphrase !== undefined) resolved.tls.keyPassphrase = keyPassphrase
  }
  return resolved
}
