// hearth-broker disk persistence in Node-RED 4.1 (node-red-node-test-helper, a temporary userDir):
// retained messages and persistent sessions survive a full redeploy and a simulated restart (helper
// unload, the built node module loaded afresh, load again); persistence off keeps them in memory;
// an unusable folder is a red status and an error; a damaged log tail is a warning and the broker runs.
import assert from 'node:assert/strict'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { MqttClient } from 'mqtt'
import { brokerFlow } from './flows/broker.flows'
import { connectClient, endClient, errors, hearthNodes, helper, lastStatus, waitFor } from './support'

const root = path.join(__dirname, '..', '..')
const builtBroker = path.join(root, 'nodes', 'hearth-broker.js')
const [brokerModule] = hearthNodes

/** The built hearth-broker module loaded afresh, as a restarted Node-RED loads it: no state from before. */
function freshBrokerModule (): unknown {
  delete require.cache[require.resolve(builtBroker)]
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(builtBroker) as { default?: unknown }
  return mod.default ?? mod
}

/** Every warning node `id` logged (the helper spies on the shared Node prototype). */
function warnings (id: string): string[] {
  const n = helper.getNode(id)
  return (n.warn.getCalls() as Array<{ thisValue: unknown, args: unknown[] }>).filter((c) => c.thisValue === n).map((c) => String(c.args[0]))
}

/** Every status node `id` set, in order. */
function statuses (id: string): Array<{ fill?: string, text?: string }> {
  const n = helper.getNode(id)
  return (n.status.getCalls() as Array<{ thisValue: unknown, args: any[] }>).filter((c) => c.thisValue === n).map((c) => c.args[0])
}

async function brokerPort (id = 'broker'): Promise<number> {
  const n = helper.getNode(id)
  await n.ready
  assert.ok(n.port, `broker ${id} is not listening: ${String(n.failure)}`)
  // The port binds before the stored state has loaded; recovery warnings come with the load.
  await n.broker?.ready
  return n.port as number
}

function logFiles (dir: string): string[] {
  return readdirSync(dir).filter((f) => /^hearth-\d+\.log$/.test(f))
}

const QUEUED = 50
const RETAINED = 20

