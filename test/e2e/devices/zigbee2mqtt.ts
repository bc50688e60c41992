// Zigbee2MQTT 2.x's MQTT client, with one paired bulb (friendly name kitchen_light) and the Home Assistant
// integration on, `mqtt: {version: 5}` in configuration.yaml. Written from Zigbee2MQTT's source:
//  - lib/mqtt.ts connect(): MQTT.js (the `mqtt` package, as Zigbee2MQTT uses it) with will
//    zigbee2mqtt/bridge/state {"state":"offline"} retained QoS 1, properties.maximumPacketSize
//    (maximum_packet_size, default 1048576), protocolVersion from mqtt.version; onConnect() publishes
//    zigbee2mqtt/bridge/state {"state":"online"} retained QoS 1, then subscribes zigbee2mqtt/#.
//  - lib/extension/homeassistant.ts start(): subscribes homeassistant/status, subscribes homeassistant/#
//    to collect retained discovery, unsubscribes it after discoverWait (5 s; 0.3 s here, to keep the test
//    short) and publishes discovery (retained, QoS 1) on homeassistant/light/<ieee>/light/config
//    (schema json, command_topic zigbee2mqtt/<name>/set, availability zigbee2mqtt/bridge/state with
//    value_template {{ value_json.state }}). The bridge's own entities are left out here.
//  - lib/extension/bridge.ts: zigbee2mqtt/bridge/info retained. The cached device state goes out at
//    startup (cache_state_send_on_startup) on zigbee2mqtt/<name>, not retained by default, so before the
//    delayed discovery; a /set {"state":"ON"} is answered with the new state.
// An abrupt loss (power cut, container killed) is end(true): the socket is destroyed with no DISCONNECT.
import mqtt, { type MqttClient } from 'mqtt'

const BASE = 'zigbee2mqtt'
const NAME = 'kitchen_light'
const IEEE = '0x00158d0001a2b3c4'
export const t = {
  bridgeState: `${BASE}/bridge/state`,
  bridgeInfo: `${BASE}/bridge/info`,
  device: `${BASE}/${NAME}`,
  set: `${BASE}/${NAME}/set`,
  discovery: `homeassistant/light/${IEEE}/light/config`,
}
export const OFFLINE = '{"state":"offline"}'
export const ONLINE = '{"state":"online"}'
export const BRIDGE_INFO = '{"version":"2.1.3","commit":"4f4d5b2","coordinator":{"ieee_address":"0x00124b0024c2b6f2","type":"zStack3x0"},"log_level":"info","permit_join":false,"restart_required":false}'
export const DISCOVERY = JSON.stringify({
  availability: [{ topic: t.bridgeState, value_template: '{{ value_json.state }}' }],
  brightness: true, brightness_scale: 254, command_topic: t.set,
  device: { identifiers: [`zigbee2mqtt_${IEEE}`], manufacturer: 'IKEA', model: 'TRADFRI bulb E27 WW 806 lm', name: NAME, via_device: 'zigbee2mqtt_bridge_0x00124b0024c2b6f2' },
  name: null, object_id: NAME, origin: { name: 'Zigbee2MQTT', sw: '2.1.3', url: 'https://www.zigbee2mqtt.io' },
  schema: 'json', state_topic: t.device, supported_color_modes: ['brightness'], unique_id: `${IEEE}_light_zigbee2mqtt`,
})
export const state = (s: string): string => `{"brightness":254,"state":"${s}"}`

/** What MQTT.js handed to Zigbee2MQTT's onMessage. */
export interface Got { topic: string, payload: string, qos: number, retain: boolean }

export class Zigbee2MQTT {
  readonly got: Got[] = []
  private constructor (readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => this.got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }))
  }

  static async connect (port: number): Promise<Zigbee2MQTT> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      will: { topic: t.bridgeState, payload: Buffer.from(OFFLINE), retain: true, qos: 1 },
      properties: { maximumPacketSize: 1048576 },
      protocolVersion: 5,
    })
    return new Zigbee2MQTT(client)
  }

  async boot (discoverWaitMs = 300): Promise<void> {
    const c = this.client
    await c.publishAsync(t.bridgeState, ONLINE, { retain: true, qos: 1 })
    await c.subscribeAsync(`${BASE}/#`)
    await c.publishAsync(t.bridgeInfo, BRIDGE_INFO, { retain: true, qos: 0 })
    await c.publishAsync(t.device, state('OFF'), { qos: 0 })
    await c.subscribeAsync('homeassistant/status')
    await c.subscribeAsync('homeassistant/#')
    await new Promise((resolve) => setTimeout(resolve, discoverWaitMs))
    await c.unsubscribeAsync('homeassistant/#')
    await c.publishAsync(t.discovery, DISCOVERY, { retain: true, qos: 1 })
  }

  /** A /set {"state":"ON"|"OFF"} from Home Assistant switches the bulb; the new state is published. */
  async serveOneCommand (timeoutMs = 15000): Promise<void> {
    const cmd = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${t.set} within ${timeoutMs} ms`)), timeoutMs)
      const on = (topic: string, payload: Buffer): void => {
        if (topic !== t.set) return
        clearTimeout(timer)
        this.client.off('message', on)
        resolve(payload.toString())
      }
      this.client.on('message', on)
    })
    const wanted = (JSON.parse(cmd) as { state?: string }).state === 'ON' ? 'ON' : 'OFF'
    await this.client.publishAsync(t.device, state(wanted), { qos: 0 })
  }

  /** Power cut: the socket is destroyed, no DISCONNECT, no reconnection. */
  async dropAbruptly (): Promise<void> {
    await this.client.endAsync(true)
  }
}
