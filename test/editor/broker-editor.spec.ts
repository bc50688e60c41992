// Editor: the broker node's listeners, TLS, users, ACL and limits in the real Node-RED editor (4.1 and 5),
// in headless Debian Chromium driven by playwright-core. Passwords typed in the dialog reach the
// runtime once, through a real Deploy, and come back as "password set" only; mosquitto_passwd and
// ACL files are imported through the file pickers; validation marks bad input; 0 console errors.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import mqtt from 'mqtt'
import { chromium, type Browser, type Page } from 'playwright-core'
import { hashPassword, INTEGER_OPTIONS } from '../../src/broker'
import { LIMIT_KEYS } from '../../src/nodes/hearth-broker/types'
import { boundPorts, deploy, removeDir, RUNTIMES, startNodeRed, tempDir, waitFor, type NodeRed } from '../e2e/support'
import { artifacts, CHROMIUM_FLAGS, linkedUserDir } from './support'

const TAB = 'edb0000000000001'
const BROKER = 'edb0000000000002'
const LEGACY = 'edb0000000000003'

function flow (port: number, legacyPort: number): object[] {
  return [
    { id: TAB, type: 'tab', label: 'broker editor' },
    {
      id: BROKER, type: 'hearth-broker', z: TAB, name: '', x: 150, y: 60, wires: [[]],
      listeners: [{ kind: 'mqtt', port: String(port), host: '127.0.0.1' }], port: String(port), host: '127.0.0.1', tls: '',
      mqtt31: true, mqtt311: true, mqtt5: true, allowAnonymous: true, usernames: [], aclEnabled: false, acl: [], maximumQoS: '2', retainAvailable: true, persistence: false,
    },
    // Saved before listeners and the users table existed, with its one account in the credentials.
    {
      id: LEGACY, type: 'hearth-broker', z: TAB, name: 'old', x: 150, y: 120, wires: [[]],
      port: String(legacyPort), host: '127.0.0.1', mqtt31: true, mqtt311: true, mqtt5: true, allowAnonymous: true,
      maxConnections: '10000', maxPacketSize: '268435455', maxInflight: '100', maxQueuedMessages: '1000', maxKeepalive: '0', maximumQoS: '2', retainAvailable: true, persistence: false,
      credentials: { username: 'old', password: 'old-pw' },
    },
  ]
}

/** Does an MQTT 3.1.1 connection with these credentials get in? */
async function logsIn (port: number, username?: string, password?: string): Promise<boolean> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { username, password, reconnectPeriod: 0, connectTimeout: 5000 })
  const ok = await new Promise<boolean>((resolve) => {
    c.once('connect', () => resolve(true))
    c.once('error', () => resolve(false))
    c.once('close', () => resolve(false))
  })
  await c.endAsync(true)
  return ok
}

