import type { LocalConnectOptions, Message, MessageProperties, QoS, WillMessage } from '../../broker/types'
import { isValidTopicName } from '../shared/topics'
import { parseIntIn } from '../hearth-broker/types'
import type { ConnectionNodeConfig, ConnectionNodeCredentials } from './types'

interface ConfigProblem { key: string, subs: Record<string, string | number> }

export type ParsedConnection =
  | { ok: true, protocolVersion: 4 | 5, options: LocalConnectOptions, birth?: Message, close?: Message }
  | { ok: false, problem: ConfigProblem }

class Problem extends Error {
  constructor (readonly problem: ConfigProblem) { super(problem.key) }
}

function int (value: unknown, fallback: number, min: number, max: number, option: string): number {
  if (value === undefined || value === null || value === '') return fallback
  const n = parseIntIn(value, min, max)
  if (n === undefined) throw new Problem({ key: 'bad-number', subs: { option, value: String(value), min, max } })
  return n
}

function qos (value: unknown, option: string): QoS {
  return int(value, 0, 0, 2, option) as QoS
}

function bool (value: unknown): boolean {
  return value === true || value === 'true'
}

/** A birth or close message, or undefined when its topic is empty. */
function message (topic: unknown, payload: unknown, q: unknown, retain: unknown, kind: string): Message | undefined {
  if (typeof topic !== 'string' || topic.trim() === '') return undefined
  if (!isValidTopicName(topic)) throw new Problem({ key: 'bad-topic', subs: { kind, topic } })
  return { topic, payload: Buffer.from(typeof payload === 'string' ? payload : '', 'utf8'), qos: qos(q, `${kind}Qos`), retain: bool(retain) }
}

function willProperties (config: Partial<ConnectionNodeConfig>): MessageProperties | undefined {
  const props: MessageProperties = {}
  if (config.willContentType) props.contentType = String(config.willContentType)
  if (config.willResponseTopic) {
    if (!isValidTopicName(config.willResponseTopic)) throw new Problem({ key: 'bad-topic', subs: { kind: 'willResponse', topic: config.willResponseTopic } })
    props.responseTopic = config.willResponseTopic
  }
  if (config.willExpiry !== undefined && config.willExpiry !== '') props.messageExpiryInterval = int(config.willExpiry, 0, 0, 4294967295, 'willExpiry')
  if (config.willUserProperties && String(config.willUserProperties).trim() !== '') {
    let parsed: unknown
    try { parsed = JSON.parse(String(config.willUserProperties)) } catch { parsed = undefined }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Problem({ key: 'bad-user-properties', subs: {} })
    const user: Record<string, string> = {}
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) user[k] = typeof v === 'string' ? v : JSON.stringify(v)
    props.userProperties = user
  }
  return Object.keys(props).length > 0 ? props : undefined
}

/** Turn the config node's settings into connect options and birth/close messages, or say what to fix. */
export function parseConnection (config: Partial<ConnectionNodeConfig> & { id: string }, creds: Partial<ConnectionNodeCredentials>): ParsedConnection {
  try {
    const pv = String(config.protocolVersion ?? '5')
    if (pv !== '4' && pv !== '5') throw new Problem({ key: 'bad-protocol', subs: { value: pv } })
    const protocolVersion = pv === '5' ? 5 : 4
    const clean = config.clean === undefined ? true : bool(config.clean)
    const clientId = typeof config.clientId === 'string' && config.clientId.trim() !== '' ? config.clientId.trim() : `hearth-${config.id}`
    const options: LocalConnectOptions = {
      clientId,
      protocolVersion,
      clean,
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
    }
  } catch (err) {
    if (err instanceof Problem) return { ok: false, problem: err.problem }
    throw err
  }
}
