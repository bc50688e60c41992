// A Shelly 1 (Gen1 firmware 1.14, Mongoose OS MQTT client) as it speaks MQTT once MQTT is enabled.
// Written from the Gen1 API documentation (shelly-api-docs, "MQTT": topics shellies/<id>/online,
// shellies/<id>/relay/0, shellies/<id>/relay/0/command, shellies/<id>/input/0, shellies/announce,
// shellies/command, shellies/<id>/command) and the /settings MQTT fields the device reports
// (mqtt_clean_session true, mqtt_keep_alive 60, mqtt_will_topic shellies/<id>/online,
// mqtt_will_message false, mqtt_max_qos, mqtt_retain false); client id = device id <model>-<MAC>.
// The factory mqtt_max_qos is 0; this device is set to 1, as Home Assistant's Shelly MQTT examples use,
// and the firmware then sends its messages, its will and its subscriptions at that QoS (our reading of the
// docs: the will's QoS is not stated there). "online" true and the will "false" are retained; status
// messages are not (mqtt_retain false). Mongoose OS speaks MQTT 3.1.1, one topic per SUBSCRIBE.
import type { IConnectPacket } from 'mqtt-packet'
import { WireDevice } from './wire-device'

export const ID = 'shelly1-98F4AB1C2D3E'
export const t = {
  online: `shellies/${ID}/online`,
  relay: `shellies/${ID}/relay/0`,
  command: `shellies/${ID}/relay/0/command`,
  input: `shellies/${ID}/input/0`,
  announce: 'shellies/announce',
  subscriptions: [`shellies/${ID}/relay/0/command`, 'shellies/command', `shellies/${ID}/command`],
}
export const ANNOUNCE = JSON.stringify({
  id: ID, model: 'SHSW-1', mac: '98F4AB1C2D3E', ip: '192.0.2.31', new_fw: false, fw_ver: '20230913-112003/v1.14.0-gcb84623',
})

function connectPacket (): IConnectPacket {
  return {
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: ID, keepalive: 60,
    will: { topic: t.online, payload: Buffer.from('false'), qos: 1, retain: true },
  }
}

export class Shelly {
  constructor (readonly wire: WireDevice) {}

  static async connect (port: number): Promise<Shelly> {
    return new Shelly(await WireDevice.connect(port, connectPacket()))
  }

  async boot (): Promise<void> {
    const w = this.wire
    for (const s of t.subscriptions) w.subscribe(s, 1)
    await w.publish(t.online, 'true', 1, true)
    await w.publish(t.relay, 'off', 1)
    await w.publish(t.input, '0', 1)
    await w.publish(t.announce, ANNOUNCE, 1)
  }

  /** relay/0/command "on" | "off" | "toggle" switches the relay and reports it. */
  async serveOneCommand (): Promise<void> {
    const cmd = await this.wire.command(t.command)
    await this.wire.publish(t.relay, cmd.payload === 'on' ? 'on' : 'off', 1)
  }
}
