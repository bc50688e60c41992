// Editor: the broker node's Bridges tab in the real Node-RED editor (4.1 and 5), in headless Debian
// Chromium driven by playwright-core. A bridge added in the dialog (URL, TLS picker shown for mqtts
// and wss only, protocol, client id with its default as placeholder, keepalive, clean session, user and
// password, topic rules with what each maps) and deployed with the Deploy button connects to a real
// remote broker with its password, which never comes back to the editor; bad input is flagged on the
// field and explained under the bridge; the help sidebar explains it; 0 console errors.
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createBroker, UserTableAuthenticator, type Broker } from '../../src/broker'
import { boundPorts, deploy, removeDir, RUNTIMES, startNodeRed, statusOverComms, waitFor, type NodeRed } from '../e2e/support'
import { artifacts, CHROMIUM_FLAGS, linkedUserDir } from './support'

const TAB = 'edbb000000000001'
const BROKER = 'edbb000000000002'
const TLS = 'edbb000000000003'

/** Poll an async check until it holds. */
async function until (check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function flow (): object[] {
  return [
    { id: TAB, type: 'tab', label: 'bridges editor' },
    { id: TLS, type: 'tls-config', name: 'cloud CA', cert: '', key: '', ca: '', certname: '', keyname: '', caname: '', servername: '', verifyservercert: true, alpnprotocol: '' },
    {
      id: BROKER, type: 'hearth-broker', z: TAB, name: '', x: 150, y: 60, wires: [[]],
      listeners: [{ kind: 'mqtt', port: '0', host: '127.0.0.1' }], port: '0', host: '127.0.0.1', tls: '',
      mqtt31: true, mqtt311: true, mqtt5: true, allowAnonymous: true, usernames: [], aclEnabled: false, acl: [], maximumQoS: '2', retainAvailable: true, persistence: false,
    },
  ]
}

for (const rt of RUNTIMES) {
  describe(`editor: the broker node's bridges (${rt.name})`, function () {
    this.timeout(120000)
    let userDir: string
    let red: NodeRed
    let browser: Browser
    let page: Page
    let remote: Broker
    let remotePort: number
    const consoleErrors: string[] = []
    const shot = (name: string): Promise<Buffer> => page.screenshot({ path: path.join(artifacts, `bridges-${rt.name.split(' ')[1]}-${name}.png`) })

    before(async function () {
      mkdirSync(artifacts, { recursive: true })
      remote = createBroker({ authenticate: new UserTableAuthenticator({ house1: 'cloud-pw' }) })
      remotePort = (await remote.listen({ port: 0, host: '127.0.0.1' })).port
      userDir = linkedUserDir()
      red = await startNodeRed(rt, userDir)
      await deploy(red, flow())
      await boundPorts(red, BROKER)
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
      await remote?.close()
      removeDir(userDir)
    })

    afterEach(async function () {
      if (await page.locator('#node-dialog-cancel').isVisible()) {
        await page.click('#node-dialog-cancel')
        await page.waitForSelector('#hearth-broker-bridges', { state: 'detached' })
      }
    })

    async function open (): Promise<void> {
      await page.evaluate((nodeId) => { const R = (globalThis as any).RED; R.editor.edit(R.nodes.node(nodeId)) }, BROKER)
      await page.waitForSelector('#hearth-broker-listeners', { state: 'visible' })
      for (let i = 0; i < 20; i++) {
        await page.click('#hearth-broker-tabs a[href="#hearth-broker-tab-bridges"]')
        if (await page.locator('#hearth-broker-tab-bridges').isVisible()) return
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error('the Bridges tab does not show')
    }
    async function done (): Promise<void> {
      await page.click('#node-dialog-ok')
      await page.waitForSelector('#hearth-broker-bridges', { state: 'detached' })
    }
    async function deployButton (): Promise<void> {
      const before = red.log.filter((l) => l.includes('Started flows')).length
      await page.click('#red-ui-header-button-deploy')
      await waitFor(() => red.log.filter((l) => l.includes('Started flows')).length > before, 20000, 'the deploy')
    }
    const bridgeRows = '#hearth-broker-bridges > li'
    const isError = async (loc: ReturnType<Page['locator']>): Promise<boolean> => /input-error/.test(String(await loc.getAttribute('class')))

    it('a new bridge: its fields, the TLS picker only for mqtts and wss, the default client id as placeholder, bad input flagged and explained, each rule\'s mapping', async function () {
      await open()
      assert.equal(await page.locator(bridgeRows).count(), 0)
      await page.click('.red-ui-editableList:has(#hearth-broker-bridges) > .red-ui-editableList-addButton')
      const b = page.locator(bridgeRows).nth(0)
      const fault = b.locator('.hearth-broker-bridge-fault')
      assert.equal(await b.locator('.hearth-broker-bridge-protocol').inputValue(), '')
      assert.equal(await b.locator('.hearth-broker-bridge-clean').isChecked(), false)
      assert.equal(await b.locator('.hearth-broker-bridge-keepalive').getAttribute('placeholder'), '60')
      assert.equal(await b.locator('.hearth-broker-bridge-password-state').innerText(), 'no password')
      // A new bridge has one rule: Mosquitto's defaults (out, QoS 0).
      const rule = b.locator('.hearth-broker-bridge-rules > li').nth(0)
      assert.deepEqual([await rule.locator('.hearth-broker-rule-direction').inputValue(), await rule.locator('.hearth-broker-rule-qos').inputValue()], ['out', '0'])
      assert.equal(await fault.innerText(), 'a bridge needs a name without blanks, /, + or #')
      assert.equal(await isError(b.locator('.hearth-broker-bridge-name')), true)

      await b.locator('.hearth-broker-bridge-name').fill('cloud')
      assert.equal(await b.locator('.hearth-broker-bridge-client-id').getAttribute('placeholder'), `cloud.${os.hostname()}`)
      await b.locator('.hearth-broker-bridge-url').fill('http://cloud.example')
      assert.equal(await isError(b.locator('.hearth-broker-bridge-url')), true)
      assert.match(await fault.innerText(), /^a bridge URL must start with mqtt:\/\//)
      assert.equal(await b.locator('.hearth-broker-bridge-tls-row').isVisible(), false)
      await b.locator('.hearth-broker-bridge-url').fill('mqtts://cloud.example:8883')
      assert.equal(await isError(b.locator('.hearth-broker-bridge-url')), false)
      assert.equal(await b.locator('.hearth-broker-bridge-tls-row').isVisible(), true)
      // Node-RED's own config node picker: the tls-config nodes, with its edit and add buttons.
      const picker = b.locator('.hearth-broker-bridge-tls-row select')
      await until(async () => (await picker.locator('option').count()) === 2, 5000, 'the picker options')
      assert.deepEqual(await picker.locator('option').evaluateAll((els) => els.map((e) => (e as any).value)), [TLS, '_ADD_'])
      assert.equal(await b.locator('.hearth-broker-bridge-tls-row a.red-ui-button').count(), 2)
      await b.locator('.hearth-broker-bridge-url').fill('ws://cloud.example/mqtt')
      assert.equal(await b.locator('.hearth-broker-bridge-tls-row').isVisible(), false)

      await b.locator('.hearth-broker-bridge-keepalive').fill('3')
      assert.equal(await isError(b.locator('.hearth-broker-bridge-keepalive')), true)
      assert.equal(await fault.innerText(), 'a bridge\'s keepalive must be a whole number of seconds from 5 to 65535')
      await b.locator('.hearth-broker-bridge-keepalive').fill('30')

      await rule.locator('.hearth-broker-rule-pattern').fill('a/#/b')
      assert.equal(await isError(rule.locator('.hearth-broker-rule-pattern')), true)
      assert.equal(await fault.innerText(), 'a rule\'s pattern must be a topic filter such as home/# (not $share/…), or empty (rule 1)')
      await rule.locator('.hearth-broker-rule-pattern').fill('home/#')
      await rule.locator('.hearth-broker-rule-remote').fill('house1/+/')
      assert.equal(await isError(rule.locator('.hearth-broker-rule-remote')), true)
      assert.equal(await fault.innerText(), 'a prefix is the start of a topic: no + or # (rule 1)')
      await rule.locator('.hearth-broker-rule-remote').fill('house1/')
      await rule.locator('.hearth-broker-rule-direction').selectOption('both')
      assert.equal(await rule.locator('.hearth-broker-rule-map').innerText(), 'here home/# ⇄ remote house1/home/#')
      assert.equal(await fault.isVisible(), false)

      // An empty pattern maps one topic: both prefixes are needed.
      await page.click('.red-ui-editableList:has(.hearth-broker-bridge-rules) .red-ui-editableList-addButton')
      const one = b.locator('.hearth-broker-bridge-rules > li').nth(1)
      await one.locator('.hearth-broker-rule-local').fill('lamp/set')
      assert.equal(await isError(one.locator('.hearth-broker-rule-remote')), true)
      assert.equal(await fault.innerText(), 'a rule with an empty pattern maps one topic: give both prefixes (the topic here and at the remote) (rule 2)')
      await one.locator('.hearth-broker-rule-remote').fill('house1/lamp/set')
      await one.locator('.hearth-broker-rule-direction').selectOption('in')
      assert.equal(await one.locator('.hearth-broker-rule-map').innerText(), 'here lamp/set ← remote house1/lamp/set')
      assert.equal(await fault.isVisible(), false)

      // A second bridge with the same name.
      await page.click('.red-ui-editableList:has(#hearth-broker-bridges) > .red-ui-editableList-addButton')
      const second = page.locator(bridgeRows).nth(1)
      await second.locator('.hearth-broker-bridge-name').fill('cloud')
      await second.locator('.hearth-broker-bridge-url').fill('mqtt://other.example')
      await second.locator('.hearth-broker-rule-pattern').fill('x/#')
      assert.equal(await second.locator('.hearth-broker-bridge-fault').innerText(), 'two bridges have the same name')
      await shot('new')
      await done()
      const saved = await page.evaluate((id) => { const n = (globalThis as any).RED.nodes.node(id); return { bridges: n.bridges, valid: n.valid, validationErrors: n.validationErrors } }, BROKER)
      assert.equal(saved.valid, false)
      assert.equal(saved.bridges.length, 2)
      const [first] = saved.bridges
      assert.match(first.id, /^[0-9a-f]{16}$/)
      assert.deepEqual(first, {
        id: first.id, name: 'cloud', url: 'ws://cloud.example/mqtt', tls: '', protocolVersion: '', clientId: '', keepalive: '30', cleanSession: false, username: '',
        topics: [
          { pattern: 'home/#', direction: 'both', qos: '0', localPrefix: '', remotePrefix: 'house1/' },
          { pattern: '', direction: 'in', qos: '0', localPrefix: 'lamp/set', remotePrefix: 'house1/lamp/set' },
        ],
      })
      // The node's validator names what is wrong (shown on the node's red triangle).
      const checks = await page.evaluate(`(() => {
        const d = RED.nodes.getType('hearth-broker').defaults
        const b = (p) => Object.assign({ id: 'x', name: 'cloud', url: 'mqtt://h', tls: '', protocolVersion: '', clientId: '', keepalive: '', cleanSession: false, username: '', topics: [{ pattern: 'a/#', direction: 'out', qos: '1', localPrefix: '', remotePrefix: '' }] }, p)
        return [
          d.bridges.validate.call({}, [b({})], {}),
          d.bridges.validate.call({}, [b({}), b({ id: 'y' })], {}),
          d.bridges.validate.call({}, [b({ url: 'mqtts://h', tls: 'nope' })], {}),
          d.bridges.validate.call({}, [b({ url: 'mqtts://h', tls: '${TLS}' })], {}),
          d.bridges.validate.call({}, [b({ topics: [] })], {}),
          d.bridges.validate.call({}, [b({ topics: [{ pattern: 'a', direction: 'up', qos: '0', localPrefix: '', remotePrefix: '' }] })], {}),
          // The listeners' TLS picker is held to the same rule: an id no node has is not a TLS configuration.
          d.tls.validate.call({ listeners: [{ kind: 'mqtts', port: '8883' }] }, 'nope', {}),
        ]
      })()`) as unknown[]
      assert.deepEqual(checks, [
        true,
        'two bridges have the same name',
        'a bridge\'s TLS configuration does not exist: pick one, or none for the system\'s CAs',
        true,
        'a bridge needs at least one topic rule',
        'a topic rule\'s direction must be out, in or both',
        'an mqtts or wss listener needs a TLS configuration',
      ])
    })

    it('deployed with the Deploy button: the password reaches the runtime once and never comes back; the bridge connects to the remote with it; the dialog then says "password set"', async function () {
      // Start from the deployed flow (the previous test left an invalid, undeployed change).
      await deploy(red, flow())
      await page.reload()
      await page.waitForFunction((id) => (globalThis as any).RED?.nodes?.node(id) != null, BROKER, { timeout: 30000 })
      await open()
      await page.click('.red-ui-editableList:has(#hearth-broker-bridges) > .red-ui-editableList-addButton')
      const b = page.locator(bridgeRows).nth(0)
      await b.locator('.hearth-broker-bridge-name').fill('cloud')
      await b.locator('.hearth-broker-bridge-url').fill(`mqtt://127.0.0.1:${remotePort}`)
      await b.locator('.hearth-broker-bridge-client-id').fill('house1')
      await b.locator('.hearth-broker-bridge-username').fill('house1')
      await b.locator('.hearth-broker-bridge-password').fill('cloud-pw')
      assert.equal(await b.locator('.hearth-broker-bridge-password-state').innerText(), 'new password, stored on deploy')
      await b.locator('.hearth-broker-rule-pattern').fill('home/#')
      await done()
      const pending = await page.evaluate((id) => { const n = (globalThis as any).RED.nodes.node(id); return { valid: n.valid, pending: JSON.parse(n.credentials.newBridgePasswords), id: n.bridges[0].id } }, BROKER)
      assert.deepEqual(pending, { valid: true, pending: { [pending.id]: 'cloud-pw' }, id: pending.id })
      await deployButton()
      await until(async () => /· bridge cloud ✓$/.test(String((await statusOverComms(red, BROKER)).text)), 15000, 'the bridge connected')
      const status = await statusOverComms(red, BROKER)
      assert.deepEqual(status, { fill: 'green', shape: 'dot', text: status.text })
      assert.match(String(status.text), /^:\d+ · 1 client · bridge cloud ✓$/)
      assert.ok(remote.clients().some((c) => c.clientId === 'house1' && c.username === 'house1'))
      const creds = await (await fetch(red.url(`/credentials/hearth-broker/${BROKER}`))).json() as Record<string, unknown>
      assert.deepEqual({ ...creds, username: undefined }, { has_password: false, has_userHashes: false, has_newPasswords: false, has_bridgePasswords: true, has_newBridgePasswords: false, username: undefined })
      const flows = await (await fetch(red.url('/flows'))).text()
      assert.doesNotMatch(flows, /cloud-pw/)

      await open()
      const again = page.locator(bridgeRows).nth(0)
      await page.waitForFunction(() => (globalThis as any).document.querySelector('.hearth-broker-bridge-password-state')?.textContent === 'password set', undefined, { timeout: 10000 })
      assert.equal(await again.locator('.hearth-broker-bridge-password').inputValue(), '')
      assert.equal(await again.locator('.hearth-broker-bridge-password').getAttribute('placeholder'), 'unchanged')
      assert.equal(await again.locator('.hearth-broker-bridge-password-clear').isVisible(), true)
      await shot('deployed')
      await done()
    })

    it('the help sidebar explains the bridges, their state topic, bridgeState and listBridges', async function () {
      await page.evaluate('RED.sidebar.help.show("hearth-broker")')
      await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('.red-ui-help')].some((e: any) => e.offsetParent !== null && (e.textContent ?? '').includes('listBridges')), undefined, { timeout: 10000 })
      const text = await page.locator('.red-ui-help:visible').first().innerText()
      for (const phrase of ['Bridges', 'Topic rules', 'local prefix', '$SYS/broker/connection/<client id>/state', 'bridgeState', 'listBridges', 'tls-config', '<name>.<hostname>']) assert.ok(text.includes(phrase), phrase)
    })

    it('logged no console errors', function () {
      assert.deepEqual(consoleErrors, [])
    })
  })
}
