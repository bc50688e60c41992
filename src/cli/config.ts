/*
 * The CLI's settings: the JSON config file and the command-line flags, checked and resolved into
 * what main() starts. Pure (no file is read here): relative paths in the file start at the file's
 * folder, those of flags at the working directory. Every problem is a ConfigError naming its key.
 */
import { isAbsolute, resolve } from 'node:path'
import type { BrokerOptions } from '../broker'
import type { ListenerProtocol } from '../listeners'
import type { BridgeConfig } from '../bridge'
import { checkBridges } from './bridges'
import {
  ConfigError, checkKeys, isLoopback, isObject, keyName, optArray, optBool, optInt, optObject, optOneOf, optString, type Obj,
} from './validate'

type CliBrokerOptions = Omit<BrokerOptions, 'persistence' | 'authenticate' | 'authorize'>

/** One listener to open. File paths are absolute. */
export interface ListenerSpec {
  /** Where it came from, for messages: 'listeners[0]', 'port', '--port' or 'default'. */
  name: string
  protocol: ListenerProtocol
  port: number
  /** Undefined: every interface. */
  host?: string
  path?: string
  cert?: string
  key?: string
  keyPassphrase?: string
  ca?: string
  requireCertificate?: boolean
  useIdentityAsUsername?: boolean
  trustProxy?: boolean | number
}

export interface CliSettings {
  listeners: ListenerSpec[]
  broker: CliBrokerOptions
  users: Record<string, string>
  allowAnonymous: boolean
  persistence?: { dir: string, sync?: 'always' | 'periodic', flushInterval?: number, maxStoreBytes?: number, maxPendingBytes?: number }
  passwordFile?: string
  aclFile?: string
  /** The Prometheus endpoint; host defaults to 127.0.0.1. */
  metrics?: { port: number, host: string }
  /** Bridges to remote brokers, checked; relative TLS paths already start at the config file's folder. */
  bridges?: BridgeConfig[]
}

/** Values given on the command line; they win over the file. Paths as typed (relative to `cwd`). */
export interface CliFlags {
  port?: number
  host?: string
  persistenceDir?: string
  persistenceSync?: 'always' | 'periodic'
  passwordFile?: string
  aclFile?: string
}

export interface ConfigInput {
  /** The parsed JSON file and the folder it is in. */
  file?: { data: unknown, dir: string }
  flags?: CliFlags
  cwd?: string
}

const DEFAULT_PORT = 1883
/** Where the CLI listens when told nothing (issue 8: loopback unless told otherwise). */
const DEFAULT_HOST = '127.0.0.1'

const BROKER_OPTION_KINDS: { [K in keyof Required<CliBrokerOptions>]: 'int' | 'bool' | 'string' | 'protocols' } = {
  maxConnections: 'int',
  maxPendingPerAddress: 'int',
  maxConnectSize: 'int',
  maxQueuedBytes: 'int',
  maxSessions: 'int',
  maxSubscriptionsPerClient: 'int',
  maxRetainedMessages: 'int',
  maxRetainedBytes: 'int',
  maxTopicLevels: 'int',
  authFailureDelay: 'int',
  maxPacketSize: 'int',
  maxInflight: 'int',
  receiveMaximum: 'int',
  maxQueuedMessages: 'int',
  maxOutgoingBytes: 'int',
  maxKeepalive: 'int',
  connectTimeout: 'int',
  maximumQoS: 'int',
  retainAvailable: 'bool',
  topicAliasMaximum: 'int',
  outboundTopicAliases: 'bool',
  protocols: 'protocols',
  maxSessionExpiryInterval: 'int',
  tickInterval: 'int',
  sysInterval: 'int',
  assignedClientIdPrefix: 'string',
}

const CLI_KEYS = [
  'port', 'host', 'listeners', 'users', 'allowAnonymous', 'persistenceDir', 'persistenceSync', 'persistenceFlushInterval',
  'persistenceMaxStoreBytes', 'persistenceMaxPendingBytes',
  'passwordFile', 'aclFile', 'metrics', 'bridges',
] as const

const LISTENER_KEYS = [
  'protocol', 'port', 'host', 'path', 'cert', 'key', 'keyPassphrase', 'ca', 'requireCertificate', 'useIdentityAsUsername', 'trustProxy',
] as const
const TLS_KEYS = ['cert', 'key', 'keyPassphrase', 'ca', 'requireCertificate', 'useIdentityAsUsername'] as const
const PROTOCOLS: readonly ListenerProtocol[] = ['mqtt', 'mqtts', 'ws', 'wss']

const MAX_PORT = 65535

function brokerOptions (data: Obj): CliBrokerOptions {
  const out: Record<string, unknown> = {}
  for (const [key, kind] of Object.entries(BROKER_OPTION_KINDS)) {
    if (data[key] === undefined) continue
    if (kind === 'int') out[key] = optInt(data, key, '', 0)
    else if (kind === 'bool') out[key] = optBool(data, key, '')
    else if (kind === 'string') {
      if (typeof data[key] !== 'string') throw new ConfigError('BAD_TYPE', key, 'must be a string')
      out[key] = data[key]
    } else {
      const list = optArray(data, key, '') ?? []
      if (list.length === 0 || list.some(p => p !== 3 && p !== 4 && p !== 5)) throw new ConfigError('BAD_VALUE', key, 'must be a non-empty list of 3, 4 and 5')
      out[key] = list
    }
  }
  return out as CliBrokerOptions
}

