/**
 * Crash tests of the CLI broker with --persistence-dir: QoS 1, QoS 2 and retained load toward
 * offline persistent subscribers, kill -9 mid-stream, restart on the same directory, count.
 *
 *   - every QoS 1 message the broker acknowledged (PUBACK) reaches the subscribers [MQTT-4.3.2-2];
 *   - QoS 2: after the publisher resumes its session (resending unacknowledged PUBLISH with DUP and
 *     PUBREL for PUBREC'd ones [MQTT-4.4.0-1]) every message reaches each subscriber exactly once
 *     [MQTT-4.3.3-2]: PUBREC'd ones were kept, none is duplicated thanks to the persisted incoming
 *     QoS 2 state;
 *   - every retained topic comes back with its last acknowledged value or a later one.
 *
 * Each round prints one summary line with the counts.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Packet, QoS } from 'mqtt-packet'
import { CrashClient, countDeliveries } from './crash-client'

const REPO_ROOT = join(__dirname, '..', '..')
/** HEARTH_CRASH_BIN runs the rounds against another build of the CLI (same arguments and listening line). */
const BIN = process.env.HEARTH_CRASH_BIN ?? join(REPO_ROOT, 'bin', 'hearth-broker.js')
const BUILT = join(REPO_ROOT, 'dist', 'cli', 'hearth-broker.js')
const LINE = /hearth-broker listening on mqtt:\/\/127\.0\.0\.1:(\d+)/
const WINDOW = 32 // the broker's default Receive Maximum [MQTT-3.3.4-7]
const RETAINED_TOPICS = 300

function newestMtime (dir: string): number {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return t
}

/** Build dist/ when it is missing or older than src/ (npm test builds first anyway). */
function ensureBuilt (): void {
  const src = Math.max(newestMtime(join(REPO_ROOT, 'src', 'broker')), newestMtime(join(REPO_ROOT, 'src', 'cli')))
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= src) return
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120000 })
  if (r.status !== 0 || !existsSync(BUILT)) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`)
}

interface BrokerProcess { child: ChildProcess, port: number, exited: Promise<number | null>, output: () => string }

const children = new Set<ChildProcess>()
const clients = new Set<CrashClient>()

async function startBroker (store: string, config: string): Promise<BrokerProcess> {
  const child = spawn(process.execPath, [BIN, '--port', '0', '--host', '127.0.0.1', '--persistence-dir', store, '--config', config],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { children.delete(child); resolve(code) }))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start within 20 s:\n${out}`)), 20000)
    const check = (): void => {
      const m = LINE.exec(out)
      if (m) { clearTimeout(timer); child.stdout?.off('data', check); resolve(Number(m[1])) }
    }
    child.stdout?.on('data', check)
    void exited.then(code => { clearTimeout(timer); reject(new Error(`broker exited with ${String(code)} before listening:\n${out}`)) })
  })
  return { child, port, exited, output: () => out }
}

async function connect (port: number, clientId: string, version: 4 | 5, clean: boolean): Promise<{ client: CrashClient, sessionPresent: boolean }> {
  const { client, connack } = await CrashClient.connect(port, { clientId, version, clean, sessionExpiry: version === 5 ? 0xFFFFFFFF : undefined })
  clients.add(client)
  void client.closed.then(() => clients.delete(client))
  return { client, sessionPresent: connack.sessionPresent }
}

const SUBSCRIBERS = [{ id: 'crash-sub-v4', version: 4 as const }, { id: 'crash-sub-v5', version: 5 as const }]

interface PubState {
  /** packet id -> message number, for messages not yet completed */
  inflight: Map<number, number>
  sent: Set<number>
  /** PUBACK (QoS 1) or PUBREC (QoS 2) received: the broker took responsibility */
  acked: Set<number>
  /** QoS 2: PUBCOMP received */
  completed: Set<number>
  next: number
}

function newPubState (): PubState { return { inflight: new Map(), sent: new Set(), acked: new Set(), completed: new Set(), next: 0 } }

/**
 * Keep WINDOW messages in flight until the connection dies. `topicOf`/`payloadOf` name message n.
 * `onAck` runs for each acknowledgement (PUBACK or PUBREC).
 */
