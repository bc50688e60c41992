// Device profiles against a hearth-broker node left at its defaults (only the port changed) in a real
// Node-RED (4.1 on Node 20, 5 on Node 22), installed from the npm pack tarball. Each device speaks MQTT
// as its firmware does (see the comment at the top of each profile in test/e2e/devices/ and
// test/e2e/py/ha_profile.py): Tasmota with its factory DVES_USER/DVES_PASS (issue 14), ESPHome, a Gen1
// Shelly, Zigbee2MQTT's MQTT.js client on MQTT 5, and Home Assistant's paho client on MQTT 5. Every device
// boots, publishes its retained state and discovery, gets a command (from Home Assistant's automation, or
// for the Shelly from a Node-RED flow), answers it, then loses its connection without DISCONNECT; the
// assertions compare every message each observer saw, in order, with topic, payload, QoS and retain.
import assert from 'node:assert/strict'
import net from 'node:net'
import path from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { Children, exitOf, requirePaho, requireTool, type Child } from '../interop/helpers'
import { accountFlow, devicesFlow } from './devices/flow'
import * as E from './devices/esphome'
import * as S from './devices/shelly'
import * as T from './devices/tasmota'
import { WireDevice, type Seen } from './devices/wire-device'
import * as Z from './devices/zigbee2mqtt'
import { deploy, freePort, makeUserDir, packTarball, problems, removeDir, RUNTIMES, startNodeRed, tempDir, waitFor, type NodeRed } from './support'

const HA_SCRIPT = path.join(__dirname, 'py', 'ha_profile.py')
const m = (topic: string, payload: string, qos = 0, retain = false): Seen => ({ topic, payload, qos, retain })

