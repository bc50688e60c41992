/*
 * Remote -> local. A message is acknowledged to the remote only once the local broker has it
 * (routed, and durable when it has persistence), in the order the messages came [MQTT-4.6.0-2]:
 * until then it stays in the bridge's session at the remote (clean session off), which sends it
 * again after a link outage or a restart. QoS 2 is published locally under the remote's packet
 * identifier, remembered in the local session until PUBREL, so a resent one is not routed twice.
 */
import type { LocalClient, MessageProperties } from '../broker'
import type mqtt from 'mqtt-packet'
import type { ResolvedTopic } from './config'
import type { EchoFilter } from './echo'
import type { RemoteLink } from './remote-link'
import { toLocal } from './topic-map'

export interface InboundContext {
  local: () => LocalClient | undefined
  rules: ResolvedTopic[]
  echo: EchoFilter
  counted: (what: 'in' | 'dropped') => void
  warn: (message: string) => void
}

/** The application properties of a remote PUBLISH (no alias, no subscription identifier). */
function appProperties (p: mqtt.IPublishPacket['properties']): MessageProperties | undefined {
  if (p === undefined) return undefined
  const out: MessageProperties = {}
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval
  if (p.contentType !== undefined) out.contentType = p.contentType
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic
  if (p.correlationData !== undefined) out.correlationData = p.correlationData
  if (p.userProperties !== undefined) out.userProperties = { ...p.userProperties }
  return Object.keys(out).length > 0 ? out : undefined
}

export class Inbound {
  private link: RemoteLink | undefined
  /** Acknowledgements wait here, in order, for the local broker. */
  private tail: Promise<unknown> = Promise.resolve()

  constructor (private readonly ctx: InboundContext) {}

  linkUp (link: RemoteLink): void {
    this.link = link
    this.tail = Promise.resolve()
  }

  linkDown (): void {
    this.link = undefined
  }

  /** Send an acknowledgement once `work` says the message may be acknowledged, after those before it. */
  private ackAfter (work: Promise<boolean>, packet: mqtt.Packet): void {
    const link = this.link
    const prev = this.tail
    this.tail = Promise.all([prev, work]).then(([, ok]) => {
      if (ok && link !== undefined && link === this.link && link.isUp) link.send(packet)
    })
  }

  /** Publish locally; false when the local side could not take it (then it is not acknowledged and the remote resends it). */
  private publishLocally (p: mqtt.IPublishPacket, topic: string, payload: Buffer): Promise<boolean> {
    const local = this.ctx.local()
    if (local === undefined || !local.connected) return Promise.resolve(false)
    const msg = { topic, payload, qos: p.qos, retain: p.retain, properties: appProperties(p.properties) }
    return local.publish(msg, p.qos === 2 ? { packetId: p.messageId } : {}).then(() => {
      this.ctx.counted('in')
      return true
    }, (err: Error & { reasonCode?: number }) => {
      if (!local.connected) return false
      // Refused here (authorisation, a retained limit): acknowledged to the remote and dropped, as a broker does
      this.ctx.counted('dropped')
      this.ctx.warn(`a message on ${topic} from the remote was refused locally: ${err.message}`)
      return true
    })
  }

  /** A PUBLISH from the remote. */
  onPublish (p: mqtt.IPublishPacket): void {
    const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload)
    const topic = toLocal(this.ctx.rules, p.topic)
    let work: Promise<boolean>
    if (topic === undefined) {
      // No in/both rule maps it (a subscription a former configuration left in the remote session)
      this.ctx.counted('dropped')
      work = Promise.resolve(true)
    } else if (p.retain && this.ctx.echo.incomingIsEcho(p.topic, payload)) {
      work = Promise.resolve(true) // a retained value the bridge itself put there is not carried back
    } else {
      if (p.retain) this.ctx.echo.cameIn(p.topic, topic, payload)
      work = this.publishLocally(p, topic, payload)
    }
    if (p.qos === 0) return
    // PUBACK for QoS 1 [MQTT-4.3.2-4], PUBREC for QoS 2 [MQTT-4.3.3-8], once the local broker has it
    this.ackAfter(work, { cmd: p.qos === 1 ? 'puback' : 'pubrec', messageId: p.messageId })
  }

  /** PUBREL from the remote: the local session forgets the identifier, then PUBCOMP [MQTT-4.3.3-11]. */
  onPubrel (packetId: number): void {
    const local = this.ctx.local()
    const work = local === undefined ? Promise.resolve(false) : local.pubrel(packetId).then(() => true, () => false)
    this.ackAfter(work, { cmd: 'pubcomp', messageId: packetId })
  }
}
