/**
 * Valid (and plausibly wrong) MQTT packets and whole client sessions for protocol levels 3, 4
 * and 5, encoded by mqtt-packet; hand-built bytes where mqtt-packet refuses to encode. A session is
 * CONNECT first, then a random run of PUBLISH (QoS 0/1/2, retained, topic aliases), SUBSCRIBE
 * (shared, wildcard, with options), UNSUBSCRIBE, acknowledgements, PINGREQ, AUTH, and usually a
 * DISCONNECT. Every MQTT 5 property appears where MQTT 5 section 2.2.2.2 allows it, and now and
 * then where it does not.
 */
import * as mqtt from 'mqtt-packet'
import type { Rng } from './prng'
import { varint, lstr, packet as rawPacket, connectFlagsOffset, patchByte } from '../helpers/bytes'

export type Version = 3 | 4 | 5

/** What the generator knows of the broker and of the other clients of a case. */
export interface GenEnv {
  /** Client identifiers shared by the clients of a case, so sessions are taken over and resumed. */
  clientIds: readonly string[]
  /** Topic levels shared by publishers and subscribers, so messages are routed. */
  levels: readonly string[]
}

const ALL_PROPERTIES = [
  'payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData',
  'subscriptionIdentifier', 'sessionExpiryInterval', 'assignedClientIdentifier', 'serverKeepAlive',
  'authenticationMethod', 'authenticationData', 'requestProblemInformation', 'willDelayInterval',
  'requestResponseInformation', 'responseInformation', 'serverReference', 'reasonString', 'receiveMaximum',
  'topicAliasMaximum', 'topicAlias', 'maximumQoS', 'retainAvailable', 'userProperties', 'maximumPacketSize',
  'wildcardSubscriptionAvailable', 'subscriptionIdentifiersAvailable', 'sharedSubscriptionAvailable',
] as const
type PropName = typeof ALL_PROPERTIES[number]

/** Where each property may appear (MQTT 5 section 2.2.2.2); 'will' is the will's property set. */
export const ALLOWED_PROPERTIES: Record<string, readonly PropName[]> = {
  connect: ['sessionExpiryInterval', 'receiveMaximum', 'maximumPacketSize', 'topicAliasMaximum', 'requestResponseInformation',
    'requestProblemInformation', 'userProperties', 'authenticationMethod', 'authenticationData'],
  will: ['willDelayInterval', 'payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'userProperties'],
  connack: ['sessionExpiryInterval', 'receiveMaximum', 'maximumQoS', 'retainAvailable', 'maximumPacketSize', 'assignedClientIdentifier',
    'topicAliasMaximum', 'reasonString', 'userProperties', 'wildcardSubscriptionAvailable', 'subscriptionIdentifiersAvailable',
    'sharedSubscriptionAvailable', 'serverKeepAlive', 'responseInformation', 'serverReference', 'authenticationMethod', 'authenticationData'],
  publish: ['payloadFormatIndicator', 'messageExpiryInterval', 'topicAlias', 'responseTopic', 'correlationData', 'userProperties',
    'subscriptionIdentifier', 'contentType'],
  puback: ['reasonString', 'userProperties'],
  pubrec: ['reasonString', 'userProperties'],
  pubrel: ['reasonString', 'userProperties'],
  pubcomp: ['reasonString', 'userProperties'],
  subscribe: ['subscriptionIdentifier', 'userProperties'],
  suback: ['reasonString', 'userProperties'],
  unsubscribe: ['userProperties'],
  unsuback: ['reasonString', 'userProperties'],
  disconnect: ['sessionExpiryInterval', 'reasonString', 'userProperties', 'serverReference'],
  auth: ['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties'],
}

/** Valid reason codes a client may send (MQTT 5 section 2.4). */
const ACK_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x91, 0x97, 0x99]
const PUBREL_CODES = [0x00, 0x92]
const DISCONNECT_CODES = [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2]
const AUTH_CODES = [0x00, 0x18, 0x19]

const WORDS = ['a', 'b', 'c', 'x y', 'é', '日本', 'ĉu', '-', '.', ' ', '🙂']