async function listening (port: number): Promise<void> {
  const deadline = Date.now() + 10000
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`the broker node is not listening on port ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Poll until `check` holds. */
const until = async (check: () => boolean, ms: number, what: string): Promise<void> => { await waitFor(check, ms, what) }

interface HaEvent { ev: string, topic?: string, payload?: string, qos?: number, retain?: boolean, topics?: Array<[string, number]>, granted?: number[], rc?: number }
const haEvents = (c: Child): HaEvent[] => c.out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as HaEvent)
const haMessages = (c: Child): Seen[] => haEvents(c).filter((e) => e.ev === 'message')
  .map((e) => m(e.topic as string, e.payload as string, e.qos, e.retain))

describe('device profiles: Tasmota, ESPHome, Shelly, Zigbee2MQTT and Home Assistant on a default broker node in a real Node-RED', function () {
  this.timeout(120000)
  let packDir: string
  let tarball: string

  before(async function () {
    requirePaho()
    requireTool('mosquitto_sub')
    packDir = tempDir('hearth-pack-')
    tarball = await packTarball(packDir)
  })
  after(function () { removeDir(packDir) })

  for (const rt of RUNTIMES) {
    describe(rt.name, function () {
      let userDir: string | undefined
      let red: NodeRed | undefined
      const children = new Children()
      let wires: WireDevice[] = []
      let clients: MqttClient[] = []

      before(async function () {
        userDir = await makeUserDir(tarball)
        red = await startNodeRed(rt, userDir)
      })
      afterEach(async function () {
        for (const w of wires) w.close()
        wires = []
        await Promise.all(clients.map((c) => c.endAsync(true)))
        clients = []
        await children.killAll()
      })
      after(async function () {
        await red?.stop()
        removeDir(userDir)
      })

      it('every device connects, publishes its retained state, obeys a command and leaves a will that everyone sees, late subscribers too: 3.1.1 [MQTT-3.1.2-8][MQTT-3.1.2-17][MQTT-3.3.1-6][MQTT-3.3.1-8], 5.0 [MQTT-3.1.2-8][MQTT-3.1.2-15][MQTT-3.3.1-9][MQTT-3.3.1-12][MQTT-3.3.1-13]', async function () {
        const port = await freePort()
        const from = red!.log.length
        await deploy(red!, devicesFlow(port))
        await listening(port)

        // Everything that crosses the broker, as published (MQTT 5, Retain As Published, QoS 2).
        const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'watcher', reconnectPeriod: 0 })
        clients.push(watcher)
        const all: Seen[] = []
        watcher.on('message', (topic, payload, p) => all.push(m(topic, payload.toString(), p.qos, p.retain)))
        await watcher.subscribeAsync('#', { qos: 2, rap: true })
        const saw = (x: Seen): boolean => all.some((a) => a.topic === x.topic && a.payload === x.payload)

        const ha = children.spawn('/usr/bin/python3', [HA_SCRIPT, '--port', String(port), '--shelly', S.ID],
          { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: '' } })
        await until(() => saw(m('homeassistant/status', 'online')), 10000, 'the Home Assistant birth message')

        // Tasmota, factory settings: user DVES_USER / DVES_PASS on a node with no account (issue 14).
        const tasmota = await T.Tasmota.connect(port)
        wires.push(tasmota.wire)
        assert.deepEqual([tasmota.wire.connack.returnCode, tasmota.wire.connack.sessionPresent], [0, false])
        const tasmotaServed = tasmota.serveOneCommand()
        await tasmota.boot()
        await tasmotaServed
        await until(() => saw(m(T.t.state, T.teleState('ON'))), 10000, 'Tasmota tele STATE after the command')

        const esphome = await E.ESPHome.connect(port)
        wires.push(esphome.wire)
        assert.deepEqual([esphome.wire.connack.returnCode, esphome.wire.connack.sessionPresent], [0, false])
        const esphomeServed = esphome.serveOneCommand()
        await esphome.boot()
        await esphomeServed
        await until(() => all.filter((a) => a.topic === E.t.state).length === 2, 10000, 'the ESPHome state after the command')

        // The Shelly's command comes from the Node-RED flow (shellies/announce -> relay/0/command "on").
        const shelly = await S.Shelly.connect(port)
        wires.push(shelly.wire)
        assert.deepEqual([shelly.wire.connack.returnCode, shelly.wire.connack.sessionPresent], [0, false])
        const shellyServed = shelly.serveOneCommand()
        await shelly.boot()
        await shellyServed
        await until(() => saw(m(S.t.relay, 'on')), 10000, 'the Shelly relay state after the command')

        const z2m = await Z.Zigbee2MQTT.connect(port)
        clients.push(z2m.client)
        const z2mServed = z2m.serveOneCommand()
        await z2m.boot()
        await z2mServed
        await until(() => saw(m(Z.t.device, Z.state('ON'))), 10000, 'the bulb state after the command')

        // Power cuts, one device after the other: no DISCONNECT, so the broker publishes each will.
        await tasmota.wire.dropAbruptly()
        await until(() => saw(m(T.t.lwt, 'Offline')), 10000, 'the Tasmota will')
        await esphome.wire.dropAbruptly()
        await until(() => saw(m(E.t.status, 'offline')), 10000, 'the ESPHome will')
        await shelly.wire.dropAbruptly()
        await until(() => saw(m(S.t.online, 'false')), 10000, 'the Shelly will')
        await z2m.dropAbruptly()
        await until(() => saw(m(Z.t.bridgeState, Z.OFFLINE)), 10000, 'the Zigbee2MQTT will')
        await until(() => haMessages(ha).some((x) => x.topic === Z.t.bridgeState && x.payload === Z.OFFLINE), 10000, 'Home Assistant to see the last will')
        ha.proc.stdin?.write('quit\n')
        assert.equal((await exitOf(ha, 10000)).code, 0, ha.describe())
        await until(() => saw(m('homeassistant/status', 'offline')), 10000, 'the Home Assistant will')

        // A late subscriber (mosquitto_sub, MQTT 3.1.1, QoS 2) gets every retained message, wills included.
        // --retained-only makes it exit at the first live message: the watcher sends one until it has. The live message
        // goes at QoS 2 too: mosquitto_sub hands a QoS 2 message to its output only at PUBREL, so a QoS 0 one could
        // overtake the last retained message's handshake and end the run before it is printed; PUBRELs come in order.
        const seenByWatcher = all.slice()
        const late = children.spawn(requireTool('mosquitto_sub'), ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311',
          '-i', 'late-subscriber', '-t', '#', '-q', '2', '--retained-only', '-F', '%r %q %t %p', '-W', '20'])
        while (!late.exited) {
          await watcher.publishAsync('late/sentinel', 'live', { qos: 2 })
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        assert.equal((await late.exit).code, 0, late.describe())
        const retained = late.out.split('\n').filter((l) => l !== '').map((l) => {
          const [r, q, topic, ...rest] = l.split(' ')
          return m(topic, rest.join(' '), Number(q), r === '1')
        }).sort((a, b) => (a.topic < b.topic ? -1 : 1))

        assert.deepEqual(seenByWatcher, [
          m('homeassistant/status', 'online'),
          // Tasmota boots: LWT Online, the empty POWER, INFO1-3, power state, discovery
          m(T.t.lwt, 'Online', 0, true), m(T.t.power, ''),
          m(T.t.info(1), T.INFO[0]), m(T.t.info(2), T.INFO[1]), m(T.t.info(3), T.INFO[2]),
          m(T.t.result, '{"POWER":"OFF"}'), m(T.t.statPower, 'OFF'),
          m(T.t.discovery, T.DISCOVERY, 0, true), m(T.t.sensors, T.SENSORS, 0, true),
          // Home Assistant turns it on; Tasmota reports
          m(T.t.power1, 'ON'), m(T.t.result, '{"POWER":"ON"}'), m(T.t.statPower, 'ON'), m(T.t.state, T.teleState('ON')),
          // ESPHome: device info at QoS 2, birth, discovery, state; the command; the new state
          m(E.t.deviceInfo, E.DEVICE_INFO, 2, true), m(E.t.status, 'online', 0, true),
          m(E.t.discovery, E.DISCOVERY, 0, true), m(E.t.state, 'OFF', 0, true),
          m(E.t.command, 'ON'), m(E.t.state, 'ON', 0, true),
          // Shelly at QoS 1; the Node-RED flow answers its announce
          m(S.t.online, 'true', 1, true), m(S.t.relay, 'off', 1), m(S.t.input, '0', 1), m(S.t.announce, S.ANNOUNCE, 1),
          m(S.t.command, 'on', 1), m(S.t.relay, 'on', 1),
          // Zigbee2MQTT on MQTT 5
          m(Z.t.bridgeState, Z.ONLINE, 1, true), m(Z.t.bridgeInfo, Z.BRIDGE_INFO, 0, true),
          m(Z.t.device, Z.state('OFF')), m(Z.t.discovery, Z.DISCOVERY, 1, true),
          m(Z.t.set, '{"state":"ON"}'), m(Z.t.device, Z.state('ON')),
          // the wills, with the QoS and retain flag each device asked for
          m(T.t.lwt, 'Offline', 1, true), m(E.t.status, 'offline', 0, true), m(S.t.online, 'false', 1, true),
          m(Z.t.bridgeState, Z.OFFLINE, 1, true), m('homeassistant/status', 'offline'),
        ])

        // Home Assistant: ONE SUBSCRIBE at connect, one per discovered device; what it received, in order
        // (live messages without the retain flag, as its subscriptions do not ask for Retain As Published).
        const events = haEvents(ha)
        assert.deepEqual(events.filter((e) => e.ev === 'connack').map((e) => e.rc), [0])
        assert.deepEqual(events.filter((e) => e.ev === 'subscribe').map((e) => e.topics), [
          [['homeassistant/+/+/+/config', 0], ['homeassistant/+/+/config', 0], [S.t.online, 1], [S.t.relay, 1], ['tasmota/discovery/#', 0]],
          [[T.t.result, 0], [T.t.state, 0], [T.t.lwt, 0]],
          [[E.t.state, 0], [E.t.status, 0]],
          [[Z.t.device, 0], [Z.t.bridgeState, 0]],
        ])
        assert.deepEqual(events.filter((e) => e.ev === 'suback').map((e) => e.granted), [[0, 0, 1, 1, 0], [0, 0, 0], [0, 0], [0, 0]])
        assert.deepEqual(events.filter((e) => e.ev === 'publish').map((e) => m(e.topic as string, e.payload as string, e.qos, e.retain)), [
          m('homeassistant/status', 'online'), m(T.t.power1, 'ON'), m(E.t.command, 'ON'), m(Z.t.set, '{"state":"ON"}'),
        ])
        assert.deepEqual(haMessages(ha), [
          m(T.t.discovery, T.DISCOVERY), m(T.t.sensors, T.SENSORS), m(T.t.lwt, 'Online', 0, true),
          m(T.t.result, '{"POWER":"ON"}'), m(T.t.state, T.teleState('ON')),
          m(E.t.discovery, E.DISCOVERY), m(E.t.state, 'OFF', 0, true), m(E.t.status, 'online', 0, true), m(E.t.state, 'ON'),
          m(S.t.online, 'true', 1), m(S.t.relay, 'off', 1), m(S.t.relay, 'on', 1),
          m(Z.t.discovery, Z.DISCOVERY), m(Z.t.bridgeState, Z.ONLINE, 0, true), m(Z.t.device, Z.state('ON')),
          m(T.t.lwt, 'Offline'), m(E.t.status, 'offline'), m(S.t.online, 'false', 1), m(Z.t.bridgeState, Z.OFFLINE),
        ])

        // What each device was sent, and what its subscriptions were granted.
        assert.deepEqual(tasmota.wire.received(), [m(T.t.power1, 'ON')])
        assert.deepEqual(tasmota.wire.granted(), [[0], [0], [0]])
        assert.deepEqual(esphome.wire.received(), [m(E.t.command, 'ON')])
        assert.deepEqual(esphome.wire.granted(), [[2], [2], [0]])
        assert.deepEqual(shelly.wire.received(), [m(S.t.command, 'on', 1)])
        assert.deepEqual(shelly.wire.granted(), [[1], [1], [1]])
        assert.deepEqual(z2m.got, [
          m(Z.t.bridgeState, Z.ONLINE, 0, true), m(Z.t.bridgeInfo, Z.BRIDGE_INFO), m(Z.t.device, Z.state('OFF')),
          m(E.t.discovery, E.DISCOVERY, 0, true), m(Z.t.set, '{"state":"ON"}'), m(Z.t.device, Z.state('ON')),
        ])

        assert.deepEqual(retained, [
          m(E.t.deviceInfo, E.DEVICE_INFO, 2, true),
          m(Z.t.discovery, Z.DISCOVERY, 1, true),
          m(E.t.discovery, E.DISCOVERY, 0, true),
          m(E.t.status, 'offline', 0, true),
          m(E.t.state, 'ON', 0, true),
          m(S.t.online, 'false', 1, true),
          m(T.t.discovery, T.DISCOVERY, 0, true),
          m(T.t.sensors, T.SENSORS, 0, true),
          m(T.t.lwt, 'Offline', 1, true),
          m(Z.t.bridgeInfo, Z.BRIDGE_INFO, 0, true),
          m(Z.t.bridgeState, Z.OFFLINE, 1, true),
        ])
        assert.deepEqual(problems(red!, from), [])
      })

      it('with an account on the node, a wrong user name or password is refused (3.1.1 CONNACK 4, MQTT 5 0x86) and the right one accepted', async function () {
        const port = await freePort()
        const from = red!.log.length
        await deploy(red!, accountFlow(port, 'hearth', 'S3cret-pass'))
        await listening(port)
        const attempt = async (protocolVersion: 4 | 5, username?: string, password?: string): Promise<number | undefined> => {
          const w = await WireDevice.connect(port, {
            cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, clientId: `acct-${wires.length}`, keepalive: 0,
            ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password: Buffer.from(password) } : {}),
          })
          wires.push(w)
          return protocolVersion === 5 ? w.connack.reasonCode : w.connack.returnCode
        }
        // Tasmota's factory credentials no longer pass once the node has an account.
        const factory = await WireDevice.connect(port, T.connectPacket())
        wires.push(factory)
        assert.equal(factory.connack.returnCode, 4)
        await factory.client.expectClosed(5000)
        assert.deepEqual([
          await attempt(4, 'DVES_USER', 'S3cret-pass'), await attempt(4, 'hearth', 'DVES_PASS'), await attempt(4, 'hearth'),
          await attempt(5, 'DVES_USER', 'S3cret-pass'), await attempt(5, 'hearth', 'DVES_PASS'), await attempt(5, 'hearth'),
          await attempt(4, 'hearth', 'S3cret-pass'), await attempt(5, 'hearth', 'S3cret-pass'),
        ], [4, 4, 4, 0x86, 0x86, 0x86, 0, 0])
        assert.deepEqual(problems(red!, from), [])
      })
    })
  }
})
