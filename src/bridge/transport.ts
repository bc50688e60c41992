/*
 * The byte stream to the remote broker: TCP, TLS, WebSocket or secure WebSocket (subprotocol
 * "mqtt", one MQTT packet or more per binary message). Writes made before the connection is open
 * wait for it; failures arrive as the stream's 'error'.
 */
import net from 'node:net'
import tls from 'node:tls'
import type { Duplex } from 'node:stream'
import WebSocket, { createWebSocketStream } from 'ws'
import type { ResolvedBridge } from './config'
import type { TlsMaterial } from './tls'

function tlsOptions (t: TlsMaterial | undefined): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = { rejectUnauthorized: t?.rejectUnauthorized ?? true }
  if (t?.ca !== undefined) o.ca = t.ca
  if (t?.cert !== undefined) o.cert = t.cert
  if (t?.key !== undefined) o.key = t.key
  if (t?.passphrase !== undefined) o.passphrase = t.passphrase
  return o
}

/** Open a stream to the bridge's remote broker. */
export function openStream (b: ResolvedBridge, material: TlsMaterial | undefined, maxPayload: number): Duplex {
  switch (b.protocol) {
    case 'mqtt': {
      const s = net.connect({ host: b.host, port: b.port })
      s.setNoDelay(true)
      return s
    }
    case 'mqtts': {
      // Server Name Indication and the host name check use the URL's host (not for an IP address)
      const servername = net.isIP(b.host) === 0 ? b.host : undefined
      const s = tls.connect({ host: b.host, port: b.port, servername, ...tlsOptions(material) })
      s.setNoDelay(true)
      return s
    }
    default: {
      const host = net.isIPv6(b.host) ? `[${b.host}]` : b.host
      const url = `${b.protocol}://${host}:${b.port}${b.path}`
      const ws = new WebSocket(url, ['mqtt'], {
        ...(b.protocol === 'wss' ? tlsOptions(material) : {}),
        perMessageDeflate: false,
        maxPayload,
        handshakeTimeout: 30000,
      })
      return createWebSocketStream(ws)
    }
  }
}
