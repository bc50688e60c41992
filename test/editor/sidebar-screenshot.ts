// The README's picture of the "MQTT broker" sidebar under load (docs/images/sidebar.png); not a test.
// A Node-RED 5 with one broker node, a small household of clients (mosquitto_sub, MQTT.js), retained device
// state and a load that swings between about 100 and 700 messages/s; after 90 s of it, the whole tab, with a
// branch of the topic tree open and a topic selected.  Run: npm run build && node --import tsx test/editor/sidebar-screenshot.ts
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { chromium } from 'playwright-core'
import { adminRequest, freePort, removeDir, root, RUNTIMES, startNodeRed, waitFor } from '../e2e/support'
import { CHROMIUM_FLAGS, linkedUserDir } from './support'

const SECONDS = Number(process.env.SECONDS_OF_LOAD ?? 90)
const TAB = 'shot000000000001'
const BROKER = 'shot000000000002'
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function main (): Promise<void> {
  const rt = RUNTIMES.find((r) => r.name.includes('5')) ?? RUNTIMES[0]
  const userDir = linkedUserDir()
  const red = await startNodeRed(rt, userDir)
  const procs: ChildProcess[] = []
  const clients: MqttClient[] = []
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS })
  let load: NodeJS.Timeout | undefined
  try {
    const port = await freePort()
    const flows = [{ id: TAB, type: 'tab', label: 'home' }, {
      id: BROKER, type: 'hearth-broker', z: TAB, name: 'home', x: 150, y: 60, wires: [[]],
      listeners: [{ kind: 'mqtt', port: String(port), host: '127.0.0.1' }], port: String(port), host: '127.0.0.1', tls: '',
      mqtt31: true, mqtt311: true, mqtt5: true, allowAnonymous: true, usernames: [], aclEnabled: false, acl: [], maximumQoS: '2', retainAvailable: true, persistence: false,
    }]
    const res = await adminRequest(red, 'POST', '/flows', flows, { 'Node-RED-Deployment-Type': 'full' })
    if (res.status !== 204 && res.status !== 200) throw new Error(`deploy: ${res.status} ${res.text}`)
    await waitFor(() => red.log.some((l) => l.includes('Started flows')), 20000, 'flows')

    const connect = async (clientId: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, reconnectPeriod: 0, ...opts })
      clients.push(c)
      await new Promise((resolve) => c.once('connect', resolve))
      return c
    }
    // devices with their retained state, as in the README's "Tested devices"
    const plug = await connect('DVES_4E2A1C', { protocolVersion: 4, username: 'DVES_USER', password: 'DVES_PASS', will: { topic: 'tele/plug-desk/LWT', payload: Buffer.from('Offline'), qos: 1, retain: true } })
    await plug.publishAsync('tele/plug-desk/LWT', 'Online', { qos: 1, retain: true })
    await plug.publishAsync('stat/plug-desk/POWER', 'ON', { qos: 1, retain: true })
    const shelly = await connect('shellyplug-s-4022D8', { protocolVersion: 4, will: { topic: 'shellies/shellyplug-s-4022D8/online', payload: Buffer.from('false'), qos: 1, retain: true } })
    await shelly.publishAsync('shellies/shellyplug-s-4022D8/online', 'true', { qos: 1, retain: true })
    const z2m = await connect('zigbee2mqtt_8c1f', { protocolVersion: 5 })
    await z2m.publishAsync('zigbee2mqtt/bridge/state', '{"state":"online"}', { qos: 1, retain: true })
    for (const room of ['kitchen', 'hall', 'bedroom', 'garage']) {
      await z2m.publishAsync(`homeassistant/sensor/${room}_temperature/config`, JSON.stringify({ name: `${room} temperature`, state_topic: `zigbee2mqtt/${room}_sensor`, unit_of_measurement: '°C' }), { qos: 1, retain: true })
    }
    const ha = await connect('homeassistant-7Hq2', { protocolVersion: 5 })
    await ha.subscribeAsync(['homeassistant/+/+/config', 'zigbee2mqtt/#', 'tele/+/LWT'], { qos: 1 })
    procs.push(spawn('/usr/bin/mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-i', 'dashboard', '-V', 'mqttv5', '-t', 'zigbee2mqtt/+', '-q', '0'], { stdio: 'ignore' }))

    const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } })
    await page.goto(red.url('/'))
    await page.waitForFunction((tab) => (globalThis as any).RED?.nodes?.workspace?.(tab) != null, TAB, { timeout: 30000 })
    for (let i = 0; !(await page.locator('.hearth-sidebar').isVisible()); i++) {
      await page.evaluate(() => { (globalThis as any).RED.sidebar.show('hearth-broker') })
      await sleep(500)
      if (i === 40) throw new Error('the sidebar tab does not show')
    }

    // sensors report at a rate that swings with a 40 s period
    const rooms = ['kitchen', 'hall', 'bedroom', 'garage']
    const t0 = Date.now()
    let n = 0
    load = setInterval(() => {
      const rate = 400 + 300 * Math.sin((Date.now() - t0) / 40000 * 2 * Math.PI)
      for (let i = 0; i < rate / 20; i++) {
        const room = rooms[n++ % rooms.length]
        void z2m.publishAsync(`zigbee2mqtt/${room}_sensor`, JSON.stringify({ temperature: 19 + (n % 40) / 10, humidity: 40 + (n % 20), linkquality: 120 }), { qos: n % 2 === 0 ? 1 : 0 })
      }
    }, 50)
    await sleep(SECONDS * 1000)

    // open zigbee2mqtt/ and select a sensor
    await page.click('.hearth-topic[data-topic="zigbee2mqtt"]')
    await page.click('.hearth-topic[data-topic="zigbee2mqtt/kitchen_sensor"]')
    await sleep(1500)
    // The tab shares the sidebar with others and scrolls: picture a copy of its whole content at the tab's width
    await page.evaluate(() => {
      const doc = (globalThis as any).document
      const live = doc.querySelector('.hearth-sidebar')
      const copy = live.cloneNode(true)
      const frame = doc.createElement('div')
      frame.id = 'hearth-shot'
      frame.style.cssText = 'position:absolute;left:0;top:0;width:640px;background:#fff;z-index:100000;padding:8px;border:1px solid #ccc'
      copy.style.cssText = 'height:auto;max-height:none;overflow:visible'
      frame.appendChild(copy)
      doc.body.appendChild(frame)
    })
    const out = path.join(root, 'docs/images/sidebar.png')
    await page.locator('#hearth-shot').screenshot({ path: out })
    console.log(`wrote ${out}`)
  } finally {
    clearInterval(load)
    await Promise.all(clients.map((c) => c.endAsync(true)))
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM')
    await browser.close()
    await red.stop()
    removeDir(userDir)
  }
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })
