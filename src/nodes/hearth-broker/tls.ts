/**
 * TLS material of the mqtts and wss listeners from Node-RED's own `tls-config` node, as core nodes
 * use it (addTLSOptions): certificate and key from files or uploaded, the key's passphrase in its
 * credentials, the CA that client certificates must be signed by. The tls-config node reads its
 * files when it starts, so a deploy that restarts it (a full deploy, or any change to it, which
 * restarts the broker node too) takes new certificates without a Node-RED restart. Bridges use
 * tls-config nodes too, as clients: the CA the remote must chain to, and a client certificate.
 */
import type { TlsSettings } from '../../listeners'
import type { NodeAPI } from '../shared/red'
import { ConfigError } from './config'

/** What a tls-config node offers (Node-RED 4.1 and 5). */
interface TlsConfigNode {
  type?: string
  valid?: boolean
  addTLSOptions?: (opts: Record<string, unknown>) => Record<string, unknown>
}

const pem = (v: unknown): string | Buffer | undefined =>
  typeof v === 'string' || Buffer.isBuffer(v) ? v : undefined

/** The options of tls-config node `id` (addTLSOptions); throws a ConfigError when it is missing, invalid or PKCS#12. */
function optionsOf (RED: NodeAPI, id: string): Record<string, unknown> {
  const n = RED.nodes.getNode(id) as TlsConfigNode | null
  if (n === null || n === undefined || typeof n.addTLSOptions !== 'function') throw new ConfigError({ key: 'tls-missing', subs: { id } })
  // The tls-config node has logged its own error (a file it cannot read, a certificate without key).
  if (n.valid === false) throw new ConfigError({ key: 'tls-invalid-config', subs: { id } })
  const o = n.addTLSOptions({})
  if (o.pfx !== undefined) throw new ConfigError({ key: 'tls-pfx', subs: {} })
  return o
}

/** The certificate, key, passphrase and CA of tls-config node `id`; throws a ConfigError saying what is missing. */
export function tlsFromConfigNode (RED: NodeAPI, id: string): TlsSettings {
  const o = optionsOf(RED, id)
  const cert = pem(o.cert)
  const key = pem(o.key)
  if (cert === undefined || key === undefined) throw new ConfigError({ key: 'tls-no-cert', subs: {} })
  const ca = pem(o.ca)
  const settings: TlsSettings = { cert, key }
  if (typeof o.passphrase === 'string' && o.passphrase !== '') settings.keyPassphrase = o.passphrase
  if (ca !== undefined) settings.ca = ca
  return settings
}

/** A bridge's TLS settings, in the bridge module's keys (PEM as Buffers). */
export interface BridgeTls {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  keyPassphrase?: string
  rejectUnauthorized: boolean
  /** Settings of the tls-config node a bridge does not use (its server name and ALPN protocol). */
  ignored: string[]
}

const buffer = (v: unknown): Buffer | undefined => {
  const p = pem(v)
  return typeof p === 'string' ? Buffer.from(p) : p
}

/**
 * What a bridge takes from tls-config node `id`: the CA the remote's certificate must chain to, a
 * client certificate and key if set, and "verify the server certificate" (on unless unticked).
 * Throws a ConfigError when the node is missing, invalid or PKCS#12.
 */
export function bridgeTlsFromConfigNode (RED: NodeAPI, id: string): BridgeTls {
  const o = optionsOf(RED, id)
  const out: BridgeTls = { rejectUnauthorized: o.rejectUnauthorized !== false, ignored: [] }
  const ca = buffer(o.ca)
  const cert = buffer(o.cert)
  const key = buffer(o.key)
  if (ca !== undefined) out.ca = ca
  if (cert !== undefined) out.cert = cert
  if (key !== undefined) out.key = key
  if (typeof o.passphrase === 'string' && o.passphrase !== '' && key !== undefined) out.keyPassphrase = o.passphrase
  if (o.servername !== undefined) out.ignored.push('servername')
  if (o.ALPNProtocols !== undefined) out.ignored.push('alpnprotocol')
  return out
}
