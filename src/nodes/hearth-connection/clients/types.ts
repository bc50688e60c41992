/**
 * The client a connection config node drives: in-process (a hearth-broker node of this Node-RED)
 * or external (a broker at a URL, through MQTT.js). The config node, and so the publish and
 * subscribe nodes, see only this interface.
 */
import type { DeliveredMessage, Message, SubscriptionOptions } from '../../../broker/types'
import type { ConnectionState } from '../api'
import type { PublishDone } from './outgoing-queue'

/** What the config node hands its client: where events go. */
export interface ClientEvents {
  /** A new state for the users' status; `text` is already translated. */
  state (state: ConnectionState, text?: string): void
  /**
   * The broker accepted the connection (CONNACK). The client waits for this (the config node
   * subscribes its filters again) before it publishes the birth message and reports 'connected'.
   */
  connected (): Promise<void>
  message (message: DeliveredMessage): void
  /** The first connect attempt has finished, either way. */
  settled (): void
  log (level: 'log' | 'warn' | 'error', text: string): void
  /** Translate a key of the `hearth-connection` catalog. */
  text (key: string, subs?: Record<string, string | number>): string
}

/** Counters of an external client's outgoing side (all 0 for an in-process client). */
export interface ClientStats {
  /** Messages waiting to be sent, and their bytes (topic + payload). */
  queued: number
  queuedBytes: number
  /** QoS 1/2 messages sent and not yet acknowledged. */
  inflight: number
  /** QoS 0 messages dropped because the queue was full, since the connection node started. */
  dropped: number
  /** Listeners waiting for the socket to drain (at most one: back-pressure uses no listener per message). */
  drainListeners: number
}

export interface ConnectionClient {
  /** Connected to the broker (CONNACK received), the birth message possibly not yet sent. */
  readonly connected: boolean
  /** Whether SUBSCRIBE may carry MQTT 5 subscription identifiers. */
  readonly subscriptionIdentifiers: boolean
  /** Start connecting; the client keeps reconnecting until stop(). */
  start (): void
  /**
   * Publish; `done()` once the broker accepted it (QoS 1/2: acknowledged; QoS 0 to an external
   * broker: written to the socket), `done(err)` (with `.reasonCode` when the broker refused it)
   * otherwise. A callback, not a promise: a burst costs one closure per message, no more.
   */
  publish (message: Message, done: PublishDone): void
  /** Subscribe; resolves with one granted QoS or reason code per filter. */
  subscribe (list: SubscriptionOptions[]): Promise<number[]>
  unsubscribe (filters: string[]): Promise<void>
  /** Publish the close message if connected, disconnect cleanly (no will) and stop reconnecting. */
  stop (): Promise<void>
  stats (): ClientStats
}
