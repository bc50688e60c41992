import type { DeliveredMessage, QoS, SubscriptionOptions } from '../../broker/types'
import type { ConnectionApi, ConnectionUser } from '../hearth-connection/api'
import { decodeAuto, decodePayload, OUTPUT_FORMATS, type OutputFormat } from '../shared/payload'
import type { DoneFn, Node, NodeAPI, NodeInitializer, NodeMessage, SendFn } from '../shared/red'
import { messageId } from '../shared/message-id'
import { setStatus } from '../shared/status'
import { isValidTopicFilter } from '../shared/topics'
import { INVALID, readBool, readInt, readQoS } from '../shared/values'
import { ACTIONS, EXTERNAL_ACTIONS, TYPE, type SubscribeNodeConfig } from './types'

export interface SubscribeNode extends Node {
  /** Settles once the node's fixed subscription was answered (or failed); never rejects. */
  ready: Promise<void>
}

/** A dynamic subscription, in the shape core `mqtt in` uses for `msg.subscriptions`. */
interface DynamicSub { topic: string, qos: QoS, rh?: 0 | 1 | 2, rap?: boolean, nl?: boolean, datatype?: OutputFormat }

/** Retain handling 0, 1 or 2; anything else is 0 (send retained messages), as core reads it. */
function toRh (value: unknown): 0 | 1 | 2 {
  const rh = readInt(value, 0, 0, 2)
  return rh === INVALID ? 0 : rh as 0 | 1 | 2
}