function fileIn (dir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dir, p)
}

function listenerOf (v: unknown, name: string, dir: string): ListenerSpec {
  if (!isObject(v)) throw new ConfigError('BAD_TYPE', name, 'must be an object')
  checkKeys(v, LISTENER_KEYS, name)
  const protocol = optOneOf(v, 'protocol', name, PROTOCOLS)
  if (protocol === undefined) throw new ConfigError('MISSING', keyName(name, 'protocol'), `is required (${PROTOCOLS.join(', ')})`)
  const port = optInt(v, 'port', name, 0, MAX_PORT)
  if (port === undefined) throw new ConfigError('MISSING', keyName(name, 'port'), 'is required (0 picks a free port)')
  const spec: ListenerSpec = { name, protocol, port }
  const host = optString(v, 'host', name)
  if (host !== undefined) spec.host = host
  const web = protocol === 'ws' || protocol === 'wss'
  const secure = protocol === 'mqtts' || protocol === 'wss'
  for (const k of TLS_KEYS) {
    if (!secure && v[k] !== undefined) throw new ConfigError('NOT_ALLOWED', keyName(name, k), `is for mqtts and wss listeners, not ${protocol}`)
  }
  for (const k of ['path', 'trustProxy'] as const) {
    if (!web && v[k] !== undefined) throw new ConfigError('NOT_ALLOWED', keyName(name, k), `is for ws and wss listeners, not ${protocol}`)
  }
  const path = optString(v, 'path', name)
  if (path !== undefined) {
    if (!path.startsWith('/')) throw new ConfigError('BAD_VALUE', keyName(name, 'path'), `must start with /, got "${path}"`)
    spec.path = path
  }
  if (v.trustProxy !== undefined) {
    const t = v.trustProxy
    if (typeof t !== 'boolean' && (typeof t !== 'number' || !Number.isInteger(t) || t < 1)) {
      throw new ConfigError('BAD_TYPE', keyName(name, 'trustProxy'), 'must be true, false or a number of proxies (1 or more)')
    }
    spec.trustProxy = t
  }
  if (secure) {
    const cert = optString(v, 'cert', name)
    const key = optString(v, 'key', name)
    if (cert === undefined) throw new ConfigError('MISSING', keyName(name, 'cert'), `is required for ${protocol} (the server certificate file)`)
    if (key === undefined) throw new ConfigError('MISSING', keyName(name, 'key'), `is required for ${protocol} (the server key file)`)
    spec.cert = fileIn(dir, cert)
    spec.key = fileIn(dir, key)
    const pass = v.keyPassphrase
    if (pass !== undefined && typeof pass !== 'string') throw new ConfigError('BAD_TYPE', keyName(name, 'keyPassphrase'), 'must be a string')
    if (pass !== undefined) spec.keyPassphrase = pass
    const ca = optString(v, 'ca', name)
    if (ca !== undefined) spec.ca = fileIn(dir, ca)
    spec.requireCertificate = optBool(v, 'requireCertificate', name) ?? false
    spec.useIdentityAsUsername = optBool(v, 'useIdentityAsUsername', name) ?? false
    if (spec.requireCertificate && spec.ca === undefined) {
      throw new ConfigError('MISSING', keyName(name, 'ca'), 'is required with requireCertificate (the CA client certificates are checked against)')
    }
    if (spec.useIdentityAsUsername && !spec.requireCertificate) {
      throw new ConfigError('CONFLICT', keyName(name, 'useIdentityAsUsername'), 'needs "requireCertificate": true')
    }
  }
  return spec
}

function usersOf (data: Obj): Record<string, string> {
  const users = optObject(data, 'users', '') ?? {}
  for (const [name, password] of Object.entries(users)) {
    if (typeof password !== 'string') throw new ConfigError('BAD_TYPE', `users.${name}`, 'the password must be a string')
    if (password === '') throw new ConfigError('BAD_VALUE', `users.${name}`, 'the password must not be empty')
  }
  return users as Record<string, string>
}

function metricsOf (data: Obj): CliSettings['metrics'] {
  const m = optObject(data, 'metrics', '')
  if (m === undefined) return undefined
  checkKeys(m, ['port', 'host'], 'metrics')
  const port = optInt(m, 'port', 'metrics', 0, MAX_PORT)
  if (port === undefined) throw new ConfigError('MISSING', 'metrics.port', 'is required')
  return { port, host: optString(m, 'host', 'metrics') ?? DEFAULT_HOST }
}

function bridgesOf (data: Obj, dir: string): BridgeConfig[] | undefined {
  const list = optArray(data, 'bridges', '')
  if (list === undefined) return undefined
  return checkBridges(list, p => fileIn(dir, p))
}

