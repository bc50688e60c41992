// Editor: the Hearth nodes in Node-RED 5's editor, in headless Debian Chromium driven by
// playwright-core. Palette, every edit dialog with its fields, the help sidebar, and no console
// errors. Screenshots go to test-artifacts/ (git-ignored).
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { echoFlow } from '../e2e/flows'
import { deploy, freePort, removeDir, RUNTIMES, startNodeRed, type NodeRed } from '../e2e/support'
import { artifacts, CHROMIUM_FLAGS, linkedUserDir } from './support'

const IDS = { broker: 'e2e0000000000002', connection: 'e2e0000000000003', subscribe: 'e2e0000000000004', publish: 'e2e0000000000006', external: 'e2e00000000000e1' }

/** An external connection config node (not used by a node: it stays idle) next to the echo flow. */
const EXTERNAL = {
  id: IDS.external, type: 'hearth-connection', name: '', brokerType: 'external', url: 'mqtts://broker.example:8883', tls: '', autoConnect: false,
  queueMaxMessages: '5000', queueMaxBytes: '', maxInflight: '20', maxSubscriptions: '', reconnectDelay: '', reconnectDelayMax: '',
  clientId: 'editor-ext', protocolVersion: '4', keepalive: '30', clean: true, sessionExpiry: '',
}

const EXTERNAL_FIELDS = ['#node-config-input-url', '#node-config-input-autoConnect', '#node-config-input-queueMaxMessages', '#node-config-input-queueMaxBytes',
  '#node-config-input-maxInflight', '#node-config-input-maxSubscriptions', '#node-config-input-reconnectDelay', '#node-config-input-reconnectDelayMax']