/** A short string, now and then with characters outside ASCII. */
function str (rng: Rng, max = 12): string {
  const n = rng.int(0, max)
  let s = ''
  for (let i = 0; i < n; i++) s += rng.chance(0.85) ? String.fromCharCode(rng.int(0x61, 0x7a)) : rng.pick(WORDS)
  return s
}

/** A topic name; valid unless `invalid` (wildcards, empty, U+0000). */
function topicName (rng: Rng, env: GenEnv, invalid = rng.chance(0.04)): string {
  if (invalid) return rng.pick(['', 'a/+', 'a/#', '#', '+', 'a\u0000b', '$share/g/a', 'a/+/b'])
  const n = rng.chance(0.8) ? rng.int(1, 3) : rng.int(4, 6)
  const levels: string[] = []
  for (let i = 0; i < n; i++) levels.push(rng.chance(0.9) ? rng.pick(env.levels) : str(rng, 6))
  if (rng.chance(0.05)) levels[0] = rng.pick(['$SYS', '$x', '$share'])
  return levels.join('/')
}

/** A topic filter: wildcards, shared subscriptions, and now and then an invalid one. */
function topicFilter (rng: Rng, env: GenEnv): string {
  if (rng.chance(0.05)) return rng.pick(['', 'a/#/b', 'a+', '#/a', 'a/b#', '$share/g', '$share//a', '$share/g+/a', '$share/g#/a', 'a\u0000', '$share/g/'])
  const n = rng.chance(0.8) ? rng.int(1, 3) : rng.int(4, 6)
  const levels: string[] = []
  for (let i = 0; i < n; i++) levels.push(rng.chance(0.25) ? '+' : rng.pick(env.levels))
  if (rng.chance(0.3)) levels.push('#')
  let f = levels.join('/')
  if (rng.chance(0.1)) f = '#'
  if (rng.chance(0.15)) f = `$share/${rng.pick(['g', 'h', 'grp'])}/${f}`
  return f
}

function payload (rng: Rng): Buffer {
  const r = rng.float()
  if (r < 0.1) return Buffer.alloc(0)
  if (r < 0.5) return Buffer.from(str(rng, 20))
  if (r < 0.98) return rng.bytes(rng.int(1, 64))
  return rng.bytes(rng.int(1000, 70000))
}

function userProperties (rng: Rng): Record<string, string | string[]> {
  const up: Record<string, string | string[]> = {}
  const n = rng.int(1, 4)
  for (let i = 0; i < n; i++) {
    const k = rng.chance(0.3) ? 'k' : str(rng, 6)
    up[k] = rng.chance(0.3) ? [str(rng, 6), str(rng, 6)] : str(rng, 8)
  }
  return up
}

/** A value for an MQTT 5 property, mostly within the range MQTT 5 allows. */
function propertyValue (rng: Rng, env: GenEnv, name: PropName): unknown {
  switch (name) {
    case 'payloadFormatIndicator': case 'requestProblemInformation': case 'requestResponseInformation':
    case 'retainAvailable': case 'wildcardSubscriptionAvailable': case 'subscriptionIdentifiersAvailable':
    case 'sharedSubscriptionAvailable':
      return rng.chance(0.5)
    case 'messageExpiryInterval': return rng.pick([0, 1, 2, 60, 3600, 0xffffffff, rng.u32()])
    case 'sessionExpiryInterval': return rng.pick([0, 0, 1, 2, 60, 0xffffffff, 0xffffffff])
    case 'willDelayInterval': return rng.pick([0, 1, 2, 3600, 0xffffffff])
    case 'contentType': case 'assignedClientIdentifier': case 'responseInformation': case 'serverReference':
    case 'reasonString': case 'authenticationMethod':
      return str(rng, 16)
    case 'responseTopic': return topicName(rng, env, rng.chance(0.1))
    case 'correlationData': case 'authenticationData': return rng.bytes(rng.int(0, 16))
    case 'subscriptionIdentifier': return rng.pick([1, 2, 127, 128, 16384, 268435455, 0, rng.int(1, 268435455)])
    case 'serverKeepAlive': return rng.int(0, 65535)
    case 'receiveMaximum': return rng.pick([1, 2, 3, 10, 65535, 0, rng.int(1, 65535)])
    case 'topicAliasMaximum': return rng.pick([0, 1, 2, 5, 65535])
    case 'topicAlias': return rng.pick([1, 2, 3, 4, 5, 0, 65535])
    case 'maximumQoS': return rng.int(0, 2)
    case 'maximumPacketSize': return rng.pick([1, 20, 64, 200, 1000, 65536, 268435455, 0])
    case 'userProperties': return userProperties(rng)
  }
}

