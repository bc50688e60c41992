import type { LocalConnectOptions, Message, MessageProperties, WillMessage } from '../../broker/types'
import { encodePayload } from '../shared/payload'
import { isValidTopicName } from '../shared/topics'
import { INVALID, readFlag, readInt, readQoS, readUserProperties, type QoS } from '../shared/values'
import { DEFAULTS, EXTERNAL_LIMITS, type ConnectionNodeConfig, type ConnectionNodeCredentials } from './types'
import { parseBrokerUrl, type BrokerUrl } from './url'

export interface ConfigProblem { key: string, subs: Record<string, string | number> }

/** The limits of an external connection (see EXTERNAL_LIMITS). */
export interface ExternalLimits {
  queueMaxMessages: number
  queueMaxBytes: number
  maxInflight: number
  maxSubscriptions: number
  reconnectDelay: number
  reconnectDelayMax: number
}

/** What an external connection needs beyond the connect options. */
interface ExternalSettings {
  url: BrokerUrl
  /** Id of a tls-config node, or ''. */
  tls: string
  autoConnect: boolean
  limits: ExternalLimits
}

export type ParsedConnection =
  | { ok: true, protocolVersion: 4 | 5, options: LocalConnectOptions, birth?: Message, close?: Message, external?: ExternalSettings }
  | { ok: false, problem: ConfigProblem }

/** Config as the parser reads it: the editor's fields, where payloads may also be any msg value (msg.broker). */
export type ConnectionInput = Partial<Omit<ConnectionNodeConfig, 'birthPayload' | 'closePayload' | 'willPayload' | 'willUserProperties'>> & {
  id: string
  birthPayload?: unknown
  closePayload?: unknown
  willPayload?: unknown
  willUserProperties?: unknown
}

class Problem extends Error {
  constructor (readonly problem: ConfigProblem) { super(problem.key) }
}

function int (value: unknown, fallback: number, min: number, max: number, option: string): number {
  const n = readInt(value, fallback, min, max)
  if (n === INVALID) throw new Problem({ key: 'bad-number', subs: { option, value: String(value), min, max } })
  return n
}

function qos (value: unknown, option: string): QoS {
  const q = readQoS(value, 0)
  if (q === INVALID) throw new Problem({ key: 'bad-number', subs: { option, value: String(value), min: 0, max: 2 } })
  return q
}

/** A birth, close or will message, or undefined when its topic is empty. */
function message (topic: unknown, payload: unknown, q: unknown, retain: unknown, kind: string): Message | undefined {
  if (typeof topic !== 'string' || topic.trim() === '') return undefined
  if (!isValidTopicName(topic)) throw new Problem({ key: 'bad-topic', subs: { kind, topic } })
  return { topic, payload: encodePayload(payload), qos: qos(q, `${kind}Qos`), retain: readFlag(retain, false) }
}

function willProperties (config: ConnectionInput): MessageProperties | undefined {
  const props: MessageProperties = {}
  if (config.willContentType) props.contentType = String(config.willContentType)
  if (config.willResponseTopic) {
    if (!isValidTopicName(config.willResponseTopic)) throw new Problem({ key: 'bad-topic', subs: { kind: 'willResponse', topic: config.willResponseTopic } })
    props.responseTopic = config.willResponseTopic
  }
  const expiry = int(config.willExpiry, -1, 0, 4294967295, 'willExpiry')
  if (expiry >= 0) props.messageExpiryInterval = expiry
  const user = readUserProperties(config.willUserProperties)
  if (user === INVALID) throw new Problem({ key: 'bad-user-properties', subs: {} })
  if (user) props.userProperties = user
  return Object.keys(props).length > 0 ? props : undefined
}

function external (config: ConnectionInput): ExternalSettings {
  const url = parseBrokerUrl(config.url)
  if (typeof url === 'string') throw new Problem({ key: url, subs: { url: String(config.url ?? '') } })
  const limits = {} as Record<string, number>
  for (const [key, min, max] of EXTERNAL_LIMITS) limits[key] = int(config[key], DEFAULTS[key] as number, min, max, key)
  if (limits.reconnectDelayMax < limits.reconnectDelay) limits.reconnectDelayMax = limits.reconnectDelay
  return { url, tls: typeof config.tls === 'string' ? config.tls : '', autoConnect: readFlag(config.autoConnect, true), limits: limits as unknown as ExternalLimits }
}

/** Turn the config node's settings into connect options and birth/close messages, or say what to fix. */
export function parseConnection (config: ConnectionInput, creds: Partial<ConnectionNodeCredentials>): ParsedConnection {
  try {
    const pv = String(config.protocolVersion ?? '5')
    if (pv !== '4' && pv !== '5') throw new Problem({ key: 'bad-protocol', subs: { value: pv } })
    const protocolVersion = pv === '5' ? 5 : 4
    const clientId = typeof config.clientId === 'string' && config.clientId.trim() !== '' ? config.clientId.trim() : `hearth-${config.id}`
    const options: LocalConnectOptions = {
      clientId,
      protocolVersion,
      clean: readFlag(config.clean, true),
      keepalive: int(config.keepalive, 60, 0, 65535, 'keepalive'),
    }
    if (protocolVersion === 5) options.sessionExpiryInterval = int(config.sessionExpiry, 0, 0, 4294967295, 'sessionExpiry')
    if (creds.username) {
      options.username = String(creds.username)
      if (creds.password) options.password = String(creds.password)
    }
    const will = message(config.willTopic, config.willPayload, config.willQos, config.willRetain, 'will')
    if (will) {
      const w: WillMessage = will
      if (protocolVersion === 5) {
        const delay = int(config.willDelay, 0, 0, 4294967295, 'willDelay')
        if (delay > 0) w.delayInterval = delay
        const props = willProperties(config)
        if (props) w.properties = props
      }
      options.will = w
    }
    return {
      ok: true,
      protocolVersion,
      options,
      birth: message(config.birthTopic, config.birthPayload, config.birthQos, config.birthRetain, 'birth'),
      close: message(config.closeTopic, config.closePayload, config.closeQos, config.closeRetain, 'close'),
      external: config.brokerType === 'external' ? external(config) : undefined,
    }
  } catch (err) {
    if (err instanceof Problem) return { ok: false, problem: err.problem }
    throw err
  }
}
