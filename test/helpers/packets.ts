// Whole-packet assertions for a received PUBLISH, in the spirit of Mosquitto's test suite, which
// compares every packet byte for byte: a test states the entire packet it expects (fixed-header
// flags, packet identifier, topic, every property, payload) and any difference fails with a diff.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { IPublishPacket, QoS } from 'mqtt-packet'

/** User properties as a test states them: name -> value(s), or the exact wire order as pairs. */
type UserPropertiesSpec = Record<string, string | string[]> | Array<[string, string]>

interface ExpectedProperties {
  payloadFormatIndicator?: boolean
  messageExpiryInterval?: number
  topicAlias?: number
  responseTopic?: string
  correlationData?: Buffer | string
  userProperties?: UserPropertiesSpec
  /** One identifier or several; their order is not significant (MQTT 5 3.3.4). */
  subscriptionIdentifier?: number | number[]
  contentType?: string
}

export interface ExpectedPublish {
  topic: string
  payload: string | Buffer
  /** Default 0. */
  qos?: QoS
  /** Default false. */
  retain?: boolean
  /** Default false. */
  dup?: boolean
  /**
   * The packet identifier. Default for QoS 1/2: any identifier in 1..65535 (use a number to pin it);
   * for QoS 0 there must be none [MQTT-2.3.1-5][MQTT-2.2.1-2].
   */
  messageId?: number
  /**
   * MQTT 5 properties, all of them: a property the broker sends that is not listed here fails.
   * Omit (or {}) for a PUBLISH without properties.
   */
  properties?: ExpectedProperties
  /** The topic name as sent on the wire, when a topic alias replaced it with ''. Default: `topic`. */
  wireTopic?: string
}

/** What a PUBLISH looks like to a whole-packet comparison; both sides are normalized to this. */
interface PublishView {
  cmd: string
  topic: string
  wireTopic: string
  qos: number
  dup: boolean
  retain: boolean
  messageId: number | 'absent' | 'some id in 1..65535'
  properties: Record<string, unknown>
  payload: string
}

/** Raw bytes of each packet a TestClient received, so the assertion can read the wire order of user properties. */
export const rawBytes = new WeakMap<object, Buffer>()

/** A payload shown readably: short UTF-8 text as text, anything else as hex or a digest. */
function showPayload (b: Buffer): string {
  const text = b.toString('utf8')
  if (b.length <= 200 && Buffer.from(text, 'utf8').equals(b) && !/[\x00-\x08\x0e-\x1f]/.test(text)) return `utf8:${text}`
  if (b.length <= 64) return `hex:${b.toString('hex')}`
  return `<${b.length} bytes, sha256 ${createHash('sha256').update(b).digest('hex').slice(0, 16)}>`
}

function pairsOf (up: UserPropertiesSpec): Array<[string, string]> {
  if (Array.isArray(up)) return up.map(([k, v]) => [k, v])
  const out: Array<[string, string]> = []
  for (const k of Object.keys(up)) {
    const v = up[k]
    for (const x of Array.isArray(v) ? v : [v]) out.push([k, String(x)])
  }
  return out
}

/** The user properties of an encoded MQTT 5 PUBLISH, in wire order [MQTT-3.3.2-17][MQTT-3.3.2-18]. */
function wireUserProperties (raw: Buffer): Array<[string, string]> {
  const varint = (at: number): [number, number] => {
    let v = 0
    let mul = 1
    let i = at
    for (;;) {
      const c = raw[i++]
      v += (c & 0x7f) * mul
      mul *= 128
      if ((c & 0x80) === 0) return [v, i]
    }
  }
  const qos = (raw[0] >> 1) & 3
  let i = varint(1)[1]
  i += 2 + raw.readUInt16BE(i)
  if (qos > 0) i += 2
  const [plen, start] = varint(i)
  const end = start + plen
  const out: Array<[string, string]> = []
  const FIXED: Record<number, number> = { 0x01: 1, 0x02: 4, 0x23: 2 }
  i = start
  while (i < end) {
    const id = raw[i++]
    if (id === 0x26) {
      const kl = raw.readUInt16BE(i)
      const k = raw.subarray(i + 2, i + 2 + kl).toString('utf8')
      i += 2 + kl
      const vl = raw.readUInt16BE(i)
      out.push([k, raw.subarray(i + 2, i + 2 + vl).toString('utf8')])
      i += 2 + vl
    } else if (id in FIXED) {
      i += FIXED[id]
    } else if (id === 0x0b) {
      i = varint(i)[1]
    } else if (id === 0x03 || id === 0x08 || id === 0x09) {
      i += 2 + raw.readUInt16BE(i)
    } else {
      throw new Error(`PUBLISH carries property 0x${id.toString(16)}, which is not a PUBLISH property`)
    }
  }
  return out
}