/** A property set for `kind`: each allowed property with probability `p`, now and then a forbidden one. */
function properties (rng: Rng, env: GenEnv, kind: string, p = 0.3): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {}
  for (const name of ALLOWED_PROPERTIES[kind] ?? []) {
    if (name === 'authenticationMethod' && kind === 'connect' ? rng.chance(0.03) : rng.chance(p)) out[name] = propertyValue(rng, env, name)
  }
  if (rng.chance(0.04)) {
    const name = rng.pick(ALL_PROPERTIES)
    out[name] = propertyValue(rng, env, name)
  }
  return Object.keys(out).length > 0 ? out : undefined
}

/** Encode with mqtt-packet; null when it refuses (the caller then builds something else). */
function encode (p: Record<string, unknown>, v: Version): Buffer | null {
  try {
    return mqtt.generate(p as unknown as mqtt.Packet, { protocolVersion: v })
  } catch {
    return null
  }
}

/** Per-session generator state: packet identifiers, open QoS 2 exchanges, aliases, filters. */
interface State {
  rng: Rng
  env: GenEnv
  v: Version
  pid: number
  openQos2: number[]
  aliases: Set<number>
  filters: string[]
}

function nextPid (s: State): number {
  if (s.rng.chance(0.03)) return 0 // a Protocol Error / Malformed Packet [MQTT-2.2.1-3]
  if (s.rng.chance(0.05)) return s.rng.int(1, 65535)
  s.pid = s.pid >= 65535 ? 1 : s.pid + 1
  return s.pid
}

function genConnect (rng: Rng, env: GenEnv, v: Version): Buffer {
  const r = rng.float()
  let clientId = r < 0.7 ? rng.pick(env.clientIds) : r < 0.8 ? '' : str(rng, rng.chance(0.1) ? 80 : 20)
  if (v === 3 && clientId === '') clientId = rng.pick(env.clientIds)
  const p: Record<string, unknown> = {
    cmd: 'connect',
    protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: v,
    clientId,
    clean: rng.chance(0.5),
    keepalive: rng.pick([0, 0, 0, 1, 2, 60, 65535]),
  }
  if (rng.chance(0.2)) p.username = str(rng, 10)
  if (rng.chance(0.15) && (p.username !== undefined || v === 5)) p.password = rng.bytes(rng.int(0, 12))
  if (rng.chance(0.3)) {
    const will: Record<string, unknown> = { topic: topicName(rng, env) || 'w', payload: payload(rng), qos: rng.int(0, 2), retain: rng.chance(0.3) }
    if (v === 5) will.properties = properties(rng, env, 'will')
    p.will = will
  }
  if (v === 5) p.properties = properties(rng, env, 'connect')
  if (clientId === '' && p.clean === false) {
    // mqtt-packet refuses a zero-length ClientId without CleanSession; patch the flag in.
    const raw = encode({ ...p, clean: true }, v)
    if (raw !== null) return patchByte(raw, connectFlagsOffset(raw), f => f & ~0x02)
  }
  return encode(p, v) ?? encode({ cmd: 'connect', protocolId: v === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: v, clientId: 'fallback', clean: true, keepalive: 0 }, v) as Buffer
}

