/*
 * The counters the core increments as it works. Everything on the hot path is a plain integer
 * add on a preallocated field or typed array: no allocation, no lookup by name per packet.
 */
import type { DropReason } from '../types'
import type { PacketType } from './types'

/** MQTT control packet types by their number (the high nibble of the first byte). */
const PACKET_TYPES: readonly PacketType[] = [
  'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback',
  'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth',
]

export const DROP_REASONS: readonly DropReason[] = [
  'queue-full', 'slow-consumer', 'packet-too-large', 'expired', 'not-authorized', 'retained-limit', 'queue-bytes', 'persistence-full',
]

/** A packet's type number from mqtt-packet's `cmd` (0 for anything unknown). */
function packetNumber (cmd: string): number {
  switch (cmd) {
    case 'connect': return 1
    case 'connack': return 2
    case 'publish': return 3
    case 'puback': return 4
    case 'pubrec': return 5
    case 'pubrel': return 6
    case 'pubcomp': return 7
    case 'subscribe': return 8
    case 'suback': return 9
    case 'unsubscribe': return 10
    case 'unsuback': return 11
    case 'pingreq': return 12
    case 'pingresp': return 13
    case 'disconnect': return 14
    case 'auth': return 15
    default: return 0
  }
}

/** Traffic of one listener (see ListenerMetrics). */
export interface ListenerCounters {
  readonly name: string
  socketsOpened: number
  bytesReceived: number
  bytesSent: number
}

/** Listener names kept apart; beyond this, connections count under 'other' (names come from PeerInfo). */
const MAX_LISTENERS = 32

export class Counters {
  /** Packets by type number (index 0: unknown). */
  readonly packetsReceived = new Float64Array(16)
  readonly packetsSent = new Float64Array(16)
  publishReceived = 0
  publishSent = 0
  publishBytesReceived = 0
  publishBytesSent = 0
  authFailures = 0
  clientsMaximum = 0
  clientsExpired = 0
  readonly drops: Record<DropReason, number> = {
    'queue-full': 0, 'slow-consumer': 0, 'packet-too-large': 0, expired: 0, 'not-authorized': 0, 'retained-limit': 0, 'queue-bytes': 0, 'persistence-full': 0,
  }

  readonly listeners = new Map<string, ListenerCounters>()

  /** The counters of a listener, made on its first connection. */
  listener (name: string): ListenerCounters {
    let l = this.listeners.get(name)
    if (l !== undefined) return l
    if (this.listeners.size >= MAX_LISTENERS) return this.listener('other')
    l = { name, socketsOpened: 0, bytesReceived: 0, bytesSent: 0 }
    this.listeners.set(name, l)
    return l
  }

  /** A packet read from a network client (`payloadBytes`: a PUBLISH's payload). */
  packetIn (cmd: string, payloadBytes: number): void {
    const n = packetNumber(cmd)
    this.packetsReceived[n]++
    if (n === 3) this.publishIn(payloadBytes)
  }

  /** A packet written to a network client (its first byte carries the type). */
  packetOut (firstByte: number): void {
    this.packetsSent[firstByte >> 4]++
  }

  /** A PUBLISH taken from a client, network or in-process. */
  publishIn (payloadBytes: number): void {
    this.publishReceived++
    this.publishBytesReceived += payloadBytes
  }

  /** A PUBLISH delivered to a client, network or in-process. */
  publishOut (payloadBytes: number): void {
    this.publishSent++
    this.publishBytesSent += payloadBytes
  }

  /** A client connected; `connected` clients are connected now. */
  clientConnected (connected: number): void {
    if (connected > this.clientsMaximum) this.clientsMaximum = connected
  }
}

/** Sum of a packet counter array. */
export function total (a: Float64Array): number {
  let n = 0
  for (let i = 0; i < a.length; i++) n += a[i]
  return n
}

/** A packet counter array by type name. */
export function byType (a: Float64Array): Record<PacketType, number> {
  const out = {} as Record<PacketType, number>
  PACKET_TYPES.forEach((t, i) => { out[t] = a[i + 1] })
  return out
}