describe('hearth-broker node: disk persistence', function () {
  this.timeout(20000)
  let userDir: string
  let clients: MqttClient[] = []

  before(function () {
    userDir = mkdtempSync(path.join(os.tmpdir(), 'hearth-userdir-'))
    helper.settings({ userDir })
  })
  after(function () {
    helper.settings({ userDir: undefined })
    rmSync(userDir, { recursive: true, force: true })
  })
  afterEach(async function () {
    await Promise.all(clients.map(endClient))
    clients = []
    await helper.unload()
  })

  /** A persistent subscriber goes offline, then QoS 1 messages are queued for it and retained topics are set. */
  async function writeState (prefix: string): Promise<void> {
    const port = await brokerPort()
    const sub = await connectClient(port, { clientId: `${prefix}-sub`, clean: false, protocolVersion: 4 })
    await sub.subscribeAsync(`${prefix}/q/#`, { qos: 1 })
    await sub.endAsync()
    const pub = await connectClient(port, { clientId: `${prefix}-pub` })
    clients.push(pub)
    for (let i = 0; i < RETAINED; i++) await pub.publishAsync(`${prefix}/r/${i}`, `r${i}`, { qos: 1, retain: true })
    for (let i = 0; i < QUEUED; i++) await pub.publishAsync(`${prefix}/q/${i}`, `q${i}`, { qos: 1 })
  }

  /** The subscriber's session is back with every queued message, and every retained topic is back. */
  async function checkState (prefix: string): Promise<void> {
    const port = await brokerPort()
    const queued: string[] = []
    const sub = await connectClient(port, { clientId: `${prefix}-sub`, clean: false, protocolVersion: 4 }, (_t, p) => queued.push(p.toString()))
    clients.push(sub)
    await waitFor(() => queued.length >= QUEUED, 5000, `${QUEUED} queued messages (got ${queued.length})`)
    assert.deepEqual(queued, Array.from({ length: QUEUED }, (_, i) => `q${i}`))
    const retained = new Map<string, string>()
    const reader = await connectClient(port, {}, (t, p) => retained.set(t, p.toString()))
    clients.push(reader)
    await reader.subscribeAsync(`${prefix}/r/#`, { qos: 1 })
    await waitFor(() => retained.size >= RETAINED, 5000, `${RETAINED} retained messages (got ${retained.size})`)
    for (let i = 0; i < RETAINED; i++) assert.equal(retained.get(`${prefix}/r/${i}`), `r${i}`)
  }

  it('is on by default, in <userDir>/hearth/<node id>/; the lock is released when the node has closed', async function () {
    await helper.load(hearthNodes, brokerFlow())
    await brokerPort()
    const dir = path.join(userDir, 'hearth', 'broker')
    assert.equal(helper.getNode('broker').persistenceDir, dir)
    assert.equal(logFiles(dir).length, 1)
    assert.ok(existsSync(path.join(dir, 'hearth.lock')))
    assert.deepEqual(errors('broker'), [])
    assert.deepEqual(warnings('broker'), [])
    await helper.unload()
    // close(removed, done) called done only after the broker closed its store.
    assert.equal(existsSync(path.join(dir, 'hearth.lock')), false)
  })

  it('a full redeploy keeps retained messages and a persistent session with queued QoS 1 messages', async function () {
    await helper.load(hearthNodes, brokerFlow())
    await writeState('redeploy')
    await helper.setFlows(brokerFlow({ name: 'redeployed' }), 'full')
    await brokerPort()
    assert.equal(helper.getNode('broker').persistenceDir, path.join(userDir, 'hearth', 'broker'))
    await checkState('redeploy')
    assert.deepEqual(errors('broker'), [])
  })

  it('a restart (helper unload, the node module loaded afresh, load again) keeps them too', async function () {
    await helper.load(hearthNodes, brokerFlow())
    await writeState('restart')
    await helper.unload()
    const fresh = freshBrokerModule()
    assert.notEqual(fresh, brokerModule)
    await helper.load([fresh], brokerFlow())
    await checkState('restart')
    assert.deepEqual(errors('broker'), [])
  })

  it('sync mode periodic: kept across a restart as well', async function () {
    const flow = brokerFlow({ persistenceSync: 'periodic', persistenceFlushInterval: '200' }, 'periodic')
    await helper.load(hearthNodes, flow)
    await brokerPort('periodic')
    assert.equal(helper.getNode('periodic').persistenceDir, path.join(userDir, 'hearth', 'periodic'))
    const n = helper.getNode('periodic')
    n.receive({ action: 'publish', topic: 'p/state', payload: 'kept', qos: 1, retain: true })
    await waitFor(() => n.broker?.retained('p/state').length)
    await helper.unload()
    await helper.load([freshBrokerModule()], flow)
    await brokerPort('periodic')
    assert.equal(helper.getNode('periodic').broker?.retained('p/state')[0]?.payload.toString(), 'kept')
  })

  it('a folder override: a relative path starts at userDir and is used as is', async function () {
    await helper.load(hearthNodes, brokerFlow({ persistenceDir: 'custom/place' }))
    await brokerPort()
    const dir = path.join(userDir, 'custom', 'place')
    assert.equal(helper.getNode('broker').persistenceDir, dir)
    assert.equal(logFiles(dir).length, 1)
  })

  it('persistence off: state in memory, nothing on disk; kept across a redeploy, gone after a restart', async function () {
    const flow = brokerFlow({ persistence: false }, 'mem')
    await helper.load(hearthNodes, flow)
    await brokerPort('mem')
    const n = helper.getNode('mem')
    assert.equal(n.persistenceDir, undefined)
    n.receive({ action: 'publish', topic: 'm/state', payload: 'here', qos: 1, retain: true })
    await waitFor(() => n.broker?.retained('m/state').length)
    assert.equal(existsSync(path.join(userDir, 'hearth', 'mem')), false)
    await helper.setFlows(brokerFlow({ persistence: false, name: 'again' }, 'mem'), 'full')
    await brokerPort('mem')
    assert.equal(helper.getNode('mem').broker?.retained('m/state').length, 1)
    await helper.unload()
    await helper.load([freshBrokerModule()], flow)
    await brokerPort('mem')
    assert.equal(helper.getNode('mem').broker?.retained('#').length, 0)
    assert.equal(existsSync(path.join(userDir, 'hearth', 'mem')), false)
  })

  it('an unusable folder (a file in the way): red ring and the persistence-unusable error, no throw; other nodes run', async function () {
    const blocker = path.join(userDir, 'not-a-folder')
    writeFileSync(blocker, 'x')
    const flow = [
      ...brokerFlow({ persistenceDir: path.join(blocker, 'store') }),
      { id: 'other', type: 'hearth-broker', z: 'f1', x: 100, y: 200, name: '', port: 0, host: '127.0.0.1', wires: [[]] },
    ]
    await helper.load(hearthNodes, flow)
    const n = helper.getNode('broker')
    await n.ready
    assert.equal(n.broker, undefined)
    assert.equal(n.persistenceDir, undefined)
    assert.deepEqual(lastStatus('broker'), { fill: 'red', shape: 'ring', text: 'hearth-broker.errors.persistence-unusable' })
    assert.deepEqual(errors('broker'), ['hearth-broker.errors.persistence-unusable'])
    // The rest of the flow runs: another broker node starts normally.
    await brokerPort('other')
  })

  it('two broker nodes given the same folder: the second gets a red ring and an error, the first runs', async function () {
    const shared = path.join(userDir, 'shared')
    const flow = [
      ...brokerFlow({ persistenceDir: shared }),
      { id: 'second', type: 'hearth-broker', z: 'f1', x: 100, y: 200, name: '', port: 0, host: '127.0.0.1', persistenceDir: shared, wires: [[]] },
    ]
    await helper.load(hearthNodes, flow)
    await Promise.all([helper.getNode('broker').ready, helper.getNode('second').ready])
    const running = ['broker', 'second'].filter((id) => helper.getNode(id).broker !== undefined)
    assert.equal(running.length, 1, 'exactly one of them runs')
    const failed = running[0] === 'broker' ? 'second' : 'broker'
    assert.deepEqual(errors(failed), ['hearth-broker.errors.persistence-in-use'])
    assert.equal(lastStatus(failed)?.fill, 'red')
  })

  it('waits for a folder that is still held, then starts (the lock is retried briefly)', async function () {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const core = require(path.join(root, 'dist/broker/index.js')) as typeof import('../../src/broker')
    const dir = path.join(userDir, 'hearth', 'held')
    const holder = new core.FilePersistence({ dir })
    await holder.open()
    const release = new Promise<void>((resolve) => setTimeout(() => { holder.close().then(resolve, resolve) }, 500))
    await helper.load(hearthNodes, brokerFlow({}, 'held'))
    await release
    await brokerPort('held')
    assert.ok(statuses('held').some((s) => s.fill === 'yellow' && s.text === 'hearth-broker.status.waiting-folder'))
    assert.deepEqual(errors('held'), [])
  })

  it('a damaged log tail (garbage appended): a warning, the broker starts with everything before it', async function () {
    const flow = brokerFlow({}, 'damaged')
    await helper.load(hearthNodes, flow)
    await brokerPort('damaged')
    const n = helper.getNode('damaged')
    for (let i = 0; i < 10; i++) await n.broker.publish({ topic: `d/${i}`, payload: Buffer.from(`v${i}`), qos: 1, retain: true })
    await helper.unload()
    const dir = path.join(userDir, 'hearth', 'damaged')
    const [log] = logFiles(dir)
    appendFileSync(path.join(dir, log), Buffer.from('\x00\x00\x01\x00this is not a record'))
    await helper.load(hearthNodes, flow)
    await brokerPort('damaged')
    assert.deepEqual(warnings('damaged'), ['hearth-broker.warnings.recovered'])
    assert.deepEqual(errors('damaged'), [])
    assert.equal(lastStatus('damaged')?.fill, 'green')
    assert.deepEqual(helper.getNode('damaged').broker.retained('d/#').map((m: { topic: string }) => m.topic).sort(), Array.from({ length: 10 }, (_, i) => `d/${i}`).sort())
  })

  it('a log cut at a random offset: a warning, the broker starts with a prefix of what was written', async function () {
    const flow = brokerFlow({}, 'cut')
    await helper.load(hearthNodes, flow)
    await brokerPort('cut')
    const n = helper.getNode('cut')
    for (let i = 0; i < 40; i++) await n.broker.publish({ topic: `c/${i}`, payload: Buffer.alloc(32, i), qos: 1, retain: true })
    await helper.unload()
    const dir = path.join(userDir, 'hearth', 'cut')
    const file = path.join(dir, logFiles(dir)[0])
    const size = statSync(file).size
    // Inside the payload of one of the later messages, at a random place in it: never on a record boundary
    // (a log cut exactly between two records is a shorter intact log, with nothing to warn about).
    const i = 20 + Math.floor(Math.random() * 20)
    const payloadAt = readFileSync(file).indexOf(Buffer.alloc(32, i))
    assert.ok(payloadAt > 0, `the payload of c/${i} is in the log`)
    const at = payloadAt + 1 + Math.floor(Math.random() * 30)
    truncateSync(file, at)
    await helper.load(hearthNodes, flow)
    await brokerPort('cut')
    assert.deepEqual(warnings('cut'), ['hearth-broker.warnings.recovered'])
    const topics = helper.getNode('cut').broker.retained('c/#').map((m: { topic: string }) => Number(m.topic.slice(2))).sort((a: number, b: number) => a - b)
    assert.ok(topics.length > 0 && topics.length < 40, `kept ${topics.length} of 40 (cut at ${at} of ${size} bytes)`)
    assert.deepEqual(topics, Array.from({ length: topics.length }, (_, i) => i), 'the kept topics are the first ones written')
  })

  it('deleting the node (removed) keeps its folder on disk', async function () {
    await helper.load(hearthNodes, brokerFlow({}, 'removed'))
    await brokerPort('removed')
    helper.getNode('removed').receive({ action: 'publish', topic: 'x/kept', payload: 'yes', qos: 1, retain: true })
    await waitFor(() => helper.getNode('removed').broker?.retained('x/kept').length)
    await helper.setFlows(brokerFlow({}, 'removed').filter((n) => (n as { type: string }).type !== 'hearth-broker'), 'full')
    const dir = path.join(userDir, 'hearth', 'removed')
    assert.equal(logFiles(dir).length, 1)
    assert.equal(existsSync(path.join(dir, 'hearth.lock')), false)
    // Added back (same id, as an undo does): its state is back.
    await helper.setFlows(brokerFlow({}, 'removed'), 'full')
    await brokerPort('removed')
    assert.equal(helper.getNode('removed').broker?.retained('x/kept').length, 1)
  })

  it('without a userDir (an embedding without one): memory, and a warning saying how to keep state on disk', async function () {
    helper.settings({ userDir: undefined })
    try {
      await helper.load(hearthNodes, brokerFlow({}, 'nodir'))
      await brokerPort('nodir')
      assert.equal(helper.getNode('nodir').persistenceDir, undefined)
      assert.deepEqual(warnings('nodir'), ['hearth-broker.warnings.no-user-dir'])
    } finally {
      helper.settings({ userDir })
    }
  })

  it('a bad sync mode in the flow: red ring and an error', async function () {
    mkdirSync(path.join(userDir, 'hearth'), { recursive: true })
    await helper.load(hearthNodes, brokerFlow({ persistenceSync: 'sometimes' }, 'badsync'))
    await helper.getNode('badsync').ready
    assert.deepEqual(errors('badsync'), ['hearth-broker.errors.bad-sync'])
    assert.equal(lastStatus('badsync')?.fill, 'red')
  })
})
