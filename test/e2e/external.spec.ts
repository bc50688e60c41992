// End to end with external brokers: the npm pack tarball in a real Node-RED (4.1 on Node 20, 5 on
// Node 22), its hearth-connection nodes on a real Mosquitto started here (TCP, TLS through core's
// tls-config node, a password listener) and on Hearth's own WebSocket listener; birth, close and
// will watched by mosquitto_sub; every msg.action driven over MQTT; and a 300,000-message burst
// through a publish node, measured.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { createBroker, type Broker, type LocalClient } from '../../src/broker'
import { MqttListener } from '../../src/listeners'
import { ACCOUNT, HOST, Mosquitto, MosquittoSub, TcpProxy } from '../helpers/mosquitto'
import { BURST, externalFlow, IDS, type ExternalUrls } from './external-flows'
import { deploy, freePort, makeUserDir, packTarball, problems, removeDir, root, rssMiB, RUNTIMES, startNodeRed, tempDir, waitFor, type NodeRed } from './support'

interface Seen { topic: string, payload: string }

async function connect (port: number, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = mqtt.connect(`mqtt://${HOST}:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject) })
  return c
}

/** Publish `payload` to `topic` every 300 ms until `seen()` holds (a subscription in the flow may not exist yet). */
async function publishUntil (send: () => Promise<unknown>, seen: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 20000
  while (!seen()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await send()
    const next = Date.now() + 300
    while (!seen() && Date.now() < next) await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('end to end: external brokers (Mosquitto, Hearth over WebSocket) in a real Node-RED', function () {
  this.timeout(240000)
  let packDir: string
  let tarball: string
  let mosq: Mosquitto
  let wsBroker: Broker
  let wsListener: MqttListener

  before(async function () {
    packDir = tempDir('hearth-pack-')
    tarball = await packTarball(packDir)
    mosq = await Mosquitto.start()
    wsBroker = createBroker({})
    wsListener = await MqttListener.open({ protocol: 'ws', port: 0, host: HOST, path: '/mqtt' })
    wsListener.serve(wsBroker)
  })
  after(async function () {
    await wsListener?.close()
    await wsBroker?.close()
    await mosq?.remove()
    removeDir(packDir)
  })

  for (const rt of RUNTIMES) {
    describe(rt.name, function () {
      let userDir: string | undefined
      let red: NodeRed | undefined
      let proxy: TcpProxy
      let clients: MqttClient[] = []
      let locals: LocalClient[] = []
      let subs: MosquittoSub[] = []
      let urls: ExternalUrls

      before(async function () {
        userDir = await makeUserDir(tarball)
        red = await startNodeRed(rt, userDir)
        proxy = await TcpProxy.open(mosq.ports.tcp)
        urls = {
          proxied: `mqtt://${HOST}:${proxy.port}`,
          direct: `mqtt://${HOST}:${mosq.ports.tcp}`,
          tls: `mqtts://localhost:${mosq.ports.tls}`,
          auth: `mqtt://${HOST}:${mosq.ports.auth}`,
          ws: `ws://${HOST}:${wsListener.port}/mqtt`,
          caFile: mosq.certs.caCert,
          ...ACCOUNT,
        }
      })
      afterEach(async function () {
        await Promise.all(clients.map((c) => c.endAsync(true)))
        clients = []
        await Promise.all(locals.map((c) => c.end()))
        locals = []
        await Promise.all(subs.map((s) => s.stop()))
        subs = []
        await deploy(red!, [{ id: 'e2xempty', type: 'tab', label: 'empty' }])
      })
      after(async function () {
        await red?.stop()
        await proxy?.close()
        removeDir(userDir)
      })

      async function watch (port: number, filter: string, options: mqtt.IClientOptions = {}): Promise<Seen[]> {
        const seen: Seen[] = []
        const c = await connect(port, options)
        clients.push(c)
        c.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }))
        await c.subscribeAsync(filter, { qos: 1 })
        return seen
      }

      it('TCP, TLS and WebSocket both ways; birth, close and will seen by mosquitto_sub', async function () {
        const status = new MosquittoSub(mosq.ports.tcp, ['e2e/status'])
        subs.push(status)
        await status.ready(mosq.ports.tcp)
        const seen = await watch(mosq.ports.tcp, 'e2e/#')
        const wsSeen: Seen[] = []
        const local = await wsBroker.connectLocal({ clientId: 'e2e-ws-watcher' })
        locals.push(local)
        local.on('message', (m: { topic: string, payload: Buffer }) => wsSeen.push({ topic: m.topic, payload: m.payload.toString() }))
        await local.subscribe([{ topic: 'e2e/back/ws', qos: 1 }])
        const statuses = (): string[] => status.lines.filter((l) => l.startsWith('e2e/status '))
        const from = red!.log.length

        await deploy(red!, externalFlow(urls))
        await waitFor(() => statuses().length === 1, 15000, 'the birth message')
        const pub = clients[0]
        const has = (list: Seen[], topic: string, payload: string): boolean => list.some((m) => m.topic === topic && m.payload === payload)
        // In over each transport (the subscribe nodes), out over TCP.
        await publishUntil(() => pub.publishAsync('e2e/in/tcp', 'via tcp', { qos: 1 }), () => has(seen, 'e2e/echo/tcp', 'via tcp'), 'the TCP echo')
        await publishUntil(() => pub.publishAsync('e2e/in/tls', 'via tls', { qos: 1 }), () => has(seen, 'e2e/echo/tls', 'via tls'), 'the TLS echo')
        await publishUntil(() => wsBroker.publish({ topic: 'e2e/in/ws', payload: Buffer.from('via ws'), qos: 1, retain: false }), () => has(seen, 'e2e/echo/ws', 'via ws'), 'the WebSocket echo')
        // In over TCP, out over each transport (the publish nodes).
        await publishUntil(() => pub.publishAsync('e2e/fwd/tcp', 'to tcp', { qos: 1 }), () => has(seen, 'e2e/back/tcp', 'to tcp'), 'the TCP publish')
        await publishUntil(() => pub.publishAsync('e2e/fwd/tls', 'to tls', { qos: 1 }), () => has(seen, 'e2e/back/tls', 'to tls'), 'the TLS publish')
        await publishUntil(() => pub.publishAsync('e2e/fwd/ws', 'to ws', { qos: 1 }), () => has(wsSeen, 'e2e/back/ws', 'to ws'), 'the WebSocket publish')
        assert.deepEqual(wsBroker.clients().map((c) => [c.clientId, c.transport]).filter(([id]) => id === 'e2e-ws'), [['e2e-ws', 'ws']])

        // The link is cut: Mosquitto publishes the will; the connection comes back with its birth message.
        proxy.cut()
        await waitFor(() => statuses().length === 3, 15000, 'the will, then the birth message again')
        // A deploy that removes the flow closes cleanly: the close message, no will.
        await deploy(red!, [{ id: 'e2xempty', type: 'tab', label: 'empty' }])
        await waitFor(() => statuses().length === 4, 15000, 'the close message')
        await new Promise((resolve) => setTimeout(resolve, 500))
        assert.deepEqual(statuses(), ['e2e/status online', 'e2e/status lost', 'e2e/status online', 'e2e/status offline'])
        assert.deepEqual(problems(red!, from), [])
      })

      it('every msg.action over an external connection (password listener, connect automatically off)', async function () {
        const seen = await watch(mosq.ports.tcp, 'e2e/#')
        const onAuth = await watch(mosq.ports.auth, 'open/#', { username: ACCOUNT.username, password: ACCOUNT.password })
        await deploy(red!, externalFlow(urls))
        const cmd = clients[0]
        const results = (): Array<Record<string, any>> => seen.filter((m) => m.topic === 'e2e/done' || m.topic === 'e2e/error').map((m) => ({ kind: m.topic.slice(4), ...JSON.parse(m.payload) }))
        const send = async (to: 'sub' | 'pub', command: object): Promise<Record<string, any>> => {
          const n = results().length
          await cmd.publishAsync(`e2e/cmd/${to}`, JSON.stringify(command), { qos: 1 })
          await waitFor(() => results().length > n, 15000, `the outcome of ${JSON.stringify(command)}`)
          return results()[n]
        }
        // The command path is ready once a getSubscriptions answer comes back.
        await publishUntil(() => cmd.publishAsync('e2e/cmd/sub', '{"action":"getSubscriptions"}', { qos: 1 }), () => results().length > 0, 'the command path')
        const before = results().length

        assert.deepEqual(await send('pub', { topic: 'open/x', payload: 'early', qos: 1 }), { kind: 'error', node: 'e2xp-act', action: null, error: 'Error: not connected to the broker' })
        assert.deepEqual(await send('sub', { action: 'connect' }), { kind: 'done', node: 'e2xs-dyn', action: 'connect', subscriptions: null })
        assert.deepEqual(await send('sub', { action: 'subscribe', topic: ['open/a', { topic: 'open/b/#', qos: 0 }] }),
          { kind: 'done', node: 'e2xs-dyn', action: 'subscribe', subscriptions: [{ topic: 'open/a', qos: 2, rh: 0, rap: true }, { topic: 'open/b/#', qos: 0, rh: 0, rap: true }] })
        await clients[1].publishAsync('open/a', 'hello', { qos: 1 })
        await waitFor(() => seen.some((m) => m.topic === 'e2e/dyn' && JSON.parse(m.payload).payload === 'hello'), 10000, 'the message of the dynamic subscription')
        assert.deepEqual(await send('sub', { action: 'getSubscriptions' }), { kind: 'done', node: 'e2xs-dyn', action: 'getSubscriptions', subscriptions: null })
        const answer = seen.filter((m) => m.topic === 'e2e/dyn').map((m) => JSON.parse(m.payload)).filter((p) => p.topic === 'subscriptions').pop()
        assert.deepEqual(answer?.payload.map((s: { topic: string }) => s.topic), ['open/a', 'open/b/#'])
        assert.deepEqual(await send('sub', { action: 'unsubscribe', topic: 'open/a' }), { kind: 'done', node: 'e2xs-dyn', action: 'unsubscribe', subscriptions: [{ topic: 'open/b/#', qos: 0, rh: 0, rap: true }] })
        assert.deepEqual(await send('pub', { topic: 'open/x', payload: 'now', qos: 1 }), { kind: 'done', node: 'e2xp-act', action: null, subscriptions: null })
        await waitFor(() => onAuth.some((m) => m.topic === 'open/x' && m.payload === 'now'), 10000, 'the publish on the password listener')
        assert.deepEqual(await send('pub', { action: 'disconnect' }), { kind: 'done', node: 'e2xp-act', action: 'disconnect', subscriptions: null })
        assert.deepEqual(await send('pub', { action: 'connect' }), { kind: 'done', node: 'e2xp-act', action: 'connect', subscriptions: null })
        const already = await send('pub', { action: 'connect', broker: { clientid: 'other' } })
        assert.deepEqual({ ...already, error: /already connected/.test(already.error) }, { kind: 'error', node: 'e2xp-act', action: 'connect', error: true })
        assert.deepEqual(await send('pub', { action: 'connect', broker: { clientid: 'e2e-act-2', force: true } }), { kind: 'done', node: 'e2xp-act', action: 'connect', subscriptions: null })
        assert.deepEqual(await send('sub', { action: 'disconnect' }), { kind: 'done', node: 'e2xs-dyn', action: 'disconnect', subscriptions: null })
        const bogus = await send('sub', { action: 'bogus' })
        assert.deepEqual({ ...bogus, error: bogus.error.includes('connect, disconnect') }, { kind: 'error', node: 'e2xs-dyn', action: 'bogus', error: true })
        assert.equal(results().length - before, 12)
      })

      it('the external-broker example works as imported: its birth message and temperatures go out through the external connection', async function () {
        const port = await freePort()
        const text = readFileSync(path.join(root, 'examples', 'external-broker.json'), 'utf8')
        const flow = JSON.parse(text.replace(/"port": "1883"/g, `"port": "${port}"`).replace(/127\.0\.0\.1:1883/g, `127.0.0.1:${port}`)) as object[]
        const from = red!.log.length
        await deploy(red!, flow)
        const seen: Seen[] = []
        const c = mqtt.connect(`mqtt://${HOST}:${port}`, { reconnectPeriod: 200, connectTimeout: 5000 })
        clients.push(c)
        c.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }))
        c.on('connect', () => { c.subscribe(['sensors/#', 'node-red/status'], { qos: 1 }) })
        await waitFor(() => seen.some((m) => m.topic === 'sensors/temperature' && typeof JSON.parse(m.payload).celsius === 'number'), 15000, 'a temperature')
        assert.ok(seen.some((m) => m.topic === 'node-red/status' && m.payload === 'online'), 'the retained birth message')
        assert.deepEqual(problems(red!, from), [])
      })

      it(`a burst of ${BURST.toLocaleString('en')} messages through a publish node (QoS 0), the broker link stalled for 2 s: all arrive, Node-RED stays responsive`, async function () {
        let received = 0
        let outOfOrder = 0
        let lastAt = 0
        const reports: Seen[] = []
        const c = await connect(mosq.ports.tcp)
        clients.push(c)
        c.on('message', (topic, payload) => {
          if (topic === 'e2e/burst') {
            if (Number(payload.subarray(0, 8).toString()) !== received) outOfOrder++
            received++
            lastAt = Date.now()
          } else {
            reports.push({ topic, payload: payload.toString() })
          }
        })
        await c.subscribeAsync({ 'e2e/burst': { qos: 0 }, 'e2e/burst-sent': { qos: 1 }, 'e2e/burst-done': { qos: 1 }, 'e2e/base-sent': { qos: 1 }, 'e2e/base-done': { qos: 1 } })
        await deploy(red!, externalFlow(urls))
        for (const id of ['e2e-direct', 'e2e-tcp']) await waitFor(() => red!.log.some((l) => l.includes(`Connected to broker: ${id}@`)), 15000, `the ${id} connection`)
        const report = (topic: string): Record<string, number> | undefined => {
          const r = reports.find((m) => m.topic === topic)
          return r ? JSON.parse(r.payload) : undefined
        }

        /** Inject `id`; probe the admin API every 50 ms until `finished()`: the slowest answer is how long Node-RED stalled. */
        async function measure (id: string, finished: () => boolean, during?: () => Promise<void>): Promise<{ started: number, maxLatency: number, probes: number }> {
          let probing = true
          let maxLatency = 0
          let probes = 0
          const probe = (async () => {
            while (probing) {
              const t = Date.now()
              // A keep-alive socket the server dropped while it was busy may fail once: that is not an answer.
              await fetch(red!.url('/settings')).then((r) => r.text()).catch(() => {})
              maxLatency = Math.max(maxLatency, Date.now() - t)
              probes++
              await new Promise((resolve) => setTimeout(resolve, 50))
            }
          })()
          const started = Date.now()
          try {
            const res = await fetch(red!.url(`/inject/${id}`), { method: 'POST' })
            assert.equal(res.status, 200)
            await during?.()
            await waitFor(finished, 180000, `the burst of ${id} (${received} received)`)
          } finally {
            probing = false
            await probe
          }
          return { started, maxLatency, probes }
        }

        const base = await measure(IDS.base, () => report('e2e/base-done') !== undefined)
        const baseDone = (report('e2e/base-done')!.at - base.started) / 1000
        const rssBefore = rssMiB(red!.proc.pid as number)
        proxy.stall()
        const burst = await measure(IDS.burst, () => received === BURST && report('e2e/burst-done') !== undefined, async () => {
          await new Promise((resolve) => setTimeout(resolve, 2000))
          proxy.resume()
        })
        const rssAfter = rssMiB(red!.proc.pid as number)
        const done = report('e2e/burst-done')!
        const seconds = (lastAt - burst.started) / 1000
        console.log(`      ${rt.name}: ${BURST} messages (100-byte payloads), ${received} received, lost ${BURST - received}, ${outOfOrder} out of order; ` +
          `last arrival after ${seconds.toFixed(2)} s (${Math.round(BURST / seconds)} msg/s, link stalled the first 2 s), last done() after ${((done.at - burst.started) / 1000).toFixed(2)} s; ` +
          `send loop ${report('e2e/burst-sent')?.loopMs} ms; admin API slowest answer ${burst.maxLatency} ms (${burst.probes} probes); RSS ${rssBefore} -> ${rssAfter} MiB. ` +
          `Baseline, the same burst into an inactive debug node: all done after ${baseDone.toFixed(2)} s, admin API slowest ${base.maxLatency} ms`)
        assert.equal(received, BURST)
        assert.equal(done.done, BURST)
        assert.equal(outOfOrder, 0)
        // Node-RED answered throughout: stalls of the order of its own cost of delivering the burst, no more.
        assert.ok(burst.maxLatency < base.maxLatency * 3 + 10000, `the admin API stalled for ${burst.maxLatency} ms (baseline ${base.maxLatency} ms)`)
      })
    })
  }
})
