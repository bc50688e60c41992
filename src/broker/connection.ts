/*
 * A network connection: any duplex stream (TCP, TLS, WebSocket) speaking MQTT. It parses with
 * mqtt-packet, serialises packet handling when a handler has to wait, batches writes per tick
 * (one write per tick of everything queued), bounds what it buffers toward a slow socket, and is
 * checked by the broker's shared timer for the connect timeout and keepalive.
 */
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import type mqtt from 'mqtt-packet'
import { ClientBase } from './client-base'
import { ConnState } from './conn-state'
import type { BrokerCore, Ticking } from './core'
import { RC, ProtocolError, reasonName } from './errors'
import { createParser, PacketTooLargeError, BadUtf8Error, ParsedProtocolError, type PacketParser } from './parser'
import { encodeAck, encodePublish, generate } from './encode'
import { dispatch } from './handlers'
import type { RoutedMessage } from './message'
import type { Outgoing } from './session'
import type { ListenerCounters } from './metrics'
import type { PeerInfo, QoS } from './types'
import type { PeerCertificate } from 'node:tls'

const INBOX_PAUSE = 256
/** The empty lists an idle connection shares; never written (frozen, so a write would throw). */
const NO_PACKETS: mqtt.Packet[] = Object.freeze([]) as unknown as mqtt.Packet[]
const NO_BUFFERS: Buffer[] = Object.freeze([]) as unknown as Buffer[]

export class Connection extends ClientBase implements Ticking {
  readonly kind = 'network' as const
  state = ConnState.AwaitConnect
  lastActivity: number
  private readonly createdAt: number
  private readonly parser: PacketParser
  private busy = false
  /** Packets waiting for a handler that is still busy (a shared empty list until the first waits). */
  private inbox: mqtt.Packet[] = NO_PACKETS
  /** Packets written during this tick, sent as one buffer on the next (see flush); a shared empty list between ticks. */
  private outq: Buffer[] = NO_BUFFERS
  private outBytes = 0
  private flushScheduled = false
  /** Reading paused: too many packets wait for a handler (inbox), or replies back up toward a client that does not read (output). */
  private pausedInbox = false
  private pausedOutput = false
  /** Set when the client sent DISCONNECT: no will unless reason 0x04 [v3.1.1 MQTT-3.14.4-3 / v5 MQTT-3.14.4-3]. */
  willOnClose = true
  closeReason = 'connection closed'
  closeCode: number | undefined = undefined
  /** Inbound topic aliases (alias -> topic) [v5 MQTT-3.3.2-12]. */
  aliasIn: Map<number, string> | null = null
  /** Outbound topic aliases (topic -> alias). */
  private aliasOut: Map<string, number> | null = null
  /** Incoming QoS 1/2 publishes not yet acknowledged, against our Receive Maximum [v5 MQTT-3.3.4-7]. */
  inboundUnacked = 0
  /** Acknowledgements waiting for persistence, kept in order [v3.1.1 MQTT-4.6.0-2 / v5 MQTT-4.6.0-2]. */
  private ackTail: Promise<void> | null = null
  private ackWaiting = 0
  /** PUBACKs among them: incoming QoS 1 messages not acknowledged yet. */
  private pubacksWaiting = 0
  requestProblemInformation = true
  /**
   * The CONNECT carried Mosquitto's bridge bit (protocol level 0x83/0x84, its try_private): this
   * client's subscriptions get No Local and Retain As Published, as Mosquitto gives them.
   */
  bridge = false
  /** This connection's listener's traffic counters. */
  private readonly traffic: ListenerCounters

