/**
 * The node's listeners: MQTT over TCP, TLS, WebSocket and secure WebSocket on their own ports
 * (MqttListener), and MQTT over WebSocket on Node-RED's own HTTP(S) server under a path
 * (attachWebSocket), next to the editor's /comms socket and core websocket nodes, touching no
 * other upgrade request. All are bound before the broker has loaded its state (clients wait, then
 * are served); all or none: one that cannot be opened closes the others and is reported.
 */
import type { Server as HttpServer } from 'node:http'
import type { Broker } from '../../broker'
import { ListenerError, MqttListener, attachWebSocket, type ClientErrorHandler, type TlsSettings, type VerifyClient } from '../../listeners'
import { ConfigError, type ListenerPlan } from './config'
import { isSecure, nodeRedPath } from './types'

export interface ListenerContext {
  /** TLS material for mqtts and wss listeners. */
  tls: TlsSettings | undefined
  /** The broker's maxPacketSize: the bound of one WebSocket message. */
  maxPacketSize: number
  /** Node-RED's HTTP(S) server (RED.server). */
  server: unknown
  /** Node-RED's settings (httpNodeRoot, httpAdminRoot, webSocketNodeVerifyClient). */
  settings: Record<string, unknown>
  /** Every node config of the active flows (RED.nodes.eachNode), to find colliding websocket nodes. */
  eachNode: (cb: (n: { type?: string, path?: unknown, id?: string }) => void) => void
  onClientError: ClientErrorHandler
  onError: (err: Error) => void
}

export interface OpenListener {
  plan: ListenerPlan
  /** The bound port (the real one when 0 was asked for); undefined on Node-RED's server. */
  port: number | undefined
  /** For the status: ':1883', or the full path on Node-RED's server. */
  label: string
  serve (broker: Broker): void
  close (): Promise<void>
}

/** The editor's own WebSocket path, or undefined when the editor's admin routes are off. */
function commsPath (settings: Record<string, unknown>): string | undefined {
  if (settings.httpAdminRoot === false) return undefined
  const root = typeof settings.httpAdminRoot === 'string' && settings.httpAdminRoot !== '' ? settings.httpAdminRoot : '/'
  return (root.startsWith('/') ? '' : '/') + root + (root.endsWith('/') ? '' : '/') + 'comms'
}

/** Describes a listener in messages: "mqtts :8883", "ws 127.0.0.1:9001", "WebSocket /mqtt on Node-RED's port". */
function describePlan (p: ListenerPlan): string {
  if (p.kind === 'nodered') return `${p.path ?? ''}`
  return `${p.kind} ${p.host !== undefined ? (p.host.includes(':') ? `[${p.host}]` : p.host) : ''}:${p.port}`
}

function fail (p: ListenerPlan, key: string, subs: Record<string, string | number> = {}): ConfigError {
  return new ConfigError({ key, subs: { listener: describePlan(p), number: p.number, ...subs } })
}

function bindProblem (p: ListenerPlan, err: unknown): ConfigError {
  if (err instanceof ConfigError) return err
  if (err instanceof ListenerError) {
    switch (err.code) {
      case 'TLS_INVALID': return fail(p, 'tls-unusable', { message: err.message })
      case 'CA_REQUIRED': return fail(p, 'tls-no-ca')
      case 'TLS_REQUIRED': return fail(p, 'tls-no-cert')
      case 'PATH_IN_USE': return fail(p, 'path-in-use-hearth', { path: p.path ?? '' })
      default: return fail(p, 'listen-failed', { message: err.message })
    }
  }
  const e = err as NodeJS.ErrnoException
  const host = p.host ?? ''
  if (e.code === 'EADDRINUSE') return fail(p, 'port-in-use', { port: p.port, host: host === '' ? '*' : host })
  if (e.code === 'EACCES') return fail(p, 'port-denied', { port: p.port })
  if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') return fail(p, 'bad-host', { host })
  return fail(p, 'listen-failed', { message: e.message ?? String(err) })
}

function attachToNodeRed (p: ListenerPlan, ctx: ListenerContext): OpenListener {
  const server = ctx.server as HttpServer | undefined
  if (server === undefined || server === null || typeof (server as { on?: unknown }).on !== 'function') throw fail(p, 'no-http-server')
  const full = nodeRedPath(ctx.settings, p.path ?? '/')
  if (full === commsPath(ctx.settings)) throw fail(p, 'path-in-use-editor', { path: full })
  let clash: string | undefined
  ctx.eachNode((n) => {
    if (n.type === 'websocket-listener' && typeof n.path === 'string' && nodeRedPath(ctx.settings, n.path) === full) clash ??= n.id
  })
  if (clash !== undefined) throw fail(p, 'path-in-use-websocket', { path: full, id: clash })
  const verifyClient = ctx.settings.webSocketNodeVerifyClient
  const attachment = attachWebSocket(server, {
    path: full,
    maxPacketSize: ctx.maxPacketSize,
    trustProxy: p.trustProxy,
    verifyClient: typeof verifyClient === 'function' ? verifyClient as VerifyClient : undefined,
    onClientError: ctx.onClientError,
  })
  return { plan: p, port: undefined, label: full, serve: (b) => attachment.serve(b), close: () => attachment.detach() }
}

async function openOwnPort (p: ListenerPlan, ctx: ListenerContext): Promise<OpenListener> {
  if (p.kind === 'nodered') throw new Error('not a port listener')
  const tls = isSecure(p.kind) && ctx.tls !== undefined
    ? { ...ctx.tls, requireCertificate: p.requireCertificate, useIdentityAsUsername: p.useIdentityAsUsername }
    : undefined
  const l = await MqttListener.open({
    protocol: p.kind,
    port: p.port,
    host: p.host,
    path: p.path,
    tls,
    maxPacketSize: ctx.maxPacketSize,
    trustProxy: p.trustProxy,
    onClientError: ctx.onClientError,
    onError: ctx.onError,
  })
  return { plan: p, port: l.port, label: `:${l.port}`, serve: (b) => l.serve(b), close: () => l.close() }
}

/** Open every listener, in order; on the first failure close those already open and throw a ConfigError. */
export async function openListeners (plans: readonly ListenerPlan[], ctx: ListenerContext): Promise<OpenListener[]> {
  const open: OpenListener[] = []
  for (const p of plans) {
    try {
      open.push(p.kind === 'nodered' ? attachToNodeRed(p, ctx) : await openOwnPort(p, ctx))
    } catch (err) {
      await closeListeners(open)
      throw bindProblem(p, err)
    }
  }
  return open
}

/** Close listeners (and their clients); resolves once their ports and paths are free. */
export async function closeListeners (list: readonly OpenListener[]): Promise<void> {
  await Promise.all(list.map(l => l.close().catch(() => undefined)))
}
