import { isUtf8 } from 'node:buffer'
import type { Broker } from '../../broker'
import type { Message, QoS } from '../../broker/types'
import type { NodeMessage } from '../shared/red'
import { encodePayload } from '../shared/payload'
import { isValidTopicFilter, isValidTopicName } from '../shared/topics'
import { INVALID, readFlag, readQoS } from '../shared/values'
import { describeClient } from './events'
import { ACTIONS, type BrokerAction } from './types'

/** A command failure: a catalog key under `hearth-broker.errors.` plus substitutions. */
export class CommandError extends Error {
  constructor (readonly key: string, readonly subs: Record<string, string | number> = {}) {
    super(key)
  }
}

function filterOf (msg: NodeMessage): string {
  const f = msg.filter ?? (typeof msg.payload === 'string' && msg.payload !== '' ? msg.payload : '#')
  if (!isValidTopicFilter(f)) throw new CommandError('invalid-filter', { filter: String(f) })
  return f
}

function clientIdOf (msg: NodeMessage): string {
  const p = msg.payload as { clientId?: unknown } | string | undefined
  const id = msg.clientId ?? (typeof p === 'string' ? p : p?.clientId)
  if (typeof id !== 'string' || id === '') throw new CommandError('no-client-id')
  return id
}

function qosOf (value: unknown): QoS {
  const qos = readQoS(value, 0)
  if (qos === INVALID) throw new CommandError('invalid-qos', { qos: String(value) })
  return qos
}

/** A retained message as the `listRetained` answer shows it: text when the payload is UTF-8. */
function describeRetained (m: Message): Record<string, unknown> {
  return { topic: m.topic, payload: isUtf8(m.payload) ? m.payload.toString('utf8') : m.payload, qos: m.qos, properties: m.properties }
}

/**
 * Run the command named by `msg.action` and return the answer's payload. The answer goes out
 * with `msg.topic` set to the action.
 */
export async function runCommand (broker: Broker, msg: NodeMessage): Promise<unknown> {
  const action = msg.action as BrokerAction
  if (!ACTIONS.includes(action)) throw new CommandError('invalid-action', { action: String(msg.action), actions: ACTIONS.join(', ') })
  switch (action) {
    case 'listClients':
      return broker.clients().map(describeClient)
    case 'disconnect': {
      const clientId = clientIdOf(msg)
      return { clientId, disconnected: broker.disconnectClient(clientId) }
    }
    case 'publish': {
      const topic = msg.topic
      if (!isValidTopicName(topic)) throw new CommandError('invalid-topic', { topic: String(topic) })
      const m: Message = { topic, payload: encodePayload(msg.payload), qos: qosOf(msg.qos), retain: readFlag(msg.retain, false) }
      await broker.publish(m)
      return { topic: m.topic, qos: m.qos, retain: m.retain, bytes: m.payload.length }
    }
    case 'listRetained':
      return broker.retained(filterOf(msg)).map(describeRetained)
    case 'clearRetained': {
      const filter = filterOf(msg)
      return { filter, cleared: broker.clearRetained(filter) }
    }
    case 'stats':
      return broker.stats()
  }
}