function genPublish (s: State, out: Buffer[]): void {
  const { rng, env, v } = s
  const qos = rng.weighted([[5, 0], [3, 1], [3, 2]] as const)
  const p: Record<string, unknown> = {
    cmd: 'publish', topic: topicName(rng, env), payload: payload(rng), qos, retain: rng.chance(0.25), dup: rng.chance(0.08),
  }
  if (qos > 0) p.messageId = s.openQos2.length > 0 && qos === 2 && rng.chance(0.1) ? rng.pick(s.openQos2) : nextPid(s)
  if (v === 5) {
    const props = properties(rng, env, 'publish', 0.2) ?? {}
    delete props.topicAlias
    delete props.subscriptionIdentifier // a client must not send one [MQTT-3.3.4-6]; the forbidden-property path adds it now and then
    if (rng.chance(0.25)) {
      const alias = rng.int(1, 6)
      if (s.aliases.has(alias) && rng.chance(0.6)) p.topic = ''
      s.aliases.add(alias)
      props.topicAlias = alias
    }
    if (rng.chance(0.03)) props.subscriptionIdentifier = rng.int(1, 100)
    if (Object.keys(props).length > 0) p.properties = props
  }
  const buf = encode(p, v)
  if (buf === null) return
  out.push(buf)
  if (qos === 2 && typeof p.messageId === 'number') {
    if (rng.chance(0.5)) out.push(ack(s, 'pubrel', p.messageId))
    else s.openQos2.push(p.messageId)
  }
}

function ack (s: State, cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', messageId: number): Buffer {
  const { rng, env, v } = s
  const p: Record<string, unknown> = { cmd, messageId }
  if (v === 5 && rng.chance(0.4)) {
    p.reasonCode = rng.pick(cmd === 'pubrel' || cmd === 'pubcomp' ? PUBREL_CODES : ACK_CODES)
    p.properties = properties(rng, env, cmd)
  }
  return encode(p, v) ?? encode({ cmd, messageId: 1 }, v) as Buffer
}

function genSubscribe (s: State, broad = false): Buffer | null {
  const { rng, env, v } = s
  const n = rng.weighted([[6, 1], [3, 2], [1, 4]] as const)
  const subscriptions: Array<Record<string, unknown>> = []
  for (let i = 0; i < n; i++) {
    const topic = broad && i === 0 ? rng.pick(['#', '#', '+/#', '$share/g/#', `${rng.pick(env.levels)}/#`]) : topicFilter(rng, env)
    s.filters.push(topic)
    const sub: Record<string, unknown> = { topic, qos: rng.int(0, 2) }
    if (v === 5) { sub.nl = rng.chance(0.2); sub.rap = rng.chance(0.3); sub.rh = rng.int(0, 2) }
    subscriptions.push(sub)
  }
  const p: Record<string, unknown> = { cmd: 'subscribe', messageId: nextPid(s), subscriptions }
  if (v === 5) p.properties = properties(rng, env, 'subscribe', 0.4)
  return encode(p, v)
}

function genUnsubscribe (s: State): Buffer | null {
  const { rng, env, v } = s
  const n = rng.int(1, 3)
  const unsubscriptions: string[] = []
  for (let i = 0; i < n; i++) unsubscriptions.push(s.filters.length > 0 && rng.chance(0.7) ? rng.pick(s.filters) : topicFilter(rng, env))
  const p: Record<string, unknown> = { cmd: 'unsubscribe', messageId: nextPid(s), unsubscriptions }
  if (v === 5) p.properties = properties(rng, env, 'unsubscribe')
  return encode(p, v)
}

function genDisconnect (rng: Rng, env: GenEnv, v: Version): Buffer {
  if (v !== 5) return Buffer.from([0xe0, 0])
  const p: Record<string, unknown> = { cmd: 'disconnect', reasonCode: rng.chance(0.6) ? 0 : rng.pick(DISCONNECT_CODES) }
  p.properties = properties(rng, env, 'disconnect')
  return encode(p, v) ?? Buffer.from([0xe0, 0])
}

