// End to end: the broker node's listeners, TLS, WebSocket, users and ACL in a real Node-RED (4.1 on Node 20,
// 5 on Node 22) installed from the npm pack tarball. Every listener kind at once (mosquitto_pub/sub over
// mqtt and mqtts, MQTT.js and Python paho over ws and wss, MQTT.js on Node-RED's own port next to a core
// websocket node and the editor's /comms), mutual TLS with openssl-made certificates, users and an ACL
// with deliveries checked, a flow saved before listeners and users, redeploys releasing ports and paths,
// a colliding path refused with a red status, MQTT.js's browser bundle in headless Chromium on Node-RED's
// port, and wss on Node-RED's port behind its own `https` setting.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { chromium } from 'playwright-core'
import WebSocket from 'ws'
import { INTEGER_OPTIONS } from '../../src/broker'
import { CHROMIUM_FLAGS } from '../editor/support'
import { Children, requirePaho, requireTool } from '../interop/helpers'
import { CLIENT_CN, makeCerts, type TestCerts } from '../listeners/certs'
import { allKindsFlow, BROKER, defaultFlow, emptyFlow, householdFlow, legacyFlow, mutualTlsFlow, nodeRedPortFlow, type Ports } from './broker-flows'
import { adminRequest, boundPorts as portsOf, deploy, freePort, makeUserDir, packTarball, problems, removeDir, root, RUNTIMES, startNodeRed, statusOverComms, tempDir, waitFor, type NodeRed } from './support'

const boundPorts = (red: NodeRed, ca?: string): Promise<number[]> => portsOf(red, BROKER, ca)

const run = promisify(execFile)
const PAHO_WS = path.join(root, 'test/listeners/py/paho_ws.py')