  constructor (readonly core: BrokerCore, readonly stream: Duplex, readonly peer: PeerInfo = {}) {
    super()
    this.createdAt = this.lastActivity = Date.now()
    this.parser = createParser(admitPacket)
    // Shared listener functions find their connection through a tag, rather than closures per connection.
    ;(this.parser as unknown as Tagged)[CONN] = this
    ;(stream as unknown as Tagged)[CONN] = this
    this.parser.on('packet', onParserPacket)
    this.parser.on('error', onParserError)
    stream.on('data', onStreamData)
    stream.on('error', onStreamError)
    stream.on('end', onStreamEnd)
    stream.on('close', onStreamClose)
    stream.on('drain', onStreamDrain)
    core.ticking.add(this)
    this.traffic = core.metrics.listener(this.transport())
    this.traffic.socketsOpened++
    // Until CONNECT completes the socket holds a place among the connections and its address's waiting sockets.
    this.pendingKey = this.remoteAddress() ?? ''
    if (!core.admitPending(this.pendingKey)) {
      this.pendingKey = null
      this.close('too many connections, or too many waiting for CONNECT from one address', undefined)
    }
  }

  /** The place this socket holds among those waiting for CONNECT, until it is connected or closed. */
  private pendingKey: string | null

  /** CONNECT is done (accepted, refused or the socket closed): the socket no longer waits. */
  leavePending (): void {
    if (this.pendingKey === null) return
    this.core.releasePending(this.pendingKey)
    this.pendingKey = null
  }

  /**
   * May a packet of this type and size be read? Before CONNECT only a CONNECT of at most
   * maxConnectSize bytes [v3.1.1 MQTT-3.1.0-1 / v5 MQTT-3.1.0-1]; after it, nothing above maxPacketSize [v5 MQTT-3.2.2-15].
   */
  admit (cmd: string | undefined, size: number): Error | undefined {
    const o = this.core.opts
    if (this.state === ConnState.AwaitConnect) {
      if (cmd !== 'connect') return new ParsedProtocolError('the first packet must be CONNECT')
      if (size > o.maxConnectSize) return new PacketTooLargeError(`CONNECT of ${size} bytes exceeds the maximum of ${o.maxConnectSize}`)
      return undefined
    }
    return size > o.maxPacketSize ? new PacketTooLargeError(`packet of ${size} bytes exceeds the maximum of ${o.maxPacketSize}`) : undefined
  }

  override remoteAddress (): string | undefined { return this.peer.remoteAddress ?? (this.stream as Socket).remoteAddress }
  override remotePort (): number | undefined { return this.peer.remotePort ?? (this.stream as Socket).remotePort }
  override transport (): string { return this.peer.transport ?? 'mqtt' }
  override verifiedUsername (): string | undefined { return this.peer.username }
  /** The client's TLS certificate: from the listener, or from a TLS socket served directly. */
  certificate (): PeerCertificate | undefined {
    if (this.peer.certificate !== undefined) return this.peer.certificate
    const cert = (this.stream as { getPeerCertificate?: () => PeerCertificate }).getPeerCertificate?.()
    return cert === undefined || cert === null || Object.keys(cert).length === 0 ? undefined : cert
  }

  onData (buf: Buffer): void {
    if (this.state === ConnState.Closed) return
    this.core.stats.bytesReceived += buf.length
    this.traffic.bytesReceived += buf.length
    this.lastActivity = Date.now()
    this.parser.parse(buf)
  }

  onPacket (packet: mqtt.Packet): void {
    if (this.state === ConnState.Closed) return
    this.core.metrics.packetIn(packet.cmd, packet.cmd === 'publish' ? packet.payload.length : 0)
    if (this.busy) {
      if (this.inbox === NO_PACKETS) this.inbox = []
      this.inbox.push(packet)
      if (!this.pausedInbox && this.inbox.length >= INBOX_PAUSE) { this.pausedInbox = true; this.updateReading() }
      return
    }
    this.run(packet)
  }

  private run (packet: mqtt.Packet): void {
    let r: void | Promise<void>
    try {
      r = dispatch(this, packet)
    } catch (err) {
      this.fail(err)
      return
    }
    if (r !== undefined) {
      this.busy = true
      r.then(() => this.resumeInbox(), err => { this.busy = false; this.fail(err) })
    }
  }

  private resumeInbox (): void {
    this.busy = false
    while (!this.busy && this.inbox.length > 0 && this.state !== ConnState.Closed) {
      this.run(this.inbox.shift() as mqtt.Packet)
    }
    if (this.pausedInbox && this.inbox.length === 0 && this.state !== ConnState.Closed) { this.pausedInbox = false; this.updateReading() }
  }

