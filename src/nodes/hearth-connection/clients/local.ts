/**
 * In-process client: a LocalClient of the core Broker owned by a hearth-broker node of this
 * Node-RED, found by id. No socket and no encoding; waits for the broker node and tries again
 * while it is missing, not running or refusing.
 */
import type { LocalClient } from '../../../broker'
import type { DeliveredMessage, LocalConnectOptions, Message, SubscriptionOptions } from '../../../broker/types'
import type { BrokerNode } from '../../hearth-broker/runtime'
import type { PublishDone } from './outgoing-queue'
import type { ClientEvents, ClientStats, ConnectionClient } from './types'

/** Delays before trying again, in ms. */
const RETRY = { noBroker: 500, brokerDown: 2000, refused: 5000, lost: 1000 }
/** Longest wait for the close message before disconnecting anyway. */
export const CLOSE_TIMEOUT_MS = 2000

/**
 * Is `n` a running broker node? Checked by shape, not by type name, so any node that owns a
 * core Broker the same way (`ready` and `broker`) can serve connections.
 */
function isBrokerNode (n: unknown): n is BrokerNode {
  const b = n as Partial<BrokerNode> | null
  return !!b && typeof b.ready?.then === 'function' && 'broker' in b
}

/** An Error carrying the broker's reason code, as the core rejects with. */
type CodedError = Error & { reasonCode?: number }

export interface LocalSettings {
  /** Look the broker node up (by id, at each attempt: it may be redeployed). */
  brokerNode: () => unknown
  options: LocalConnectOptions
  birth?: Message
  close?: Message
}

export class InProcessClient implements ConnectionClient {
  readonly subscriptionIdentifiers: boolean
  private client: LocalClient | undefined
  private wanted = false
  private attempting: Promise<void> | undefined
  private retryTimer: NodeJS.Timeout | undefined

  constructor (private readonly settings: LocalSettings, private readonly events: ClientEvents) {
    this.subscriptionIdentifiers = settings.options.protocolVersion === 5
  }

  get connected (): boolean { return !!this.client?.connected }

  start (): void {
    this.wanted = true
    this.startConnect()
  }

  private retry (delay: number): void {
    this.events.settled()
    if (!this.wanted || this.retryTimer) return
    this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.startConnect() }, delay)
  }

  private startConnect (): void {
    if (this.attempting || this.client || !this.wanted) return
    this.attempting = this.attempt().catch((err: Error) => {
      this.events.state('error', err.message)
      this.retry(RETRY.refused)
    }).finally(() => { this.attempting = undefined })
  }

  private async attempt (): Promise<void> {
    const ev = this.events
    const brokerNode = this.settings.brokerNode()
    if (!isBrokerNode(brokerNode)) {
      ev.state('waiting', ev.text('status.no-broker'))
      return this.retry(RETRY.noBroker)
    }
    await brokerNode.ready
    if (!this.wanted) return
    const broker = brokerNode.broker
    if (!broker) {
      ev.state('error', ev.text('status.broker-down'))
      return this.retry(RETRY.brokerDown)
    }
    ev.state('connecting')
    let c: LocalClient
    try {
      c = await broker.connectLocal(this.settings.options)
    } catch (err) {
      const code = (err as CodedError).reasonCode
      const text = ev.text('errors.refused', { reason: (err as Error).message, code: code === undefined ? '-' : `0x${code.toString(16)}` })
      ev.log('error', text)
      ev.state('error', text)
      return this.retry(RETRY.refused)
    }
    if (!this.wanted) {
      await c.end().catch(() => {})
      return
    }
    this.client = c
    c.on('message', (m: DeliveredMessage) => ev.message(m))
    c.on('close', () => {
      if (this.client !== c) return
      this.client = undefined
      if (!this.wanted) return
      ev.state('disconnected')
      this.retry(RETRY.lost)
    })
    await ev.connected()
    const birth = this.settings.birth
    if (birth) await c.publish(birth).catch((err: Error) => ev.log('warn', ev.text('errors.birth-failed', { message: err.message })))
    if (this.client === c) ev.state('connected')
    ev.settled()
  }

  publish (message: Message, done: PublishDone): void {
    const c = this.client
    if (!c || !c.connected) return done(new Error(this.events.text('errors.not-connected')))
    c.publishWith(message, done) // no promise per message: QoS 0 settles before this returns
  }

  subscribe (list: SubscriptionOptions[]): Promise<number[]> {
    const c = this.client
    if (!c) return Promise.reject(new Error(this.events.text('errors.not-connected')))
    return c.subscribe(list)
  }

  async unsubscribe (filters: string[]): Promise<void> {
    await this.client?.unsubscribe(filters)
  }

  /** Publish the close message (synchronously started, so it goes out before the broker closes) then end. */
  async stop (): Promise<void> {
    this.wanted = false
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const c = this.client
    this.client = undefined
    if (c) {
      const close = this.settings.close
      const closing = close && c.connected ? c.publish(close).catch(() => {}) : undefined
      if (closing) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([closing, new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_TIMEOUT_MS) })])
        clearTimeout(timer)
      }
      await c.end().catch(() => {})
    }
    if (this.attempting) await this.attempting
    this.events.state('disconnected')
  }

  stats (): ClientStats {
    return { queued: 0, queuedBytes: 0, inflight: 0, dropped: 0, drainListeners: 0 }
  }
}