for (const rt of RUNTIMES) {
  describe(`editor: the broker node's listeners, users, ACL and limits (${rt.name})`, function () {
    this.timeout(120000)
    let userDir: string
    let files: string
    let red: NodeRed
    let browser: Browser
    let page: Page
    let port: number
    const consoleErrors: string[] = []
    const shot = (name: string): Promise<Buffer> => page.screenshot({ path: path.join(artifacts, `broker-${rt.name.split(' ')[1]}-${name}.png`) })

    before(async function () {
      mkdirSync(artifacts, { recursive: true })
      userDir = linkedUserDir()
      files = tempDir('hearth-editor-files-')
      red = await startNodeRed(rt, userDir)
      // Port 0: the bound port is read from the node's status after each deploy.
      await deploy(red, flow(0, 0))
      port = (await boundPorts(red, BROKER))[0]
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS })
      page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()) })
      page.on('pageerror', (e) => consoleErrors.push(String(e)))
      await page.goto(red.url('/'))
      await page.waitForFunction((id) => (globalThis as any).RED?.nodes?.node(id) != null, BROKER, { timeout: 30000 })
    })

    after(async function () {
      await browser?.close()
      await red?.stop()
      removeDir(userDir)
      removeDir(files)
    })

    // A failed test may leave its dialog open: close it, so the next test starts from the canvas.
    afterEach(async function () {
      for (const button of ['#node-dialog-cancel']) {
        if (await page.locator(button).isVisible()) {
          await page.click(button)
          await page.waitForSelector('#hearth-broker-listeners', { state: 'detached' })
        }
      }
    })

    async function open (id: string, tab?: string): Promise<void> {
      await page.evaluate((nodeId) => { const R = (globalThis as any).RED; R.editor.edit(R.nodes.node(nodeId)) }, id)
      await page.waitForSelector('#hearth-broker-listeners', { state: 'visible' })
      if (tab !== undefined) await showTab(tab)
    }
    /** Click a tab of the dialog until its content shows (a click during the tray's slide-in may be lost). */
    async function showTab (tab: string): Promise<void> {
      for (let i = 0; i < 20; i++) {
        await page.click(`#hearth-broker-tabs a[href="#hearth-broker-tab-${tab}"]`)
        if (await page.locator(`#hearth-broker-tab-${tab}`).isVisible()) return
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error(`tab ${tab} does not show`)
    }
    async function done (): Promise<void> {
      await page.click('#node-dialog-ok')
      await page.waitForSelector('#hearth-broker-listeners', { state: 'detached' })
    }
    async function cancel (): Promise<void> {
      await page.click('#node-dialog-cancel')
      await page.waitForSelector('#hearth-broker-listeners', { state: 'detached' })
    }
    /** Deploy through the editor's Deploy button; resolves once Node-RED started the flows. */
    async function deployButton (): Promise<void> {
      const before = red.log.filter((l) => l.includes('Started flows')).length
      await page.click('#red-ui-header-button-deploy')
      await waitFor(() => red.log.filter((l) => l.includes('Started flows')).length > before, 20000, 'the deploy')
      port = (await boundPorts(red, BROKER))[0]
    }
    const addButton = (list: string): string => `.red-ui-editableList:has(#${list}) .red-ui-editableList-addButton`
    const rows = (list: string): string => `#${list} > li`
    const credentials = async (): Promise<Record<string, unknown>> => await (await fetch(red.url(`/credentials/hearth-broker/${BROKER}`))).json() as Record<string, unknown>

    it('four tabs; each listener kind shows its own fields; bad input is flagged; the TLS row only with mqtts or wss', async function () {
      await open(BROKER)
      assert.deepEqual(await page.locator('#hearth-broker-tabs li').count(), 4)
      const first = page.locator(rows('hearth-broker-listeners')).nth(0)
      assert.equal(await first.locator('.hearth-broker-listener-kind').inputValue(), 'mqtt')
      assert.equal(await first.locator('.hearth-broker-listener-port').inputValue(), '0')
      assert.equal(await first.locator('.hearth-broker-listener-path').isVisible(), false)
      assert.equal(await page.locator('#hearth-broker-tls-row').isVisible(), false)

      await page.click(addButton('hearth-broker-listeners'))
      const added = page.locator(rows('hearth-broker-listeners')).nth(1)
      await added.locator('.hearth-broker-listener-kind').selectOption('wss')
      assert.equal(await added.locator('.hearth-broker-listener-path').isVisible(), true)
      assert.equal(await added.locator('.hearth-broker-listener-cert').isVisible(), true)
      assert.equal(await added.locator('.hearth-broker-listener-identity').isVisible(), false)
      await added.locator('.hearth-broker-listener-cert input').check()
      assert.equal(await added.locator('.hearth-broker-listener-identity').isVisible(), true)
      assert.equal(await page.locator('#hearth-broker-tls-row').isVisible(), true)

      await added.locator('.hearth-broker-listener-kind').selectOption('nodered')
      assert.equal(await added.locator('.hearth-broker-listener-port').isVisible(), false)
      assert.equal(await added.locator('.hearth-broker-listener-cert').isVisible(), false)
      assert.equal(await added.locator('.hearth-broker-listener-proxy').isVisible(), true)
      assert.match(await added.locator('.hearth-broker-listener-hint').innerText(), /\/mqtt/)
      assert.equal(await page.locator('#hearth-broker-tls-row').isVisible(), false)

      await first.locator('.hearth-broker-listener-port').fill('70000')
      assert.match(String(await first.locator('.hearth-broker-listener-port').getAttribute('class')), /input-error/)
      await first.locator('.hearth-broker-listener-port').fill('0')
      assert.doesNotMatch(String(await first.locator('.hearth-broker-listener-port').getAttribute('class')), /input-error/)
      await shot('listeners')
      await cancel()
      // The node's validators name what is wrong.
      const checks = await page.evaluate(`(() => {
        const d = RED.nodes.getType('hearth-broker').defaults
        const n = { listeners: [{ kind: 'mqtts', port: '8883' }] }
        return [
          d.listeners.validate.call({}, [{ kind: 'mqtt', port: '1883' }, { kind: 'nodered', path: '/mqtt' }], {}),
          d.listeners.validate.call({}, [{ kind: 'mqtt', port: '99999' }], {}),
          d.listeners.validate.call({}, [], {}),
          d.tls.validate.call(n, '', {}),
        ]
      })()`) as unknown[]
      assert.equal(checks[0], true)
      for (const c of checks.slice(1)) assert.equal(typeof c, 'string', JSON.stringify(checks))
    })

    it('users: a typed password reaches the runtime once, is hashed there and shows as "password set", never as text; a mosquitto_passwd file imports its users', async function () {
      await open(BROKER, 'access')
      await page.click(addButton('hearth-broker-users'))
      const row = page.locator(rows('hearth-broker-users')).nth(0)
      await row.locator('.hearth-broker-user-name').fill('alice')
      assert.equal(await row.locator('.hearth-broker-user-state').innerText(), 'no password: type one')
      await row.locator('.hearth-broker-user-password').fill('alice-pw')
      assert.equal(await row.locator('.hearth-broker-user-state').innerText(), 'new password, stored hashed on deploy')
      await done()
      const saved = await page.evaluate((id) => { const n = (globalThis as any).RED.nodes.node(id); return { usernames: n.usernames, pending: JSON.parse(n.credentials.newPasswords) } }, BROKER)
      assert.deepEqual(saved, { usernames: ['alice'], pending: { alice: { password: 'alice-pw' } } })
      await deployButton()
      let creds: Record<string, unknown> = {}
      for (let i = 0; i < 100; i++) {
        creds = await credentials()
        if (creds.has_newPasswords === false) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.deepEqual({ ...creds, username: undefined }, { has_password: false, has_userHashes: true, has_newPasswords: false, username: undefined })
      assert.doesNotMatch(JSON.stringify(creds), /alice-pw|\$7\$/)
      assert.equal(await logsIn(port, 'alice', 'alice-pw'), true)
      assert.equal(await logsIn(port, 'alice', 'wrong'), false)

      await open(BROKER, 'access')
      const again = page.locator(rows('hearth-broker-users')).nth(0)
      await page.waitForFunction(() => (globalThis as any).document.querySelector('.hearth-broker-user-state')?.textContent === 'password set', undefined, { timeout: 10000 })
      assert.equal(await again.locator('.hearth-broker-user-password').inputValue(), '')
      assert.equal(await again.locator('.hearth-broker-user-password').getAttribute('placeholder'), 'unchanged')

      const passwd = path.join(files, 'passwd')
      writeFileSync(passwd, `# made for the test\nbob:${await hashPassword('bob-pw', { iterations: 1000 })}\n`)
      await page.setInputFiles('#hearth-broker-passwd-file', passwd)
      await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#hearth-broker-users > li').length === 2, undefined, { timeout: 10000 })
      assert.equal(await page.locator('#hearth-broker-users-import-result').innerText(), '1 users imported: deploy to store them')
      assert.equal(await page.locator(rows('hearth-broker-users')).nth(1).locator('.hearth-broker-user-state').innerText(), 'imported hash, stored on deploy')
      const bad = path.join(files, 'bad-passwd')
      writeFileSync(bad, 'carol:$7$101$notahash\n')
      await page.setInputFiles('#hearth-broker-passwd-file', bad)
      await page.waitForFunction(() => /HASH_/.test((globalThis as any).document.querySelector('#hearth-broker-users-import-result')?.textContent ?? ''), undefined, { timeout: 10000 })
      assert.match(await page.locator('#hearth-broker-users-import-result').innerText(), /^not imported: HASH_MALFORMED on line 1$/)
      await shot('users')
      await done()
      await deployButton()
      for (let i = 0; i < 100 && !(await logsIn(port, 'bob', 'bob-pw')); i++) await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(await logsIn(port, 'bob', 'bob-pw'), true)
      assert.equal(await logsIn(port, 'alice', 'alice-pw'), true)
    })

    it('ACL: an imported Mosquitto ACL file fills the table; the line about anonymous clients follows the rules; a bad topic is flagged', async function () {
      await open(BROKER, 'access')
      const summary = page.locator('#hearth-broker-anonymous-summary')
      assert.equal(await summary.innerText(), 'may connect and publish and subscribe to every topic (no ACL).')
      assert.equal(await page.locator('#hearth-broker-acl-rows').isVisible(), false)
      const acl = path.join(files, 'acl')
      writeFileSync(acl, '# anonymous clients\ntopic read weather/#\n\nuser alice\ntopic readwrite home/#\ntopic deny home/secret/#\npattern write devices/%c/state\n')
      await page.setInputFiles('#hearth-broker-acl-file', acl)
      await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#hearth-broker-acl > li').length === 4, undefined, { timeout: 10000 })
      assert.equal(await page.locator('#node-input-aclEnabled').isChecked(), true)
      assert.equal(await page.locator('#hearth-broker-acl-import-result').innerText(), '4 rules imported (0 warnings)')
      assert.equal(await summary.innerText(), 'may connect; may read weather/#; may write devices/%c/state.')
      const whos = await page.locator('#hearth-broker-acl .hearth-broker-acl-who').evaluateAll((els) => els.map((e) => (e as any).value))
      assert.deepEqual(whos, ['anonymous', 'user', 'user', 'pattern'])
      await page.locator('#node-input-allowAnonymous').uncheck()
      assert.equal(await summary.innerText(), 'is refused.')
      await page.locator('#node-input-allowAnonymous').check()

      await page.click(addButton('hearth-broker-acl'))
      const extra = page.locator(rows('hearth-broker-acl')).nth(4)
      await extra.locator('.hearth-broker-acl-topic').fill('a/#/b')
      assert.match(String(await extra.locator('.hearth-broker-acl-topic').getAttribute('class')), /input-error/)
      await extra.locator('.hearth-broker-acl-topic').fill('news/+')
      assert.doesNotMatch(String(await extra.locator('.hearth-broker-acl-topic').getAttribute('class')), /input-error/)
      assert.equal(await summary.innerText(), 'may connect; may read weather/#, news/+; may write devices/%c/state.')
      await shot('acl')
      await done()
      assert.equal(await page.evaluate((id) => (globalThis as any).RED.nodes.node(id).valid, BROKER), true)
      await deployButton()
      // Anonymous clients may read the weather and write nothing else than their state.
      const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'anon-editor', reconnectPeriod: 0 })
      await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject) })
      const refused = await c.publishAsync('home/lamp', 'x', { qos: 1 }).then(() => 0, (e: { code: number }) => e.code)
      const allowed = await c.publishAsync('devices/anon-editor/state', 'x', { qos: 1 }).then(() => 0, (e: { code: number }) => e.code)
      await c.endAsync(true)
      assert.deepEqual([refused, allowed], [0x87, 0])
    })

    it('limits: a collapsible section, one field per core option with its default as placeholder and its range; a value out of range is flagged', async function () {
      await open(BROKER, 'messages')
      assert.equal(await page.locator('#hearth-broker-limits-body').isVisible(), false)
      await page.click('#hearth-broker-limits-toggle')
      assert.equal(await page.locator('#hearth-broker-limits-body').isVisible(), true)
      const fields = await page.locator('#hearth-broker-limits-rows input').evaluateAll((els) => els.map((e) => [e.id, (e as any).placeholder]))
      assert.deepEqual(fields, LIMIT_KEYS.map((k) => [`node-input-${k}`, String(INTEGER_OPTIONS[k].default)]))
      const packet = page.locator('#node-input-maxPacketSize')
      await packet.fill('63')
      assert.match(String(await packet.getAttribute('class')), /input-error/)
      await packet.fill('64')
      assert.doesNotMatch(String(await packet.getAttribute('class')), /input-error/)
      await shot('limits')
      await cancel()
      const valid = await page.evaluate(`(() => {
        const d = RED.nodes.getType('hearth-broker').defaults
        return [d.maxPacketSize.validate('63'), d.maxPacketSize.validate('64'), d.maxPacketSize.validate(''), d.maxConnections.validate('0'), d.maxSessionExpiryInterval.validate('4294967295')]
      })()`)
      assert.deepEqual(valid, [false, true, true, false, true])
    })

    it('a flow saved before listeners and users: its port is the first listener and its account the first user, password set', async function () {
      await open(LEGACY)
      const first = page.locator(rows('hearth-broker-listeners')).nth(0)
      assert.equal(await first.locator('.hearth-broker-listener-kind').inputValue(), 'mqtt')
      assert.equal(await first.locator('.hearth-broker-listener-host').inputValue(), '127.0.0.1')
      await showTab('access')
      await page.waitForFunction(() => (globalThis as any).document.querySelector('#hearth-broker-users .hearth-broker-user-state')?.textContent === 'password set', undefined, { timeout: 10000 })
      assert.equal(await page.locator(rows('hearth-broker-users')).nth(0).locator('.hearth-broker-user-name').inputValue(), 'old')
      await showTab('messages')
      assert.equal(await page.locator('#hearth-broker-limits-body').isVisible(), true, 'limits with values are shown')
      assert.equal(await page.locator('#node-input-maxConnections').inputValue(), '10000')
      await done()
      const saved = await page.evaluate((id) => { const n = (globalThis as any).RED.nodes.node(id); return { usernames: n.usernames, kinds: n.listeners.map((l: { kind: string }) => l.kind), valid: n.valid } }, LEGACY)
      assert.deepEqual(saved, { usernames: ['old'], kinds: ['mqtt'], valid: true })
    })

    it('the help sidebar explains listeners, TLS, users and the ACL', async function () {
      await page.evaluate('RED.sidebar.help.show("hearth-broker")')
      await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('.red-ui-help')].some((e: any) => e.offsetParent !== null && (e.textContent ?? '').includes('mosquitto_passwd')), undefined, { timeout: 10000 })
      const text = await page.locator('.red-ui-help:visible').first().innerText()
      for (const phrase of ['Listeners', 'WebSocket on Node-RED', 'tls-config', 'Users', 'ACL', 'open']) assert.ok(text.includes(phrase), phrase)
      await shot('help')
    })

    it('logged no console errors', function () {
      assert.deepEqual(consoleErrors, [])
    })
  })
}