const nodeInit: NodeInitializer = (RED: NodeAPI) => {
  function HearthSubscribeNode (this: SubscribeNode, config: SubscribeNodeConfig & { id: string, type: string }): void {
    RED.nodes.createNode(this, config)
    const node = this
    node.ready = Promise.resolve()
    const conn = RED.nodes.getNode(config.connection) as ConnectionApi | null
    const format: OutputFormat = OUTPUT_FORMATS.includes(config.datatype) ? config.datatype : 'auto'
    const dynamic = config.dynamic === true || String(config.dynamic) === 'true'
    const dynamicSubs = new Map<string, DynamicSub>()

    if (!conn) {
      setStatus(node, 'error', RED._('hearth-subscribe.errors.no-connection'))
      node.error(RED._('hearth-subscribe.errors.no-connection'))
      return
    }
    const v5 = (): boolean => conn.protocolVersion === 5

    /** Build the output message the way core `mqtt in` names its fields. */
    const toMsg = (m: DeliveredMessage, fmt: OutputFormat): void => {
      // `auto` cannot fail: decoded in place, with no result object per message
      const decoded = fmt === 'auto' ? undefined : decodePayload(m.payload, fmt)
      const payload = decoded === undefined ? decodeAuto(m.payload) : decoded.ok ? decoded.value : m.payload
      // A new message, with its id made here rather than by Node-RED's send (see message-id.ts)
      const msg: NodeMessage = { _msgid: messageId(), topic: m.topic, payload, qos: m.qos, retain: m.retain }
      const p = m.properties
      if (p && v5()) {
        if (p.responseTopic !== undefined) msg.responseTopic = p.responseTopic
        if (p.correlationData !== undefined) msg.correlationData = p.correlationData
        if (p.contentType !== undefined) msg.contentType = p.contentType
        if (p.userProperties !== undefined) msg.userProperties = p.userProperties
        if (p.messageExpiryInterval !== undefined) msg.messageExpiryInterval = p.messageExpiryInterval
        if (p.payloadFormatIndicator !== undefined) msg.payloadFormatIndicator = p.payloadFormatIndicator
      }
      if (decoded !== undefined && !decoded.ok) {
        node.error(RED._(`hearth-subscribe.errors.${decoded.reason}`), msg)
        return
      }
      node.send(msg)
    }
    const handler = (m: DeliveredMessage): void => toMsg(m, format)

    const user: ConnectionUser = { id: node.id, onState: (state, text) => setStatus(node, state, text) }

    const subscribe = async (options: SubscriptionOptions, h: (m: DeliveredMessage) => void): Promise<void> => {
      const code = await conn.subscribe(options, node.id, h)
      if (code !== undefined && code >= 0x80) {
        throw new Error(RED._('hearth-subscribe.errors.refused', { topic: options.topic, code: `0x${code.toString(16)}` }))
      }
    }

    if (!dynamic) {
      const qos = readQoS(config.qos, 2)
      if (!isValidTopicFilter(config.topic) || qos === INVALID) {
        const text = RED._('hearth-subscribe.errors.invalid-topic', { topic: String(config.topic) })
        setStatus(node, 'error', text)
        node.error(text)
        return
      }
      conn.register(user)
      const options: SubscriptionOptions = { topic: config.topic, qos, nl: readBool(config.nl) ?? false, rap: readBool(config.rap) ?? true, rh: toRh(config.rh) }
      node.ready = subscribe(options, handler).catch((err: Error) => {
        setStatus(node, 'error', err.message)
        node.error(err.message)
      })
    } else {
      conn.register(user)
    }

    /** Normalise `msg.topic` into subscriptions, as core does: a string, an object, or an array of either. */
    const subscriptionsOf = (msg: NodeMessage, action: string): DynamicSub[] | Error => {
      let data: unknown[]
      if (action === 'unsubscribe' && msg.topic === true) data = [...dynamicSubs.values()]
      else if (Array.isArray(msg.topic)) data = msg.topic
      else if (typeof msg.topic === 'string' || (typeof msg.topic === 'object' && msg.topic !== null)) data = [msg.topic]
      else return new Error(RED._('hearth-subscribe.errors.bad-subscription'))
      const out: DynamicSub[] = []
      for (const item of data) {
        const s = (typeof item === 'string' ? { topic: item } : item) as Record<string, unknown>
        if (!s || !isValidTopicFilter(s.topic)) return new Error(RED._('hearth-subscribe.errors.invalid-topic', { topic: String(s?.topic) }))
        const qos = readQoS(s.qos, 2)
        if (qos === INVALID) return new Error(RED._('hearth-subscribe.errors.invalid-qos', { qos: String(s.qos) }))
        const sub: DynamicSub = { topic: s.topic, qos }
        if (v5()) {
          sub.rh = toRh(s.rh)
          sub.rap = readBool(s.rap) ?? true
          const nl = readBool(s.nl)
          if (nl !== undefined) sub.nl = nl
        }
        if (typeof s.datatype === 'string' && (OUTPUT_FORMATS as readonly string[]).includes(s.datatype)) sub.datatype = s.datatype as OutputFormat
        out.push(sub)
      }
      return out
    }

    const actions: readonly string[] = conn.external ? EXTERNAL_ACTIONS : ACTIONS
    node.on('input', (msg: NodeMessage, send: SendFn, done: DoneFn) => {
      const action = msg.action
      if (!dynamic || typeof action !== 'string' || !actions.includes(action)) {
        done(new Error(RED._('hearth-subscribe.errors.invalid-action', { actions: actions.join(', ') })))
        return
      }
      if (action === 'connect' || action === 'disconnect') {
        const acted = action === 'connect' ? conn.connectAction(msg.broker) : conn.disconnectAction()
        acted.then(() => done(), (err: Error) => done(err))
        return
      }
      if (action === 'getSubscriptions') {
        msg.topic = 'subscriptions'
        msg.payload = [...dynamicSubs.values()]
        send(msg)
        done()
        return
      }
      const list = subscriptionsOf(msg, action)
      if (list instanceof Error) {
        done(list)
        return
      }
      const work = list.map(async (sub) => {
        if (dynamicSubs.has(sub.topic)) {
          dynamicSubs.delete(sub.topic)
          await conn.unsubscribe(sub.topic, node.id, true)
        }
        if (action === 'subscribe') {
          dynamicSubs.set(sub.topic, sub)
          const fmt = sub.datatype ?? format
          await subscribe({ topic: sub.topic, qos: sub.qos, nl: sub.nl, rap: sub.rap, rh: sub.rh }, (m) => toMsg(m, fmt)).catch((err: Error & { code?: string }) => {
            // Over the connection's subscription limit: never made, so not listed.
            if (err.code === 'HEARTH_SUBSCRIPTIONS_FULL') dynamicSubs.delete(sub.topic)
            throw err
          })
        }
      })
      Promise.all(work).then(() => {
        msg.subscriptions = [...dynamicSubs.values()]
        done()
      }, (err: Error) => done(err))
    })

    node.on('close', (removed: boolean, done: () => void) => {
      const filters = dynamic ? [...dynamicSubs.keys()] : [config.topic]
      dynamicSubs.clear()
      const unsubscribed = filters.map((f) => conn.unsubscribe(f, node.id, removed || dynamic))
      Promise.all([...unsubscribed, conn.deregister(user, removed)]).catch(() => {}).finally(() => done())
    })
  }

  RED.nodes.registerType(TYPE, HearthSubscribeNode)
}

export default nodeInit