function runPublisher (c: CrashClient, st: PubState, qos: QoS, retain: boolean, topicOf: (n: number) => string, payloadOf: (n: number) => string, onAck: (n: number) => void): void {
  const sendNext = (): void => {
    if (c.isClosed) return
    const n = st.next++
    const pid = c.packetId()
    st.inflight.set(pid, n)
    st.sent.add(n)
    c.publish(pid, topicOf(n), payloadOf(n), qos, retain)
  }
  c.on('packet', (p: Packet) => {
    if (p.cmd === 'puback' && qos === 1) {
      const n = st.inflight.get(p.messageId as number)
      if (n === undefined) return
      st.inflight.delete(p.messageId as number)
      st.acked.add(n)
      onAck(n)
      sendNext()
    } else if (p.cmd === 'pubrec' && qos === 2) {
      const n = st.inflight.get(p.messageId as number)
      if (n === undefined) return
      if (!st.acked.has(n)) { st.acked.add(n); onAck(n) }
      c.send({ cmd: 'pubrel', messageId: p.messageId })
    } else if (p.cmd === 'pubcomp' && qos === 2) {
      const n = st.inflight.get(p.messageId as number)
      if (n === undefined) return
      st.inflight.delete(p.messageId as number)
      st.completed.add(n)
      sendNext()
    }
  })
  for (let i = 0; i < WINDOW; i++) sendNext()
}

