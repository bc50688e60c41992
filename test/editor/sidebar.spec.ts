// Editor: the "MQTT broker" sidebar tab in the real Node-RED editor (4.1 and 5) with adminAuth, in headless
// Debian Chromium driven by playwright-core: the empty state, live plots under load, the clients table with a
// mosquitto_sub client and its disconnect, a retained topic in the topic tree and clearing it; a read-only
// user sees everything but cannot change anything (buttons disabled; the route refuses with Node-RED's 401); 0 console errors.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { chromium, type Browser, type Page } from 'playwright-core'
import { adminRequest, freePort, removeDir, root, RUNTIMES, startNodeRed, waitFor, type NodeRed } from '../e2e/support'
import { artifacts, CHROMIUM_FLAGS, linkedUserDir } from './support'

// Node-RED's own bcrypt (its dependency, not ours), for adminAuth's password hashes.
const BCRYPT = path.join(root, 'node_modules', 'bcrypt' + 'js')
// eslint-disable-next-line @typescript-eslint/no-require-imports
const bcrypt = require(BCRYPT) as { hashSync (s: string, rounds: number): string }

const TAB = 'sdb0000000000001'
const BROKER = 'sdb0000000000002'

function flow (port?: number): object[] {
  const tab = { id: TAB, type: 'tab', label: 'sidebar' }
  if (port === undefined) return [tab]
  return [tab, {
    id: BROKER, type: 'hearth-broker', z: TAB, name: 'hall', x: 150, y: 60, wires: [[]],
    listeners: [{ kind: 'mqtt', port: String(port), host: '127.0.0.1' }], port: String(port), host: '127.0.0.1', tls: '',
    mqtt31: true, mqtt311: true, mqtt5: true, allowAnonymous: true, usernames: [], aclEnabled: false, acl: [], maximumQoS: '2', retainAvailable: true, persistence: false,
  }]
}

async function token (red: NodeRed, username: string): Promise<string> {
  const scope = username === 'admin' ? '*' : 'read'
  const res = await adminRequest(red, 'POST', '/auth/token', { client_id: 'node-red-admin', grant_type: 'password', scope, username, password: `${username}-pw` })
  assert.equal(res.status, 200, res.text)
  return (JSON.parse(res.text) as { access_token: string }).access_token
}

