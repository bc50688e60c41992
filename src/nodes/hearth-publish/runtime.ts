import type { Message, MessageProperties } from '../../broker/types'
import type { ConnectionApi, ConnectionUser } from '../hearth-connection/api'
import { encodePayload } from '../shared/payload'
import type { DoneFn, Node, NodeAPI, NodeInitializer, NodeMessage } from '../shared/red'
import { setStatus } from '../shared/status'
import { isValidTopicName } from '../shared/topics'
import { INVALID, readFlag, readInt, readQoS, readUserProperties } from '../shared/values'
import { TYPE, type PublishNodeConfig } from './types'

/** A publish failure with a catalog key under `hearth-publish.errors.`. */
class PublishError extends Error {
  constructor (readonly key: string, readonly subs: Record<string, string | number> = {}) { super(key) }
}

/** Reason codes the broker answers a refused publish with. */
const REASONS: Record<number, string> = { 0x87: 'not-authorised', 0x90: 'invalid-topic', 0x97: 'quota-exceeded', 0x95: 'too-large', 0x9a: 'retain-unsupported', 0x9b: 'qos-unsupported' }

/** Does the node set this value? (As core: a value the node sets wins over the msg's.) */
function isSet (nodeValue: unknown): boolean {
  return nodeValue !== undefined && nodeValue !== ''
}

type Key = 'topic' | 'qos' | 'retain' | 'contentType' | 'responseTopic' | 'correlationData' | 'userProperties' | 'messageExpiryInterval'

/**
 * One message field: the node's value when it sets one, read (and parsed) once since a deployed
 * node's config never changes; else the msg's, read from each msg.
 */
function field<T> (config: PublishNodeConfig, key: Key, read: (value: unknown) => T): (msg: NodeMessage) => T {
  const nodeValue: unknown = config[key]
  if (isSet(nodeValue)) {
    const fixed = read(nodeValue)
    return () => fixed
  }
  return (msg) => read(msg[key])
}

const same = (v: unknown): unknown => v

/** The builder of a node's MQTT messages: `build(msg, v5)` gives the message or throws a PublishError saying what is wrong. */
export function messageBuilder (config: PublishNodeConfig): (msg: NodeMessage, v5: boolean) => Message {
  const topicOf = field(config, 'topic', same)
  const qosOf = field(config, 'qos', (value) => readQoS(value, 0))
  const retainOf = field(config, 'retain', (value) => readFlag(value, false))
  const contentTypeOf = field(config, 'contentType', same)
  const responseTopicOf = field(config, 'responseTopic', same)
  const correlationOf = field(config, 'correlationData', same)
  const userOf = field(config, 'userProperties', readUserProperties)
  const userFixed = isSet(config.userProperties)
  const expiryOf = field(config, 'messageExpiryInterval', (value) => readInt(value, -1, 0, 4294967295))
  /** The value that was read, for an error message. */
  const given = (key: Key, msg: NodeMessage): string => String(isSet(config[key]) ? config[key] : msg[key])

  /** MQTT 5 properties from the node or the msg. */
  const properties = (msg: NodeMessage): MessageProperties | undefined => {
    let p: MessageProperties | undefined
    const contentType = contentTypeOf(msg)
    if (typeof contentType === 'string' && contentType !== '') (p ??= {}).contentType = contentType
    const responseTopic = responseTopicOf(msg)
    if (responseTopic !== undefined && responseTopic !== '') {
      if (!isValidTopicName(responseTopic)) throw new PublishError('invalid-response-topic', { topic: String(responseTopic) })
      ;(p ??= {}).responseTopic = responseTopic
    }
    const correlation = correlationOf(msg)
    if (correlation !== undefined && correlation !== '') (p ??= {}).correlationData = Buffer.isBuffer(correlation) ? correlation : Buffer.from(String(correlation), 'utf8')
    const user = userOf(msg)
    if (user === INVALID) throw new PublishError('bad-user-properties')
    if (user) (p ??= {}).userProperties = userFixed ? { ...user } : user // each message its own copy of the node's
    const expiry = expiryOf(msg)
    if (expiry === INVALID) throw new PublishError('bad-expiry', { value: given('messageExpiryInterval', msg) })
    if (expiry >= 0) (p ??= {}).messageExpiryInterval = expiry
    const pfi = msg.payloadFormatIndicator
    if (pfi === true || pfi === false) (p ??= {}).payloadFormatIndicator = pfi
    return p
  }

  return (msg, v5) => {
    const topic = topicOf(msg)
    if (!isValidTopicName(topic)) throw new PublishError('invalid-topic', { topic: String(topic ?? '') })
    const qos = qosOf(msg)
    if (qos === INVALID) throw new PublishError('invalid-qos', { qos: given('qos', msg) })
    const message: Message = { topic, payload: encodePayload(msg.payload), qos, retain: retainOf(msg) }
    if (v5) {
      const props = properties(msg)
      if (props) message.properties = props
    }
    return message
  }
}

const nodeInit: NodeInitializer = (RED: NodeAPI) => {
  function HearthPublishNode (this: Node, config: PublishNodeConfig & { id: string, type: string }): void {
    RED.nodes.createNode(this, config)
    const node = this
    const conn = RED.nodes.getNode(config.connection) as ConnectionApi | null
    if (!conn) {
      setStatus(node, 'error', RED._('hearth-publish.errors.no-connection'))
      node.error(RED._('hearth-publish.errors.no-connection'))
      node.on('input', (_msg, _send, done: DoneFn) => done(new Error(RED._('hearth-publish.errors.no-connection'))))
      return
    }
    if (config.topic !== '' && config.topic !== undefined && !isValidTopicName(config.topic)) {
      const text = RED._('hearth-publish.errors.invalid-topic', { topic: config.topic })
      setStatus(node, 'error', text)
      node.error(text)
    }
    const user: ConnectionUser = { id: node.id, onState: (state, text) => setStatus(node, state, text) }
    conn.register(user)
    const build = messageBuilder(config)

    const fail = (err: PublishError | (Error & { reasonCode?: number })): Error => {
      if (err instanceof PublishError) return new Error(RED._(`hearth-publish.errors.${err.key}`, err.subs))
      const code = err.reasonCode
      if (code !== undefined) {
        const key = REASONS[code] ?? 'refused'
        return new Error(RED._(`hearth-publish.errors.${key}`, { code: `0x${code.toString(16)}`, reason: err.message }))
      }
      return err
    }

    // Node-RED keeps delivering input until the close handler finishes; once closing starts
    // (the connection may already be ending), late messages of the old flow are let go.
    let closing = false
    node.on('input', (msg: NodeMessage, _send, done: DoneFn) => {
      if (closing) { done(); return }
      // An external connection takes core mqtt out's actions; any other action is an error, as in core.
      if (conn.external && msg.action) {
        const action = msg.action === 'connect' ? conn.connectAction(msg.broker) : msg.action === 'disconnect' ? conn.disconnectAction() : undefined
        if (action) action.then(() => done(), (err: Error) => done(err))
        else done(new Error(RED._('hearth-publish.errors.invalid-action', { actions: 'connect, disconnect' })))
        return
      }
      let message: Message
      try {
        message = build(msg, conn.protocolVersion === 5)
      } catch (err) {
        done(fail(err as PublishError))
        return
      }
      // Resolves once the broker accepted it: for QoS 1/2, stored and acknowledged.
      conn.publish(message, (err) => (err ? done(fail(err)) : done()))
    })

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true
      conn.deregister(user, removed).catch(() => {}).finally(() => done())
    })
  }

  RED.nodes.registerType(TYPE, HearthPublishNode)
}

export default nodeInit
