import type { Outgoing, Session } from './session'
import type { RoutedMessage } from './message'
import type { ClientInfo, ProtocolVersion, QoS, WillMessage } from './types'

/**
 * What delivery needs from a connected client, network or in-process. The two kinds share
 * sessions, routing, retained messages, authorisation and statistics; each carries its own
 * delivery behaviour (how a packet reaches the other side, and whether it stays in flight), so
 * that routing and the session state machine never ask what kind of client they serve.
 */
export abstract class ClientBase {
  clientId = ''
  username: string | undefined = undefined
  protocolVersion: ProtocolVersion = 4
  session: Session | null = null
  keepalive = 0
  cleanStart = true
  will: WillMessage | undefined = undefined
  connectedAt = 0
  /** The client's Receive Maximum: QoS 1/2 messages we may have in flight toward it [v5 MQTT-3.3.4-9]. */
  sendQuota = 65535
  /** The client's Maximum Packet Size [v5 MQTT-3.1.2-24]. */
  maxPacketSize = 268435460
  /** The client's Topic Alias Maximum (outbound aliases we may use) [v5 MQTT-3.1.2-26]. */
  topicAliasMax = 0
  /** Set once the session is bound and CONNACK sent. */
  active = false
  /** Messages dropped for or from this client (ClientInfo.dropped). */
  dropped = 0

  abstract readonly kind: 'network' | 'local'
  /**
   * Deliveries carry the filters they matched (`sendPublish`'s `filters`), so the client can hand a
   * message to its own handlers without matching the topic again. In-process clients want them.
   */
  readonly wantsFilters: boolean = false

  /**
   * Send one PUBLISH. Returns false when the packet could not be sent because it exceeds the
   * client's Maximum Packet Size; the caller then treats it as delivered [v5 MQTT-3.1.2-25].
   */
  abstract sendPublish (msg: RoutedMessage, qos: QoS, retain: boolean, subIds: number[] | undefined, packetId: number, dup: boolean, filters?: string[]): boolean
  /**
   * Send an outgoing QoS 1/2 message of this client's session: network clients keep it in flight
   * until acknowledged, in-process clients take it at once. `fresh` when it was never stored as queued.
   */
  abstract sendQoS (o: Outgoing, fresh: boolean): void
  /**
   * Send a new QoS 1/2 message with nothing queued ahead of it: as an outgoing record through
   * sendQoS. A client that takes messages at once overrides this and makes no record.
   */
  sendFreshQoS (s: Session, msg: RoutedMessage, qos: QoS, retain: boolean, subIds: number[] | undefined, filters: string[] | undefined): void {
    this.sendQoS({ seq: ++s.outSeq, packetId: 0, state: 'queued', msg, qos, retain, subIds, filters }, true)
  }
  /**
   * End the connection because the broker closes: no will [v3.1.1 MQTT-3.1.2-8 / v5 MQTT-3.1.2-8 does not apply to a
   * server shutdown the client did not cause], DISCONNECT 0x8B to MQTT 5 clients.
   */
  abstract shutdown (): void
  /** Send PUBREL for an outgoing QoS 2 message whose PUBREC arrived (or on session resume). */
  abstract sendPubrel (packetId: number): void
  /** Can the transport take more now? False while a socket's buffer is above its bound. */
  abstract writable (): boolean
  /** Server-initiated close: DISCONNECT with `reasonCode` to MQTT 5 clients, then close [v5 §4.13]. */
  abstract disconnect (reasonCode: number, reasonString?: string): void

  /** May another QoS 1/2 message go out now: within the client's Receive Maximum, and the transport takes more. */
  canSend (s: Session): boolean {
    return s.sentUnacked < this.sendQuota && this.writable()
  }

  remoteAddress (): string | undefined { return undefined }
  remotePort (): number | undefined { return undefined }
  transport (): string { return 'local' }
  /** A user name the transport has already verified (see PeerInfo.username). */
  verifiedUsername (): string | undefined { return undefined }

  info (): ClientInfo {
    const s = this.session
    return {
      clientId: this.clientId,
      username: this.username,
      protocolVersion: this.protocolVersion,
      kind: this.kind,
      remoteAddress: this.remoteAddress(),
      remotePort: this.remotePort(),
      transport: this.transport(),
      connectedAt: this.connectedAt,
      keepalive: this.keepalive,
      cleanStart: this.cleanStart,
      sessionExpiryInterval: s ? s.expiryInterval : 0,
      subscriptions: s ? s.subscriptions.size : 0,
      inflight: s ? s.inflight.size : 0,
      queued: s ? s.queued : 0,
      dropped: this.dropped,
    }
  }
}
