// Shared plumbing for the listener specs: a broker, listeners and clients that afterEach closes,
// raw WebSocket clients that speak MQTT bytes, and small waits.
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'
import WebSocket from 'ws'
import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt'
import { createBroker, type Broker, type BrokerOptions } from '../../src/broker'
import { MqttListener, type ListenerOptions, type WebSocketAttachment } from '../../src/listeners'
import { pollUntil } from '../helpers/wait'

export const HOST = '127.0.0.1'

export function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

export function waitFor<T> (check: () => T | undefined | false | null, what: string, ms = 10000): Promise<T> {
  return pollUntil(check, ms, what)
}

/** Everything a test opened, closed by afterEach. */
export class Scope {
  brokers: Broker[] = []
  listeners: MqttListener[] = []
  attachments: WebSocketAttachment[] = []
  clients: MqttClient[] = []
  sockets: WebSocket[] = []
  servers: Array<{ close: (cb: () => void) => void, closeAllConnections?: () => void }> = []

  broker (options: BrokerOptions = {}): Broker {
    const b = createBroker(options)
    this.brokers.push(b)
    return b
  }

  async listen (options: ListenerOptions, broker?: Broker): Promise<MqttListener> {
    const l = await MqttListener.open(options)
    this.listeners.push(l)
    if (broker !== undefined) l.serve(broker)
    return l
  }

  /** An MQTT.js client that never reconnects; resolves on CONNACK, rejects on error or close. */
  connect (url: string, options: IClientOptions = {}): Promise<MqttClient> {
    const client = mqttConnect(url, { reconnectPeriod: 0, connectTimeout: 8000, ...options })
    this.clients.push(client)
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client))
      client.once('error', reject)
      client.once('close', () => reject(new Error(`closed before CONNACK: ${url}`)))
    })
  }

  /** A raw WebSocket client; resolves once open, rejects with the HTTP status on a refused upgrade. */
  webSocket (url: string, protocols: string | string[] | undefined = 'mqtt', options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
    const ws = new WebSocket(url, protocols, options)
    this.sockets.push(ws)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws))
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${String(res.statusCode)}`), { status: res.statusCode })))
      ws.once('error', reject)
    })
  }

  async close (): Promise<void> {
    for (const ws of this.sockets.splice(0)) ws.terminate()
    await Promise.all(this.clients.splice(0).map(c => c.endAsync(true).catch(() => undefined)))
    await Promise.all(this.attachments.splice(0).map(a => a.detach()))
    await Promise.all(this.listeners.splice(0).map(l => l.close()))
    await Promise.all(this.servers.splice(0).map(s => new Promise<void>(resolve => { s.closeAllConnections?.(); s.close(() => resolve()) })))
    await Promise.all(this.brokers.splice(0).map(b => b.close()))
  }
}

/** Parses MQTT packets from the binary messages of a raw WebSocket. */
export class WsMqtt {
  readonly packets: Packet[] = []
  readonly textFrames: string[] = []
  closeCode: number | undefined
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 })

  constructor (readonly ws: WebSocket) {
    this.parser.on('packet', p => this.packets.push(p))
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.parser.parse(data as Buffer)
      else this.textFrames.push(String(data))
    })
    ws.on('close', (code) => { this.closeCode = code })
  }

  send (...packets: Packet[]): void {
    this.ws.send(Buffer.concat(packets.map(p => encode(p))), { binary: true })
  }

  next (cmd: string, what = cmd): Promise<Packet> {
    return waitFor(() => {
      const i = this.packets.findIndex(p => p.cmd === cmd)
      return i === -1 ? undefined : this.packets.splice(i, 1)[0]
    }, what)
  }
}

export function encode (p: Packet): Buffer {
  return mqttPacket.generate(p, { protocolVersion: 4 })
}

export function connectPacket (clientId: string, extra: Partial<mqttPacket.IConnectPacket> = {}): mqttPacket.IConnectPacket {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId, ...extra }
}

/** A port nobody listens on right now, by binding it once. */
export async function portIsFree (port: number, host = HOST): Promise<boolean> {
  return new Promise(resolve => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, host, () => s.close(() => resolve(true)))
  })
}

export function portOf (server: { address: () => string | AddressInfo | null }): number {
  return (server.address() as AddressInfo).port
}