/** mosquitto_pub, resolving with its exit code and output (never rejecting). */
async function mosquittoPub (args: string[]): Promise<{ code: number, out: string }> {
  try {
    const r = await run('mosquitto_pub', ['-h', '127.0.0.1', ...args], { timeout: 15000 })
    return { code: 0, out: r.stdout + r.stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

/** Is `port` free on 127.0.0.1 (it binds)? */
function portFree (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

describe('end to end: the broker node\'s listeners, TLS, WebSocket, users and ACL in a real Node-RED', function () {
  this.timeout(180000)
  let packDir: string
  let tarball: string
  let certs: TestCerts

  before(async function () {
    requirePaho()
    requireTool('mosquitto_sub')
    certs = makeCerts()
    packDir = tempDir('hearth-pack-')
    tarball = await packTarball(packDir)
  })
  after(function () {
    removeDir(packDir)
    certs?.remove()
  })

  for (const rt of RUNTIMES) {
    describe(rt.name, function () {
      let userDir: string | undefined
      let red: NodeRed
      const children = new Children()
      let clients: MqttClient[] = []

      before(async function () {
        userDir = await makeUserDir(tarball)
        red = await startNodeRed(rt, userDir)
      })
      afterEach(async function () {
        await Promise.all(clients.map((c) => c.endAsync(true)))
        clients = []
        await children.killAll()
      })
      after(async function () {
        await red?.stop()
        removeDir(userDir)
      })

      function connect (url: string, options: IClientOptions = {}): Promise<MqttClient> {
        const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 8000, ...options })
        clients.push(c)
        return new Promise((resolve, reject) => {
          c.once('connect', () => resolve(c))
          c.once('error', reject)
          c.once('close', () => reject(new Error(`closed before CONNACK: ${url}`)))
        })
      }
      /** Every JSON event the flow republishes on events/#, seen through the mqtt listener. */
      async function watchEvents (port: number): Promise<Array<{ topic: string, payload: Record<string, unknown> }>> {
        const seen: Array<{ topic: string, payload: Record<string, unknown> }> = []
        const c = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'e2e-event-watcher' })
        c.on('message', (t, p) => seen.push({ topic: t, payload: JSON.parse(p.toString()) as Record<string, unknown> }))
        await c.subscribeAsync('events/#')
        return seen
      }

      it('hands the core\'s option ranges to the editor (GET /settings)', async function () {
        const settings = JSON.parse((await adminRequest(red, 'GET', '/settings')).text) as Record<string, unknown>
        const ranges = settings.hearthBrokerOptionRanges as Record<string, unknown>
        assert.deepEqual(ranges, JSON.parse(JSON.stringify(INTEGER_OPTIONS)))
      })

      it('a node left at its defaults is open on every interface: a yellow status ending in "open" and one info line saying what to set, no warning', async function () {
        const from = red.log.length
        await deploy(red, defaultFlow(0))
        const [port] = await boundPorts(red)
        await waitFor(() => red.log.slice(from).some((l) => l.includes('the broker is open')), 10000, 'the open-broker line')
        const lines = red.log.slice(from).filter((l) => l.includes('the broker is open'))
        assert.equal(lines.length, 1)
        assert.match(lines[0], /\[info\] \[hearth-broker:[^\]]+\] the broker is open: anyone who can reach :\d+ may connect without a user name, and publish and subscribe to every topic\. To restrict it, add users and untick "allow anonymous clients", turn on the ACL, or set the listeners' bind address to 127\.0\.0\.1\./)
        assert.deepEqual(await statusOverComms(red, BROKER), { fill: 'yellow', shape: 'dot', text: ':' + String(port) + ' · 0 clients · open' })
        assert.deepEqual(problems(red, from), [])
      })

      it('every listener kind at once: mosquitto over mqtt and mqtts, MQTT.js and paho over ws and wss on their ports and on Node-RED\'s, next to a core websocket node and the editor\'s /comms; events give each transport and the real address', async function () {
        const from = red.log.length
        await deploy(red, allKindsFlow({ mqtt: 0, mqtts: 0, ws: 0, wss: 0 }, certs))
        const [mqttPort, mqttsPort, wsPort, wssPort] = await boundPorts(red)
        const ports: Ports = { mqtt: mqttPort, mqtts: mqttsPort, ws: wsPort, wss: wssPort }
        const events = await watchEvents(ports.mqtt)
        const status = await statusOverComms(red, BROKER)
        assert.equal(status.fill, 'green')
        assert.match(String(status.text), new RegExp(`^:${ports.mqtt} :${ports.mqtts} :${ports.ws} :${ports.wss} /mqtt · \\d+ clients?$`))
        const ca = certs.read(certs.caCert)
        const nodeRedWs = red.url('/mqtt').replace(/^http/, 'ws')

        // mosquitto_sub over TLS waits for the echo of what mosquitto_pub sends over plain TCP.
        const sub = children.spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(ports.mqtts), '--cafile', certs.caCert, '-i', 'mosq-tls', '-t', 'echo/in/#', '-v', '-C', '2', '-W', '20', '-q', '1'])
        await waitFor(() => events.some((e) => e.topic === 'events/subscribed' && e.payload.clientId === 'mosq-tls'), 10000, 'mosquitto_sub over TLS')
        assert.equal((await mosquittoPub(['-p', String(ports.mqtt), '-i', 'mosq-tcp', '-t', 'in/tcp', '-m', 'over tcp', '-q', '1'])).code, 0)
        assert.equal((await mosquittoPub(['-p', String(ports.mqtts), '--cafile', certs.caCert, '-i', 'mosq-pub-tls', '-t', 'in/tls', '-m', 'over tls', '-q', '1'])).code, 0)
        await sub.waitOut(/echo\/in\/tls over tls/, 15000)
        assert.deepEqual(sub.out.trim().split('\n').sort(), ['echo/in/tcp over tcp', 'echo/in/tls over tls'])

        // MQTT.js over ws (own port, with its path), wss (own port) and ws on Node-RED's port, each echoed by the flow.
        for (const [id, url, options] of [
          ['js-ws', `ws://127.0.0.1:${ports.ws}/mqtt`, {}],
          ['js-wss', `wss://127.0.0.1:${ports.wss}/`, { ca }],
          ['js-nodered', nodeRedWs, { protocolVersion: 5 }],
        ] as const) {
          const c = await connect(url, { clientId: id, ...options } as IClientOptions)
          const echo = new Promise<string>((resolve) => c.once('message', (t, p) => resolve(`${t}=${p.toString()}`)))
          await c.subscribeAsync(`echo/in/${id}`, { qos: 1 })
          await c.publishAsync(`in/${id}`, `hello from ${id}`, { qos: 1 })
          assert.equal(await echo, `echo/in/${id}=hello from ${id}`)
        }
        // Python paho over ws on both ports with a path, and over wss on its own port.
        for (const args of [
          ['--port', String(ports.ws), '--path', '/mqtt', '--topic', 'paho/ws'],
          ['--port', String(ports.wss), '--path', '/', '--cafile', certs.caCert, '--topic', 'paho/wss', '--protocol', '5'],
          ['--port', String(red.port), '--path', '/mqtt', '--topic', 'paho/nodered'],
        ]) {
          const paho = children.spawn('/usr/bin/python3', [PAHO_WS, '--host', '127.0.0.1', ...args])
          const { code } = await paho.exit
          assert.equal(code, 0, paho.describe())
          const out = JSON.parse(paho.out) as { connack: number, received: { topic: string, payload: string } }
          assert.deepEqual([out.connack, out.received.topic, out.received.payload], [0, args[args.indexOf('--topic') + 1], 'hello over websockets'])
        }
        // The core websocket node on /ws still echoes, and the editor's /comms still connects (above).
        const plain = new WebSocket(red.url('/ws').replace(/^http/, 'ws'))
        try {
          await new Promise<void>((resolve, reject) => { plain.once('open', () => resolve()); plain.once('error', reject) })
          const back = new Promise<string>((resolve) => plain.once('message', (d) => resolve(String(d))))
          plain.send('core websocket')
          assert.equal(await back, 'core websocket')
        } finally {
          plain.terminate()
        }
        const connected = events.filter((e) => e.topic === 'events/clientConnected')
        const byId = (id: string): Record<string, unknown> | undefined => connected.find((e) => e.payload.clientId === id)?.payload
        for (const [id, transport] of [['mosq-tcp', 'mqtt'], ['mosq-tls', 'mqtts'], ['js-ws', 'ws'], ['js-wss', 'wss'], ['js-nodered', 'ws']]) {
          const e = byId(id)
          assert.equal(e?.transport, transport, id)
          assert.match(String(e?.address), /^127\.0\.0\.1:\d+$/, id)
        }
        assert.deepEqual(problems(red, from), [])
      })

      it('mutual TLS: mosquitto_pub with a certificate from the CA gets in as its CN and the ACL applies to it; without one the handshake fails, and the others go on', async function () {
        const from = red.log.length
        await deploy(red, mutualTlsFlow(0, certs))
        const [port] = await boundPorts(red)
        const tlsArgs = ['-p', String(port), '--cafile', certs.caCert, '--cert', certs.clientCert, '--key', certs.clientKey]
        const sub = children.spawn('mosquitto_sub', ['-h', '127.0.0.1', ...tlsArgs, '-i', 'watch', '-t', '#', '-v', '-W', '20', '-q', '1'])
        await new Promise((resolve) => setTimeout(resolve, 1000))
        assert.equal((await mosquittoPub([...tlsArgs, '-i', 'dev', '-t', `sensors/${CLIENT_CN}/temp`, '-m', '21.5', '-q', '1'])).code, 0)
        // Another device's topic: refused by the ACL (3.1.1 has no refusal code: the message is dropped).
        assert.equal((await mosquittoPub([...tlsArgs, '-i', 'dev2', '-t', 'sensors/other/temp', '-m', '99', '-q', '1'])).code, 0)
        const noCert = await mosquittoPub(['-p', String(port), '--cafile', certs.caCert, '-i', 'nocert', '-t', `sensors/${CLIENT_CN}/x`, '-m', 'x'])
        assert.notEqual(noCert.code, 0)
        assert.equal((await mosquittoPub([...tlsArgs, '-i', 'dev3', '-t', `sensors/${CLIENT_CN}/humidity`, '-m', '40', '-q', '1'])).code, 0)
        await sub.waitOut(/humidity 40/, 15000)
        assert.deepEqual(sub.out.trim().split('\n'), [`sensors/${CLIENT_CN}/temp 21.5`, `sensors/${CLIENT_CN}/humidity 40`])
        // A failed handshake is not a warning or an error.
        assert.deepEqual(problems(red, from), [])
      })

      it('users and an ACL: passwords typed once are hashed by the runtime; mosquitto clients get exactly what the rules allow', async function () {
        const passwords = { homeassistant: 'ha-secret', dashboard: 'dash-secret', 'plug-kitchen': 'plug-secret' }
        const from = red.log.length
        await deploy(red, householdFlow(0, passwords))
        const [port] = await boundPorts(red)
        // The runtime hashes the passwords once the node starts.
        let creds: Record<string, unknown> = {}
        for (let i = 0; i < 100 && creds.has_userHashes !== true; i++) {
          creds = JSON.parse((await adminRequest(red, 'GET', `/credentials/hearth-broker/${BROKER}`)).text) as Record<string, unknown>
          if (creds.has_userHashes !== true) await new Promise((resolve) => setTimeout(resolve, 100))
        }
        assert.equal(creds.has_userHashes, true)
        assert.equal(creds.has_newPasswords, false)
        assert.doesNotMatch(JSON.stringify(creds), /secret|\$7\$/)
        const as = (u: keyof typeof passwords): string[] => ['-u', u, '-P', passwords[u]]
        const watch = (id: string, auth: string[]) => children.spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-i', id, ...auth, '-t', '#', '-v', '-W', '20', '-q', '1'])
        const dashboard = watch('dash', as('dashboard'))
        const anonymous = watch('anon', [])
        const plug = watch('plug', as('plug-kitchen'))
        await new Promise((resolve) => setTimeout(resolve, 1500))
        const pub = (auth: string[], topic: string, message: string): Promise<{ code: number, out: string }> =>
          mosquittoPub(['-p', String(port), ...auth, '-t', topic, '-m', message, '-q', '1'])
        for (const [auth, topic] of [
          [as('homeassistant'), 'home/livingroom/temp'],
          [as('homeassistant'), 'lock/front/set'],
          [as('homeassistant'), 'weather/now'],
          [as('homeassistant'), 'home/plug/plug-kitchen/set'],
          [as('plug-kitchen'), 'home/plug/plug-kitchen/state'],
          [as('plug-kitchen'), 'home/plug/plug-tv/state'],
          [as('dashboard'), 'home/livingroom/temp'],
          [[], 'weather/now'],
        ] as const) {
          assert.equal((await pub([...auth], topic, `${auth[1] ?? 'anon'}>${topic}`)).code, 0, topic)
        }
        const wrong = await pub(['-u', 'dashboard', '-P', 'nope'], 'home/x', 'x')
        assert.notEqual(wrong.code, 0)
        await dashboard.waitOut(/plug-kitchen>home\/plug\/plug-kitchen\/state/, 15000)
        await new Promise((resolve) => setTimeout(resolve, 500))
        const lines = (c: typeof dashboard): string[] => c.out.trim().split('\n').filter((l) => l !== '')
        assert.deepEqual(lines(dashboard), [
          'home/livingroom/temp homeassistant>home/livingroom/temp',
          'weather/now homeassistant>weather/now',
          'home/plug/plug-kitchen/set homeassistant>home/plug/plug-kitchen/set',
          'home/plug/plug-kitchen/state plug-kitchen>home/plug/plug-kitchen/state',
        ])
        assert.deepEqual(lines(anonymous), ['weather/now homeassistant>weather/now'])
        assert.deepEqual(lines(plug), ['home/plug/plug-kitchen/set homeassistant>home/plug/plug-kitchen/set'])
        assert.deepEqual(problems(red, from), [])
      })

      it('a flow saved before listeners and users keeps working with no action: its port, bind address and account', async function () {
        const from = red.log.length
        await deploy(red, legacyFlow(0))
        const [port] = await boundPorts(red)
        let ok = { code: -1, out: '' }
        for (let i = 0; i < 50 && ok.code !== 0; i++) {
          ok = await mosquittoPub(['-p', String(port), '-u', 'old', '-P', 'old-pw', '-t', 't', '-m', 'x', '-q', '1'])
          if (ok.code !== 0) await new Promise((resolve) => setTimeout(resolve, 100))
        }
        assert.equal(ok.code, 0, `${ok.out}\n${red.log.slice(from).join('\n')}\n${(await adminRequest(red, 'GET', `/credentials/hearth-broker/${BROKER}`)).text}`)
        assert.notEqual((await mosquittoPub(['-p', String(port), '-t', 't', '-m', 'x'])).code, 0)
        assert.notEqual((await mosquittoPub(['-p', String(port), '-u', 'old', '-P', 'wrong', '-t', 't', '-m', 'x'])).code, 0)
        // The account was carried over as a hash; the old plain-text credentials are gone.
        const creds = JSON.parse((await adminRequest(red, 'GET', `/credentials/hearth-broker/${BROKER}`)).text) as Record<string, unknown>
        assert.deepEqual([creds.has_userHashes, creds.has_password, creds.username ?? ''], [true, false, ''])
        assert.deepEqual(problems(red, from), [])
      })

      it('a path a core websocket node uses is refused with a red status; redeploys release ports and paths; deleting the node frees them', async function () {
        const from = red.log.length
        await deploy(red, nodeRedPortFlow('/ws'))
        const status = await statusOverComms(red, BROKER)
        assert.equal(status.fill, 'red')
        assert.match(String(status.text), /^listener 1: the path \/ws is used by the websocket node \S+: choose another path$/)
        assert.ok(problems(red, from).some((l) => l.includes('is used by the websocket node')))

        const ports: Ports = { mqtt: await freePort(), mqtts: await freePort(), ws: await freePort(), wss: await freePort() }
        const nodeRedWs = red.url('/mqtt').replace(/^http/, 'ws')
        await deploy(red, allKindsFlow(ports, certs))
        const first = await connect(nodeRedWs, { clientId: 'before' })
        await deploy(red, allKindsFlow(ports, certs))
        await waitFor(() => !first.connected, 10000, 'the client closed by the redeploy')
        await connect(`mqtt://127.0.0.1:${ports.mqtt}`)
        await connect(`mqtts://127.0.0.1:${ports.mqtts}`, { ca: certs.read(certs.caCert) })
        await connect(`ws://127.0.0.1:${ports.ws}/mqtt`)
        await connect(`wss://127.0.0.1:${ports.wss}`, { ca: certs.read(certs.caCert) })
        const onPath = await connect(nodeRedWs, { clientId: 'after' })
        await deploy(red, emptyFlow())
        await waitFor(() => !onPath.connected, 10000, 'the client closed by the deletion')
        for (const p of Object.values(ports)) assert.equal(await portFree(p), true, `port ${p} is free`)
        const ws = new WebSocket(nodeRedWs, 'mqtt')
        const outcome = await new Promise<string>((resolve) => {
          ws.once('open', () => resolve('open'))
          ws.once('error', () => resolve('error'))
          setTimeout(() => resolve('no answer'), 1500)
        })
        ws.terminate()
        assert.notEqual(outcome, 'open')
        // The editor's socket is untouched by all this.
        await deploy(red, defaultFlow(0))
        await boundPorts(red)
        assert.equal((await statusOverComms(red, BROKER)).fill, 'yellow')
      })

      it('a real browser: MQTT.js\'s browser bundle, served by the test, connects over WebSocket on Node-RED\'s port, subscribes and publishes', async function () {
        await deploy(red, nodeRedPortFlow('/mqtt'))
        const bundle = readFileSync(path.join(root, 'node_modules/mqtt/dist/mqtt.min.js'))
        const page = `<!doctype html><meta charset="utf-8"><title>hearth</title><script src="/mqtt.min.js"></script><script>
          window.result = new Promise(function (resolve) {
            var c = mqtt.connect('ws://127.0.0.1:${red.port}/mqtt', { clientId: 'chromium', protocolVersion: 5, reconnectPeriod: 0 })
            c.on('connect', function () {
              c.subscribe('echo/in/browser', { qos: 1 }, function () { c.publish('in/browser', 'from chromium', { qos: 1 }) })
            })
            c.on('message', function (t, p) { resolve(t + '=' + p.toString()); c.end() })
            c.on('error', function (e) { resolve('error: ' + e.message) })
          })
        </script>`
        const server = http.createServer((req, res) => {
          if (req.url === '/mqtt.min.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle)
          else res.writeHead(200, { 'content-type': 'text/html' }).end(page)
        })
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
        const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS })
        try {
          const tab = await browser.newPage()
          const errors: string[] = []
          tab.on('pageerror', (e) => errors.push(String(e)))
          await tab.goto(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`)
          assert.equal(await tab.evaluate('window.result'), 'echo/in/browser=from chromium')
          assert.deepEqual(errors, [])
        } finally {
          await browser.close()
          await new Promise((resolve) => server.close(resolve))
        }
      })
    })

    describe(`${rt.name}, with Node-RED's https setting`, function () {
      let userDir: string | undefined
      let red: NodeRed
      const children = new Children()
      let client: MqttClient | undefined

      before(async function () {
        userDir = await makeUserDir(tarball)
        const https = { key: readFileSync(certs.serverKey, 'utf8'), cert: readFileSync(certs.serverCert, 'utf8') }
        red = await startNodeRed(rt, userDir, { https }, readFileSync(certs.caCert, 'utf8'))
      })
      after(async function () {
        await client?.endAsync(true)
        await children.killAll()
        await red?.stop()
        removeDir(userDir)
      })

      it('wss://<Node-RED>/mqtt with no extra port: MQTT.js and paho, reported as wss', async function () {
        await deploy(red, nodeRedPortFlow('/mqtt'))
        const url = red.url('/mqtt').replace(/^https/, 'wss')
        client = mqtt.connect(url, { ca: certs.read(certs.caCert), clientId: 'js-wss-nodered', reconnectPeriod: 0 })
        await new Promise<void>((resolve, reject) => { client!.once('connect', () => resolve()); client!.once('error', reject) })
        const events: Array<Record<string, unknown>> = []
        client.on('message', (t, p) => { if (t === 'events/clientConnected') events.push(JSON.parse(p.toString()) as Record<string, unknown>) })
        await client.subscribeAsync(['events/clientConnected', 'echo/in/wss'], { qos: 1 })
        const echo = new Promise<string>((resolve) => client!.on('message', (t, p) => { if (t === 'echo/in/wss') resolve(p.toString()) }))
        await client.publishAsync('in/wss', 'secure', { qos: 1 })
        assert.equal(await echo, 'secure')
        const paho = children.spawn('/usr/bin/python3', [PAHO_WS, '--host', '127.0.0.1', '--port', String(red.port), '--path', '/mqtt', '--cafile', certs.caCert, '--topic', 'paho/wss-nodered'])
        assert.equal((await paho.exit).code, 0, paho.describe())
        await waitFor(() => events.some((e) => String(e.clientId).startsWith('paho-ws-')), 10000, 'the paho client event')
        assert.equal(events.find((e) => String(e.clientId).startsWith('paho-ws-'))?.transport, 'wss')
        assert.equal((await statusOverComms(red, BROKER, red.ca)).fill, 'green')
      })
    })
  }
})