async function until (cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function quiet (seen: Map<string, number>, ms: number): Promise<void> {
  let last = -1
  let total = 0
  for (;;) {
    total = [...seen.values()].reduce((a, b) => a + b, 0)
    if (total === last) return
    last = total
    await new Promise(resolve => setTimeout(resolve, ms))
  }
}

describe('crash: kill -9 of the CLI broker with --persistence-dir', function () {
  this.timeout(120000)
  let tmp = ''

  before(function () {
    this.timeout(150000)
    if (process.env.HEARTH_CRASH_BIN === undefined) ensureBuilt()
  })

  beforeEach(() => { tmp = mkdtempSync(join(tmpdir(), 'hearth-crash-')) })

  afterEach(async () => {
    for (const c of clients) c.destroy()
    clients.clear()
    for (const child of children) child.kill('SIGKILL')
    await until(() => children.size === 0, 5000, 'broker processes to exit').catch(() => {})
    rmSync(tmp, { recursive: true, force: true })
  })

  for (const [round, killAfterAcks] of [[1, 300], [2, 2000], [3, 6000]] as const) {
    it(`round ${round}: kill -9 after ~${killAfterAcks} acks: no acknowledged QoS 1/2 message lost, no QoS 2 duplicate, every retained topic back [MQTT-4.3.2-2] [MQTT-4.3.3-2]`, async () => {
      const store = join(tmp, 'store')
      const config = join(tmp, 'broker.json')
      writeFileSync(config, JSON.stringify({ maxQueuedMessages: 1000000 }))
      let broker = await startBroker(store, config)

      // Offline persistent subscribers.
      for (const s of SUBSCRIBERS) {
        const { client } = await connect(broker.port, s.id, s.version, s.version === 5)
        assert.deepEqual(await client.subscribe([{ topic: 'load/q1', qos: 1 }, { topic: 'load/q2', qos: 2 }]), [1, 2])
        await client.end()
      }

      // Load: QoS 1, QoS 2 (persistent publisher session) and retained QoS 1, until the kill.
      const q1 = newPubState()
      const q2 = newPubState()
      const ret = newPubState()
      const retAcked = new Map<string, number>()
      let acks = 0
      const startedAt = Date.now()
      const onAck = (): void => {
        if (++acks === killAfterAcks) broker.child.kill('SIGKILL')
      }
      const p1 = (await connect(broker.port, 'crash-pub-q1', 4, true)).client
      const p2 = (await connect(broker.port, 'crash-pub-q2', 5, true)).client
      const p3 = (await connect(broker.port, 'crash-pub-ret', 4, true)).client
      runPublisher(p1, q1, 1, false, () => 'load/q1', n => `q1:${n}`, onAck)
      runPublisher(p2, q2, 2, false, () => 'load/q2', n => `q2:${n}`, onAck)
      runPublisher(p3, ret, 1, true, n => `ret/${n % RETAINED_TOPICS}`, n => `r:${n}`, n => {
        const t = `ret/${n % RETAINED_TOPICS}`
        retAcked.set(t, Math.max(retAcked.get(t) ?? -1, n))
        onAck()
      })
      const fallback = setTimeout(() => broker.child.kill('SIGKILL'), 15000)
      const code = await broker.exited
      clearTimeout(fallback)
      assert.equal(code, null, 'the broker was killed')
      await Promise.all([p1.closed, p2.closed, p3.closed])
      const loadMs = Date.now() - startedAt

      // Restart on the same directory.
      broker = await startBroker(store, config)

      // The QoS 2 publisher resumes: PUBREL for PUBREC'd messages, PUBLISH with DUP for the rest.
      const q2AckedBeforeCrash = q2.acked.size
      const resumed = await connect(broker.port, 'crash-pub-q2', 5, false)
      assert.equal(resumed.sessionPresent, true, 'the QoS 2 publisher session survived')
      const p2b = resumed.client
      const pending = new Map(q2.inflight)
      p2b.consume((p: Packet) => {
        if (p.cmd === 'pubrec') {
          const n = pending.get(p.messageId as number)
          if (n !== undefined) { q2.acked.add(n); p2b.send({ cmd: 'pubrel', messageId: p.messageId }) }
        } else if (p.cmd === 'pubcomp') {
          const n = pending.get(p.messageId as number)
          if (n !== undefined) { pending.delete(p.messageId as number); q2.completed.add(n) }
        }
      })
      for (const [pid, n] of q2.inflight) {
        if (q2.acked.has(n)) p2b.send({ cmd: 'pubrel', messageId: pid })
        else p2b.publish(pid, 'load/q2', `q2:${n}`, 2, false, true)
      }
      await until(() => pending.size === 0, 20000, 'the QoS 2 publisher to complete every message')
      assert.equal(q2.completed.size, q2.sent.size)

      // The subscribers come back and receive what was queued for them.
      for (const s of SUBSCRIBERS) {
        const { client, sessionPresent } = await connect(broker.port, s.id, s.version, false)
        assert.equal(sessionPresent, true, `${s.id}: session survived`)
        const seen = countDeliveries(client)
        await until(() => [...q1.acked].every(n => seen.has(`load/q1 q1:${n}`)) && [...q2.sent].every(n => seen.has(`load/q2 q2:${n}`)),
          20000, `${s.id} to receive every acknowledged message`).catch(() => {})
        await quiet(seen, 300)
        const lostQ1 = [...q1.acked].filter(n => !seen.has(`load/q1 q1:${n}`))
        const lostQ2 = [...q2.sent].filter(n => !seen.has(`load/q2 q2:${n}`))
        const dupQ2 = [...q2.sent].filter(n => (seen.get(`load/q2 q2:${n}`) ?? 0) > 1)
        assert.deepEqual(lostQ1.slice(0, 20), [], `${s.id}: ${lostQ1.length} acknowledged QoS 1 messages lost`)
        assert.deepEqual(lostQ2.slice(0, 20), [], `${s.id}: ${lostQ2.length} QoS 2 messages lost`)
        assert.deepEqual(dupQ2.slice(0, 20), [], `${s.id}: ${dupQ2.length} QoS 2 messages duplicated`)
        const q1Delivered = [...seen.keys()].filter(k => k.startsWith('load/q1 ')).length
        console.log(`      ${s.id}: QoS 1 acked ${q1.acked.size}/${q1.sent.size} sent, ${q1Delivered} delivered, 0 lost; ` +
          `QoS 2 PUBREC'd before the kill ${q2AckedBeforeCrash}, ${q2.sent.size} after resume, each delivered once`)
        await client.end()
      }

      // Every retained topic with an acknowledged publish is back, at that value or a later one.
      const checker = (await connect(broker.port, 'crash-ret-check', 4, true)).client
      const retained = new Map<string, number>()
      checker.consume((p: Packet) => {
        if (p.cmd === 'publish' && p.retain) retained.set(p.topic, Number(p.payload.toString().slice(2)))
        if (p.cmd === 'publish' && p.qos === 1) checker.send({ cmd: 'puback', messageId: p.messageId })
      })
      await checker.subscribe([{ topic: 'ret/#', qos: 1 }])
      await until(() => [...retAcked.keys()].every(t => retained.has(t)), 10000, 'retained messages').catch(() => {})
      const missing = [...retAcked].filter(([t, n]) => (retained.get(t) ?? -1) < n)
      assert.deepEqual(missing.slice(0, 20), [], `${missing.length} retained topics lost or rolled back`)
      console.log(`      round ${round}: killed after ${acks} acks (${loadMs} ms of load); retained: ${retAcked.size} acknowledged topics, all back`)
      await checker.end()

      // A clean stop (SIGTERM) flushes and exits 0.
      broker.child.kill('SIGTERM')
      assert.equal(await broker.exited, 0, broker.output())
    })
  }
})
