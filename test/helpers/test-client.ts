import assert from 'node:assert/strict'
import type { Duplex } from 'node:stream'
import * as mqtt from 'mqtt-packet'
import type {
  IConnackPacket, IConnectPacket, IDisconnectPacket, IPublishPacket, ISubackPacket,
  IUnsubackPacket, Packet, PacketCmd, QoS,
} from 'mqtt-packet'
import { rawBytes } from './packets'

export type Version = 3 | 4 | 5
export type PublishProperties = NonNullable<IPublishPacket['properties']>
export type ConnectProperties = NonNullable<IConnectPacket['properties']>
export type Will = NonNullable<IConnectPacket['will']>

/** Default wait for an expected packet. Generous enough for 2 loaded cores, small enough to fail fast. */
export const WAIT = 2000
/** Default window in which "nothing arrives" is checked. */
const QUIET = 150

interface Waiter {
  match: (p: Packet) => boolean
  resolve: (p: Packet) => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
}

/** Short, readable description of a packet for assertion messages. */
function describePacket (p: Packet): string {
  const o: Record<string, unknown> = { ...p }
  delete o.length
  if (Buffer.isBuffer(o.payload)) {
    const b = o.payload as Buffer
    o.payload = b.length > 40 ? `<${b.length} bytes>` : b.toString('utf8')
  }
  return JSON.stringify(o)
}

/**
 * A raw MQTT client for protocol tests: it encodes what it is told to send and decodes what the
 * broker sends, with no protocol logic of its own (no automatic acknowledgements, no retries).
 */
export class TestClient {
  readonly version: Version
  readonly stream: Duplex
  /** Every packet received, in order (also those already consumed by next()/waitFor()). */
  readonly received: Packet[] = []
  /** Received and not yet consumed. */
  private queue: Packet[] = []
  private waiters: Waiter[] = []
  /** Bytes received and not yet framed into a whole packet. */
  private inbuf: Buffer = Buffer.alloc(0)
  private nextPacketId = 1
  /** Inbound topic aliases the broker set on this connection (MQTT 5). */
  readonly inboundAliases = new Map<number, string>()
  /** Resolves when the connection is closed (the broker ended or destroyed it, or we did). */
  readonly closed: Promise<void>
  isClosed = false
  closedAt = 0
  /** Set when the broker sent bytes this client could not decode. */
  parseError: Error | null = null
  connack?: IConnackPacket
  clientId = ''
  /**
   * When set, every received QoS 1/2 PUBLISH is acknowledged at once (PUBACK / PUBREC) and every
   * PUBREL answered with PUBCOMP; the packets are still queued for the test to inspect.
   */
  autoAck = false
  /**
   * When set, every PUBREC the broker sends for our QoS 2 PUBLISH is answered with PUBREL (the
   * PUBREC is still queued). A broker may forward a QoS 2 message only on PUBREL (MQTT 4.3.3, Figure 4.3 method B).
   */
  autoRelease = false

