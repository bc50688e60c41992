import type { Broker } from '../../broker'
import type { BrokerEvents, ClientInfo } from '../../broker/types'
import type { NodeMessage } from '../shared/red'
import type { BrokerEventName } from './types'

const PROTOCOL_NAMES: Record<number, string> = { 3: 'MQTT 3.1', 4: 'MQTT 3.1.1', 5: 'MQTT 5' }

function address (info: { remoteAddress?: string, remotePort?: number, kind?: string }): string {
  if (info.remoteAddress === undefined) return info.kind === 'network' ? '' : 'local'
  return info.remotePort === undefined ? info.remoteAddress : `${info.remoteAddress}:${info.remotePort}`
}

/** The details a client-connected event carries in `msg.payload`. */
export function describeClient (c: ClientInfo): Record<string, unknown> {
  return {
    clientId: c.clientId,
    username: c.username,
    address: address(c),
    kind: c.kind,
    transport: c.transport,
    protocol: PROTOCOL_NAMES[c.protocolVersion] ?? String(c.protocolVersion),
    protocolVersion: c.protocolVersion,
    keepalive: c.keepalive,
    cleanStart: c.cleanStart,
    sessionExpiryInterval: c.sessionExpiryInterval,
    connectedAt: new Date(c.connectedAt).toISOString(),
    subscriptions: c.subscriptions,
    inflight: c.inflight,
    queued: c.queued,
  }
}

export interface EventSink {
  /** Send one event message on the node's output. */
  emit (msg: NodeMessage): void
  /** Client count changed. */
  clientsChanged (): void
}

/** How long dropped-message events are gathered into one output message. */
const DROP_WINDOW_MS = 1000

/**
 * Subscribe to the broker's events and turn them into output messages (`msg.topic` is the event
 * name). Dropped messages are summarised at most once a second so a flood cannot flood the flow.
 * Returns a function that detaches everything.
 */
export function forwardEvents (broker: Broker, sink: EventSink): () => void {
  let drops: { first: BrokerEvents['messageDropped'][0], count: number, reasons: Record<string, number> } | undefined
  let dropTimer: NodeJS.Timeout | undefined

  const send = (topic: BrokerEventName, payload: unknown): void => sink.emit({ topic, payload })
  const flushDrops = (): void => {
    dropTimer = undefined
    if (!drops) return
    const { first, count, reasons } = drops
    drops = undefined
    send('messageDropped', { ...first, count, reasons })
  }

  const onConnected = (info: ClientInfo): void => { send('clientConnected', describeClient(info)); sink.clientsChanged() }
  const onDisconnected = (info: BrokerEvents['clientDisconnected'][0]): void => {
    send('clientDisconnected', { clientId: info.clientId, username: info.username, address: info.remoteAddress ?? 'local', reason: info.reason, reasonCode: info.reasonCode })
    sink.clientsChanged()
  }
  const onSubscribed = (info: BrokerEvents['subscribed'][0]): void => send('subscribed', info)
  const onUnsubscribed = (info: BrokerEvents['unsubscribed'][0]): void => send('unsubscribed', info)
  const onDropped = (info: BrokerEvents['messageDropped'][0]): void => {
    if (!drops) drops = { first: info, count: 0, reasons: {} }
    drops.count++
    drops.reasons[info.reason] = (drops.reasons[info.reason] ?? 0) + 1
    if (!dropTimer) dropTimer = setTimeout(flushDrops, DROP_WINDOW_MS)
  }

  broker.on('clientConnected', onConnected)
  broker.on('clientDisconnected', onDisconnected)
  broker.on('subscribed', onSubscribed)
  broker.on('unsubscribed', onUnsubscribed)
  broker.on('messageDropped', onDropped)
  return () => {
    broker.off('clientConnected', onConnected)
    broker.off('clientDisconnected', onDisconnected)
    broker.off('subscribed', onSubscribed)
    broker.off('unsubscribed', onUnsubscribed)
    broker.off('messageDropped', onDropped)
    if (dropTimer) clearTimeout(dropTimer)
    dropTimer = undefined
    drops = undefined
  }
}