  private updateReading (): void {
    if (this.pausedInbox || this.pausedOutput) this.stream.pause()
    else if (this.state !== ConnState.Closed) this.stream.resume()
  }

  /** The socket drained: send what waits. */
  onDrain (): void {
    if (this.session !== null && this.active) this.core.delivery.pump(this.session)
  }

  onParseError (err: Error): void {
    if (this.state === ConnState.Closed) return
    if (this.state === ConnState.AwaitConnect) {
      if (err.message === 'Invalid protocol version') {
        // Unsupported protocol level: CONNACK 0x01, then close [v3.1.1 MQTT-3.1.2-2]
        this.write(generate({ cmd: 'connack', returnCode: 1, sessionPresent: false }, 4))
        this.close('unsupported protocol version', RC.UNSUPPORTED_PROTOCOL_VERSION)
        return
      }
      // Anything else before a valid CONNECT: just close [v3.1.1 MQTT-3.1.2-1, v3.1.1 MQTT-3.1.4-1 / v5 MQTT-3.1.2-1, v5 MQTT-3.1.4-1]
      this.close(`malformed CONNECT: ${err.message}`, RC.MALFORMED_PACKET)
      return
    }
    if (err instanceof PacketTooLargeError) { this.disconnect(RC.PACKET_TOO_LARGE, err.message); return } // [v5 MQTT-3.2.2-15]
    if (err instanceof ParsedProtocolError) { this.disconnect(RC.PROTOCOL_ERROR, err.message); return }
    if (err instanceof BadUtf8Error) { this.disconnect(RC.MALFORMED_PACKET, err.message); return } // [v3.1.1 MQTT-1.5.3-1 / v5 MQTT-1.5.4-1]
    this.disconnect(RC.MALFORMED_PACKET, err.message) // [v3.1.1 MQTT-4.8.0-1 / v5 MQTT-4.13.1-1]
  }

  private fail (err: unknown): void {
    if (err instanceof ProtocolError) { this.disconnect(err.reasonCode, err.message); return }
    const e = err as Error & { reasonCode?: number }
    if (typeof e?.reasonCode === 'number') { this.disconnect(e.reasonCode, e.message); return }
    this.core.warn('error while handling a packet', this.clientId || undefined, e)
    this.disconnect(RC.IMPLEMENTATION_SPECIFIC_ERROR, 'internal error')
  }

  // ---- writing -------------------------------------------------------------------------

  /**
   * Queue a packet; everything written in one tick goes out as one write on the next. (Plain
   * batching rather than cork(): a corked socket kept its bytes in the stream's buffer while a
   * heavy reader kept the event loop busy.)
   */
  write (buf: Buffer): void {
    if (this.state === ConnState.Closed && !this.stream.writable) return
    if (this.outq === NO_BUFFERS) this.outq = [buf]
    else this.outq.push(buf)
    this.outBytes += buf.length
    this.core.stats.bytesSent += buf.length
    this.traffic.bytesSent += buf.length
    this.core.metrics.packetOut(buf[0])
    if (!this.flushScheduled) {
      this.flushScheduled = true
      process.nextTick(flush, this)
    }
  }

  /** Write what this tick queued, as one buffer. */
  flush (): void {
    this.flushScheduled = false
    const q = this.outq
    if (q.length === 0) return
    const data = q.length === 1 ? q[0] : Buffer.concat(q, this.outBytes)
    this.outq = NO_BUFFERS
    this.outBytes = 0
    if (this.stream.destroyed || !this.stream.writable) return
    // A client that does not read its replies (acknowledgements, SUBACKs, PINGRESPs) stops being
    // read until they are written out: what the broker buffers toward it stays bounded.
    if (this.pausedOutput || this.stream.writableLength + data.length <= this.core.opts.maxOutgoingBytes) {
      this.stream.write(data)
      return
    }
    this.pausedOutput = true
    this.updateReading()
    this.stream.write(data, onBacklogWritten.bind(this))
  }

