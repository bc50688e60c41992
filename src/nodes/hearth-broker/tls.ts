/**
 * TLS material of the mqtts and wss listeners from Node-RED's own `tls-config` node, as core nodes
 * use it (addTLSOptions): certificate and key from files or uploaded, the key's passphrase in its
 * credentials, the CA that client certificates must be signed by. The tls-config node reads its
 * files when it starts, so a deploy that restarts it (a full deploy, or any change to it, which
 * restarts the broker node too) takes new certificates without a Node-RED restart.
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

/** The certificate, key, passphrase and CA of tls-config node `id`; throws a ConfigError saying what is missing. */
export function tlsFromConfigNode (RED: NodeAPI, id: string): TlsSettings {
  const n = RED.nodes.getNode(id) as TlsConfigNode | null
  if (n === null || n === undefined || typeof n.addTLSOptions !== 'function') throw new ConfigError({ key: 'tls-missing', subs: { id } })
  // The tls-config node has logged its own error (a file it cannot read, a certificate without key).
  if (n.valid === false) throw new ConfigError({ key: 'tls-invalid-config', subs: { id } })
  const o = n.addTLSOptions({})
  if (o.pfx !== undefined) throw new ConfigError({ key: 'tls-pfx', subs: {} })
  const cert = pem(o.cert)
  const key = pem(o.key)
  if (cert === undefined || key === undefined) throw new ConfigError({ key: 'tls-no-cert', subs: {} })
  const ca = pem(o.ca)
  const settings: TlsSettings = { cert, key }
  if (typeof o.passphrase === 'string' && o.passphrase !== '') settings.keyPassphrase = o.passphrase
  if (ca !== undefined) settings.ca = ca
  return settings
}
