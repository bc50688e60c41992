/*
 * One connection to the remote broker, as an MQTT client: CONNECT (with the bridge bit on 3.x when
 * asked), CONNACK, keepalive, SUBSCRIBE/UNSUBSCRIBE, and the packets of the QoS flows in both
 * directions. It keeps no message state of its own: what is in flight belongs to the bridge
 * (outbound.ts, inbound.ts), which outlives a link. Ends once, with 'down' and the reason.
 */
import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import mqtt from 'mqtt-packet'
import { BridgeError } from './errors'

export interface LinkOptions {
  protocolVersion: 3 | 4 | 5
  /** Set the top bit of the protocol level (Mosquitto's try_private), 3.x only. */
  bridgeBit: boolean
  clientId: string
  keepalive: number
  clean: boolean
  username?: string
  password?: string
  will?: { topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean }
  /** MQTT 5: QoS 1/2 messages the remote may have in flight toward us. */
  receiveMaximum: number
  /** MQTT 5: the largest packet we accept. */
  maximumPacketSize: number
  /** Milliseconds to wait for CONNACK. */
  connectTimeout: number
  /** Packet identifiers the bridge has in flight: a SUBSCRIBE or UNSUBSCRIBE must not use them [MQTT-2.3.1-2]. */
  inUse: (id: number) => boolean
}

/** What the remote said in CONNACK that the bridge must respect. */
export interface LinkInfo {
  sessionPresent: boolean
  /** Its Receive Maximum: our QoS 1/2 messages in flight at once [MQTT-3.3.4-9]. */
  receiveMaximum: number
  maximumQoS: 0 | 1 | 2
  retainAvailable: boolean
  /** Largest packet it accepts [MQTT-3.1.2-24]. */
  maximumPacketSize: number
}

export interface LinkEvents {
  up: [info: LinkInfo]
  publish: [packet: mqtt.IPublishPacket]
  ack: [cmd: 'puback' | 'pubrec' | 'pubcomp', packetId: number, reasonCode: number]
  pubrel: [packetId: number]
  drain: []
  down: [reason: BridgeError]
}

/** Bytes buffered toward the remote before the bridge waits for 'drain'. */
const HIGH_WATER = 1024 * 1024
const MAX_PACKET = 268435455