function normalizeProperties (p: object | undefined, raw: Buffer | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (p === undefined || p === null) return out
  const src = p as Record<string, unknown>
  for (const key of Object.keys(src).sort()) {
    const v = src[key]
    if (v === undefined) continue
    if (key === 'userProperties') {
      out[key] = raw !== undefined ? wireUserProperties(raw) : pairsOf(v as UserPropertiesSpec)
    } else if (key === 'subscriptionIdentifier') {
      out[key] = [v].flat().map(Number).sort((a, b) => a - b)
    } else if (key === 'correlationData') {
      out[key] = `hex:${(Buffer.isBuffer(v) ? v : Buffer.from(String(v))).toString('hex')}`
    } else {
      out[key] = v
    }
  }
  if (Array.isArray(out.userProperties) && out.userProperties.length === 0) delete out.userProperties
  return out
}

/** The normalized view of a received PUBLISH (a TestClient packet or any mqtt-packet IPublishPacket). */
function viewOf (p: IPublishPacket): PublishView {
  const raw = rawBytes.get(p)
  const wire = (p as IPublishPacket & { rawTopic?: string }).rawTopic
  return {
    cmd: p.cmd,
    topic: p.topic,
    wireTopic: wire ?? p.topic,
    qos: p.qos,
    dup: p.dup,
    retain: p.retain,
    messageId: p.messageId === undefined ? 'absent' : p.messageId,
    properties: normalizeProperties(p.properties, raw),
    payload: showPayload(Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload)),
  }
}

function expectedView (e: ExpectedPublish, actual: PublishView): PublishView {
  const qos = e.qos ?? 0
  let messageId: PublishView['messageId'] = 'absent'
  if (qos > 0) {
    if (e.messageId !== undefined) messageId = e.messageId
    else {
      const a = actual.messageId
      messageId = typeof a === 'number' && a >= 1 && a <= 65535 ? a : 'some id in 1..65535'
    }
  } else if (e.messageId !== undefined) {
    throw new Error('a QoS 0 PUBLISH has no packet identifier; do not expect one')
  }
  return {
    cmd: 'publish',
    topic: e.topic,
    wireTopic: e.wireTopic ?? e.topic,
    qos,
    dup: e.dup ?? false,
    retain: e.retain ?? false,
    messageId,
    properties: normalizeProperties(e.properties, undefined),
    payload: showPayload(Buffer.isBuffer(e.payload) ? e.payload : Buffer.from(e.payload, 'utf8')),
  }
}

/**
 * Assert that `received` is exactly the PUBLISH described by `expected`: fixed-header flags, packet
 * identifier, topic, every property (user properties in wire order) and the payload bytes.
 */
export function assertPublish (received: IPublishPacket | undefined, expected: ExpectedPublish, message?: string): void {
  assert.ok(received, `expected a PUBLISH${message ? ` (${message})` : ''}, got nothing`)
  const actual = viewOf(received)
  assert.deepStrictEqual(actual, expectedView(expected, actual), message)
}

/** Assert a list of PUBLISH packets, in order, each as a whole packet. */
export function assertPublishes (received: IPublishPacket[], expected: ExpectedPublish[], message?: string): void {
  const actual = received.map(viewOf)
  const exp = expected.map((e, i) => expectedView(e, actual[i] ?? viewOf({ cmd: 'publish', topic: '', payload: Buffer.alloc(0), qos: 0, dup: false, retain: false })))
  assert.deepStrictEqual(actual, exp, message)
}

/** A message as an in-process (local) client receives it. */
export interface DeliveredLike {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  dup: boolean
  properties?: object
  subscriptionIdentifiers?: number[]
}

/**
 * The same whole-message assertion for a message delivered to an in-process client (which has no
 * packet identifier and carries its Subscription Identifiers beside the properties).
 */
export function assertDelivered (received: DeliveredLike | undefined, expected: Omit<ExpectedPublish, 'messageId' | 'wireTopic'>, message?: string): void {
  assert.ok(received, `expected a delivered message${message ? ` (${message})` : ''}, got nothing`)
  const props: Record<string, unknown> = { ...(received.properties ?? {}) }
  if (received.subscriptionIdentifiers !== undefined) props.subscriptionIdentifier = received.subscriptionIdentifiers
  const asPacket = {
    cmd: 'publish' as const,
    topic: received.topic,
    payload: received.payload,
    qos: received.qos,
    retain: received.retain,
    dup: received.dup,
    ...(received.qos > 0 ? { messageId: 1 } : {}),
    properties: props,
  }
  assertPublish(asPacket as IPublishPacket, { ...expected, ...(expected.qos ? { messageId: 1 } : {}) }, message)
}
