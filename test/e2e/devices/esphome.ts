// ESPHome (2025.x, an ESP8266 node "livingroom-lamp" with one GPIO switch "Relay", `mqtt:` with only
// `broker:` set) as it speaks MQTT. Written from ESPHome's documentation (components/mqtt: clean_session
// default false, keepalive default 15s, birth/will/shutdown on <topic_prefix>/status, discovery_retain
// default true, discovery_prefix homeassistant) and source:
//  - esphome/components/mqtt/__init__.py validate_config(): birth {<prefix>/status, "online", QoS 0,
//    retain true}, will {<prefix>/status, "offline", QoS 0, retain true}; topic_prefix = the node name.
//  - esphome/components/mqtt/mqtt_client.cpp: client id "<name>-<mac>", no user name when none is set;
//    with discover_ip (default true) it subscribes esphome/discover and esphome/ping/<name> at QoS 2 and
//    publishes esphome/discover/<name> (QoS 2, retained); check_connected() resubscribes, sends the
//    device info, then the components resend discovery and state; loop() sends the birth message.
//  - esphome/components/mqtt/mqtt_component.cpp and mqtt_switch.cpp: discovery on
//    homeassistant/switch/<node>/<object id>/config (abbreviated keys, retained, QoS 0), state on
//    <prefix>/switch/<object id>/state (retained), commands on <prefix>/switch/<object id>/command (QoS 0).
//  - The AsyncMqttClient library (ESP8266): MQTT 3.1.1, one topic per SUBSCRIBE.
import type { IConnectPacket } from 'mqtt-packet'
import { WireDevice } from './wire-device'

const NODE = 'livingroom-lamp'
const MAC = 'a4cf12d4e5f6'
const CLIENT_ID = `${NODE}-${MAC}`

export const t = {
  status: `${NODE}/status`,
  state: `${NODE}/switch/relay/state`,
  command: `${NODE}/switch/relay/command`,
  discovery: `homeassistant/switch/${NODE}/relay/config`,
  deviceInfo: `esphome/discover/${NODE}`,
}

export const DISCOVERY = JSON.stringify({
  name: 'Relay', stat_t: t.state, cmd_t: t.command, avty_t: t.status, uniq_id: 'ESPswitchrelay',
  dev: { ids: MAC, name: NODE, sw: '2025.4.0 (ESPHome 2025.4.0)', mdl: 'd1_mini', mf: 'espressif', cns: [['mac', MAC]] },
  o: { name: 'ESPHome', sw: '2025.4.0', url: 'https://esphome.io' },
})
export const DEVICE_INFO = JSON.stringify({
  ip: '192.0.2.21', name: NODE, version: '2025.4.0', mac: MAC, platform: 'ESP8266', board: 'd1_mini', network: 'wifi',
})

function connectPacket (): IConnectPacket {
  return {
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: CLIENT_ID, keepalive: 15,
    will: { topic: t.status, payload: Buffer.from('offline'), qos: 0, retain: true },
  }
}

export class ESPHome {
  constructor (readonly wire: WireDevice) {}

  static async connect (port: number): Promise<ESPHome> {
    return new ESPHome(await WireDevice.connect(port, connectPacket()))
  }

  async boot (): Promise<void> {
    const w = this.wire
    w.subscribe('esphome/discover', 2)
    w.subscribe(`esphome/ping/${NODE}`, 2)
    w.subscribe(t.command, 0)
    await w.publish(t.deviceInfo, DEVICE_INFO, 2, true)
    await w.publish(t.status, 'online', 0, true)
    await w.publish(t.discovery, DISCOVERY, 0, true)
    await w.publish(t.state, 'OFF', 0, true)
  }

  /** A command on the switch's command topic turns the relay and publishes the new (retained) state. */
  async serveOneCommand (): Promise<void> {
    const cmd = await this.wire.command(t.command)
    await this.wire.publish(t.state, cmd.payload.toUpperCase() === 'ON' ? 'ON' : 'OFF', 0, true)
  }
}