export class RemoteLink extends EventEmitter<LinkEvents> {
  isUp = false
  isDown = false
  /** What CONNACK said, once up. */
  info: LinkInfo | undefined
  private readonly parser: mqtt.Parser
  private timer: NodeJS.Timeout | undefined
  private lastSent = Date.now()
  private lastReceived = Date.now()
  private pingSentAt = 0
  private keepaliveMs: number
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (codes: number[]) => void }>()
  private readonly connectTimer: NodeJS.Timeout

  constructor (private readonly stream: Duplex, readonly opts: LinkOptions) {
    super()
    this.keepaliveMs = opts.keepalive * 1000
    this.parser = mqtt.parser({ protocolVersion: opts.protocolVersion })
    this.parser.on('packet', p => this.onPacket(p))
    this.parser.on('error', err => this.fail(new BridgeError('PROTOCOL', `malformed packet from the remote: ${err.message}`)))
    stream.on('data', (chunk: Buffer) => { this.lastReceived = Date.now(); this.parser.parse(chunk) })
    stream.on('error', (err: NodeJS.ErrnoException) => this.fail(new BridgeError('NETWORK', err.code !== undefined ? `${err.code}: ${err.message}` : err.message)))
    stream.on('close', () => this.fail(new BridgeError('DISCONNECTED', 'the remote closed the connection')))
    stream.on('end', () => stream.end())
    stream.on('drain', () => this.emit('drain'))
    this.connectTimer = setTimeout(() => this.fail(new BridgeError('TIMEOUT', `no CONNACK within ${opts.connectTimeout / 1000} s`)), opts.connectTimeout)
    this.sendConnect()
  }

  private sendConnect (): void {
    const o = this.opts
    const v5 = o.protocolVersion === 5
    const p: mqtt.IConnectPacket & { bridgeMode?: boolean } = {
      cmd: 'connect',
      protocolId: o.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: o.protocolVersion,
      clientId: o.clientId,
      clean: o.clean,
      keepalive: o.keepalive,
    }
    if (o.bridgeBit && !v5) p.bridgeMode = true
    if (o.username !== undefined) p.username = o.username
    if (o.password !== undefined) p.password = Buffer.from(o.password)
    if (o.will !== undefined) p.will = { ...o.will }
    if (v5) {
      // A persistent session never expires; a clean one ends with the connection [MQTT-3.1.2-23]
      p.properties = { sessionExpiryInterval: o.clean ? 0 : 0xffffffff, receiveMaximum: o.receiveMaximum, maximumPacketSize: o.maximumPacketSize }
    }
    this.send(p)
  }

  /** Encode and write one packet; false once the link is down. */
  send (packet: mqtt.Packet): boolean {
    if (this.isDown) return false
    this.lastSent = Date.now()
    this.stream.write(mqtt.generate(packet, { protocolVersion: this.opts.protocolVersion }))
    return true
  }

  /** The encoded size of a packet, to compare with the remote's Maximum Packet Size. */
  size (packet: mqtt.Packet): number {
    return mqtt.generate(packet, { protocolVersion: this.opts.protocolVersion }).length
  }

  /** Can the connection take more now (its buffer is below the high-water mark)? */
  writable (): boolean {
    return !this.isDown && this.stream.writableLength < HIGH_WATER
  }

  private packetId (): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.nextId
      this.nextId = id === 65535 ? 1 : id + 1
      if (!this.pending.has(id) && !this.opts.inUse(id)) return id
    }
    throw new BridgeError('PROTOCOL', 'no free packet identifier')
  }

  /** SUBSCRIBE; resolves with the SUBACK's codes (>= 0x80 refused), or [] when the link goes down first. */
  subscribe (subs: Array<{ topic: string, qos: 0 | 1 | 2 }>): Promise<number[]> {
    const v5 = this.opts.protocolVersion === 5
    const messageId = this.packetId()
    // MQTT 5: No Local and Retain As Published, and the retained messages at each subscribe (Retain Handling 0), as Mosquitto's bridge does
    const subscriptions = subs.map(s => v5 ? { topic: s.topic, qos: s.qos, nl: true, rap: true, rh: 0 } : { topic: s.topic, qos: s.qos })
    return new Promise(resolve => {
      this.pending.set(messageId, { resolve })
      this.send({ cmd: 'subscribe', messageId, subscriptions })
    })
  }

  /**
   * Publish a message of the bridge's own (its state) at QoS 1 under a packet identifier the
   * bridge does not use; resolves with the PUBACK's reason code, or -1 when the link goes down first.
   */
  publishOwn (topic: string, payload: Buffer, retain: boolean, qos: 0 | 1): Promise<number> {
    if (qos === 0) {
      this.send({ cmd: 'publish', topic, payload, qos: 0, retain, dup: false })
      return Promise.resolve(0)
    }
    const messageId = this.packetId()
    return new Promise(resolve => {
      this.pending.set(messageId, { resolve: codes => resolve(codes[0] ?? -1) })
      this.send({ cmd: 'publish', topic, payload, qos: 1, retain, dup: false, messageId })
    })
  }

  /** UNSUBSCRIBE; resolves on UNSUBACK, or when the link goes down first. */
  unsubscribe (topics: string[]): Promise<number[]> {
    const messageId = this.packetId()
    return new Promise(resolve => {
      this.pending.set(messageId, { resolve })
      this.send({ cmd: 'unsubscribe', messageId, unsubscriptions: topics })
    })
  }

  private onPacket (p: mqtt.Packet): void {
    if (this.isDown) return
    if (!this.isUp && p.cmd !== 'connack') { this.fail(new BridgeError('PROTOCOL', `${p.cmd} before CONNACK`)); return }
    switch (p.cmd) {
      case 'connack': return this.onConnack(p)
      case 'publish':
        if (p.qos > 0 && !p.messageId) { this.fail(new BridgeError('PROTOCOL', 'PUBLISH without packet identifier')); return }
        this.emit('publish', p)
        return
      case 'puback': case 'pubrec': case 'pubcomp': {
        const own = p.cmd === 'puback' ? this.pending.get(p.messageId ?? 0) : undefined
        if (own !== undefined) {
          this.pending.delete(p.messageId ?? 0)
          own.resolve([p.reasonCode ?? 0])
          return
        }
        this.emit('ack', p.cmd, p.messageId ?? 0, p.reasonCode ?? 0)
        return
      }
      case 'pubrel':
        this.emit('pubrel', p.messageId ?? 0)
        return
      case 'suback': case 'unsuback': {
        const w = this.pending.get(p.messageId ?? 0)
        this.pending.delete(p.messageId ?? 0)
        w?.resolve((p.granted ?? []) as number[])
        return
      }
      case 'pingresp':
        this.pingSentAt = 0
        return
      case 'disconnect': {
        const rc = p.reasonCode ?? 0
        this.fail(new BridgeError('DISCONNECTED', `the remote disconnected${rc !== 0 ? ` (reason 0x${rc.toString(16)})` : ''}`, rc))
        return
      }
      default:
        this.fail(new BridgeError('PROTOCOL', `unexpected ${p.cmd} from the remote`))
    }
  }

  private onConnack (p: mqtt.IConnackPacket): void {
    if (this.isUp) { this.fail(new BridgeError('PROTOCOL', 'a second CONNACK')); return }
    clearTimeout(this.connectTimer)
    const rc = p.reasonCode ?? p.returnCode ?? 0
    if (rc !== 0) {
      this.fail(new BridgeError('REFUSED', `the remote refused the connection (${this.opts.protocolVersion === 5 ? 'reason' : 'return code'} 0x${rc.toString(16)})`, rc))
      return
    }
    const props = p.properties ?? {}
    // The server's Keep Alive replaces ours [MQTT-3.2.2-21]
    if (props.serverKeepAlive !== undefined) this.keepaliveMs = props.serverKeepAlive * 1000
    this.isUp = true
    if (this.keepaliveMs > 0) this.timer = setInterval(() => this.tick(), Math.min(1000, this.keepaliveMs / 4))
    this.info = {
      sessionPresent: p.sessionPresent,
      receiveMaximum: props.receiveMaximum ?? 65535,
      maximumQoS: (props.maximumQoS ?? 2) as 0 | 1 | 2,
      retainAvailable: props.retainAvailable !== false,
      maximumPacketSize: props.maximumPacketSize ?? MAX_PACKET,
    }
    this.emit('up', this.info)
  }

  /** Keepalive: PINGREQ after a keepalive of silence either way; no PINGRESP within another keepalive ends the link (MQTT 3.1.1 section 3.1.2.10). */
  private tick (): void {
    const now = Date.now()
    const k = this.keepaliveMs
    if (this.pingSentAt !== 0) {
      if (now - this.pingSentAt >= k) this.fail(new BridgeError('TIMEOUT', `no PINGRESP within the keepalive (${k / 1000} s)`))
      return
    }
    if (now - this.lastSent >= k || now - this.lastReceived >= k) {
      this.pingSentAt = now
      this.send({ cmd: 'pingreq' })
    }
  }

  /** End the link. `graceful`: send DISCONNECT first (the remote then drops our will). */
  close (graceful: boolean): void {
    if (this.isDown) return
    if (graceful && this.isUp) {
      this.send({ cmd: 'disconnect' })
      this.finish(new BridgeError('CLOSED', 'the bridge was closed'))
      this.stream.end()
      setTimeout(() => this.stream.destroy(), 1000).unref()
      return
    }
    this.finish(new BridgeError('CLOSED', 'the bridge was closed'))
    this.stream.destroy()
  }

  private fail (reason: BridgeError): void {
    if (this.isDown) return
    this.finish(reason)
    this.stream.destroy()
  }

  private finish (reason: BridgeError): void {
    this.isDown = true
    this.isUp = false
    clearTimeout(this.connectTimer)
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const w of this.pending.values()) w.resolve([])
    this.pending.clear()
    this.emit('down', reason)
  }
}
