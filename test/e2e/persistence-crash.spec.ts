// End to end, crash: the npm pack tarball in a real Node-RED 4.1 process (Node 20), one hearth-broker
// node with default persistence (<userDir>/hearth/<node id>/, sync always). QoS 1 and QoS 2 load
// toward offline persistent subscribers plus retained publishes, kill -9 of Node-RED mid-stream,
// restart, count:
//   - every QoS 1 message the broker acknowledged (PUBACK) reaches each subscriber [MQTT-4.3.2-2];
//   - QoS 2: once the publisher resumes its session (PUBREL for PUBREC'd messages, PUBLISH with DUP
//     for the rest [MQTT-4.4.0-1]) each message reaches each subscriber exactly once [MQTT-4.3.3-2];
//   - every retained topic comes back with its last acknowledged value or a later one.
// Then a clean stop (SIGINT) and start of Node-RED keeps everything too.
import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import type { Packet, QoS } from 'mqtt-packet'
import { CrashClient, countDeliveries } from '../crash/crash-client'
import { deploy, freePort, makeUserDir, packTarball, removeDir, RUNTIMES, startNodeRed, tempDir, waitFor, type NodeRed } from './support'

const BROKER_ID = 'ee00000000000b01'
const WINDOW = 32 // the broker's default Receive Maximum [MQTT-3.3.4-7]
const RETAINED_TOPICS = 200
const KILL_AFTER_ACKS = 4000
const SUBSCRIBERS = [{ id: 'nr-sub-v4', version: 4 as const }, { id: 'nr-sub-v5', version: 5 as const }]

function brokerFlow (port: number): object[] {
  const z = 'ee00000000000a01'
  return [
    { id: z, type: 'tab', label: 'crash' },
    // No persistence settings: the defaults (on, default folder, sync always) are what is tested.
    { id: BROKER_ID, type: 'hearth-broker', z, name: 'durable', port: String(port), host: '127.0.0.1', maxQueuedMessages: '1000000', x: 150, y: 60, wires: [[]] },
  ]
}

const clients = new Set<CrashClient>()

async function connect (port: number, clientId: string, version: 4 | 5, clean: boolean): Promise<{ client: CrashClient, sessionPresent: boolean }> {
  const { client, connack } = await CrashClient.connect(port, { clientId, version, clean, sessionExpiry: version === 5 ? 0xFFFFFFFF : undefined })
  clients.add(client)
  void client.closed.then(() => clients.delete(client))
  return { client, sessionPresent: connack.sessionPresent }
}