describe('editor: Hearth nodes in headless Chromium', function () {
  this.timeout(90000)
  let userDir: string
  let red: NodeRed
  let browser: Browser
  let page: Page
  const consoleErrors: string[] = []

  before(async function () {
    mkdirSync(artifacts, { recursive: true })
    userDir = linkedUserDir()
    red = await startNodeRed(RUNTIMES[1], userDir)
    await deploy(red, [...echoFlow(await freePort(), 'editor'), EXTERNAL])
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS })
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()) })
    page.on('pageerror', (e) => consoleErrors.push(String(e)))
    await page.goto(red.url('/'))
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="hearth-broker"]', { timeout: 30000 })
    await page.waitForFunction(() => (globalThis as any).RED?.nodes?.node('e2e0000000000002') != null)
  })

  /** Whether each selector is visible in the page. */
  function visible (selectors: string[]): Promise<boolean[]> {
    return Promise.all(selectors.map((sel) => page.locator(sel).isVisible()))
  }

  after(async function () {
    await browser?.close()
    await red?.stop()
    removeDir(userDir)
  })

  it('the palette shows the Hearth nodes under network, and the editor knows all four types', async function () {
    for (const type of ['hearth-broker', 'hearth-publish', 'hearth-subscribe']) {
      const label = await page.locator(`.red-ui-palette-node[data-palette-type="${type}"] .red-ui-palette-label`).innerText()
      assert.match(label.replace(/\s+/g, ' '), /^mqtt (broker|publish|subscribe)$/)
    }
    const types = await page.evaluate(() => ['hearth-broker', 'hearth-connection', 'hearth-publish', 'hearth-subscribe'].map((t) => (globalThis as any).RED.nodes.getType(t)?.category))
    assert.deepEqual(types, ['network', 'config', 'network', 'network'])
    // Every deployed node passes the editor's validation (no red triangle).
    const valid = await page.evaluate(`Object.values(${JSON.stringify(IDS)}).map((id) => RED.nodes.node(id).valid)`)
    assert.deepEqual(valid, [true, true, true, true, true])
    await page.screenshot({ path: path.join(artifacts, 'editor-flow.png') })
  })

  const dialogs: Array<[string, string, string[]]> = [
    ['broker', IDS.broker, ['#hearth-broker-listeners', '#node-input-tls', '#node-input-mqtt5', '#node-input-allowAnonymous', '#hearth-broker-users', '#node-input-aclEnabled', '#hearth-broker-acl', '#node-input-maximumQoS', '#node-input-retainAvailable', '#node-input-maxConnections', '#node-input-maxPacketSize', '#node-input-maxInflight', '#node-input-maxQueuedMessages', '#node-input-maxKeepalive', '#node-input-receiveMaximum', '#node-input-persistence']],
    ['subscribe', IDS.subscribe, ['#node-input-connection', '#node-input-dynamic', '#node-input-topic', '#node-input-qos', '#node-input-datatype', '#node-input-nl', '#node-input-rap', '#node-input-rh']],
    ['publish', IDS.publish, ['#node-input-connection', '#node-input-topic', '#node-input-qos', '#node-input-retain', '#node-input-contentType', '#node-input-responseTopic', '#node-input-userProperties', '#node-input-messageExpiryInterval']],
  ]
  for (const [name, id, fields] of dialogs) {
    it(`the ${name} edit dialog opens with its fields and labels`, async function () {
      await page.evaluate((nodeId) => { const R = (globalThis as any).RED; R.editor.edit(R.nodes.node(nodeId)) }, id)
      await page.waitForSelector(fields[0], { state: 'visible' })
      for (const f of fields) assert.equal(await page.locator(f).count(), 1, f)
      // Labels come from the message catalog: no raw keys left in the dialog.
      const text = await page.locator('.red-ui-tray-body').innerText()
      assert.doesNotMatch(text, /hearth-(broker|publish|subscribe|connection)\.[a-z]/)
      await page.screenshot({ path: path.join(artifacts, `dialog-${name}.png`) })
      await page.click('#node-dialog-cancel')
      await page.waitForSelector(fields[0], { state: 'detached' })
    })
  }

  it('the connection config dialog lists the broker node and its sections', async function () {
    await page.evaluate((nodeId) => { (globalThis as any).RED.editor.editConfig('', 'hearth-connection', nodeId) }, IDS.connection)
    await page.waitForSelector('#node-config-input-broker', { state: 'visible' })
    assert.equal(await page.locator('#node-config-input-broker').inputValue(), IDS.broker)
    for (const f of ['#node-config-input-clientId', '#node-config-input-protocolVersion', '#node-config-input-keepalive', '#node-config-input-clean', '#node-config-input-sessionExpiry', '#node-config-input-username', '#node-config-input-password', '#node-config-input-birthTopic', '#node-config-input-closeTopic', '#node-config-input-willTopic', '#node-config-input-willDelay']) {
      assert.equal(await page.locator(f).count(), 1, f)
    }
    assert.equal(await page.locator('#node-config-input-brokerType option[value="external"]').isDisabled(), false)
    // In-process: the broker list shows, the external fields do not.
    assert.deepEqual(await visible(['#node-config-input-broker', '#node-config-input-url', '#node-config-input-queueMaxMessages']), [true, false, false])
    // Switching to external shows the URL, TLS, connect and limit fields, and hides the broker list.
    await page.selectOption('#node-config-input-brokerType', 'external')
    assert.deepEqual(await visible(['#node-config-input-broker', ...EXTERNAL_FIELDS]), [false, ...EXTERNAL_FIELDS.map(() => true)])
    const text = await page.locator('.red-ui-tray-body').last().innerText()
    assert.doesNotMatch(text, /hearth-connection\.[a-z]/)
    await page.screenshot({ path: path.join(artifacts, 'dialog-connection.png') })
    await page.click('#node-config-dialog-cancel')
    await page.waitForSelector('#node-config-input-broker', { state: 'detached' })
  })

  it('an external connection opens with its URL, TLS picker, connect option and limits', async function () {
    await page.evaluate((nodeId) => { (globalThis as any).RED.editor.editConfig('', 'hearth-connection', nodeId) }, IDS.external)
    await page.waitForSelector('#node-config-input-url', { state: 'visible' })
    assert.deepEqual(await visible(['#node-config-input-broker', ...EXTERNAL_FIELDS]), [false, ...EXTERNAL_FIELDS.map(() => true)])
    assert.equal(await page.locator('#node-config-input-url').inputValue(), EXTERNAL.url)
    assert.equal(await page.locator('#node-config-input-autoConnect').isChecked(), false)
    assert.equal(await page.locator('#node-config-input-queueMaxMessages').inputValue(), '5000')
    // Node-RED turns the tls field into a picker of tls-config nodes.
    assert.equal(await page.locator('select#node-config-input-tls').count(), 1)
    // A URL with a bad scheme is marked invalid as it is typed.
    await page.fill('#node-config-input-url', 'http://broker.example')
    await page.dispatchEvent('#node-config-input-url', 'change')
    await page.waitForSelector('#node-config-input-url.input-error', { timeout: 5000 })
    await page.fill('#node-config-input-url', 'wss://broker.example/mqtt')
    await page.dispatchEvent('#node-config-input-url', 'change')
    await page.waitForSelector('#node-config-input-url:not(.input-error)', { timeout: 5000 })
    await page.screenshot({ path: path.join(artifacts, 'dialog-connection-external.png') })
    await page.click('#node-config-dialog-cancel')
    await page.waitForSelector('#node-config-input-url', { state: 'detached' })
  })

  it('the editor validates fields: a wildcard in a publish topic, a bad filter, a bad port', async function () {
    // A string, so the transpiler adds no helpers that the page does not have.
    const valid = await page.evaluate(`(() => {
      const def = (t) => RED.nodes.getType(t).defaults
      return {
        pubWildcard: def('hearth-publish').topic.validate.call({}, 'a/+'),
        pubOk: def('hearth-publish').topic.validate.call({}, 'a/b'),
        subBad: def('hearth-subscribe').topic.validate.call({ dynamic: false }, 'a/#/b'),
        subShared: def('hearth-subscribe').topic.validate.call({ dynamic: false }, '$share/g/a/+'),
        portBad: def('hearth-broker').port.validate.call({}, '70000'),
        portOk: def('hearth-broker').port.validate.call({}, '1883'),
        urls: ['mqtt://h:1883', 'mqtts://h', 'ws://h:8080/mqtt', 'wss://h/mqtt', 'http://h', 'mqtt://user:pw@h', 'mqtt://h:99999', 'mqtt://h/path', '']
          .map((u) => def('hearth-connection').url.validate.call({ brokerType: 'external' }, u)),
        urlLocal: def('hearth-connection').url.validate.call({ brokerType: 'local' }, ''),
        brokerExternal: def('hearth-connection').broker.validate.call({ brokerType: 'external' }, ''),
        brokerLocal: def('hearth-connection').broker.validate.call({ brokerType: 'local' }, ''),
        queue: ['', '0', '1000', '-1', 'many'].map((v) => def('hearth-connection').queueMaxMessages.validate.call({}, v)),
      }
    })()`)
    assert.deepEqual(valid, {
      pubWildcard: false, pubOk: true, subBad: false, subShared: true, portBad: false, portOk: true,
      urls: [true, true, true, true, false, false, false, false, false], urlLocal: true, brokerExternal: true, brokerLocal: false, queue: [true, true, true, false, false],
    })
  })

  const helpPhrases: Array<[string, string]> = [
    ['hearth-broker', 'A full redeploy closes the listeners'],
    ['hearth-connection', 'shared by the'],
    ['hearth-publish', 'once it was stored and acknowledged'],
    ['hearth-subscribe', 'Receives the messages published'],
  ]
  for (const [type, phrase] of helpPhrases) {
    it(`the help sidebar shows ${type}'s help`, async function () {
      await page.evaluate(`RED.sidebar.help.show(${JSON.stringify(type)})`)
      await page.waitForFunction(`[...document.querySelectorAll('.red-ui-help')].some((e) => e.offsetParent !== null && e.textContent.includes(${JSON.stringify(phrase)}))`, undefined, { timeout: 10000 })
      const visible = page.locator('.red-ui-help:visible')
      assert.match(await visible.first().innerText(), /Details/)
      if (type !== 'hearth-connection') assert.ok((await visible.locator('dl.message-properties').count()) > 0)
      await page.screenshot({ path: path.join(artifacts, `help-${type}.png`) })
    })
  }

  it('logged no console errors', function () {
    assert.deepEqual(consoleErrors, [])
  })
})