/** Check the file and the flags together and resolve them into settings. Throws a ConfigError. */
export function resolveConfig (input: ConfigInput): CliSettings {
  const flags = input.flags ?? {}
  const cwd = input.cwd ?? process.cwd()
  const raw = input.file?.data ?? {}
  const dir = input.file?.dir ?? cwd
  if (!isObject(raw)) throw new ConfigError('BAD_TYPE', '(config file)', 'must hold a JSON object')
  checkKeys(raw, [...CLI_KEYS, ...Object.keys(BROKER_OPTION_KINDS)], '')

  const listeners = (optArray(raw, 'listeners', '') ?? []).map((v, i) => listenerOf(v, `listeners[${i}]`, dir))
  // The top-level port/host keys and --port/--host are one more plain TCP listener.
  const filePort = optInt(raw, 'port', '', 0, MAX_PORT)
  const fileHost = optString(raw, 'host', '')
  const port = flags.port ?? filePort
  const host = flags.host ?? fileHost
  if (port !== undefined || host !== undefined) {
    const name = flags.port !== undefined || flags.host !== undefined ? (flags.port !== undefined ? '--port' : '--host') : (filePort !== undefined ? 'port' : 'host')
    listeners.push({ name, protocol: 'mqtt', port: port ?? DEFAULT_PORT, host: host ?? DEFAULT_HOST })
  }
  if (listeners.length === 0) listeners.push({ name: 'default', protocol: 'mqtt', port: DEFAULT_PORT, host: DEFAULT_HOST })

  const users = usersOf(raw)
  const fileDir = optString(raw, 'persistenceDir', '')
  const persistenceDir = flags.persistenceDir !== undefined ? resolve(cwd, flags.persistenceDir) : fileDir !== undefined ? fileIn(dir, fileDir) : undefined
  const sync = flags.persistenceSync ?? optOneOf(raw, 'persistenceSync', '', ['always', 'periodic'] as const)
  const flushInterval = optInt(raw, 'persistenceFlushInterval', '', 1)
  const maxStoreBytes = optInt(raw, 'persistenceMaxStoreBytes', '', 1024)
  const maxPendingBytes = optInt(raw, 'persistenceMaxPendingBytes', '', 1024)
  const filePasswords = optString(raw, 'passwordFile', '')
  const passwordFile = flags.passwordFile !== undefined ? resolve(cwd, flags.passwordFile) : filePasswords !== undefined ? fileIn(dir, filePasswords) : undefined
  const fileAcl = optString(raw, 'aclFile', '')
  const aclFile = flags.aclFile !== undefined ? resolve(cwd, flags.aclFile) : fileAcl !== undefined ? fileIn(dir, fileAcl) : undefined

  const settings: CliSettings = {
    listeners,
    broker: brokerOptions(raw),
    users,
    allowAnonymous: anonymousRule(raw, listeners, Object.keys(users).length > 0 || passwordFile !== undefined),
  }
  if (persistenceDir !== undefined) settings.persistence = { dir: persistenceDir, sync, flushInterval, maxStoreBytes, maxPendingBytes }
  else {
    const needsDir = ([['persistenceSync', sync], ['persistenceFlushInterval', flushInterval], ['persistenceMaxStoreBytes', maxStoreBytes],
      ['persistenceMaxPendingBytes', maxPendingBytes]] as const).find(([, v]) => v !== undefined)
    if (needsDir !== undefined) throw new ConfigError('NOT_ALLOWED', needsDir[0], 'needs persistenceDir (or --persistence-dir)')
  }
  if (passwordFile !== undefined) settings.passwordFile = passwordFile
  if (aclFile !== undefined) settings.aclFile = aclFile
  const metrics = metricsOf(raw)
  if (metrics !== undefined) settings.metrics = metrics
  const bridges = bridgesOf(raw, dir)
  if (bridges !== undefined) settings.bridges = bridges
  return settings
}

/**
 * Anonymous clients (no user name): as the file says, else allowed only while every listener is
 * on a loopback address and no account is configured. A setting under which nobody could connect
 * is refused: no anonymous access, no account, and no listener that identifies clients by certificate.
 */
function anonymousRule (raw: Obj, listeners: ListenerSpec[], hasAccounts: boolean): boolean {
  const explicit = optBool(raw, 'allowAnonymous', '')
  const allow = explicit ?? (!hasAccounts && listeners.every(l => isLoopback(l.host)))
  const identifies = listeners.some(l => l.useIdentityAsUsername === true)
  if (!allow && !hasAccounts && !identifies) {
    const open = listeners.filter(l => !isLoopback(l.host)).map(l => `${l.protocol}://${l.host ?? '*'}:${l.port}`)
    throw new ConfigError('CONFLICT', 'allowAnonymous', explicit === false
      ? 'is false and there are no users (nor passwordFile): nobody could connect'
      : `is not set, so anonymous clients are refused on a non-loopback listener (${open.join(', ')}), and there are no users (nor passwordFile): nobody could connect. Set "allowAnonymous": true, or add users`)
  }
  return allow
}
