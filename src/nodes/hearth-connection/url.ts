/**
 * The external broker URL, checked the same way in the editor and at run time (browser-safe: the
 * WHATWG URL parser of both). MQTT.js opens the connection from the same text.
 */

const URL_SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss'] as const
type UrlScheme = typeof URL_SCHEMES[number]

/** Ports MQTT.js uses when the URL gives none. */
const DEFAULT_PORTS: Record<UrlScheme, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 }

export interface BrokerUrl {
  scheme: UrlScheme
  /** Host name or address (an IPv6 address in brackets). */
  host: string
  port: number
  /** WebSocket path ('/' when none); empty for mqtt and mqtts. */
  path: string
  /** mqtts or wss: TLS options apply. */
  secure: boolean
  /** The URL to connect to, with its port written out. */
  href: string
}

/** Why a URL cannot be used: a catalog key under `hearth-connection.errors.`. */
export type UrlProblem = 'no-url' | 'bad-url' | 'bad-scheme' | 'url-credentials' | 'url-path'

export function parseBrokerUrl (value: unknown): BrokerUrl | UrlProblem {
  const text = typeof value === 'string' ? value.trim() : ''
  if (text === '') return 'no-url'
  let u: URL
  try {
    u = new URL(text)
  } catch {
    return 'bad-url'
  }
  const scheme = u.protocol.replace(/:$/, '') as UrlScheme
  if (!URL_SCHEMES.includes(scheme)) return 'bad-scheme'
  if (u.hostname === '') return 'bad-url'
  // Secrets belong in the credentials, not in a URL that is stored in the flow.
  if (u.username !== '' || u.password !== '') return 'url-credentials'
  const ws = scheme === 'ws' || scheme === 'wss'
  const path = ws ? (u.pathname === '' ? '/' : u.pathname) + u.search : ''
  if (!ws && ((u.pathname !== '' && u.pathname !== '/') || u.search !== '')) return 'url-path'
  if (u.hash !== '') return 'url-path'
  const port = u.port === '' ? DEFAULT_PORTS[scheme] : Number(u.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535) return 'bad-url'
  const host = u.hostname
  return { scheme, host, port, path, secure: scheme === 'mqtts' || scheme === 'wss', href: `${scheme}://${host}:${port}${path}` }
}

/** Editor validation: is `value` a URL an external connection can use? */
export function isValidBrokerUrl (value: unknown): boolean {
  return typeof parseBrokerUrl(value) !== 'string'
}