  constructor (stream: Duplex, version: Version) {
    this.stream = stream
    this.version = version
    stream.on('data', (chunk: Buffer) => this.onData(chunk))
    let markClosed!: () => void
    this.closed = new Promise<void>(resolve => { markClosed = resolve })
    const onClose = (): void => {
      if (this.isClosed) return
      this.isClosed = true
      this.closedAt = Date.now()
      markClosed()
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer)
        w.reject(new Error(`connection closed while waiting for a packet; unconsumed: ${this.pendingDescription()}`))
      }
    }
    stream.on('end', onClose)
    stream.on('close', onClose)
    stream.on('error', () => onClose())
  }

  /** Frame the byte stream into packets ourselves, so each packet's exact size is known. */
  private onData (chunk: Buffer): void {
    this.inbuf = this.inbuf.length ? Buffer.concat([this.inbuf, chunk]) : chunk
    for (;;) {
      const b = this.inbuf
      if (b.length < 2) return
      let len = 0
      let mul = 1
      let i = 1
      for (;;) {
        if (i >= b.length) return
        if (i > 4) {
          this.parseError = new Error('remaining length longer than 4 bytes')
          this.inbuf = Buffer.alloc(0)
          return
        }
        len += (b[i] & 0x7f) * mul
        mul *= 128
        if ((b[i++] & 0x80) === 0) break
      }
      const total = i + len
      if (b.length < total) return
      const raw = b.subarray(0, total)
      this.inbuf = b.subarray(total)
      this.onPacket(this.decode(raw))
    }
  }

  /**
   * Decode one whole packet with mqtt-packet. Where mqtt-packet rejects something the spec allows
   * (it lacks some MQTT 5 reason codes, e.g. DISCONNECT 0x8C), fall back to a minimal decoder.
   */
  private decode (raw: Buffer): Packet {
    let out: Packet | null = null
    let err: Error | null = null
    const parser = mqtt.parser({ protocolVersion: this.version })
    parser.on('packet', (p: Packet) => { out = p })
    parser.on('error', (e: Error) => { err = e })
    parser.parse(raw)
    let p: Packet
    try {
      p = out ?? fallbackDecode(raw, this.version, err)
    } catch (e) {
      this.parseError = e as Error
      p = { cmd: 'undecodable', raw } as unknown as Packet
    }
    ;(p as Packet & { rawLength: number }).rawLength = raw.length
    rawBytes.set(p, Buffer.from(raw))
    return p
  }

  private onPacket (p: Packet): void {
    if (p.cmd === 'publish' && this.version === 5) this.resolveAlias(p)
    this.received.push(p)
    if (this.autoRelease && p.cmd === 'pubrec' && (p.reasonCode ?? 0) < 0x80) this.send({ cmd: 'pubrel', messageId: p.messageId })
    if (this.autoAck) {
      if (p.cmd === 'publish' && p.qos === 1) this.send({ cmd: 'puback', messageId: p.messageId })
      if (p.cmd === 'publish' && p.qos === 2) this.send({ cmd: 'pubrec', messageId: p.messageId })
      if (p.cmd === 'pubrel') {
        this.send({ cmd: 'pubcomp', messageId: p.messageId })
        return
      }
    }
    const i = this.waiters.findIndex(w => w.match(p))
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1)
      clearTimeout(w.timer)
      w.resolve(p)
    } else {
      this.queue.push(p)
    }
  }

  /** Apply MQTT 5 topic aliases so tests always see the real topic; `aliasUsed` keeps the raw facts. */
  private resolveAlias (p: IPublishPacket): void {
    const alias = p.properties?.topicAlias
    const raw = p as IPublishPacket & { rawTopic?: string }
    raw.rawTopic = p.topic
    if (alias === undefined) return
    if (p.topic !== '') this.inboundAliases.set(alias, p.topic)
    else p.topic = this.inboundAliases.get(alias) ?? ''
  }

  private pendingDescription (): string {
    return this.queue.length ? this.queue.map(describePacket).join(', ') : '(none)'
  }

  /** Allocate a packet identifier (1..65535, never 0). */
  packetId (): number {
    const id = this.nextPacketId
    this.nextPacketId = id >= 65535 ? 1 : id + 1
    return id
  }

  /** Encode and send one packet. */
  send (packet: Packet): void {
    this.sendRaw(mqtt.generate(packet, { protocolVersion: this.version }))
  }

  /** Encode a packet without sending it. */
  encode (packet: Packet): Buffer {
    return mqtt.generate(packet, { protocolVersion: this.version })
  }

  /** Send bytes as they are. */
  sendRaw (buf: Buffer): void {
    if (this.stream.destroyed || this.stream.writableEnded) return
    this.stream.write(buf)
  }

  /**
   * The next packet in arrival order. With `cmd`, the next packet must be of that type
   * (the assertion names the packet that came instead).
   */
  async next<C extends PacketCmd> (cmd?: C, timeoutMs = WAIT): Promise<Extract<Packet, { cmd: C }>> {
    const p = await this.take(() => true, timeoutMs, cmd ?? 'any packet')
    if (cmd && p.cmd !== cmd) assert.fail(`expected ${cmd}, got ${describePacket(p)}`)
    return p as Extract<Packet, { cmd: C }>
  }

  /** The first packet of type `cmd` (matching `pred`), leaving any other packets queued in order. */
  async waitFor<C extends PacketCmd> (cmd: C, pred: (p: Extract<Packet, { cmd: C }>) => boolean = () => true,
    timeoutMs = WAIT): Promise<Extract<Packet, { cmd: C }>> {
    const p = await this.take(x => x.cmd === cmd && pred(x as Extract<Packet, { cmd: C }>), timeoutMs, cmd)
    return p as Extract<Packet, { cmd: C }>
  }

  private take (match: (p: Packet) => boolean, timeoutMs: number, what: string): Promise<Packet> {
    const i = this.queue.findIndex(match)
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0])
    if (this.isClosed) {
      return Promise.reject(new Error(`connection is closed; waited for ${what}; unconsumed: ${this.pendingDescription()}`))
    }
    return new Promise<Packet>((resolve, reject) => {
      const w: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(w), 1)
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; unconsumed: ${this.pendingDescription()}` +
            (this.parseError ? `; parse error: ${this.parseError.message}` : '')))
        }, timeoutMs),
      }
      this.waiters.push(w)
    })
  }

  /** Collect `count` PUBLISH packets (other packets stay queued). */
  async publishes (count: number, timeoutMs = WAIT): Promise<IPublishPacket[]> {
    const out: IPublishPacket[] = []
    const deadline = Date.now() + timeoutMs
    while (out.length < count) {
      const left = Math.max(1, deadline - Date.now())
      try {
        out.push(await this.waitFor('publish', undefined, left))
      } catch (e) {
        throw new Error(`got ${out.length} of ${count} publishes: ${(e as Error).message}`)
      }
    }
    return out
  }

  /** Assert no packet (of type `cmd`, if given) arrives within `ms`; already queued packets count too. */
  async expectNothing (ms = QUIET, cmd?: PacketCmd): Promise<void> {
    const match = (p: Packet): boolean => cmd === undefined || p.cmd === cmd
    const early = this.queue.find(match)
    if (early) assert.fail(`expected no ${cmd ?? 'packet'}, got ${describePacket(early)}`)
    let got: Packet | undefined
    const w: Waiter = {
      match,
      resolve: p => { got = p },
      reject: () => {},
      timer: setTimeout(() => {}, 0),
    }
    this.waiters.push(w)
    await sleep(ms)
    const i = this.waiters.indexOf(w)
    if (i >= 0) this.waiters.splice(i, 1)
    if (got) {
      this.queue.push(got)
      assert.fail(`expected no ${cmd ?? 'packet'} within ${ms} ms, got ${describePacket(got)}`)
    }
  }

  /**
   * Wait until the broker closes the connection. Returns the DISCONNECT it sent first, if any
   * (MQTT 5). Fails if the connection is still open after `timeoutMs`.
   */
  async expectClosed (timeoutMs = WAIT): Promise<IDisconnectPacket | undefined> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), timeoutMs) })
    const r = await Promise.race([this.closed.then(() => 'closed' as const), timeout])
    clearTimeout(timer)
    if (r === 'timeout') {
      assert.fail(`expected the broker to close the connection within ${timeoutMs} ms; unconsumed: ${this.pendingDescription()}`)
    }
    const i = this.queue.findIndex(p => p.cmd === 'disconnect')
    return i >= 0 ? this.queue.splice(i, 1)[0] as IDisconnectPacket : undefined
  }

  /**
   * Expect the broker to close the connection because of an error. On MQTT 5 a DISCONNECT is
   * optional (SHOULD), but when one is sent its reason code must be one of `reasons`.
   * Returns the reason code seen, if any.
   */
  async expectErrorClose (reasons: number[], timeoutMs = WAIT): Promise<number | undefined> {
    const d = await this.expectClosed(timeoutMs)
    if (d) {
      assert.equal(this.version, 5, 'a 3.1.1 broker must not send DISCONNECT')
      assert.ok(reasons.includes(d.reasonCode ?? 0),
        `DISCONNECT reason 0x${(d.reasonCode ?? 0).toString(16)}, expected one of ${reasons.map(hex).join(', ')}`)
      return d.reasonCode
    }
    return undefined
  }

  /** Unconsumed packets (removes them). */
  drain (): Packet[] {
    return this.queue.splice(0)
  }

  /** Unconsumed packets (leaves them queued). */
  pending (): readonly Packet[] {
    return this.queue
  }

  // ----- conveniences built from the raw operations -----

  /** SUBSCRIBE and await the SUBACK; returns the granted QoS / reason codes. */
  async subscribe (subs: string | Array<{ topic: string, qos: QoS, nl?: boolean, rap?: boolean, rh?: number }>,
    qos: QoS = 0, properties?: { subscriptionIdentifier?: number, userProperties?: Record<string, string> }): Promise<number[]> {
    const subscriptions = typeof subs === 'string' ? [{ topic: subs, qos }] : subs
    const messageId = this.packetId()
    this.send({ cmd: 'subscribe', messageId, subscriptions, ...(properties ? { properties } : {}) })
    const ack = await this.waitFor('suback', p => p.messageId === messageId) as ISubackPacket
    return ack.granted as number[]
  }

  /** UNSUBSCRIBE and await the UNSUBACK; returns its reason codes (MQTT 5) or []. */
  async unsubscribe (topics: string | string[]): Promise<number[]> {
    const unsubscriptions = typeof topics === 'string' ? [topics] : topics
    const messageId = this.packetId()
    this.send({ cmd: 'unsubscribe', messageId, unsubscriptions })
    const ack = await this.waitFor('unsuback', p => p.messageId === messageId) as IUnsubackPacket
    return (ack.granted ?? []) as number[]
  }

  /**
   * PUBLISH and complete the QoS flow: QoS 1 awaits PUBACK, QoS 2 does PUBREC/PUBREL/PUBCOMP.
   * Returns the final acknowledgement (undefined for QoS 0).
   */
  async publish (topic: string, payload: string | Buffer, opts: { qos?: QoS, retain?: boolean, dup?: boolean,
    properties?: PublishProperties, messageId?: number } = {}): Promise<Packet | undefined> {
    const qos = opts.qos ?? 0
    const messageId = qos > 0 ? (opts.messageId ?? this.packetId()) : undefined
    this.send({
      cmd: 'publish', topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos,
      retain: opts.retain ?? false, dup: opts.dup ?? false, messageId,
      ...(opts.properties ? { properties: opts.properties } : {}),
    })
    if (qos === 1) return this.waitFor('puback', p => p.messageId === messageId)
    if (qos === 2) {
      const rec = await this.waitFor('pubrec', p => p.messageId === messageId)
      if ((rec.reasonCode ?? 0) >= 0x80) return rec
      this.send({ cmd: 'pubrel', messageId })
      return this.waitFor('pubcomp', p => p.messageId === messageId)
    }
    return undefined
  }

  /** Acknowledge a received PUBLISH as its QoS requires (QoS 2: PUBREC, await PUBREL, PUBCOMP). */
  async ack (p: IPublishPacket): Promise<void> {
    if (p.qos === 1) this.send({ cmd: 'puback', messageId: p.messageId })
    if (p.qos === 2) {
      this.send({ cmd: 'pubrec', messageId: p.messageId })
      await this.waitFor('pubrel', r => r.messageId === p.messageId)
      this.send({ cmd: 'pubcomp', messageId: p.messageId })
    }
  }

  /** Send DISCONNECT and close our side. */
  disconnect (reasonCode?: number, properties?: IDisconnectPacket['properties']): void {
    const d: IDisconnectPacket = { cmd: 'disconnect' }
    if (this.version === 5) {
      d.reasonCode = reasonCode ?? 0
      if (properties) d.properties = properties
    }
    this.send(d)
    this.stream.end()
  }

  /** Drop the connection without DISCONNECT (as a network failure would). */
  destroy (): void {
    this.stream.destroy()
  }

  /** Stop reading from the socket (to make the broker's writes back up). */
  pause (): void { this.stream.pause() }
  resume (): void { this.stream.resume() }
}

const CMDS: PacketCmd[] = ['connect', 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth']

/** Property identifier -> [name, encoding] for the MQTT 5 properties a server sends on acks and DISCONNECT. */
const PROPS: Record<number, [string, 'u8' | 'u16' | 'u32' | 'var' | 'str' | 'bin' | 'pair']> = {
  0x01: ['payloadFormatIndicator', 'u8'], 0x02: ['messageExpiryInterval', 'u32'], 0x03: ['contentType', 'str'],
  0x08: ['responseTopic', 'str'], 0x09: ['correlationData', 'bin'], 0x0b: ['subscriptionIdentifier', 'var'],
  0x11: ['sessionExpiryInterval', 'u32'], 0x12: ['assignedClientIdentifier', 'str'], 0x13: ['serverKeepAlive', 'u16'],
  0x15: ['authenticationMethod', 'str'], 0x16: ['authenticationData', 'bin'], 0x1a: ['responseInformation', 'str'],
  0x1c: ['serverReference', 'str'], 0x1f: ['reasonString', 'str'], 0x21: ['receiveMaximum', 'u16'],
  0x22: ['topicAliasMaximum', 'u16'], 0x23: ['topicAlias', 'u16'], 0x24: ['maximumQoS', 'u8'],
  0x25: ['retainAvailable', 'u8'], 0x26: ['userProperties', 'pair'], 0x27: ['maximumPacketSize', 'u32'],
}

/**
 * Minimal decoder for the packets mqtt-packet refuses: the ack family and DISCONNECT/AUTH with a
 * reason code it does not know. Anything else is reported as a parse error.
 */
function fallbackDecode (raw: Buffer, version: Version, err: Error | null): Packet {
  const type = raw[0] >> 4
  let i = 1
  while (raw[i] & 0x80) i++
  i++
  const body = raw.subarray(i)
  const cmd = CMDS[type]
  const o: Record<string, unknown> = { cmd, decodedBy: 'fallback', mqttPacketError: err?.message }
  let pos = 0
  if (['puback', 'pubrec', 'pubrel', 'pubcomp'].includes(cmd)) {
    o.messageId = body.readUInt16BE(0)
    pos = 2
  } else if (cmd !== 'disconnect' && cmd !== 'auth') {
    throw new Error(`cannot decode a ${cmd} packet from the broker: ${err?.message}`)
  }
  if (version === 5 && pos < body.length) {
    o.reasonCode = body[pos++]
    if (pos < body.length) {
      let plen = 0
      let mul = 1
      while (true) { const c = body[pos++]; plen += (c & 0x7f) * mul; mul *= 128; if (!(c & 0x80)) break }
      const end = pos + plen
      const props: Record<string, unknown> = {}
      while (pos < end) {
        const def = PROPS[body[pos++]]
        if (!def) break
        const [name, enc] = def
        let val: unknown
        if (enc === 'u8') val = body[pos++]
        else if (enc === 'u16') { val = body.readUInt16BE(pos); pos += 2 } else if (enc === 'u32') { val = body.readUInt32BE(pos); pos += 4 } else if (enc === 'var') {
          let n = 0; let m = 1
          while (true) { const c = body[pos++]; n += (c & 0x7f) * m; m *= 128; if (!(c & 0x80)) break }
          val = n
        } else if (enc === 'str' || enc === 'bin') {
          const l = body.readUInt16BE(pos); pos += 2
          const b = body.subarray(pos, pos + l); pos += l
          val = enc === 'str' ? b.toString('utf8') : b
        } else {
          const kl = body.readUInt16BE(pos); pos += 2
          const k = body.subarray(pos, pos + kl).toString('utf8'); pos += kl
          const vl = body.readUInt16BE(pos); pos += 2
          const vv = body.subarray(pos, pos + vl).toString('utf8'); pos += vl
          const up = (props.userProperties ?? {}) as Record<string, string | string[]>
          up[k] = k in up ? [up[k]].flat().concat(vv) : vv
          val = up
        }
        props[name] = val
      }
      o.properties = props
    }
  } else if (cmd === 'disconnect' || cmd === 'auth') {
    o.reasonCode = 0
  }
  return o as unknown as Packet
}

export function hex (n: number | undefined): string {
  return n === undefined ? 'undefined' : '0x' + n.toString(16).padStart(2, '0')
}

export function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
