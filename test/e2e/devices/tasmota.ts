// Tasmota (firmware 14.x, a Sonoff Basic with one relay, factory MQTT settings) as it speaks MQTT.
// Written from Tasmota's source:
//  - tasmota/my_user_config.h: MQTT_CLIENT_ID "DVES_%06X" (the chip id, the MAC's last three bytes),
//    MQTT_USER "DVES_USER", MQTT_PASS "DVES_PASS", MQTT_KEEPALIVE 30, MQTT_TOPIC "tasmota_%06X",
//    MQTT_GRPTOPIC "tasmotas", MQTT_FULLTOPIC "%prefix%/%topic%/", MQTT_LWT_ONLINE/OFFLINE "Online"/"Offline".
//  - tasmota/tasmota_xdrv_driver/xdrv_02_9_mqtt.ino: MqttReconnect() connects with will
//    tele/<topic>/LWT "Offline", will QoS 1, will retain on, clean session on (mqtt_persistent off);
//    MqttConnected() publishes tele/<topic>/LWT "Online" retained, then an empty cmnd/<topic>/POWER
//    ("satisfy iobroker"), subscribes cmnd/<topic>/#, the group topic cmnd/tasmotas/# and the fallback
//    topic cmnd/<client id>_fb/#, publishes tele/<topic>/INFO1..3, and the power state
//    (MqttPublishPowerState: stat/<topic>/RESULT {"POWER":..} and stat/<topic>/POWER, not retained).
//  - xdrv_12_discovery.ino TasDiscovery(): retained tasmota/discovery/<MAC>/config and /sensors.
//  - The PubSubClient library it links: MQTT 3.1.1, every PUBLISH at QoS 0, one topic per SUBSCRIBE at QoS 0.
// A POWER/POWER1 command answers with RESULT and POWER; tele/<topic>/STATE follows (at the TelePeriod on
// a real device; here right after, so the test need not wait 300 s).
import type { IConnectPacket } from 'mqtt-packet'
import { WireDevice } from './wire-device'

const CHIP = '1A2B3C'
const MAC = `A4CF12${CHIP}`
const CLIENT_ID = `DVES_${CHIP}`
const TOPIC = `tasmota_${CHIP}`
const HOSTNAME = `tasmota-${CHIP}-2876`

export const t = {
  lwt: `tele/${TOPIC}/LWT`,
  power: `cmnd/${TOPIC}/POWER`,
  power1: `cmnd/${TOPIC}/POWER1`,
  result: `stat/${TOPIC}/RESULT`,
  statPower: `stat/${TOPIC}/POWER`,
  state: `tele/${TOPIC}/STATE`,
  info: (n: number) => `tele/${TOPIC}/INFO${n}`,
  discovery: `tasmota/discovery/${MAC}/config`,
  sensors: `tasmota/discovery/${MAC}/sensors`,
  subscriptions: [`cmnd/${TOPIC}/#`, 'cmnd/tasmotas/#', `cmnd/${CLIENT_ID}_fb/#`],
}

export const INFO = [
  `{"Info1":{"Module":"Sonoff Basic","Version":"14.4.1(release-tasmota)","FallbackTopic":"cmnd/${CLIENT_ID}_fb/","GroupTopic":"cmnd/tasmotas/"}}`,
  `{"Info2":{"WebServerMode":"Admin","Hostname":"${HOSTNAME}","IPAddress":"192.0.2.11"}}`,
  '{"Info3":{"RestartReason":"Power On","BootCount":1}}',
]

export const DISCOVERY = JSON.stringify({
  ip: '192.0.2.11', dn: 'Tasmota', fn: ['Tasmota', null, null, null, null, null, null, null], hn: HOSTNAME, mac: MAC,
  md: 'Sonoff Basic', ty: 0, if: 0, ofln: 'Offline', onln: 'Online', state: ['OFF', 'ON', 'TOGGLE', 'HOLD'], sw: '14.4.1',
  t: TOPIC, ft: '%prefix%/%topic%/', tp: ['cmnd', 'stat', 'tele'], rl: [1, 0, 0, 0, 0, 0, 0, 0],
  swc: [-1, -1, -1, -1, -1, -1, -1, -1], swn: [null, null, null, null, null, null, null, null], btn: [0, 0, 0, 0, 0, 0, 0, 0],
  so: { 4: 0, 11: 0, 13: 0, 17: 0, 20: 0, 30: 0, 68: 0, 73: 0, 82: 0, 114: 0, 117: 0 },
  lk: 0, lt_st: 0, bat: 0, dslp: 0, sho: [], sht: [], ver: 1,
})
export const SENSORS = '{"sn":{"Time":"2025-01-01T00:00:05"},"ver":1}'
export const teleState = (power: string): string =>
  `{"Time":"2025-01-01T00:00:12","Uptime":"0T00:00:12","UptimeSec":12,"Heap":26,"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":1,"POWER":"${power}","Wifi":{"AP":1,"SSId":"home","Channel":6,"Mode":"11n","RSSI":74,"Signal":-63,"LinkCount":1,"Downtime":"0T00:00:04"}}`

/** The CONNECT Tasmota sends with factory settings (user DVES_USER, password DVES_PASS). */
export function connectPacket (): IConnectPacket {
  return {
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: CLIENT_ID, keepalive: 30,
    username: 'DVES_USER', password: Buffer.from('DVES_PASS'),
    will: { topic: t.lwt, payload: Buffer.from('Offline'), qos: 1, retain: true },
  }
}

export class Tasmota {
  constructor (readonly wire: WireDevice) {}

  static async connect (port: number): Promise<Tasmota> {
    return new Tasmota(await WireDevice.connect(port, connectPacket()))
  }

  /** MqttConnected() on the first connection after power-on, then the discovery (FUNC_MQTT_INIT). */
  async boot (): Promise<void> {
    const w = this.wire
    await w.publish(t.lwt, 'Online', 0, true)
    await w.publish(t.power, '')
    for (const s of t.subscriptions) w.subscribe(s)
    for (let i = 0; i < 3; i++) await w.publish(t.info(i + 1), INFO[i])
    await this.reportPower('OFF')
    await w.publish(t.discovery, DISCOVERY, 0, true)
    await w.publish(t.sensors, SENSORS, 0, true)
  }

  async reportPower (power: string): Promise<void> {
    await this.wire.publish(t.result, `{"POWER":"${power}"}`)
    await this.wire.publish(t.statPower, power)
  }

  /** Wait for one POWER1 command (Home Assistant's Tasmota integration sends POWER<n>), switch, report. */
  async serveOneCommand (): Promise<void> {
    const cmd = await this.wire.command(t.power1)
    const power = cmd.payload.toUpperCase() === 'ON' ? 'ON' : 'OFF'
    await this.reportPower(power)
    await this.wire.publish(t.state, teleState(power))
  }
}