/** Packets only a server sends, or no one: the broker must close the connection. */
function genForbidden (s: State): Buffer | null {
  const { rng, env, v } = s
  switch (rng.int(0, 6)) {
    case 0: return encode(v === 5 ? { cmd: 'connack', reasonCode: 0, sessionPresent: false, properties: properties(rng, env, 'connack') } : { cmd: 'connack', returnCode: 0, sessionPresent: false }, v)
    case 1: return encode({ cmd: 'suback', messageId: rng.int(1, 9), granted: [0, 1, 0x80], properties: v === 5 ? properties(rng, env, 'suback') : undefined }, v)
    case 2: return encode({ cmd: 'unsuback', messageId: rng.int(1, 9), granted: [0], properties: v === 5 ? properties(rng, env, 'unsuback') : undefined }, v)
    case 3: return Buffer.from([0xd0, 0]) // PINGRESP
    case 4: return rawPacket(0, 0, rng.bytes(rng.int(0, 4))) // reserved type 0
    case 5: return v === 5 ? null : rawPacket(15, 0, rng.bytes(rng.int(0, 4))) // reserved (AUTH before MQTT 5)
    default: return genConnect(rng, env, v) // a second CONNECT [MQTT-3.1.0-2]
  }
}

function genAuth (s: State): Buffer | null {
  const { rng, env, v } = s
  if (v !== 5) return null
  return encode({ cmd: 'auth', reasonCode: rng.pick(AUTH_CODES), properties: properties(rng, env, 'auth', 0.5) }, 5)
}

/**
 * One client's session: CONNECT, a random run of packets, and usually DISCONNECT. Each packet is
 * one element, so mutations and shrinking can work packet by packet.
 */
export function genSession (rng: Rng, env: GenEnv, v: Version): Buffer[] {
  const s: State = { rng, env, v, pid: rng.int(0, 20), openQos2: [], aliases: new Set(), filters: [] }
  const out: Buffer[] = [genConnect(rng, env, v)]
  // Most sessions subscribe first, so that the publishes of the others find someone.
  if (rng.chance(0.6)) { const b = genSubscribe(s, rng.chance(0.4)); if (b !== null) out.push(b) }
  const n = rng.weighted([[2, 0], [5, rng.int(1, 8)], [3, rng.int(8, 30)]] as const)
  for (let i = 0; i < n; i++) {
    const op = rng.weighted([[30, 'publish'], [14, 'subscribe'], [5, 'unsubscribe'], [10, 'ack'], [6, 'pubrel'], [4, 'ping'],
      [2, 'auth'], [2, 'forbidden'], [1, 'disconnect']] as const)
    let b: Buffer | null = null
    switch (op) {
      case 'publish': genPublish(s, out); break
      case 'subscribe': b = genSubscribe(s); break
      case 'unsubscribe': b = genUnsubscribe(s); break
      case 'ack': b = ack(s, rng.pick(['puback', 'pubrec', 'pubrel', 'pubcomp'] as const), rng.int(1, 10)); break
      case 'pubrel': b = s.openQos2.length > 0 ? ack(s, 'pubrel', s.openQos2.splice(rng.int(0, s.openQos2.length - 1), 1)[0]) : null; break
      case 'ping': b = Buffer.from([0xc0, 0]); break
      case 'auth': b = genAuth(s); break
      case 'forbidden': b = genForbidden(s); break
      case 'disconnect': b = genDisconnect(rng, env, v); break
    }
    if (b !== null) out.push(b)
  }
  if (rng.chance(0.5)) out.push(genDisconnect(rng, env, v))
  return out
}

/** Hand-built CONNECT variants mqtt-packet will not encode: wrong protocol name/level pairs, bridge levels. */
export function oddConnect (rng: Rng): Buffer {
  const name = rng.pick(['MQTT', 'MQIsdp', 'mqtt', 'MQTT5', ''])
  const level = rng.pick([0, 1, 2, 3, 4, 5, 6, 0x83, 0x84, 0x85, 0xff])
  const flags = rng.pick([0x02, 0x00, 0x01, 0x03, 0x04, 0x18, 0x20, 0x40, 0x80, 0xc2])
  const parts = [lstr(name), Buffer.from([level, flags, 0, rng.int(0, 3)])]
  if (level === 5 || level === 0x85) parts.push(varint(0))
  parts.push(lstr(str(rng, 8)))
  return rawPacket(1, 0, ...parts)
}
