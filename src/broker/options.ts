/*
 * The broker's options: one table of integer limits with their defaults and ranges, shared by
 * the core, the CLI and the Node-RED broker node (which takes its defaults and editor ranges
 * from here), so that the three never disagree. Defaults are chosen for a Raspberry Pi on a home
 * network, against Mosquitto's and EMQX's; a user can raise each one.
 */
import { NEVER_EXPIRES } from './session'
import { HearthError } from './errors'
import type { BrokerOptions, ProtocolVersion, QoS } from './types'

/** The largest packet MQTT can carry: Remaining Length 268,435,455 plus a 5-byte fixed header. */
export const MAX_PACKET = 268435455 + 5

const KiB = 1024
const MiB = 1024 * KiB

/** An integer option: default, smallest and largest accepted value. */
export interface IntegerOption { default: number, min: number, max: number }

export const INTEGER_OPTIONS = {
  /** Simultaneous connections, network and in-process, connected or still waiting for CONNECT. */
  maxConnections: { default: 1000, min: 1, max: 10_000_000 },
  /** Sockets from one address that have not finished CONNECT yet. */
  maxPendingPerAddress: { default: 32, min: 1, max: 10_000_000 },
  /** Largest first packet (which must be CONNECT), in bytes: a socket that has not logged in cannot make the broker buffer more. */
  maxConnectSize: { default: 64 * KiB, min: 64, max: MAX_PACKET },
  /** Milliseconds a socket may stay without completing CONNECT. */
  connectTimeout: { default: 10_000, min: 10, max: 3_600_000 },
  /** Largest packet accepted, in bytes (announced to MQTT 5 clients). */
  maxPacketSize: { default: 2 * MiB, min: 64, max: MAX_PACKET },
  /** Outgoing QoS 1/2 messages in flight toward a 3.x client. */
  maxInflight: { default: 100, min: 1, max: 65535 },
  /** QoS 1/2 messages an MQTT 5 client may have unacknowledged toward the broker (Receive Maximum). */
  receiveMaximum: { default: 32, min: 1, max: 65535 },
  /** Messages queued per session (offline, or held back by flow control). */
  maxQueuedMessages: { default: 1000, min: 0, max: 100_000_000 },
  /** Payload bytes queued per session. */
  maxQueuedBytes: { default: 8 * MiB, min: 0, max: 2 ** 40 },
  /** Bytes buffered toward one socket: QoS 0 beyond it is dropped, and reading from the client pauses. */
  maxOutgoingBytes: { default: 1 * MiB, min: KiB, max: 2 ** 31 },
  /** Largest keepalive accepted, in seconds; 0 for no limit. */
  maxKeepalive: { default: 0, min: 0, max: 65535 },
  /** Highest QoS granted. */
  maximumQoS: { default: 2, min: 0, max: 2 },
  /** Topic aliases an MQTT 5 client may set toward the broker (each holds a topic). */
  topicAliasMaximum: { default: 10, min: 0, max: 65535 },
  /** Longest a session outlives its connection, in seconds (3.1.1 persistent sessions included). */
  maxSessionExpiryInterval: { default: 14 * 24 * 3600, min: 0, max: NEVER_EXPIRES },
  /** Sessions kept, connected or not. */
  maxSessions: { default: 1000, min: 1, max: 10_000_000 },
  /** Subscriptions one client may hold. */
  maxSubscriptionsPerClient: { default: 10_000, min: 1, max: 100_000_000 },
  /** Retained messages kept. */
  maxRetainedMessages: { default: 50_000, min: 0, max: 100_000_000 },
  /** Bytes of retained messages kept (topics and payloads). */
  maxRetainedBytes: { default: 32 * MiB, min: 0, max: 2 ** 40 },
  /** Most levels in a topic name or filter. */
  maxTopicLevels: { default: 128, min: 1, max: 1000 },
  /**
   * Milliseconds before a refused login is answered; refusals to one address are spaced this far
   * apart, so that passwords cannot be guessed at wire speed. Other clients never wait for it.
   */
  authFailureDelay: { default: 1000, min: 0, max: 60_000 },
  /** Seconds between updates of the $SYS tree (Mosquitto's sys_interval); 0 turns it off. */
  sysInterval: { default: 10, min: 0, max: 86_400 },
  /** Resolution of the one shared timer, in milliseconds. */
  tickInterval: { default: 1000, min: 10, max: 60_000 },
} satisfies Record<string, IntegerOption>

export type IntegerOptionName = keyof typeof INTEGER_OPTIONS

export type ResolvedOptions = { [K in IntegerOptionName]: number } & {
  maximumQoS: QoS
  retainAvailable: boolean
  outboundTopicAliases: boolean
  protocols: ProtocolVersion[]
  assignedClientIdPrefix: string
}

/** A broker option the broker cannot use: `code` HEARTH_BAD_OPTION, with the option's name and range. */
export class OptionError extends HearthError {
  constructor (readonly option: string, readonly value: unknown, readonly range?: IntegerOption) {
    super('HEARTH_BAD_OPTION', range !== undefined
      ? `option ${option} must be an integer from ${range.min} to ${range.max}, got ${String(value)}`
      : `option ${option} has an invalid value: ${String(value)}`)
  }
}

/** Check the options and fill in the defaults; throws OptionError naming the first bad one. */
export function resolveOptions (o: BrokerOptions): ResolvedOptions {
  const ints = {} as Record<IntegerOptionName, number>
  for (const name of Object.keys(INTEGER_OPTIONS) as IntegerOptionName[]) {
    const range: IntegerOption = INTEGER_OPTIONS[name]
    const v = (o as Record<string, unknown>)[name]
    if (v === undefined || v === null) { ints[name] = range.default; continue }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) throw new OptionError(name, v, range)
    ints[name] = v
  }
  const protocols = o.protocols ?? [3, 4, 5]
  if (!Array.isArray(protocols) || protocols.length === 0 || protocols.some(p => p !== 3 && p !== 4 && p !== 5)) {
    throw new OptionError('protocols', protocols)
  }
  for (const name of ['retainAvailable', 'outboundTopicAliases'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') throw new OptionError(name, o[name])
  }
  return {
    ...ints,
    maximumQoS: ints.maximumQoS as QoS,
    retainAvailable: o.retainAvailable ?? true,
    outboundTopicAliases: o.outboundTopicAliases ?? true,
    protocols,
    assignedClientIdPrefix: o.assignedClientIdPrefix ?? 'hearth-',
  }
}