  /** Everything up to the write that paused reading is out: read again, and send what waits. */
  backlogWritten (): void {
    if (!this.pausedOutput || this.state === ConnState.Closed) return
    this.pausedOutput = false
    this.updateReading()
    if (this.session !== null && this.active) this.core.delivery.pump(this.session)
  }

  /** Send a packet; false when it is too large for the client even without its optional properties, and was not sent. */
  sendPacket (packet: mqtt.Packet): boolean {
    const cmd = packet.cmd
    if ((cmd === 'puback' || cmd === 'pubrec' || cmd === 'pubrel' || cmd === 'pubcomp') && !packet.reasonCode && packet.properties === undefined) {
      this.write(encodeAck(cmd, packet.messageId ?? 0))
      return true
    }
    let buf = generate(packet, this.protocolVersion)
    if (buf.length > this.maxPacketSize && 'properties' in packet && packet.properties !== undefined) {
      // Reason String and User Properties go first when the packet would be too large [v5 MQTT-3.2.2-19, v5 MQTT-3.2.2-20]
      const { reasonString: _r, userProperties: _u, ...rest } = packet.properties as Record<string, unknown>
      buf = generate({ ...packet, properties: rest } as mqtt.Packet, this.protocolVersion)
    }
    if (buf.length > this.maxPacketSize) return false // never exceed the client's maximum [v5 MQTT-3.1.2-24]
    this.write(buf)
    return true
  }

  /** Send an acknowledgement, after pending persistence and in order with earlier ones. */
  sendAck (packet: mqtt.Packet, wait: Promise<void> | undefined): void {
    if (wait === undefined && this.ackWaiting === 0) { this.sendPacket(packet); return }
    const puback = packet.cmd === 'puback' ? 1 : 0
    this.ackWaiting++
    this.pubacksWaiting += puback
    const prev = this.ackTail ?? Promise.resolve()
    const tail = Promise.all([prev, wait]).then(() => {
      this.ackWaiting--
      this.pubacksWaiting -= puback
      if (this.ackTail === tail) this.ackTail = null
      if (this.state !== ConnState.Closed) this.sendPacket(packet)
    }, err => {
      this.ackWaiting--
      this.pubacksWaiting -= puback
      this.core.warn('persistence failed; the message was not acknowledged', this.clientId, err as Error)
      this.disconnect(RC.UNSPECIFIED_ERROR, 'persistence failed')
    })
    this.ackTail = tail
  }

  sendPublish (msg: RoutedMessage, qos: QoS, retain: boolean, subIds: number[] | undefined, packetId: number, dup: boolean): boolean {
    const v5 = this.protocolVersion === 5
    let alias = 0
    if (v5 && this.topicAliasMax > 0 && this.core.opts.outboundTopicAliases) alias = this.outboundAlias(msg.topic)
    let buf: Buffer
    try {
      buf = encodePublish(msg, qos, retain, v5, subIds, packetId, dup, alias, Date.now())
    } catch (err) {
      this.core.warn('could not encode a PUBLISH', this.clientId, err as Error)
      return false
    }
    if (buf.length > this.maxPacketSize) {
      if (alias > 0) this.aliasOut?.delete(msg.topic) // the client never learned it
      return false
    }
    this.write(buf)
    this.core.metrics.publishOut(msg.payload.length)
    return true
  }

  private outboundAlias (topic: string): number {
    if (this.aliasOut === null) this.aliasOut = new Map()
    const a = this.aliasOut.get(topic)
    if (a !== undefined) return -a
    if (this.aliasOut.size >= this.topicAliasMax) return 0 // [v5 MQTT-3.3.2-11]: never above the client's maximum
    const next = this.aliasOut.size + 1
    this.aliasOut.set(topic, next)
    return next
  }

  sendQoS (o: Outgoing, fresh: boolean): void {
    if (this.session !== null) this.core.delivery.sendInflight(this.session, this, o, fresh)
  }

  shutdown (): void {
    this.willOnClose = false
    this.disconnect(RC.SERVER_SHUTTING_DOWN, 'server shutting down')
  }

  sendPubrel (packetId: number): void {
    this.sendPacket({ cmd: 'pubrel', messageId: packetId })
  }

