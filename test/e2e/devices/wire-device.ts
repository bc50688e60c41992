// A device's MQTT connection at the packet level: the device profiles build their CONNECT, SUBSCRIBE
// and PUBLISH packets themselves (as the firmware's MQTT library does) and send them over a real TCP
// socket with test/helpers/test-client.ts. Incoming QoS 1/2 messages are acknowledged as a device's
// library does; PINGREQ goes out on the keepalive as the firmware's library sends it.
import net from 'node:net'
import type { IConnackPacket, IConnectPacket, IPublishPacket, QoS } from 'mqtt-packet'
import { TestClient, type Version } from '../../helpers/test-client'

/** One PUBLISH as an observer saw it: the facts the assertions compare. */
export interface Seen { topic: string, payload: string, qos: number, retain: boolean }

const seen = (p: IPublishPacket): Seen =>
  ({ topic: p.topic, payload: Buffer.from(p.payload).toString('utf8'), qos: p.qos, retain: p.retain })

export class WireDevice {
  private pinger?: NodeJS.Timeout

  private constructor (readonly client: TestClient, readonly connack: IConnackPacket) {}

  /** Open a TCP connection to 127.0.0.1:`port`, send `connect`, and wait for the CONNACK. */
  static async connect (port: number, connect: IConnectPacket, timeoutMs = 10000): Promise<WireDevice> {
    const socket = net.connect({ host: '127.0.0.1', port })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve())
      socket.once('error', reject)
    })
    const client = new TestClient(socket, (connect.protocolVersion ?? 4) as Version)
    client.autoAck = true
    client.send(connect)
    const connack = await client.next('connack', timeoutMs)
    const device = new WireDevice(client, connack)
    const keepalive = connect.keepalive ?? 0
    if (keepalive > 0) {
      // The libraries ping well inside the keepalive (AsyncMqttClient and PubSubClient at about half of it).
      device.pinger = setInterval(() => client.send({ cmd: 'pingreq' }), keepalive * 500)
      device.pinger.unref()
    }
    return device
  }

  /** PUBLISH as the device's library does; QoS 1/2 complete their flow in the background. */
  publish (topic: string, payload: string, qos: QoS = 0, retain = false): Promise<unknown> {
    return this.client.publish(topic, payload, { qos, retain })
  }

  /** One SUBSCRIBE packet per topic, as embedded libraries send them; the SUBACK is not awaited. */
  subscribe (topic: string, qos: QoS = 0): void {
    this.client.send({ cmd: 'subscribe', messageId: this.client.packetId(), subscriptions: [{ topic, qos }] })
  }

  /** The next message on `topic` (the device's command handler). */
  async command (topic: string, timeoutMs = 15000): Promise<Seen> {
    return seen(await this.client.waitFor('publish', (p) => p.topic === topic, timeoutMs))
  }

  /** Every message the broker delivered to the device, in order. */
  received (): Seen[] {
    return this.client.received.filter((p): p is IPublishPacket => p.cmd === 'publish').map(seen)
  }

  /** Granted QoS of every SUBACK, in order. */
  granted (): number[][] {
    return this.client.received.flatMap((p) => (p.cmd === 'suback' ? [p.granted as number[]] : []))
  }

  /** Lose the connection the way a device that loses power or Wi-Fi does: no DISCONNECT, the socket is gone. */
  async dropAbruptly (): Promise<void> {
    clearInterval(this.pinger)
    this.client.destroy()
    await this.client.closed
  }

  /** Cleanup for after() hooks. */
  close (): void {
    clearInterval(this.pinger)
    if (!this.client.isClosed) this.client.destroy()
  }
}
