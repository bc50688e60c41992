/** Who is on the other end of a socket or WebSocket handshake, as the broker's PeerInfo. */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { PeerCertificate, TLSSocket } from 'node:tls'
import { isIP } from 'node:net'
import type { PeerInfo } from '../broker'

/** Address and port of a socket, with the transport name. */
export function socketPeer (socket: Socket, transport: string): PeerInfo {
  return { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, transport }
}

/** The verified client certificate of a TLS socket, or undefined when there is none. */
export function verifiedCertificate (socket: TLSSocket): PeerCertificate | undefined {
  if (!socket.authorized) return undefined
  const cert = socket.getPeerCertificate()
  return cert !== null && cert !== undefined && Object.keys(cert).length > 0 ? cert : undefined
}

/** The first Common Name of a certificate's subject, or undefined. */
export function commonName (cert: PeerCertificate): string | undefined {
  const cn = (cert.subject as { CN?: string | string[] } | undefined)?.CN
  const first = Array.isArray(cn) ? cn[0] : cn
  return typeof first === 'string' && first !== '' ? first : undefined
}

/**
 * The client address behind `hops` trusted reverse proxies. Each proxy appends the address it
 * received the request from to X-Forwarded-For, so the trusted part is the end of the list: with
 * one proxy the last entry is the client, whatever the client itself put in front of it.
 * Returns undefined when the header is missing or does not hold a valid address there.
 */
export function forwardedAddress (header: string | string[] | undefined, hops: number): string | undefined {
  if (header === undefined || hops < 1) return undefined
  const list = (Array.isArray(header) ? header.join(',') : header).split(',').map(s => s.trim()).filter(s => s !== '')
  if (list.length === 0) return undefined
  const entry = list[Math.max(0, list.length - hops)]
  const address = stripPort(entry)
  return isIP(address) !== 0 ? address : undefined
}

/** '[::1]:1234' -> '::1', '1.2.3.4:80' -> '1.2.3.4', anything else unchanged. */
function stripPort (s: string): string {
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(s)
  if (bracket !== null) return bracket[1]
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(s)
  return v4 !== null ? v4[1] : s
}

/** PeerInfo for a WebSocket upgrade request: the socket's peer, or the forwarded client behind trusted proxies. */
export function requestPeer (req: IncomingMessage, transport: string, trustProxy: boolean | number | undefined): PeerInfo {
  const peer = socketPeer(req.socket, transport)
  const hops = trustProxy === true ? 1 : typeof trustProxy === 'number' ? trustProxy : 0
  const forwarded = forwardedAddress(req.headers['x-forwarded-for'], hops)
  if (forwarded !== undefined) {
    peer.remoteAddress = forwarded
    peer.remotePort = undefined // the client's own port is not forwarded
  }
  return peer
}
