/*
 * CONNECT as a named list of steps, shared by network and in-process clients. Each step may
 * refuse with a reason code; the caller turns the result into a CONNACK (or a rejected promise).
 */
import { randomBytes } from 'node:crypto'
import { isUtf8 } from 'node:buffer'
import type { BrokerCore } from './core'
import type { ClientBase } from './client-base'
import { RC } from './errors'
import { Session, NEVER_EXPIRES } from './session'
import type { AuthenticateResult } from './auth'
import { validTopicName } from './topics'
import type { QoS, WillMessage } from './types'

interface ConnectParams {
  clientId: string
  clean: boolean
  keepalive: number
  username?: string
  password?: Buffer
  will?: WillMessage
  /** Seconds; on 3.1.1 0 for clean sessions and NEVER_EXPIRES otherwise. */
  sessionExpiryInterval: number
  authenticationMethod?: string
  remoteAddress?: string
  certificate?: import('node:tls').PeerCertificate
}

export interface ConnectContext {
  core: BrokerCore
  client: ClientBase
  params: ConnectParams
  /** Filled in by the steps, sent back in CONNACK. */
  assignedClientId?: string
  serverKeepAlive?: number
  sessionExpiryInterval?: number
  sessionPresent: boolean
}

/** A step returns a reason code to refuse the connection, or nothing to go on. */
type ConnectStep = (ctx: ConnectContext) => number | undefined | Promise<number | undefined>

const checkCapacity: ConnectStep = ({ core, client }) => {
  if (core.closing) return RC.SERVER_UNAVAILABLE
  // A network client already holds a place among the waiting sockets; an in-process one needs one.
  if (core.connectionCount() - (client.kind === 'network' ? 1 : 0) >= core.opts.maxConnections) return RC.SERVER_BUSY
  return undefined
}

/** The will must be publishable here, for network and in-process clients alike. */
const checkWill: ConnectStep = ({ core, params }) => {
  const w = params.will
  if (w === undefined) return undefined
  if (!core.validTopic(w.topic)) return RC.TOPIC_NAME_INVALID // [v3.1.1 MQTT-3.1.3-10 / v5 MQTT-3.1.3-11]
  if (w.qos > core.opts.maximumQoS) return RC.QOS_NOT_SUPPORTED // [v5 MQTT-3.2.2-12]
  if (w.retain && !core.opts.retainAvailable) return RC.RETAIN_NOT_SUPPORTED // [v5 MQTT-3.2.2-13]
  const p = w.properties
  // The Will's Response Topic is a topic name (MQTT 5 section 3.1.3.2.5)
  if (p?.responseTopic !== undefined && !validTopicName(p.responseTopic)) return RC.PROTOCOL_ERROR
  // Payload Format Indicator 1: the will payload must be UTF-8 (MQTT 5 section 3.1.3.2.3)
  if (p?.payloadFormatIndicator === true && !isUtf8(w.payload)) return RC.PAYLOAD_FORMAT_INVALID
  return undefined
}

const assignClientId: ConnectStep = (ctx) => {
  const { params, client } = ctx
  if (params.clientId !== '') return undefined
  // A zero-length ClientId needs a clean session on 3.1.1 [v3.1.1 MQTT-3.1.3-7..8];
  // on 5 the server assigns one and returns it [v5 MQTT-3.1.3-6..7, v5 MQTT-3.2.2-16].
  if (client.protocolVersion !== 5 && !params.clean) return RC.CLIENT_IDENTIFIER_NOT_VALID
  params.clientId = ctx.core.opts.assignedClientIdPrefix + randomBytes(12).toString('hex')
  if (client.protocolVersion === 5) ctx.assignedClientId = params.clientId
  return undefined
}

const limitKeepalive: ConnectStep = (ctx) => {
  const max = ctx.core.opts.maxKeepalive
  const ka = ctx.params.keepalive
  if (max === 0 || (ka !== 0 && ka <= max)) return undefined
  if (ctx.client.protocolVersion !== 5) return RC.CLIENT_IDENTIFIER_NOT_VALID // 3.x has no way to tell the client (as Mosquitto)
  ctx.params.keepalive = max
  ctx.serverKeepAlive = max // Server Keep Alive overrides the client's value [v5 MQTT-3.2.2-21]
  return undefined
}

