/** The connection config node as publish/subscribe nodes use it (runtime only). */
import type { DeliveredMessage, Message, SubscriptionOptions } from '../../broker/types'
import type { ClientStats } from './clients'
import type { TYPE } from './types'

export type ConnectionState = 'connected' | 'connecting' | 'disconnected' | 'waiting' | 'error'

/** What a publish or subscribe node hands the connection when it registers. */
export interface ConnectionUser {
  id: string
  /** Told of every state change; `text` is translated when present. */
  onState (state: ConnectionState, text?: string): void
}

export type MessageHandler = (message: DeliveredMessage) => void

/** The connection node as publish/subscribe nodes use it (via `RED.nodes.getNode`). */
export interface ConnectionApi {
  readonly type: typeof TYPE
  readonly connected: boolean
  readonly protocolVersion: 4 | 5
  readonly clientId: string
  /** A broker at a URL (MQTT.js) rather than a broker node of this Node-RED: `connect`/`disconnect` actions apply. */
  readonly external: boolean
  /** The current state, as last told to users. */
  readonly state: ConnectionState
  /** Settles when the first connect attempt after registration has finished (either way). */
  readonly ready: Promise<void>
  register (user: ConnectionUser): void
  /** Remove a user; after the last one, publish the close message and disconnect. */
  deregister (user: ConnectionUser, removed: boolean): Promise<void>
  /**
   * Publish; rejects (with `.reasonCode` when the broker refused) or when not connected. An
   * external connection queues while it is reconnecting, within its limits.
   */
  publish (message: Message): Promise<void>
  /** The same, calling `done` instead of returning a promise (what the publish node uses: cheaper in a burst). */
  publish (message: Message, done: (err?: Error) => void): void
  /**
   * Route messages matching `options.topic` to `handler` under `ref` (one handler per ref and
   * filter). Resolves with the granted QoS or reason code once the broker answered (or at once,
   * with undefined, while disconnected: the subscription is made on connect).
   */
  subscribe (options: SubscriptionOptions, ref: string, handler: MessageHandler): Promise<number | undefined>
  /** Stop routing `filter` to `ref`; the broker subscription goes when no ref is left and `removed`. */
  unsubscribe (filter: string, ref: string, removed: boolean): Promise<void>
  /**
   * The `connect` action (external only), as core: connect, applying `msg.broker` overrides when
   * given; an open connection is cycled only with `force`. Resolves once connected.
   */
  connectAction (overrides: unknown): Promise<void>
  /** The `disconnect` action (external only): close cleanly and stay closed until a `connect` action. */
  disconnectAction (): Promise<void>
  /** Outgoing queue and in-flight counters. */
  stats (): ClientStats
}
