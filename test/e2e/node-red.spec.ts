// End to end: the npm pack tarball installed into a fresh userDir with npm install, a real Node-RED
// process (4.1 on Node 20, 5 on Node 22), flows deployed with POST /flows, MQTT traffic both ways
// with mosquitto_pub/sub and MQTT.js, and a full redeploy while traffic flows.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import { echoFlow, portClashFlow } from './flows'
import { deploy, freePort, makeUserDir, packTarball, problems, removeDir, root, rssMiB, RUNTIMES, startNodeRed, tempDir, waitFor, type NodeRed } from './support'

const run = promisify(execFile)

async function connect (port: number, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 100, connectTimeout: 5000, ...options })
  await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject) })
  return c
}

describe('end to end: npm pack tarball in a real Node-RED', function () {
  this.timeout(120000)
  let packDir: string
  let tarball: string

  before(async function () {
    packDir = tempDir('hearth-pack-')
    tarball = await packTarball(packDir)
  })
  after(function () { removeDir(packDir) })

  for (const rt of RUNTIMES) {
    describe(rt.name, function () {
      let userDir: string | undefined
      let red: NodeRed | undefined
      let clients: MqttClient[] = []

      before(async function () {
        userDir = await makeUserDir(tarball)
        red = await startNodeRed(rt, userDir)
      })
      afterEach(async function () {
        await Promise.all(clients.map((c) => c.endAsync(true)))
        clients = []
      })
      after(async function () {
        await red?.stop()
        removeDir(userDir)
      })

      it('installs with npm and loads all four node types with no error', async function () {
        const res = await fetch(red!.url('/nodes'), { headers: { accept: 'application/json' } })
        const sets = await res.json() as Array<{ module: string, types: string[], enabled: boolean, err?: string }>
        const ours = sets.filter((s) => s.module === '@hearth/node-red-mqtt')
        assert.deepEqual(ours.flatMap((s) => s.types).sort(), ['hearth-broker', 'hearth-connection', 'hearth-publish', 'hearth-subscribe'])
        assert.deepEqual(ours.filter((s) => s.err), [])
        const html = await (await fetch(red!.url('/nodes'), { headers: { accept: 'text/html' } })).text()
        assert.match(html, /data-template-name="hearth-subscribe"/)
        assert.match(html, /data-help-name="hearth-publish"/)
        const icon = await fetch(red!.url('/icons/@hearth/node-red-mqtt/hearth-broker.svg'))
        assert.equal(icon.status, 200)
      })

      it('traffic both ways: mosquitto_pub in, MQTT.js and mosquitto_sub out', async function () {
        const port = await freePort()
        const from = red!.log.length
        await deploy(red!, echoFlow(port))
        const sub = await connect(port, { protocolVersion: 5 })
        clients.push(sub)
        const echoes: string[] = []
        sub.on('message', (t, p) => echoes.push(`${t}=${p.toString()}`))
        await sub.subscribeAsync('echo/#', { qos: 1 })
        // mosquitto_sub waits for one echo while mosquitto_pub sends into the flow.
        const mosqSub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'echo/in/mosq', '-C', '1', '-W', '10', '-q', '1'])
        await new Promise((resolve) => setTimeout(resolve, 300))
        await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'in/mosq', '-m', 'from mosquitto', '-q', '1', '-V', 'mqttv5'])
        assert.equal((await mosqSub).stdout.trim(), 'from mosquitto')
        await sub.publishAsync('in/mqttjs', 'from mqtt.js', { qos: 1 })
        await waitFor(() => echoes.includes('echo/in/mqttjs=from mqtt.js'), 5000, 'the MQTT.js echo')
        assert.ok(echoes.includes('echo/in/mosq=from mosquitto'))
        assert.deepEqual(problems(red!, from), [])
      })

      it('a full redeploy while QoS 1 traffic flows: the broker rebinds and keeps every message', async function () {
        const port = await freePort()
        await deploy(red!, echoFlow(port, 'before'))
        // A persistent network subscriber sees everything the broker accepted; the echo path shows the flow works again after.
        const direct: number[] = []
        const echoed: number[] = []
        const watcher = await connect(port, { clientId: 'e2e-watcher', clean: false })
        clients.push(watcher)
        watcher.on('message', (t, p) => (t.startsWith('echo/') ? echoed : direct).push(Number(p.toString())))
        await watcher.subscribeAsync(['in/seq', 'echo/in/seq'], { qos: 1 })
        const publisher = await connect(port, { clientId: 'e2e-publisher', clean: false })
        clients.push(publisher)
        const total = 400
        let sent = 0
        const sending = new Promise<void>((resolve) => {
          const tick = (): void => {
            if (sent === total) return resolve()
            publisher.publish('in/seq', String(sent++), { qos: 1 })
            setTimeout(tick, 3)
          }
          tick()
        })
        await waitFor(() => echoed.length >= 50, 10000, 'echoes before the redeploy')
        const from = red!.log.length
        await deploy(red!, echoFlow(port, 'after'))
        await sending
        await waitFor(() => new Set(direct).size === total, 20000, `all ${total} messages at the subscriber (got ${new Set(direct).size})`)
        // Messages sent after the redeploy are echoed by the restarted flow.
        await waitFor(() => echoed.includes(total - 1), 10000, 'the last echo')
        const missing = total - new Set(echoed).size
        console.log(`      ${rt.name}: ${total} QoS 1 messages, ${missing} not echoed (in the flow at the moment it stopped)`)
        assert.ok(missing < total / 10, `${missing} echoes missing`)
        assert.deepEqual(problems(red!, from).filter((l) => !l.includes('Stopping flows') && !l.includes('Stopped flows')), [])
      })

      it('a port in use is a red status and a logged error naming the port; Node-RED keeps running', async function () {
        const port = await freePort()
        const from = red!.log.length
        await deploy(red!, portClashFlow(port))
        await waitFor(() => problems(red!, from).some((l) => l.includes(`port ${port} is already in use`)), 5000, 'the port-in-use error')
        const res = await fetch(red!.url('/flows'))
        assert.equal(res.status, 200)
        assert.equal(red!.proc.exitCode, null)
        // The first broker still serves.
        const c = await connect(port)
        clients.push(c)
      })

      it('every example deploys with no error or warning', async function () {
        const examples = readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.json'))
        assert.ok(examples.length >= 4)
        for (const file of examples) {
          const port = await freePort()
          const flow = JSON.parse(readFileSync(path.join(root, 'examples', file), 'utf8').replace(/"port": "1883"/g, `"port": "${port}"`).replace(/127\.0\.0\.1:1883/g, `127.0.0.1:${port}`)) as object[]
          const from = red!.log.length
          await deploy(red!, flow)
          await new Promise((resolve) => setTimeout(resolve, 1500))
          assert.deepEqual(problems(red!, from), [], file)
          const c = await connect(port)
          clients.push(c)
        }
      })

      it('measures startup time and RSS with the broker idle', async function () {
        const port = await freePort()
        await deploy(red!, echoFlow(port, 'idle'))
        await new Promise((resolve) => setTimeout(resolve, 500))
        const rss = rssMiB(red!.proc.pid as number)
        console.log(`      ${rt.name}: started in ${red!.startupMs} ms; RSS with the broker idle ${rss} MiB`)
        assert.ok(rss > 0)
      })
    })
  }
})