const limitSessionExpiry: ConnectStep = (ctx) => {
  const max = ctx.core.opts.maxSessionExpiryInterval
  if (ctx.params.sessionExpiryInterval > max) {
    ctx.params.sessionExpiryInterval = max
    if (ctx.client.protocolVersion === 5) ctx.sessionExpiryInterval = max
  }
  return undefined
}

function verdictCode (verdict: boolean | AuthenticateResult): number | undefined {
  if (verdict === true) return undefined
  if (verdict === false) return RC.BAD_USER_NAME_OR_PASSWORD
  if (verdict.ok) return undefined
  return verdict.reasonCode ?? RC.BAD_USER_NAME_OR_PASSWORD
}

const authenticate: ConnectStep = ({ core, client, params }) => {
  // No enhanced authentication method is supported [v5 MQTT-4.12.0-1]
  if (params.authenticationMethod !== undefined) return RC.BAD_AUTHENTICATION_METHOD
  const identity = client.verifiedUsername()
  if (identity !== undefined) {
    // The listener verified who this is (a client certificate): its name, no password, no authenticator.
    params.username = identity
    params.password = undefined
    return undefined
  }
  const failed = (err: unknown): number => {
    core.metrics.authFailures++
    core.warn('authentication failed with an error', params.clientId, err as Error)
    return RC.UNSPECIFIED_ERROR
  }
  let verdict: boolean | AuthenticateResult | Promise<boolean | AuthenticateResult>
  try {
    verdict = core.authn.authenticate({
      clientId: params.clientId,
      username: params.username,
      password: params.password,
      protocolVersion: client.protocolVersion,
      kind: client.kind,
      remoteAddress: params.remoteAddress,
      certificate: params.certificate,
    })
  } catch (err) {
    return failed(err)
  }
  // A synchronous authenticator keeps the whole CONNECT synchronous.
  if (verdict instanceof Promise) return verdict.then(v => slowRefusal(core, client, params, verdictCode(v)), failed)
  return slowRefusal(core, client, params, verdictCode(verdict))
}

/**
 * A refused login from the network is answered after authFailureDelay, and refusals to one
 * address are spaced that far apart: guessing passwords is slow, and nobody else waits.
 */
function slowRefusal (core: BrokerCore, client: ClientBase, params: ConnectParams, rc: number | undefined): number | undefined | Promise<number | undefined> {
  if (rc !== undefined) core.metrics.authFailures++
  if (rc === undefined || client.kind !== 'network' || core.opts.authFailureDelay === 0) return rc
  const wait = core.refusalDelay(params.remoteAddress ?? '')
  return new Promise(resolve => setTimeout(() => resolve(rc), wait).unref())
}

/**
 * A client id in use by an in-process client (a connection node of this Node-RED), connected or
 * with a session kept for it, is not available to network clients: refused as an invalid client id.
 */
const protectLocal: ConnectStep = ({ core, client, params }) => {
  if (client.kind === 'local') return undefined
  const s = core.sessions.get(params.clientId)
  return s !== undefined && s.kind === 'local' ? RC.CLIENT_IDENTIFIER_NOT_VALID : undefined
}

const takeOver: ConnectStep = ({ core, params }) => {
  if (core.closing) return RC.SERVER_UNAVAILABLE
  const existing = core.clients.get(params.clientId)
  if (existing === undefined) return undefined
  // The existing connection is closed, with 0x8E on MQTT 5 [v3.1.1 MQTT-3.1.4-2 / v5 MQTT-3.1.4-3]; its will is due.
  core.detach(existing, true)
  existing.disconnect(RC.SESSION_TAKEN_OVER)
  return undefined
}