for (const rt of RUNTIMES) {
  describe(`editor: the MQTT broker sidebar (${rt.name})`, function () {
    this.timeout(180000)
    let userDir: string
    let red: NodeRed
    let browser: Browser
    let adminToken: string
    const clients: MqttClient[] = []
    const procs: ChildProcess[] = []
    const consoleErrors: string[] = []
    const tag = rt.name.split(' ')[1]

    before(async function () {
      mkdirSync(artifacts, { recursive: true })
      userDir = linkedUserDir()
      red = await startNodeRed(rt, userDir, {
        adminAuth: {
          type: 'credentials',
          users: [
            { username: 'admin', password: bcrypt.hashSync('admin-pw', 8), permissions: '*' },
            { username: 'viewer', password: bcrypt.hashSync('viewer-pw', 8), permissions: 'read' },
          ],
        },
      })
      adminToken = await token(red, 'admin')
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS })
    })

    after(async function () {
      await Promise.all(clients.map((c) => c.endAsync(true)))
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM')
      await browser?.close()
      await red?.stop()
      removeDir(userDir)
    })

    const auth = (t: string): Record<string, string> => ({ Authorization: `Bearer ${t}` })
    async function deployAs (flows: object[]): Promise<void> {
      const before = red.log.filter((l) => l.includes('Started flows')).length
      const res = await adminRequest(red, 'POST', '/flows', flows, { ...auth(adminToken), 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1' })
      assert.ok(res.status === 204 || res.status === 200, `${res.status} ${res.text}`)
      await waitFor(() => red.log.filter((l) => l.includes('Started flows')).length > before, 20000, 'flows to start')
    }

    async function openEditor (user: string): Promise<Page> {
      const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } })
      // Before the login the editor's own requests answer 401 (adminAuth): errors count from the login on.
      let loggedIn = false
      page.on('console', (m) => { if (loggedIn && m.type() === 'error') consoleErrors.push(`${user}: ${m.text()}`) })
      page.on('pageerror', (e) => consoleErrors.push(`${user}: ${String(e)}`))
      await page.goto(red.url('/'))
      await page.fill('#node-dialog-login-username', user)
      await page.fill('#node-dialog-login-password', `${user}-pw`)
      loggedIn = true
      await page.click('#node-dialog-login-submit')
      // The flows are loaded (the editor shows its first sidebar tab then): open ours after that.
      await page.waitForFunction((tab) => (globalThis as any).RED?.nodes?.workspace?.(tab) != null, TAB, { timeout: 30000 })
      for (let i = 0; ; i++) {
        await page.evaluate(() => { (globalThis as any).RED.sidebar.show('hearth-broker') })
        await page.waitForTimeout(500)
        if (await page.locator('.hearth-sidebar').isVisible()) break
        if (i === 40) throw new Error('the sidebar tab does not show')
      }
      return page
    }

    it('shows the empty state, then live plots, clients with disconnect, and the topic tree with clear', async function () {
      await deployAs(flow())
      const page = await openEditor('admin')
      await page.waitForSelector('.hearth-sidebar-empty', { state: 'visible' })
      assert.match(await page.textContent('.hearth-sidebar-empty') ?? '', /No broker node is deployed/)
      await page.screenshot({ path: path.join(artifacts, `sidebar-${tag}-empty.png`) })

      const port = await freePort()
      await deployAs(flow(port))
      await page.waitForSelector('.hearth-sidebar-live', { state: 'visible', timeout: 15000 })

      // A client the table must list, and a load the plots must show.
      const sub = spawn('/usr/bin/mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-i', 'sidebar-sub', '-V', 'mqttv5', '-t', 'load/#', '-q', '1'], { stdio: 'ignore' })
      procs.push(sub)
      const subExited = new Promise((resolve) => sub.once('exit', resolve))
      const pub = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'load-publisher', reconnectPeriod: 0 })
      clients.push(pub)
      await new Promise((resolve) => pub.once('connect', resolve))
      const load = setInterval(() => { for (let i = 0; i < 20; i++) pub.publish(`load/${i % 4}`, 'x'.repeat(64), { qos: 1 }) }, 100)
      try {
        await page.waitForSelector('tr.hearth-client[data-client-id="sidebar-sub"]', { timeout: 15000 })
        const pointsBefore = await page.getAttribute('#hearth-plot-msgs polyline', 'points')
        // 200 messages/s in and out: the plot's latest value shows it.
        await page.waitForFunction(() => Number((globalThis as any).document.querySelector('#hearth-plot-msgs .hearth-plot-value')?.textContent) >= 50, undefined, { timeout: 20000 })
        await page.waitForFunction(() => (globalThis as any).document.querySelector('#hearth-plot-clients .hearth-plot-value')?.textContent === '2', undefined, { timeout: 10000 })
        await page.waitForTimeout(3000)
        const pointsAfter = await page.getAttribute('#hearth-plot-msgs polyline', 'points')
        assert.notEqual(pointsAfter, pointsBefore, 'the plot moves')
        assert.ok((pointsAfter ?? '').split(' ').length >= 3, 'several points plotted')
        const sidebarBox = page.locator('.hearth-sidebar')
        await sidebarBox.screenshot({ path: path.join(artifacts, `sidebar-${tag}-load.png`) })
        // The README's picture (committed): only when asked, so a test run leaves the checkout clean.
        if (tag === '5' && process.env.HEARTH_DOCS_SCREENSHOT === '1') await sidebarBox.screenshot({ path: path.join(root, 'docs/images/sidebar.png') })
      } finally {
        clearInterval(load)
      }

      // Disconnect mosquitto_sub from the table: it exits (MQTT 5 DISCONNECT 0x98) and its row goes.
      await page.click('tr.hearth-client[data-client-id="sidebar-sub"] button.hearth-disconnect')
      await subExited
      await page.waitForSelector('tr.hearth-client[data-client-id="sidebar-sub"]', { state: 'detached', timeout: 10000 })

      // A retained topic shows in the tree; clear it.
      await pub.publishAsync('home/lamp', 'on', { qos: 1, retain: true })
      await page.waitForSelector('.hearth-topic[data-topic="home"]', { timeout: 10000 })
      await page.click('.hearth-topic[data-topic="home"]')
      await page.click('.hearth-topic[data-topic="home/lamp"]')
      await page.waitForSelector('.hearth-clear-retained', { state: 'visible' })
      assert.equal(await page.textContent('.hearth-topic-details .hearth-topic-selected'), 'home/lamp')
      await page.screenshot({ path: path.join(artifacts, `sidebar-${tag}-topics.png`) })
      await page.click('.hearth-clear-retained')
      await page.waitForSelector('.hearth-clear-retained', { state: 'detached', timeout: 10000 })
      const topics = JSON.parse((await adminRequest(red, 'GET', `/hearth-broker/${BROKER}/topics`, undefined, auth(adminToken))).text) as { topics: Array<{ topic: string, retained?: unknown }> }
      assert.equal(topics.topics.find((r) => r.topic === 'home/lamp')?.retained, undefined)
      assert.deepEqual(consoleErrors, [])
      await page.close()
    })

    it('a read-only user sees the clients but cannot disconnect: the buttons are disabled and the route refuses (401)', async function () {
      const page = await openEditor('viewer')
      await page.waitForSelector('tr.hearth-client[data-client-id="load-publisher"]', { timeout: 15000 })
      assert.equal(await page.isDisabled('tr.hearth-client[data-client-id="load-publisher"] button.hearth-disconnect'), true)
      assert.equal(await page.isDisabled('button.hearth-publish'), true)
      const viewer = await token(red, 'viewer')
      const res = await adminRequest(red, 'POST', `/hearth-broker/${BROKER}/disconnect`, { clientId: 'load-publisher' }, auth(viewer))
      assert.equal(res.status, 401, 'Node-RED answers a missing permission with 401')
      const read = await adminRequest(red, 'GET', `/hearth-broker/${BROKER}/clients`, undefined, auth(viewer))
      assert.equal(read.status, 200)
      assert.ok((JSON.parse(read.text) as { clients: Array<{ clientId: string }> }).clients.some((c) => c.clientId === 'load-publisher'), 'still connected')
      assert.deepEqual(consoleErrors, [])
      await page.close()
    })
  })
}
