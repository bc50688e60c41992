/**
 * `msg.broker` on a `connect` action, read as core's mqtt-broker `setOptions` reads it, applied to
 * a copy of the connection's settings. Unknown keys are ignored, as core does; the result goes
 * through the same parser as the node's own config, so a bad value is refused, not guessed.
 */
import { readBool } from '../shared/values'
import type { ConnectionInput } from './options'
import type { ConnectionNodeCredentials } from './types'
import { parseBrokerUrl } from './url'

type Data = Record<string, unknown>

const has = (o: Data, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key)
const isObject = (v: unknown): v is Data => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The URL from core's `url`, or `broker` (a host or a URL), `port` and `usetls`. */
function urlOf (current: unknown, data: Data): string | undefined {
  if (has(data, 'url')) return String(data.url ?? '')
  if (!has(data, 'broker') && !has(data, 'port') && !has(data, 'usetls')) return undefined
  const broker = has(data, 'broker') ? String(data.broker ?? '') : ''
  if (broker.includes('://')) return broker
  const now = parseBrokerUrl(current)
  const tls = readBool(data.usetls) ?? (typeof now !== 'string' && now.secure)
  let host = broker !== '' ? broker : typeof now !== 'string' ? now.host : 'localhost'
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`
  const port = has(data, 'port') && data.port !== '' && data.port !== undefined && data.port !== null
    ? String(data.port)
    : typeof now !== 'string' && broker === '' ? String(now.port) : tls ? '8883' : '1883'
  return `${tls ? 'mqtts' : 'mqtt'}://${host}:${port}`
}

type Kind = 'birth' | 'close' | 'will'

/** A birth/close/will object `{topic, payload, qos, retain, properties}`; anything else clears it. */
function applyMessage (out: ConnectionInput, kind: Kind, value: unknown): void {
  const m = isObject(value) ? value : {}
  out[`${kind}Topic`] = typeof m.topic === 'string' ? m.topic : ''
  out[`${kind}Payload`] = m.payload
  out[`${kind}Qos`] = m.qos as string
  out[`${kind}Retain`] = m.retain as boolean
  if (kind !== 'will') return
  const p = isObject(m.properties) ? m.properties : {}
  out.willContentType = typeof p.contentType === 'string' ? p.contentType : ''
  out.willResponseTopic = typeof p.responseTopic === 'string' ? p.responseTopic : ''
  out.willExpiry = (p.messageExpiryInterval ?? p.expiry ?? '') as string
  out.willDelay = (p.willDelayInterval ?? p.delay ?? '') as string
  out.willUserProperties = p.userProperties ?? p.userProps ?? ''
}

/** The connection's settings with `data` (msg.broker) applied. */
export function applyOverrides (config: ConnectionInput, creds: Partial<ConnectionNodeCredentials>, data: Data): { config: ConnectionInput, creds: Partial<ConnectionNodeCredentials> } {
  const out: ConnectionInput = { ...config }
  const outCreds = { ...creds }
  const url = urlOf(config.url, data)
  if (url !== undefined) out.url = url
  if (has(data, 'clientid')) out.clientId = String(data.clientid ?? '')
  if (has(data, 'protocolVersion')) out.protocolVersion = String(data.protocolVersion) as '4' | '5'
  if (has(data, 'keepalive')) out.keepalive = data.keepalive as string
  if (has(data, 'cleansession')) out.clean = data.cleansession as boolean
  if (has(data, 'sessionExpiry')) out.sessionExpiry = data.sessionExpiry as string
  else if (has(data, 'sessionExpiryInterval')) out.sessionExpiry = data.sessionExpiryInterval as string
  if (has(data, 'username')) outCreds.username = data.username === undefined || data.username === null ? '' : String(data.username)
  if (has(data, 'password')) outCreds.password = data.password === undefined || data.password === null ? '' : String(data.password)
  for (const kind of ['birth', 'close', 'will'] as const) {
    if (has(data, kind)) applyMessage(out, kind, data[kind])
  }
  return { config: out, creds: outCreds }
}

export { isObject }