  /**
   * Incoming QoS 1/2 messages not yet fully acknowledged [v5 MQTT-3.3.4-7]: QoS 1 until its PUBACK
   * is sent, QoS 2 until its PUBREL arrives (counted once, from PUBREC on).
   */
  pendingInbound (): number {
    return this.pubacksWaiting + (this.session?.incoming.size ?? 0)
  }

  writable (): boolean {
    return this.stream.writableLength + this.outBytes < this.core.opts.maxOutgoingBytes
  }

  // ---- closing -------------------------------------------------------------------------

  /** Server-initiated close: DISCONNECT with a reason code on MQTT 5 (after CONNACK only) [v5 MQTT-3.14.0-1, v5 MQTT-4.13.2-1]. */
  disconnect (reasonCode: number, reasonString?: string): void {
    if (this.state === ConnState.Closed) return
    if (this.protocolVersion === 5 && this.state === ConnState.Active) {
      const packet: mqtt.IDisconnectPacket = { cmd: 'disconnect', reasonCode }
      if (reasonString && this.requestProblemInformation) packet.properties = { reasonString }
      try { this.sendPacket(packet) } catch { /* the close goes on */ }
    }
    this.close(reasonString ?? reasonName(reasonCode), reasonCode)
  }

  /** Close the stream after flushing what was written. */
  close (reason: string, reasonCode: number | undefined): void {
    if (this.state === ConnState.Closed) return
    this.finish(reason, reasonCode)
    this.flush()
    const stream = this.stream
    stream.end()
    const t = setTimeout(() => stream.destroy(), 1000)
    t.unref()
    stream.once('close', () => clearTimeout(t))
  }

  /** The connection is over: detach from the session once, publish the will if due, report it. */
  finish (reason: string, reasonCode: number | undefined): void {
    if (this.state === ConnState.Closed) return
    const wasActive = this.state === ConnState.Active
    this.state = ConnState.Closed
    this.leavePending()
    this.active = false
    this.core.ticking.delete(this)
    this.inbox = NO_PACKETS
    this.closeReason = reason
    this.closeCode = reasonCode
    if (this.session !== null) this.core.detach(this, this.willOnClose)
    if (wasActive && this.core.listens('clientDisconnected')) {
      this.core.emit('clientDisconnected', { clientId: this.clientId, reason, reasonCode, username: this.username, remoteAddress: this.remoteAddress() })
    }
    if (!this.stream.destroyed && this.stream.readableEnded) this.stream.destroy()
  }

  tick (now: number): void {
    if (this.state === ConnState.AwaitConnect) {
      if (now - this.createdAt > this.core.opts.connectTimeout) this.close('no CONNECT within the connect timeout', undefined)
      return
    }
    // Keepalive: close after 1.5 times the interval without a packet [v3.1.1 MQTT-3.1.2-24 / v5 MQTT-3.1.2-22]
    if (this.state === ConnState.Active && this.keepalive > 0 && now - this.lastActivity > this.keepalive * 1500) {
      this.disconnect(RC.KEEP_ALIVE_TIMEOUT, 'keep alive timeout')
    }
  }
}

function flush (c: Connection): void {
  c.flush()
}

const CONN = Symbol('hearth.connection')
interface Tagged { [CONN]: Connection }
const conn = (x: unknown): Connection => (x as Tagged)[CONN]

function onParserPacket (this: unknown, p: mqtt.Packet): void { conn(this).onPacket(p) }
function onParserError (this: unknown, err: Error): void { conn(this).onParseError(err) }
function onStreamData (this: unknown, buf: Buffer): void { conn(this).onData(buf) }
function onStreamError (this: unknown, err: Error): void { conn(this).finish(`socket error: ${err.message}`, undefined) }
function onStreamEnd (this: unknown): void { conn(this).finish('connection closed by client', undefined) }
function onStreamClose (this: unknown): void { conn(this).finish('connection closed', undefined) }
function onStreamDrain (this: unknown): void { conn(this).onDrain() }
function onBacklogWritten (this: Connection): void { this.backlogWritten() }
function admitPacket (this: unknown, cmd: string | undefined, size: number): Error | undefined { return conn(this).admit(cmd, size) }