/** Connect once the broker node listens (it starts after "Started flows"). */
async function connectWhenUp (port: number, clientId: string, version: 4 | 5, clean: boolean): Promise<{ client: CrashClient, sessionPresent: boolean }> {
  const deadline = Date.now() + 15000
  for (;;) {
    try {
      return await connect(port, clientId, version, clean)
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

/** One publisher's bookkeeping: message numbers by packet id, and what the broker acknowledged. */
interface Load {
  inflight: Map<number, number>
  sent: Set<number>
  /** PUBACK (QoS 1) or PUBREC (QoS 2): the broker took responsibility for the message. */
  acked: Set<number>
  /** QoS 2: PUBCOMP received. */
  completed: Set<number>
  next: number
}
const newLoad = (): Load => ({ inflight: new Map(), sent: new Set(), acked: new Set(), completed: new Set(), next: 0 })

/** Keep WINDOW messages in flight until the connection dies. */
function publishLoad (c: CrashClient, load: Load, qos: QoS, retain: boolean, topicOf: (n: number) => string, onAck: (n: number) => void): void {
  const sendNext = (): void => {
    if (c.isClosed) return
    const n = load.next++
    const pid = c.packetId()
    load.inflight.set(pid, n)
    load.sent.add(n)
    c.publish(pid, topicOf(n), String(n), qos, retain)
  }
  c.on('packet', (p: Packet) => {
    if (p.cmd !== 'puback' && p.cmd !== 'pubrec' && p.cmd !== 'pubcomp') return
    const n = load.inflight.get(p.messageId as number)
    if (n === undefined) return
    if (p.cmd === 'pubrec') {
      if (!load.acked.has(n)) { load.acked.add(n); onAck(n) }
      c.send({ cmd: 'pubrel', messageId: p.messageId })
      return
    }
    load.inflight.delete(p.messageId as number)
    if (p.cmd === 'puback') { load.acked.add(n); onAck(n) } else load.completed.add(n)
    sendNext()
  })
  for (let i = 0; i < WINDOW; i++) sendNext()
}

async function settled (seen: Map<string, number>, ms: number): Promise<void> {
  let last = -1
  for (;;) {
    const total = [...seen.values()].reduce((a, b) => a + b, 0)
    if (total === last) return
    last = total
    await new Promise((resolve) => setTimeout(resolve, ms))
  }
}

/** Retained messages under ret/#, topic -> message number. */
async function readRetained (port: number, clientId: string, expected: number): Promise<Map<string, number>> {
  const { client } = await connect(port, clientId, 4, true)
  const retained = new Map<string, number>()
  client.consume((p: Packet) => {
    if (p.cmd === 'publish' && p.retain) retained.set(p.topic, Number(p.payload.toString()))
    if (p.cmd === 'publish' && p.qos === 1) client.send({ cmd: 'puback', messageId: p.messageId })
  })
  await client.subscribe([{ topic: 'ret/#', qos: 1 }])
  await waitFor(() => retained.size >= expected, 10000, `${expected} retained topics (got ${retained.size})`).catch(() => {})
  await client.end()
  return retained
}

describe('end to end: kill -9 of Node-RED with a persistent hearth-broker node', function () {
  this.timeout(90000)
  const rt = RUNTIMES[0] // Node-RED 4.1 on Node 20
  let packDir: string | undefined
  let userDir: string | undefined
  let red: NodeRed | undefined

  before(async function () {
    packDir = tempDir('hearth-pack-')
    userDir = await makeUserDir(await packTarball(packDir))
  })
  afterEach(function () {
    for (const c of clients) c.destroy()
    clients.clear()
  })
  after(async function () {
    await red?.stop()
    removeDir(userDir)
    removeDir(packDir)
  })

  it(`kill -9 mid-stream, restart: no acknowledged QoS 1/2 message lost, no QoS 2 duplicate, every retained topic back [MQTT-4.3.2-2] [MQTT-4.3.3-2] [MQTT-4.4.0-1]; a clean stop and start keeps it all`, async function () {
    red = await startNodeRed(rt, userDir!)
    const port = await freePort()
    await deploy(red, brokerFlow(port))
    const store = path.join(userDir!, 'hearth', BROKER_ID)

    // Offline persistent subscribers.
    for (const s of SUBSCRIBERS) {
      const { client } = await connectWhenUp(port, s.id, s.version, s.version === 5)
      assert.deepEqual(await client.subscribe([{ topic: 'load/q1', qos: 1 }, { topic: 'load/q2', qos: 2 }]), [1, 2])
      await client.end()
    }
    assert.ok(readdirSync(store).some((f) => /^hearth-\d+\.log$/.test(f)), `the default folder ${store} holds the log`)

    // Load until the kill: QoS 1, QoS 2 (a session that outlives the connection) and retained QoS 1.
    const q1 = newLoad()
    const q2 = newLoad()
    const ret = newLoad()
    const retAcked = new Map<string, number>()
    let acks = 0
    const nr = red
    const exited = new Promise<void>((resolve) => nr.proc.once('exit', () => resolve()))
    const onAck = (): void => { if (++acks === KILL_AFTER_ACKS) nr.proc.kill('SIGKILL') }
    const p1 = (await connect(port, 'nr-pub-q1', 4, true)).client
    const p2 = (await connect(port, 'nr-pub-q2', 5, true)).client
    const p3 = (await connect(port, 'nr-pub-ret', 4, true)).client
    const started = Date.now()
    publishLoad(p1, q1, 1, false, () => 'load/q1', onAck)
    publishLoad(p2, q2, 2, false, () => 'load/q2', onAck)
    publishLoad(p3, ret, 1, true, (n) => `ret/${n % RETAINED_TOPICS}`, (n) => {
      const t = `ret/${n % RETAINED_TOPICS}`
      retAcked.set(t, Math.max(retAcked.get(t) ?? -1, n))
      onAck()
    })
    const fallback = setTimeout(() => nr.proc.kill('SIGKILL'), 20000)
    await exited
    clearTimeout(fallback)
    assert.equal(nr.proc.signalCode, 'SIGKILL')
    await Promise.all([p1.closed, p2.closed, p3.closed])
    const loadMs = Date.now() - started
    assert.ok(existsSync(path.join(store, 'hearth.lock')), 'kill -9 left the lock file behind')

    // Restart Node-RED on the same userDir: the flow (and port) come back from flows.json.
    red = await startNodeRed(rt, userDir!)
    const q2AckedBeforeKill = q2.acked.size

    // The QoS 2 publisher resumes: PUBREL for PUBREC'd messages, PUBLISH with DUP for the rest.
    const resumed = await connectWhenUp(port, 'nr-pub-q2', 5, false)
    assert.equal(resumed.sessionPresent, true, 'the QoS 2 publisher session survived')
    const pending = new Map(q2.inflight)
    resumed.client.consume((p: Packet) => {
      const n = pending.get(p.messageId as number)
      if (n === undefined) return
      if (p.cmd === 'pubrec') { q2.acked.add(n); resumed.client.send({ cmd: 'pubrel', messageId: p.messageId }) }
      if (p.cmd === 'pubcomp') { pending.delete(p.messageId as number); q2.completed.add(n) }
    })
    for (const [pid, n] of q2.inflight) {
      if (q2.acked.has(n)) resumed.client.send({ cmd: 'pubrel', messageId: pid })
      else resumed.client.publish(pid, 'load/q2', String(n), 2, false, true)
    }
    await waitFor(() => pending.size === 0, 15000, 'the QoS 2 publisher to complete every message')
    assert.equal(q2.completed.size, q2.sent.size)
    await resumed.client.end()

    // The subscribers come back and get what was queued for them.
    const counts: string[] = []
    for (const s of SUBSCRIBERS) {
      const { client, sessionPresent } = await connect(port, s.id, s.version, false)
      assert.equal(sessionPresent, true, `${s.id}: the session survived`)
      const seen = countDeliveries(client)
      await waitFor(() => [...q1.acked].every((n) => seen.has(`load/q1 ${n}`)) && [...q2.sent].every((n) => seen.has(`load/q2 ${n}`)),
        15000, `${s.id} to receive every acknowledged message`).catch(() => {})
      await settled(seen, 300)
      const lostQ1 = [...q1.acked].filter((n) => !seen.has(`load/q1 ${n}`))
      const lostQ2 = [...q2.sent].filter((n) => !seen.has(`load/q2 ${n}`))
      const dupQ2 = [...q2.sent].filter((n) => (seen.get(`load/q2 ${n}`) ?? 0) > 1)
      assert.deepEqual(lostQ1.slice(0, 20), [], `${s.id}: ${lostQ1.length} acknowledged QoS 1 messages lost`)
      assert.deepEqual(lostQ2.slice(0, 20), [], `${s.id}: ${lostQ2.length} QoS 2 messages lost`)
      assert.deepEqual(dupQ2.slice(0, 20), [], `${s.id}: ${dupQ2.length} QoS 2 messages duplicated`)
      const q1Delivered = [...seen.keys()].filter((k) => k.startsWith('load/q1 ')).length
      const q2Delivered = [...seen.keys()].filter((k) => k.startsWith('load/q2 ')).length
      counts.push(`${s.id}: QoS 1 ${q1.acked.size} acked (of ${q1.sent.size} sent), ${q1Delivered} delivered, 0 lost; ` +
        `QoS 2 ${q2AckedBeforeKill} PUBREC'd before the kill, ${q2.sent.size} after resume, ${q2Delivered} delivered, each once`)
      await client.end()
    }

    // Every retained topic with an acknowledged publish is back, at that value or a later one.
    const retained = await readRetained(port, 'nr-ret-check', retAcked.size)
    const missing = [...retAcked].filter(([t, n]) => (retained.get(t) ?? -1) < n)
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} retained topics lost or rolled back`)
    const recovered = red.log.filter((l) => l.includes('damaged or incomplete record'))
    console.log(`      Node-RED 4.1 killed (-9) after ${acks} acknowledgements (${loadMs} ms of load); restarted`)
    for (const line of counts) console.log(`      ${line}`)
    console.log(`      retained: ${ret.acked.size} acknowledged publishes over ${retAcked.size} topics, ${retAcked.size - missing.length} topics back at their last acknowledged value or later; ` +
      `${recovered.length === 0 ? 'the log ended on a whole record' : 'recovery cut a torn last record (warning logged)'}`)

    // A clean stop and start: queue more for the offline subscribers, update retained topics, SIGINT, start.
    const pub = (await connect(port, 'nr-pub-final', 5, true)).client
    const finalAcks = new Set<number>()
    pub.consume((p: Packet) => { if (p.cmd === 'puback') finalAcks.add(p.messageId as number) })
    // in windows within the broker's Receive Maximum [MQTT-3.3.4-7]
    const finals: Array<() => void> = []
    for (let i = 1; i <= 100; i++) finals.push(() => pub.publish(i, 'load/q1', `final-${i}`, 1))
    for (let i = 0; i < RETAINED_TOPICS; i++) finals.push(() => pub.publish(101 + i, `ret/${i}`, String(1000000 + i), 1, true))
    for (let i = 0; i < finals.length; i += WINDOW) {
      finals.slice(i, i + WINDOW).forEach((send) => send())
      const upTo = Math.min(i + WINDOW, finals.length)
      await waitFor(() => finalAcks.size === upTo, 10000, 'acknowledgements before the clean stop')
    }
    await pub.end()
    await red.stop()
    assert.equal(red.proc.exitCode, 0)
    assert.equal(existsSync(path.join(store, 'hearth.lock')), false, 'a clean stop releases the lock')
    red = await startNodeRed(rt, userDir!)
    for (const s of SUBSCRIBERS) {
      const { client, sessionPresent } = await connectWhenUp(port, s.id, s.version, false)
      assert.equal(sessionPresent, true)
      const seen = countDeliveries(client)
      await waitFor(() => [...Array(100).keys()].every((i) => seen.has(`load/q1 final-${i + 1}`)), 10000, `${s.id}: the messages queued before the clean stop`)
      await client.end()
    }
    const after = await readRetained(port, 'nr-ret-check-2', RETAINED_TOPICS)
    assert.equal(after.size, RETAINED_TOPICS)
    for (let i = 0; i < RETAINED_TOPICS; i++) assert.equal(after.get(`ret/${i}`), 1000000 + i)
    assert.deepEqual(red.log.filter((l) => /\[(error|warn)\]/.test(l) && l.includes('hearth')), [])
  })

  it('an unusable persistence folder: the error names the folder and what to fix; Node-RED keeps running', async function () {
    assert.ok(red && red.proc.exitCode === null, 'Node-RED runs (started by the previous test)')
    const port = await freePort()
    const bad = path.join(userDir!, 'flows.json', 'store') // under a file: cannot be created
    const flow = brokerFlow(port).map((n) => ((n as { type: string }).type === 'hearth-broker' ? { ...n, persistenceDir: bad } : n))
    const from = red.log.length
    await deploy(red, flow)
    const line = await waitFor(() => red!.log.slice(from).find((l) => l.includes('[error]') && l.includes('hearth-broker')), 5000, 'the error')
    assert.ok(line.includes(`cannot keep the broker state in ${bad}`), line)
    console.log(`      ${line.replace(/^.*\[error\] /, '')}`)
    assert.match(line, /check that Node-RED may create and write this folder, choose another folder, or turn persistence off/)
    assert.equal((await fetch(red.url('/flows'))).status, 200)
    assert.equal(red.proc.exitCode, null)
  })
})
