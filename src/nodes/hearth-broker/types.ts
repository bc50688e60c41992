/** The hearth-broker node: shared by the runtime and the editor (types and plain values only). */

export const TYPE = 'hearth-broker'

/** The node's config as stored in the flow. Numbers arrive as strings from the editor form. */
export interface BrokerNodeConfig {
  name: string
  port: number | string
  host: string
  /** Allowed protocol versions. */
  mqtt31: boolean
  mqtt311: boolean
  mqtt5: boolean
  allowAnonymous: boolean
  maxConnections: number | string
  maxPacketSize: number | string
  maxInflight: number | string
  maxQueuedMessages: number | string
  maxKeepalive: number | string
  maximumQoS: number | string
  retainAvailable: boolean
  /** Keep retained messages and sessions on disk (default on); off keeps them in memory. */
  persistence: boolean
  /** The folder for them; empty for `<userDir>/hearth/<node id>/`. Relative paths start at userDir. */
  persistenceDir: string
  /** 'always': on disk (fsync) before every acknowledgement; 'periodic': flushed every `persistenceFlushInterval` ms. */
  persistenceSync: 'always' | 'periodic' | ''
  /** Milliseconds between flushes with 'periodic'. */
  persistenceFlushInterval: number | string
}

export interface BrokerNodeCredentials {
  username: string
  password: string
}

export const DEFAULTS: BrokerNodeConfig = {
  name: '',
  port: 1883,
  host: '0.0.0.0',
  mqtt31: true,
  mqtt311: true,
  mqtt5: true,
  allowAnonymous: true,
  maxConnections: 10000,
  maxPacketSize: 268435455,
  maxInflight: 100,
  maxQueuedMessages: 1000,
  maxKeepalive: 0,
  maximumQoS: 2,
  retainAvailable: true,
  persistence: true,
  persistenceDir: '',
  persistenceSync: 'always',
  persistenceFlushInterval: 1000,
}

/** Commands the node accepts in `msg.action`. */
export const ACTIONS = ['listClients', 'disconnect', 'publish', 'listRetained', 'clearRetained', 'stats'] as const
export type BrokerAction = typeof ACTIONS[number]

/** Events sent on the output, as `msg.topic`. */
export type BrokerEventName = 'clientConnected' | 'clientDisconnected' | 'subscribed' | 'unsubscribed' | 'messageDropped'

/** Integer limits: config key, smallest and largest accepted value. Shared by editor validation and runtime. */
export const LIMITS: ReadonlyArray<readonly [keyof BrokerNodeConfig, number, number]> = [
  ['port', 0, 65535],
  ['maxConnections', 1, 1000000],
  ['maxPacketSize', 16, 268435455],
  ['maxInflight', 1, 65535],
  ['maxQueuedMessages', 0, 10000000],
  ['maxKeepalive', 0, 65535],
  ['maximumQoS', 0, 2],
  ['persistenceFlushInterval', 10, 3600000],
]

/** Parse an integer within [min, max]; undefined when it is not one. */
export function parseIntIn (value: unknown, min: number, max: number): number | undefined {
  const s = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : ''
  if (!/^\d+$/.test(s)) return undefined
  const n = Number(s)
  return n >= min && n <= max ? n : undefined
}
