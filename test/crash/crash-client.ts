/**
 * A lean MQTT client for crash tests: pipelined load over TCP, every packet reported to the
 * test, no protocol logic of its own (no automatic acks, no retries, no reconnect).
 */
import { EventEmitter } from 'node:events'
import * as net from 'node:net'
import * as mqtt from 'mqtt-packet'
import type { Packet, IConnackPacket, IPublishPacket, QoS } from 'mqtt-packet'

export interface ConnectOptions {
  clientId: string
  version: 4 | 5
  clean: boolean
  /** MQTT 5 Session Expiry Interval, seconds. */
  sessionExpiry?: number
}

export class CrashClient extends EventEmitter {
  readonly closed: Promise<void>
  isClosed = false
  private nextId = 1
  /** Packets received before consume() was called (a broker sends queued messages right after CONNACK, often in the same read). */
  private backlog: Packet[] | null = []
  private consumer: ((p: Packet) => void) | null = null

  private constructor (readonly socket: net.Socket, readonly version: 4 | 5) {
    super()
    const parser = mqtt.parser({ protocolVersion: version })
    parser.on('packet', (p: Packet) => {
      this.emit('packet', p)
      if (this.consumer !== null) this.consumer(p)
      else this.backlog?.push(p)
    })
    parser.on('error', (err: Error) => this.emit('parse-error', err))
    socket.on('data', chunk => parser.parse(chunk))
    this.closed = new Promise(resolve => {
      const done = (): void => { if (!this.isClosed) { this.isClosed = true; resolve() } }
      socket.on('close', done)
      socket.on('error', done)
    })
  }

  static async connect (port: number, opts: ConnectOptions): Promise<{ client: CrashClient, connack: IConnackPacket }> {
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    const client = new CrashClient(socket, opts.version)
    const connack = new Promise<IConnackPacket>((resolve, reject) => {
      const onPacket = (p: Packet): void => { if (p.cmd === 'connack') { client.off('packet', onPacket); resolve(p) } }
      client.on('packet', onPacket)
      void client.closed.then(() => reject(new Error(`connection closed before CONNACK (${opts.clientId})`)))
    })
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: opts.version,
      clientId: opts.clientId,
      clean: opts.clean,
      keepalive: 0,
      properties: opts.version === 5 && opts.sessionExpiry !== undefined ? { sessionExpiryInterval: opts.sessionExpiry } : undefined,
    })
    const ack = await connack
    const rc = opts.version === 5 ? ack.reasonCode : ack.returnCode
    if (rc !== 0) throw new Error(`CONNACK ${String(rc)} for ${opts.clientId}`)
    return { client, connack: ack }
  }

  /** Receive every packet, starting with those that arrived since CONNACK. */
  consume (handler: (p: Packet) => void): void {
    this.consumer = handler
    const backlog = this.backlog ?? []
    this.backlog = null
    for (const p of backlog) if (p.cmd !== 'connack') handler(p)
  }

  packetId (): number {
    const id = this.nextId
    this.nextId = id >= 65535 ? 1 : id + 1
    return id
  }

  send (packet: Packet): void {
    if (this.socket.destroyed || this.socket.writableEnded) return
    this.socket.write(mqtt.generate(packet, { protocolVersion: this.version }))
  }

  publish (messageId: number, topic: string, payload: string, qos: QoS, retain = false, dup = false): void {
    const p: IPublishPacket = { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup, messageId }
    this.send(p)
  }

  async subscribe (subs: Array<{ topic: string, qos: QoS }>): Promise<number[]> {
    const messageId = this.packetId()
    const granted = new Promise<number[]>((resolve, reject) => {
      const onPacket = (p: Packet): void => {
        if (p.cmd === 'suback' && p.messageId === messageId) { this.off('packet', onPacket); resolve(p.granted as number[]) }
      }
      this.on('packet', onPacket)
      void this.closed.then(() => reject(new Error('connection closed before SUBACK')))
    })
    this.send({ cmd: 'subscribe', messageId, subscriptions: subs })
    return await granted
  }

  /** Normal DISCONNECT, then wait for the socket to close. */
  async end (): Promise<void> {
    this.send({ cmd: 'disconnect' })
    this.socket.end()
    await Promise.race([this.closed, new Promise(resolve => setTimeout(resolve, 2000))])
    this.socket.destroy()
  }

  destroy (): void { this.socket.destroy() }
}

/** A subscriber that acknowledges everything (QoS 1 and 2) and counts deliveries per `topic payload`. */
export function countDeliveries (c: CrashClient): Map<string, number> {
  const seen = new Map<string, number>()
  c.consume((p: Packet) => {
    if (p.cmd === 'publish') {
      const key = `${p.topic} ${p.payload.toString()}`
      seen.set(key, (seen.get(key) ?? 0) + 1)
      if (p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId })
      if (p.qos === 2) c.send({ cmd: 'pubrec', messageId: p.messageId })
    } else if (p.cmd === 'pubrel') {
      c.send({ cmd: 'pubcomp', messageId: p.messageId })
    }
  })
  return seen
}