const bindSession: ConnectStep = (ctx) => {
  const { core, client, params } = ctx
  let s = core.sessions.get(params.clientId)
  // A session belongs to the identity that made it: another user with the same client id starts
  // clean, as with Clean Start, and never inherits its subscriptions or queued messages.
  const foreign = s !== undefined && s.ownerKnown && (s.username !== params.username || s.kind !== client.kind)
  if (s !== undefined && (params.clean || foreign)) {
    if (s.pendingWill) { core.publishWill(s.pendingWill, s); s.pendingWill = undefined }
    core.discardSession(s) // Clean Start discards any existing session [v3.1.1 MQTT-3.1.2-6 / v5 MQTT-3.1.2-4]
    s = undefined
  }
  if (s !== undefined) {
    ctx.sessionPresent = true // [v3.1.1 MQTT-3.2.2-2 / v5 MQTT-3.2.2-3]
    s.pendingWill = undefined // reconnecting in time cancels a delayed will [v5 MQTT-3.1.3-9]
    s.willAt = undefined
    s.expireAt = undefined
    core.waiting.delete(s)
  } else {
    if (core.sessions.size >= core.opts.maxSessions) return RC.QUOTA_EXCEEDED // maxSessions: a new session is refused
    s = new Session(params.clientId)
    core.sessions.set(params.clientId, s)
  }
  s.expiryInterval = params.sessionExpiryInterval
  s.protocolVersion = client.protocolVersion
  s.username = params.username
  s.kind = client.kind
  s.ownerKnown = true
  s.collectFilters = client.wantsFilters
  s.disconnectedAt = undefined
  s.client = client
  client.session = s
  client.clientId = params.clientId
  client.username = params.username
  client.keepalive = params.keepalive
  client.cleanStart = params.clean
  client.will = params.will
  client.connectedAt = Date.now()
  core.clients.set(params.clientId, client)
  core.metrics.clientConnected(core.clients.size)
  if (s.persistent) core.saveSession(s)
  else core.persistence.deleteSession(s.clientId)
  return undefined
}

/**
 * A resumed session's subscriptions are authorised again, for the client that resumes it: a
 * subscription the authoriser now refuses is removed, and a lower granted QoS applies.
 */
const reauthorize: ConnectStep = ({ core, client, sessionPresent }) => {
  const s = client.session
  if (!sessionPresent || s === null || s.subscriptions.size === 0 || !core.checksSubscriptions) return undefined
  const subs = [...s.subscriptions.values()]
  const apply = (verdicts: Array<boolean | QoS>): undefined => {
    subs.forEach((sub, i) => {
      const v = verdicts[i]
      if (v === false) core.removeSubscription(s, sub)
      else if (v !== true && v < sub.qos) {
        sub.qos = v
        if (s.persistent) core.persistence.addSubscription(s.clientId, { topic: sub.key, qos: v, nl: sub.nl, rap: sub.rap, rh: sub.rh, subscriptionIdentifier: sub.subId })
      }
    })
    return undefined
  }
  const verdicts = subs.map(sub => core.authorizeSubscription(client, sub.filter, sub.qos))
  if (verdicts.every(v => !(v instanceof Promise))) return apply(verdicts as Array<boolean | QoS>)
  return Promise.all(verdicts.map(async v => await v)).then(apply)
}

const connectActions: ConnectStep[] = [
  checkCapacity, checkWill, assignClientId, limitKeepalive, limitSessionExpiry, authenticate, protectLocal, takeOver, bindSession, reauthorize,
]

/**
 * Run the steps: 0 when accepted, else the refusing reason code. Synchronous while every step
 * is; once a step returns a promise the rest follows it.
 */
export function runConnect (ctx: ConnectContext, from = 0): number | Promise<number> {
  for (let i = from; i < connectActions.length; i++) {
    const rc = connectActions[i](ctx)
    if (rc instanceof Promise) return rc.then(code => code !== undefined ? code : runConnect(ctx, i + 1))
    if (rc !== undefined) return rc
  }
  return RC.SUCCESS
}

/**
 * After CONNACK: mark the client active, resend what the session owes, and announce it.
 * `resumeLater` defers the resend to the next turn of the event loop (in-process clients, whose
 * caller adds its listeners after connecting); meanwhile new QoS 1/2 messages queue behind.
 */
export function activate (core: BrokerCore, client: ClientBase, resumeLater = false): void {
  const s = client.session
  if (s === null) return
  client.active = true
  if (resumeLater) setImmediate(() => { if (client.session === s && client.active) core.delivery.resume(s) })
  else core.delivery.resume(s)
  if (core.listens('clientConnected')) core.emit('clientConnected', client.info())
}

export { NEVER_EXPIRES }
